//! The validated plan: every invariant holds by construction, nothing past here re-checks YAML.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{dotdigital, marketo, movius};
use crate::diagnostic::{Diagnostic, Diagnostics};

/// Declares [`ProviderKind`] from one list: each platform's variant and the one name plans,
/// journals, fixtures, the schema and the command line know it by. `ALL`, `NAMES`, `name()` and
/// the serde form all come from that list, so none of them can leave a platform out.
macro_rules! provider_kinds {
    ($($(#[$doc:meta])* $variant:ident => $name:literal, $label:literal;)+) => {
        /// A platform relinker knows.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum ProviderKind {
            $($(#[$doc])* $variant,)+
        }

        impl ProviderKind {
            /// Every provider, in the order the docs list them.
            pub const ALL: [ProviderKind; [$($name),+].len()] = [$(ProviderKind::$variant),+];

            /// Every provider's name, in the order of [`ProviderKind::ALL`].
            pub const NAMES: [&'static str; [$($name),+].len()] = [$($name),+];

            /// The name plans use (`instance.provider`).
            pub const fn name(self) -> &'static str {
                match self {
                    $(ProviderKind::$variant => $name,)+
                }
            }

            /// The name people know the platform by, for prose: `Movius MultiLine`.
            pub const fn label(self) -> &'static str {
                match self {
                    $(ProviderKind::$variant => $label,)+
                }
            }
        }
    };
}

provider_kinds! {
    /// Adobe Marketo Engage.
    Marketo => "marketo", "Marketo";
    /// dotdigital (formerly dotmailer).
    Dotdigital => "dotdigital", "dotdigital";
    /// Movius MultiLine.
    Movius => "movius", "Movius MultiLine";
}

impl ProviderKind {
    /// The provider a plan names, if relinker knows it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Every provider's name, for messages: `marketo, dotdigital or movius`.
    pub fn listed() -> String {
        either(&Self::NAMES)
    }

    /// Every provider's label, for prose: `Marketo, dotdigital or Movius MultiLine`.
    pub fn labelled() -> String {
        either(&Self::ALL.map(Self::label))
    }
}

/// `a, b or c`.
fn either(words: &[&str]) -> String {
    match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => words.join(""),
    }
}

impl Serialize for ProviderKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for ProviderKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Self::from_name(&name)
            .ok_or_else(|| serde::de::Error::unknown_variant(&name, &ProviderKind::NAMES))
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// What a failed step leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Undo what the run did.
    Rollback,
    /// Stop and leave the run resumable.
    Pause,
}

/// The policy block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// What a failed step leads to.
    pub on_failure: OnFailure,
    /// Most users the plan may delete.
    pub max_deletions: u32,
}

/// One provider's part of a plan, in its own terms: the instance, the integrations the plan
/// declares, and its rotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSpec<Instance, Service, Rotation> {
    /// The instance.
    pub instance: Instance,
    /// Declared integrations.
    pub services: Vec<Service>,
    /// Intents, in order.
    pub rotations: Vec<Rotation>,
}

/// A declared integration.
pub trait Declared {
    /// Its name, unique in the plan.
    fn name(&self) -> &crate::ids::ServiceName;
}

/// A rotation.
pub trait Intent {
    /// Whether it deletes a user whatever live state holds (what `policy.max_deletions` is
    /// checked against before anything is read).
    fn deletes_for_certain(&self) -> bool;
}

impl<I, S: Declared, R: Intent> ProviderSpec<I, S, R> {
    /// The declaration of a service the plan names.
    pub fn service(&self, name: &crate::ids::ServiceName) -> Option<&S> {
        self.services.iter().find(|s| s.name() == name)
    }

    /// Where a service the plan names is declared (`services[i]`), for messages.
    pub fn service_index(&self, name: &crate::ids::ServiceName) -> Option<usize> {
        self.services.iter().position(|s| s.name() == name)
    }

    /// How many users the rotations delete for certain.
    pub(crate) fn certain_deletions(&self) -> usize {
        self.rotations
            .iter()
            .filter(|r| r.deletes_for_certain())
            .count()
    }
}

/// The provider-specific part of a plan: its instance, services and rotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// A Marketo plan.
    Marketo(marketo::Spec),
    /// A dotdigital plan.
    Dotdigital(dotdigital::Spec),
    /// A Movius MultiLine plan.
    Movius(movius::Spec),
}

/// The fixture a `sandbox:` section names. Only a `--sandbox` run reads it, so a live run of a
/// plan mounted without its fixtures (a CronJob's ConfigMap) is not refused for it; where it
/// was written is kept so a rehearsal that misses it names the file, line and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxFixture {
    path: PathBuf,
    origin: String,
    line: u64,
    column: u64,
}

