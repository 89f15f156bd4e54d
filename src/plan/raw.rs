//! The plan file exactly as written: serde types that mirror the YAML, with source positions.
//!
//! No I/O and no judgement here beyond the shape (`deny_unknown_fields`, types); validation in
//! [`super::parse`] turns this into a [`super::Plan`]. The JSON Schema printed by
//! `relinker schema` is generated from these types, so editors check exactly what relinker reads.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// A text value with its position in the file.
pub(crate) type Text = Spanned<String>;

/// A rotation plan, version 1.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "relinker plan",
    description = "A rotation plan: see docs/plan-reference.md"
)]
pub struct RawPlan {
    /// Format version; must be 1.
    #[schemars(with = "u32")]
    pub(crate) version: Spanned<u32>,
    /// Short name, used in run ids and file names: letters, digits, `.`, `_`, `-`.
    #[schemars(with = "String")]
    pub(crate) name: Text,
    /// What the plan is for, in a sentence.
    #[serde(default)]
    pub(crate) description: Option<String>,
    /// The platform instance and the admin service relinker acts as.
    pub(crate) instance: RawInstance,
    /// LaunchPoint services whose credentials relinker may use to verify links.
    #[serde(default)]
    pub(crate) services: Vec<RawService>,
    /// What to change, in order.
    #[schemars(with = "Vec<RawRotation>")]
    pub(crate) rotations: Spanned<Vec<Spanned<RawRotation>>>,
    /// Failure handling and safety limits.
    #[serde(default)]
    pub(crate) policy: RawPolicy,
    /// Settings for `--sandbox` runs.
    #[serde(default)]
    pub(crate) sandbox: Option<RawSandbox>,
}

/// The instance block.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawInstance {
    /// The platform; only `marketo` for now.
    #[schemars(with = "String", extend("enum" = ["marketo"]))]
    pub(crate) provider: Text,
    /// REST base URL, e.g. `https://123-ABC-456.mktorest.com`; `http://` only for loopback.
    #[schemars(with = "String")]
    pub(crate) base_url: Text,
    /// Client id of the admin service: a literal or a `${env:NAME}` / `${file:PATH}` reference.
    #[schemars(with = "String")]
    pub(crate) client_id: Text,
    /// Client secret of the admin service: only a `${env:NAME}` or `${file:PATH}` reference.
    #[schemars(with = "String", regex(pattern = r"^\$\{(env|file):[^}]+\}$"))]
    pub(crate) client_secret: Text,
    /// The instance's limits; Marketo's defaults when absent.
    #[serde(default)]
    pub(crate) limits: Option<RawLimits>,
}

/// Rate and concurrency limits.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Calls per sliding window, `CALLS/WINDOW` such as `100/20s`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) rate: Option<Text>,
    /// Calls in flight.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub(crate) concurrency: Option<Spanned<u32>>,
}

/// A LaunchPoint service relinker knows the credentials of.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    /// Name as Admin > LaunchPoint shows it.
    #[schemars(with = "String")]
    pub(crate) name: Text,
    /// Client id: a literal or a secret reference.
    #[schemars(with = "String")]
    pub(crate) client_id: Text,
    /// Client secret: only a `${env:NAME}` or `${file:PATH}` reference.
    #[schemars(with = "String", regex(pattern = r"^\$\{(env|file):[^}]+\}$"))]
    pub(crate) client_secret: Text,
}

/// One rotation: exactly one of `rename`, `replace`, `relink`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawRotation {
    /// Edit a user in place: move its services to a temporary user, edit it, move them back.
    Rename(RawRename),
    /// A new API-only user takes over the services; the old one is retired.
    Replace(RawReplace),
    /// Move services to an existing API-only user.
    Relink(RawRelink),
}

/// `rename:`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRename {
    /// The user to edit (its userid).
    #[schemars(with = "String")]
    pub(crate) user: Text,
    /// Its new email address.
    #[schemars(with = "String")]
    pub(crate) email: Text,
    /// Its new first name.
    #[serde(default)]
    pub(crate) first_name: Option<String>,
    /// Its new last name.
    #[serde(default)]
    pub(crate) last_name: Option<String>,
    /// The API-only user that holds the services meanwhile; created if it does not exist.
    #[schemars(with = "String")]
    pub(crate) temporary_user: Text,
    /// Keep the temporary user afterwards (default: delete it if this run created it).
    #[serde(default)]
    pub(crate) keep_temporary_user: bool,
    /// The services linked to the user.
    #[schemars(with = "Vec<String>")]
    pub(crate) services: Spanned<Vec<Text>>,
}

/// `replace:`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawReplace {
    /// The user being retired.
    #[schemars(with = "String")]
    pub(crate) user: Text,
    /// The API-only user taking over; created if it does not exist.
    #[serde(rename = "with")]
    #[schemars(with = "String")]
    pub(crate) with: Text,
    /// The services linked to the user.
    #[schemars(with = "Vec<String>")]
    pub(crate) services: Spanned<Vec<Text>>,
    /// What happens to the old user: `delete`, `expire` (sets expiresAt) or `keep`.
    #[serde(default)]
    #[schemars(with = "Option<String>", extend("enum" = ["delete", "expire", "keep"]))]
    pub(crate) retire: Option<Text>,
}

/// `relink:`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRelink {
    /// The services to move.
    #[schemars(with = "Vec<String>")]
    pub(crate) services: Spanned<Vec<Text>>,
    /// The existing API-only user they move to.
    #[schemars(with = "String")]
    pub(crate) to: Text,
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
