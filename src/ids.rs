//! Identities that flow unchanged from parsing to the journal: users, services, runs, steps.
//!
//! A [`UserId`] compares, hashes and orders by [`crate::address::fold`], so every map keyed by
//! user and every "is this the same user" question in the program gives one answer. A
//! [`RunId`] is checked once, where it enters (the command line or a new run), and is then safe
//! to use as a file name. Serialized forms are plain strings, as journals have always held them.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::address;

/// A userid (an email address), as written or as the platform reported it.
///
/// Equality ignores case by the one folding rule; the original spelling is kept for display and
/// for requests.
#[derive(Clone)]
pub struct UserId {
    text: String,
    folded: String,
}

/// Text that is not an email address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not an email address: {why}", address::shown(text))]
pub struct NotAnAddress {
    /// The text.
    pub text: String,
    /// Why not.
    pub why: address::NotAddress,
}

impl UserId {
    /// A userid from input a person wrote (a plan, a config): it must be an address.
    pub fn parse(text: &str) -> Result<Self, NotAnAddress> {
        let text = text.trim();
        match address::check(text) {
            Ok(()) => Ok(Self::from_platform(text)),
            Err(why) => Err(NotAnAddress {
                text: text.into(),
                why,
            }),
        }
    }

    /// A userid the platform reported (an API answer, a token's scope, a stored record): the
    /// platform is the authority on its own userids, so it is taken as it is.
    pub fn from_platform(text: impl Into<String>) -> Self {
        let text = text.into();
        let folded = address::fold(&text);
        Self { text, folded }
    }

    /// The userid as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The folded form: the key two spellings of one user share.
    pub fn folded(&self) -> &str {
        &self.folded
    }

    /// Whether `text` (say, an address read from an API) names this user.
    pub fn is(&self, text: &str) -> bool {
        address::same(&self.text, text)
    }
}

impl PartialEq for UserId {
    fn eq(&self, other: &Self) -> bool {
        self.folded == other.folded
    }
}

impl Eq for UserId {}

impl Hash for UserId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.folded.hash(state);
    }
}

impl PartialOrd for UserId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for UserId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.folded.cmp(&other.folded)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.text)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl Serialize for UserId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for UserId {
    /// Journals, saved plans and snapshots hold userids relinker itself wrote or read from the
    /// platform, so they are read back as they are.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::from_platform)
    }
}

impl schemars::JsonSchema for UserId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "UserId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "format": "email" })
    }
}

/// The name of a service (a LaunchPoint service, an integration) as the plan declares it.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct ServiceName(String);

impl ServiceName {
    /// A declared name; the plan's validation decides which names are declared.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as step ids carry it: lower-case ASCII letters and digits, `-` for the rest
    /// (`Salesforce Sync+EU` is `salesforce-sync-eu`).
    pub fn slug(&self) -> String {
        self.0
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect::<String>()
            .trim_matches('-')
            .to_owned()
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl std::borrow::Borrow<str> for ServiceName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// A run's id: letters, digits, `.`, `_` and `-`, not starting with `.`, at most 128
/// characters. Safe as a file name by construction.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct RunId(String);

/// Text that cannot be a run id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not a run id: run ids have only letters, digits, `.`, `_` and `-`, do not start with `.`, and are at most 128 characters"
)]
pub struct NotARunId {
    /// The text, with control characters escaped.
    pub text: String,
}

impl RunId {
    /// Most characters in a run id.
    const MAX_LEN: usize = 128;

    /// Checks a run id.
    pub fn parse(text: &str) -> Result<Self, NotARunId> {
        let ok = !text.is_empty()
            && text.len() <= Self::MAX_LEN
            && !text.starts_with('.')
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(NotARunId {
                text: text.escape_debug().to_string(),
            })
        }
    }

    /// A new id for a run of the plan `plan_name`: the name, the UTC time, four random hex
    /// digits. Plan names are checked to the same alphabet, so the result is always valid.
    pub fn generate(plan_name: &str, now: chrono::DateTime<chrono::Utc>) -> Self {
        let mut name: String = plan_name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .take(Self::MAX_LEN - 24)
            .collect();
        if name.is_empty() || name.starts_with('.') {
            name.insert_str(0, "run");
        }
        Self(format!(
            "{name}-{}-{:04x}",
            now.format("%Y%m%dT%H%M%SZ"),
            rand::random::<u16>()
        ))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RunId {
    type Err = NotARunId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl<'de> Deserialize<'de> for RunId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A step's id, stable within a run: `r0-link-salesforce-sync-back`.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct StepId(String);

impl StepId {
    /// A step id; the compiler makes them from rotation numbers and slugs.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl std::borrow::Borrow<str> for StepId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn service_names_make_safe_step_ids() {
        assert_eq!(
            ServiceName::new("Salesforce Sync+EU").slug(),
            "salesforce-sync-eu"
        );
        assert_eq!(ServiceName::new("-crm_2-").slug(), "crm-2");
    }

    #[test]
    fn a_user_is_one_user_however_it_is_spelled() {
        let lower = UserId::parse("jörg@acme.example").unwrap();
        let upper = UserId::parse("JÖRG@acme.example").unwrap();
        assert_eq!(lower, upper);
        assert!(upper.is("Jörg@ACME.example"));
        let set: BTreeSet<UserId> = [lower.clone(), upper.clone()].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert_eq!(upper.as_str(), "JÖRG@acme.example", "the spelling is kept");
        assert_eq!(
            serde_json::to_string(&upper).unwrap(),
            "\"JÖRG@acme.example\""
        );
        assert!(UserId::parse("not an address").is_err());
    }

    #[test]
    fn run_ids_are_safe_file_names() {
        for good in ["r1", "acme-rotation-20261123T104632Z-0070", "a.b_c-d"] {
            assert!(RunId::parse(good).is_ok(), "{good}");
        }
        let long = "x".repeat(129);
        for bad in [
            "",
            "../x",
            "/etc",
            ".hidden",
            "a/b",
            "a b",
            "ü",
            long.as_str(),
        ] {
            assert!(RunId::parse(bad).is_err(), "{bad}");
        }
        let generated = RunId::generate("rename-jane", chrono::Utc::now());
        assert!(RunId::parse(generated.as_str()).is_ok(), "{generated}");
        assert!(serde_json::from_str::<RunId>("\"../x\"").is_err());
    }
}
