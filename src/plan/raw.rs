//! The plan file exactly as written: serde types that mirror the YAML, with source positions.
//!
//! No I/O and no judgement here beyond the shape (`deny_unknown_fields`, types); validation in
//! [`super::parse`] turns this into a [`super::Plan`]. Every plan has the same envelope
//! ([`RawPlan`]: version, name, policy, sandbox) around its provider's `instance`, `services`
//! and `rotations`, whose raw types live beside each provider's rules (`plan::marketo`, ...).
//! The JSON Schema printed by `relinker schema` is generated from these types, so editors check
//! exactly what relinker reads.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// A text value with its position in the file.
pub(crate) type Text = Spanned<String>;

/// A format version: a YAML number, never text that looks like one (`version: "1"`), so a
/// file written for another reading of the format is refused rather than guessed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FormatVersion(pub(crate) u32);

impl<'de> Deserialize<'de> for FormatVersion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Number;
        impl serde::de::Visitor<'_> for Number {
            type Value = FormatVersion;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("the number 1 (unquoted)")
            }
            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<FormatVersion, E> {
                u32::try_from(value)
                    .map(FormatVersion)
                    .map_err(|_| E::custom(format!("version {value} is not supported")))
            }
            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<FormatVersion, E> {
                u64::try_from(value)
                    .map_err(|_| E::custom(format!("version {value} is not supported")))
                    .and_then(|v| self.visit_u64(v))
            }
        }
        deserializer.deserialize_any(Number)
    }
}

/// A rotation plan, version 1, for the platform its `instance.provider` names.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    bound(deserialize = "I: Deserialize<'de>, S: Deserialize<'de>, R: Deserialize<'de>")
)]
pub struct RawPlan<I, S, R> {
    /// Format version; must be 1.
    #[schemars(with = "u32")]
    pub(crate) version: Spanned<FormatVersion>,
    /// Short name, used in run ids and file names: letters, digits, `.`, `_`, `-`.
    #[schemars(with = "String")]
    pub(crate) name: Text,
    /// What the plan is for, in a sentence.
    #[serde(default)]
    pub(crate) description: Option<String>,
    /// The platform instance and how relinker reaches it.
    pub(crate) instance: I,
    /// The services (integrations) whose credentials the plan names.
    #[serde(default)]
    pub(crate) services: Vec<S>,
    /// What to change, in order.
    #[schemars(with = "Vec<R>")]
    pub(crate) rotations: Spanned<Vec<Spanned<R>>>,
    /// Failure handling and safety limits.
    #[serde(default)]
    pub(crate) policy: RawPolicy,
    /// Settings for `--sandbox` runs.
    #[serde(default)]
    pub(crate) sandbox: Option<RawSandbox>,
    /// Webhook told when a run pauses for a person, fails, rolls back or finishes: a reference,
    /// `${env:NAME}` or `${file:PATH}` (a webhook URL is a secret). `--notify` overrides it.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) notify: Option<Text>,
}

/// `policy:`
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// `rollback` (default) undoes what the run did when a step fails; `pause` leaves it resumable.
    #[serde(default)]
    #[schemars(with = "Option<String>", extend("enum" = ["rollback", "pause"]))]
    pub(crate) on_failure: Option<Text>,
    /// Refuse a plan that would delete more users than this (default 1).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub(crate) max_deletions: Option<Spanned<u32>>,
}

/// `sandbox:`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSandbox {
    /// Fixture to seed the sandbox from, relative to the plan file.
    #[schemars(with = "String")]
    pub(crate) fixture: Text,
}

/// Just enough of a plan to learn which provider it is for, so that the rest is read with
/// that provider's types (and their exact positions).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Sniff {
    #[serde(default)]
    pub(crate) instance: Option<SniffInstance>,
}

/// `instance.provider`, and nothing else of the instance.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SniffInstance {
    #[serde(default)]
    pub(crate) provider: Option<Text>,
}