impl SandboxFixture {
    /// `written` (relative to `base_dir`) as `origin` names it at `at`.
    pub fn new(base_dir: &Path, written: &str, origin: &str, at: serde_saphyr::Location) -> Self {
        Self {
            path: base_dir.join(written),
            origin: origin.to_owned(),
            line: at.line(),
            column: at.column(),
        }
    }

    /// The fixture's path, resolved against its file's folder, whether or not it exists.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The fixture's path, once there is a file there.
    pub fn existing(&self) -> Result<&Path, Diagnostics> {
        if self.path.is_file() {
            return Ok(&self.path);
        }
        let problem = Diagnostic {
            line: self.line,
            column: self.column,
            field: "sandbox.fixture".to_owned(),
            message: format!("no fixture at `{}`", self.path.display()),
            hint: Some(
                "the path is relative to the file that names it; only `--sandbox` reads it"
                    .to_owned(),
            ),
        };
        Err(Diagnostics::new(self.origin.clone(), vec![problem]))
    }
}

/// A validated plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Instance, services and rotations, in the terms of the plan's platform.
    pub spec: Spec,
    /// Policy.
    pub policy: Policy,
    /// Fixture for `--sandbox` runs, resolved against the plan's folder.
    pub sandbox_fixture: Option<SandboxFixture>,
    /// Where to tell people how a run ended: a reference to the webhook's URL.
    pub notify: Option<super::SecretRef>,
    /// The folder relative references are resolved against.
    pub base_dir: PathBuf,
}

impl Plan {
    /// The platform the plan is for.
    pub fn provider(&self) -> ProviderKind {
        match self.spec {
            Spec::Marketo(_) => ProviderKind::Marketo,
            Spec::Dotdigital(_) => ProviderKind::Dotdigital,
            Spec::Movius(_) => ProviderKind::Movius,
        }
    }

    /// The base URL of the instance it acts on (for Movius, what check commands are told of,
    /// if the plan gives one).
    pub fn base_url(&self) -> Option<&str> {
        match &self.spec {
            Spec::Marketo(spec) => Some(&spec.instance.base_url),
            Spec::Dotdigital(spec) => Some(&spec.instance.base_url),
            Spec::Movius(spec) => spec.instance.base_url.as_deref(),
        }
    }

    /// How many rotations it has.
    pub fn rotation_count(&self) -> usize {
        match &self.spec {
            Spec::Marketo(spec) => spec.rotations.len(),
            Spec::Dotdigital(spec) => spec.rotations.len(),
            Spec::Movius(spec) => spec.rotations.len(),
        }
    }

    /// A rotation's heading for people: `rename `jane@…` to email `api@…``.
    pub fn rotation_heading(&self, index: usize) -> String {
        match &self.spec {
            Spec::Marketo(spec) => spec.rotations.get(index).map(marketo::Rotation::heading),
            Spec::Dotdigital(spec) => spec.rotations.get(index).map(dotdigital::Rotation::heading),
            Spec::Movius(spec) => spec.rotations.get(index).map(movius::Rotation::heading),
        }
        .unwrap_or_default()
    }
}

/// An instance a runner configuration declares ([`crate::runner`]), which a plan may name
/// (`instance: { provider: marketo, name: acme }`) instead of repeating its base URL and admin
/// credential: the runner, not the plan, says where the credential goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedInstance {
    /// Its name.
    pub name: String,
    /// The platform.
    pub provider: ProviderKind,
    /// Its base URL.
    pub base_url: String,
    /// Marketo: the admin service's client id, as the runner writes it (a literal or a
    /// reference).
    pub client_id: Option<String>,
    /// Marketo: the admin service's client secret, as the runner writes it (a reference).
    pub client_secret: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_known_by_its_one_name_everywhere() {
        assert_eq!(ProviderKind::ALL.len(), ProviderKind::NAMES.len());
        for (kind, name) in ProviderKind::ALL.into_iter().zip(ProviderKind::NAMES) {
            assert_eq!(kind.name(), name);
            assert_eq!(ProviderKind::from_name(name), Some(kind));
            assert_eq!(kind.to_string(), name);
            assert_eq!(serde_json::to_value(kind).unwrap(), name);
            let back: ProviderKind = serde_json::from_value(name.into()).unwrap();
            assert_eq!(back, kind);
        }
        let unknown = serde_json::from_value::<ProviderKind>("hubspot".into()).unwrap_err();
        assert!(
            unknown
                .to_string()
                .contains("expected one of `marketo`, `dotdigital`, `movius`"),
            "{unknown}"
        );
    }

    #[test]
    fn messages_list_every_kind() {
        assert_eq!(ProviderKind::listed(), "marketo, dotdigital or movius");
        assert_eq!(
            ProviderKind::labelled(),
            "Marketo, dotdigital or Movius MultiLine"
        );
    }
}
