//! Plans: the YAML language and its validation. What a plan compiles to is its provider's
//! business ([`crate::provider::compile`]).
//!
//! Input goes through two stages, as ripgrep's flags do: [`raw`] mirrors the file with source
//! positions and no judgement; [`parse`] turns it into a [`Plan`] whose invariants hold by
//! construction (a [`crate::ids::UserId`] has the shape of an email, every service a rotation
//! names is declared), reporting every problem with `file:line:col`, the field and a hint. The
//! envelope (version, name, policy, sandbox) is the same for every platform; each provider's
//! module ([`marketo`], [`dotdigital`], [`movius`]) reads its own `instance`, `services` and
//! `rotations`. Secrets are only ever referenced ([`SecretRef`]) and resolved when a command
//! needs them, never by validation.

mod command;
pub mod dotdigital;
pub mod marketo;
mod model;
pub mod movius;
pub mod raw;
mod secret_ref;
mod validate;

pub use command::CheckCommand;
pub(crate) use marketo::check_connection;
pub use model::{
    Declared, Intent, NamedInstance, OnFailure, Plan, Policy, ProviderKind, ProviderSpec,
    SandboxFixture, Spec,
};
pub use secret_ref::{
    Credential, Login, MissingSecrets, ResolvedLogin, SecretError, SecretReader, SecretRef, Secrets,
};
pub use validate::{LoadedPlan, PlanError, load, load_with, parse, parse_with};

/// The JSON Schema of the plan format: one schema, a variant per provider (told apart by
/// `instance.provider`), generated from the same types the parser reads.
pub fn schema() -> serde_json::Value {
    #[derive(schemars::JsonSchema)]
    #[schemars(untagged)]
    // Only its schema is ever made; no value of it exists.
    #[allow(dead_code, clippy::large_enum_variant)]
    enum AnyPlan {
        Marketo(raw::RawPlan<marketo::RawInstance, marketo::RawService, marketo::RawRotation>),
        Dotdigital(
            raw::RawPlan<dotdigital::RawInstance, dotdigital::RawService, dotdigital::RawRotation>,
        ),
        Movius(raw::RawPlan<movius::RawInstance, movius::RawService, movius::RawRotation>),
    }
    let mut schema = serde_json::to_value(schemars::schema_for!(AnyPlan)).unwrap_or_default();
    schema["title"] = "relinker plan".into();
    schema["description"] =
        "A rotation plan for Marketo, dotdigital or Movius MultiLine: see docs/plan-reference.md"
            .into();
    schema
}
