//! Plans: the YAML language and its validation. What a plan compiles to is its provider's
//! business ([`crate::provider::compile`]).
//!
//! Input goes through two stages, as ripgrep's flags do: [`raw`] mirrors the file with source
//! positions and no judgement; [`parse`] turns it into a [`Plan`] whose invariants hold by
//! construction (a [`crate::ids::UserId`] has the shape of an email, every service a rotation
//! names is declared), reporting every problem with `file:line:col`, the field and a hint. Secrets are only
//! ever referenced ([`SecretRef`]) and resolved when a command needs them, never by validation.

mod model;
pub mod raw;
mod secret_ref;
mod validate;

pub use model::{
    Instance, OnFailure, Plan, Policy, ProviderKind, Retire, Rotation, ServiceDecl, TemporaryUser,
};
pub use secret_ref::{Credential, SecretError, SecretRef};
pub(crate) use validate::check_connection;
pub use validate::{LoadedPlan, PlanError, load, parse};

/// The JSON Schema of the plan format, generated from the same types the parser reads.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(raw::RawPlan)).unwrap_or_default()
}
