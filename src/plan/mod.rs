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
/// `instance.provider`, in the order of [`ProviderKind::ALL`]), generated from the same types
/// the parser reads.
pub fn schema() -> serde_json::Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(AnyPlan)).unwrap_or_default();
    schema["title"] = "relinker plan".into();
    schema["description"] = format!(
        "A rotation plan for {}: see docs/plan-reference.md",
        ProviderKind::labelled()
    )
    .into();
    schema
}

/// Any provider's plan; only its schema is ever made.
struct AnyPlan;

impl schemars::JsonSchema for AnyPlan {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AnyPlan".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let variants = ProviderKind::ALL.map(|kind| match kind {
            ProviderKind::Marketo => generator.subschema_for::<raw::RawPlan<
                marketo::RawInstance,
                marketo::RawService,
                marketo::RawRotation,
            >>(),
            ProviderKind::Dotdigital => generator.subschema_for::<raw::RawPlan<
                dotdigital::RawInstance,
                dotdigital::RawService,
                dotdigital::RawRotation,
            >>(),
            ProviderKind::Movius => generator.subschema_for::<raw::RawPlan<
                movius::RawInstance,
                movius::RawService,
                movius::RawRotation,
            >>(),
        });
        schemars::json_schema!({ "anyOf": variants })
    }
}

/// A minimal plan of each platform (its example), for tests that walk every platform.
#[cfg(test)]
pub(crate) fn example(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Marketo => include_str!("../../plans/examples/rename-api-user.yaml"),
        ProviderKind::Dotdigital => {
            include_str!("../../plans/examples/replace-dotdigital-api-user.yaml")
        }
        ProviderKind::Movius => include_str!("../../plans/examples/replace-movius-api-user.yaml"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_plan_that_parses_as_its_own() {
        for kind in ProviderKind::ALL {
            let plan = parse(
                example(kind),
                kind.name(),
                std::path::Path::new("plans/examples"),
            )
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(plan.provider(), kind);
        }
    }

    #[test]
    fn the_schema_has_a_variant_for_every_kind_in_order() {
        let schema = schema();
        let variants = schema["anyOf"].as_array().expect("a variant per provider");
        let providers: Vec<&str> = variants
            .iter()
            .map(|variant| {
                let target = variant["$ref"].as_str().expect("a reference");
                let plan = schema.pointer(target.trim_start_matches('#')).unwrap();
                let target = plan["properties"]["instance"]["$ref"].as_str().unwrap();
                let instance = schema.pointer(target.trim_start_matches('#')).unwrap();
                instance["properties"]["provider"]["enum"][0]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(providers, ProviderKind::NAMES);
        assert!(
            schema["description"]
                .as_str()
                .unwrap()
                .contains(&ProviderKind::labelled())
        );
    }
}
