//! Plans: the YAML language, its validation, a read-only snapshot of live state, and
//! compilation into steps.
//!
//! Input goes through two stages, as ripgrep's flags do: [`raw`] mirrors the file with source
//! positions and no judgement; [`parse`] turns it into a [`Plan`] whose invariants hold by
//! construction (a [`crate::ids::UserId`] has the shape of an email, every service a rotation
//! names is declared), reporting every problem with `file:line:col`, the field and a hint. Secrets are only
//! ever referenced ([`SecretRef`]) and resolved when a command needs them, never by validation.

mod compile;
mod credentials;
mod live;
mod model;
pub mod raw;
mod saved;
mod secret_ref;
mod step;
mod validate;

pub use compile::{Compiled, Conflict, compile};
pub use credentials::{CredentialError, Credentials, resolve_credentials};
pub use live::{LinkObservation, LiveState, observe};
pub use model::{
    Instance, OnFailure, Plan, Policy, ProviderKind, Retire, Rotation, ServiceDecl, TemporaryUser,
};
pub use saved::{SAVED_FORMAT_VERSION, SavedPlan, SavedPlanError, Staleness};
pub use secret_ref::{Credential, SecretError, SecretRef};
pub use step::{Action, Mode, Readiness, Reversibility, Step};
pub(crate) use validate::check_connection;
pub use validate::{LoadedPlan, PlanError, load, parse};

/// The JSON Schema of the plan format, generated from the same types the parser reads.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(raw::RawPlan)).unwrap_or_default()
}
