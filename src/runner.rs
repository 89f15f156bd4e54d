//! The runner configuration: what the machine that runs relinker (a CI job, a CronJob, an
//! operator's laptop) lets the plans it is given do. A plan is input, often from a pull
//! request; the runner owns the credentials. So the runner, not the plan, decides which
//! instances may be reached, which secret references may be read, and which check programs may
//! run (and whether at plan time), as Atlantis's server-side repo config decides what a pull
//! request may change.
//!
//! A plan (or offboarding config) that names anything outside it is refused before any request
//! or program runs, every such value named with its `file:line:col`. Without a runner
//! configuration the plan's own hosts, references and programs are trusted, as they were
//! before, and the commands say so in one line.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobMatcher};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::diagnostic::shape::{self, Scalar};
use crate::diagnostic::{Diagnostic, Diagnostics, yaml_options};
use crate::plan::raw::{FormatVersion, Text};
use crate::plan::{ProviderKind, SecretRef};
use crate::stores::{SourceKind, StoreRef, StoreSource};

mod stores;

// ---- the file as written ----

/// A runner configuration file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawRunner {
    /// Format version: 1.
    #[schemars(with = "u32")]
    version: Spanned<FormatVersion>,
    /// The instances plans may act on.
    #[serde(default)]
    instances: Vec<RawInstance>,
    /// The secret references plans may read.
    #[serde(default)]
    secrets: RawSecrets,
    /// The check programs plans may run.
    #[serde(default)]
    checks: RawChecks,
}

/// An instance plans may act on.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawInstance {
    /// Its name, for plans that name it (`instance: { name: … }`).
    #[schemars(with = "String")]
    name: Text,
    /// The platform.
    #[schemars(with = "String", extend("enum" = crate::plan::ProviderKind::NAMES))]
    provider: Text,
    /// Its base URL, as plans write it.
    #[schemars(with = "String")]
    base_url: Text,
    /// Marketo: the admin service's client id, a literal or a reference.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    client_id: Option<Text>,
    /// Marketo: the admin service's client secret, a reference.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    client_secret: Option<Text>,
}

/// Secret references plans may read.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawSecrets {
    /// Environment variable names (`*` matches any run of characters: `DD_*`).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    env: Vec<Text>,
    /// Directories a `${file:…}` reference may read under (absolute).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    files: Vec<Text>,
    /// Secret stores plans may read with `${store:NAME/PATH#KEY}` (docs/secrets.md).
    #[serde(default)]
    stores: Vec<RawStore>,
}

/// A secret store: AWS Secrets Manager, or a program that prints a secret.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawStore {
    /// Its name, as references give it (`${store:NAME/…}`).
    #[schemars(with = "String")]
    name: Text,
    /// `aws-secrets-manager` or `command`.
    #[schemars(with = "String", extend("enum" = ["aws-secrets-manager", "command"]))]
    kind: Text,
    /// The paths plans may read in it (`*` matches any run of characters); all when absent.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    paths: Option<Vec<Text>>,
    /// How long reading one secret may take (`10s`, `1m`); 30 s when absent.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    timeout: Option<Text>,
    /// aws-secrets-manager: its region; else `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    region: Option<Text>,
    /// aws-secrets-manager: the profile of the shared AWS files whose credentials it uses.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    profile: Option<Text>,
    /// aws-secrets-manager: where the service is (a VPC endpoint); else AWS's for the region.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    endpoint: Option<Text>,
    /// command: the program and its arguments (no shell); `{path}` and `{key}` stand for the
    /// reference's.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    argv: Option<Vec<Text>>,
    /// command: variables of relinker's environment the program is given besides `PATH`,
    /// `HOME`, `LANG`, `LC_*` and `TZ`.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    env: Option<Vec<Text>>,
}

/// Check programs plans may run.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawChecks {
    /// Programs: `relinker` (this program), a name looked up in `PATH`, or an absolute path.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    programs: Vec<Text>,
    /// Whether `relinker plan` runs them (default false: planning reads the platform only).
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    at_plan: Option<Spanned<bool>>,
}

// ---- the configuration as validated ----

/// An instance plans may act on, and name.
pub type Instance = crate::plan::NamedInstance;

/// What a runner lets plans do.
#[derive(Debug, Clone)]
pub struct Runner {
    origin: String,
    instances: Vec<Instance>,
    env: Vec<(String, GlobMatcher)>,
    files: Vec<PathBuf>,
    stores: Vec<DeclaredStore>,
    programs: Vec<Program>,
    checks_at_plan: bool,
}

/// A secret store, and which of its paths plans may read.
#[derive(Debug, Clone)]
struct DeclaredStore {
    source: StoreSource,
    /// `None`: every path.
    paths: Option<Vec<(String, GlobMatcher)>>,
}

/// A program the runner lets check commands run.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Program {
    /// relinker itself (`relinker check-credential …`).
    Relinker,
    /// A name looked up in the runner's `PATH`.
    Named(String),
    /// A file, by its canonical path.
    Path(PathBuf),
}

/// Why a runner configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The file cannot be read.
    #[error("{0}")]
    Read(#[from] crate::input::InputError),
    /// The file is wrong; every problem is listed.
    #[error("{0}")]
    Invalid(Diagnostics),
    /// A plan names something the runner does not allow; every such value is listed.
    #[error("{0}")]
    Refused(Diagnostics),
}

impl Runner {
    /// Reads and validates a runner configuration.
    pub fn load(path: &Path) -> Result<Self, RunnerError> {
        let text = crate::input::read_text(path, crate::input::Kind::Config)?;
        let origin = path.display().to_string();
        let raw: RawRunner =
            serde_saphyr::from_str_with_options(&text, yaml_options()).map_err(|e| {
                // serde names the first problem; the schema walk names them all.
                let schema =
                    serde_json::to_value(schemars::schema_for!(RawRunner)).unwrap_or_default();
                let mut problems = shape::problems(&text, &schema);
                if problems.is_empty() {
                    problems.push(Diagnostic::from_yaml(&e));
                }
                RunnerError::Invalid(Diagnostics::new(&origin, problems))
            })?;
        let mut problems = Vec::new();
        if raw.version.value.0 != 1 {
            problems.push(Diagnostic::at(
                raw.version.referenced,
                "version",
                format!("version {} is not one relinker reads", raw.version.value.0),
            ));
        }
        let instances = instances(raw.instances, &mut problems);
        let env = env_patterns(raw.secrets.env, &mut problems);
        let files = directories(raw.secrets.files, &mut problems);
        let stores = stores::declared(raw.secrets.stores, &mut problems);
        let programs = programs(raw.checks.programs, &mut problems);
        if !problems.is_empty() {
            return Err(RunnerError::Invalid(Diagnostics::new(&origin, problems)));
        }
        Ok(Self {
            origin,
            instances,
            env,
            files,
            stores,
            programs,
            checks_at_plan: raw.checks.at_plan.is_some_and(|a| a.value),
        })
    }

    /// Where it was read from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The instance named `name`, if the runner declares one.
    pub fn instance(&self, name: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.name == name)
    }

    /// The instances plans may name.
    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// The secret stores plans may read.
    pub fn stores(&self) -> Vec<StoreSource> {
        self.stores.iter().map(|s| s.source.clone()).collect()
    }

    /// Whether `relinker plan` may run check commands.
    pub fn checks_at_plan(&self) -> bool {
        self.checks_at_plan
    }

    /// Checks a plan or offboarding config (`text`, read from `origin`, whose relative paths
    /// resolve in `base_dir`) against what the runner allows: the instance it acts on (its
    /// platform and base URL as validated, whether written out, derived from a region or taken
    /// from a named instance), every secret reference, every check program. Each value outside
    /// is named with where it is.
    pub fn admit(
        &self,
        text: &str,
        origin: &str,
        base_dir: &Path,
        instance: Option<(ProviderKind, &str)>,
    ) -> Result<(), RunnerError> {
        let scalars = shape::scalars(text);
        let mut problems = Vec::new();
        if let Some((provider, base_url)) = instance {
            self.admit_host(&scalars, provider, base_url, &mut problems);
        }
        for scalar in &scalars {
            if is_check_program(&scalar.field) {
                self.admit_program(scalar, base_dir, &mut problems);
            } else if let Some(reference) = SecretRef::parse(&scalar.text) {
                self.admit_reference(scalar, &reference, base_dir, &mut problems);
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(RunnerError::Refused(Diagnostics::new(origin, problems)))
        }
    }

    fn admit_host(
        &self,
        scalars: &[Scalar],
        provider: ProviderKind,
        base_url: &str,
        problems: &mut Vec<Diagnostic>,
    ) {
        let wanted = normalized(base_url);
        let declared = self
            .instances
            .iter()
            .any(|i| normalized(&i.base_url) == wanted && i.provider == provider);
        if declared {
            return;
        }
        // Where the file says it: the base URL, else what it is derived from.
        let (at, field) = [
            "instance.base_url",
            "instance.region",
            "instance.name",
            "instance.provider",
        ]
        .iter()
        .find_map(|field| scalars.iter().find(|s| s.field == *field))
        .map_or(
            (serde_saphyr::Location::UNKNOWN, "instance".to_owned()),
            |s| (s.at, s.field.clone()),
        );
        let names: Vec<String> = self
            .instances
            .iter()
            .filter(|i| i.provider == provider)
            .map(|i| format!("`{}`", i.name))
            .collect();
        problems.push(
            Diagnostic::at(
                at,
                field,
                format!(
                    "{provider} at `{base_url}` is not an instance the runner configuration `{}` allows",
                    self.origin
                ),
            )
            .with_hint(if names.is_empty() {
                format!("the runner declares no {provider} instance")
            } else {
                format!("name one of its instances instead: {}", names.join(", "))
            }),
        );
    }

    fn admit_reference(
        &self,
        scalar: &Scalar,
        reference: &SecretRef,
        base_dir: &Path,
        problems: &mut Vec<Diagnostic>,
    ) {
        let refused = match reference {
            SecretRef::Env(name) => (!self.env.iter().any(|(_, m)| m.is_match(name))).then(|| {
                (
                    format!("the runner configuration does not let plans read `${{env:{name}}}`"),
                    format!(
                        "variables plans may read: {}",
                        listed(self.env.iter().map(|(p, _)| p.as_str()))
                    ),
                )
            }),
            SecretRef::File(path) => {
                let full = canonical_or_lexical(&base_dir.join(path));
                (!self.files.iter().any(|dir| full.starts_with(dir))).then(|| {
                    (
                        format!(
                            "the runner configuration does not let plans read `{}`",
                            full.display()
                        ),
                        format!(
                            "directories plans may read under: {}",
                            listed(
                                self.files
                                    .iter()
                                    .map(|d| d.display().to_string())
                                    .collect::<Vec<_>>()
                                    .iter()
                                    .map(String::as_str)
                            )
                        ),
                    )
                })
            }
            SecretRef::Store(reference) => self.refused_store(reference),
        };
        if let Some((message, hint)) = refused {
            problems.push(Diagnostic::at(scalar.at, &scalar.field, message).with_hint(hint));
        }
    }

    /// Why a store reference is refused, if it is: its store is not declared, a path outside
    /// the store's `paths`, or no key for a program that reads one.
    fn refused_store(&self, reference: &StoreRef) -> Option<(String, String)> {
        let Some(store) = self
            .stores
            .iter()
            .find(|s| s.source.name == reference.source)
        else {
            return Some((
                format!(
                    "`{reference}` names store `{}`, which the runner configuration does not declare",
                    reference.source
                ),
                format!(
                    "stores plans may read: {}",
                    listed(self.stores.iter().map(|s| s.source.name.as_str()))
                ),
            ));
        };
        if let Some(paths) = &store.paths
            && !paths.iter().any(|(_, m)| m.is_match(&reference.path))
        {
            return Some((
                format!("the runner configuration does not let plans read `{reference}`"),
                format!(
                    "paths plans may read in store `{}`: {}",
                    reference.source,
                    listed(paths.iter().map(|(p, _)| p.as_str()))
                ),
            ));
        }
        match &store.source.kind {
            SourceKind::Command(command) if command.takes_key() && reference.key.is_none() => {
                Some((
                    format!(
                        "`{reference}` gives no key, and store `{}` reads one",
                        reference.source
                    ),
                    "write the reference as `${store:NAME/PATH#KEY}`".into(),
                ))
            }
            _ => None,
        }
    }

    fn admit_program(&self, scalar: &Scalar, base_dir: &Path, problems: &mut Vec<Diagnostic>) {
        let name = scalar.text.trim();
        let allowed = self.programs.iter().any(|program| match program {
            Program::Relinker => name == "relinker",
            Program::Named(allowed) => !name.contains('/') && name == allowed,
            Program::Path(allowed) => {
                name.contains('/') && canonical_or_lexical(&base_dir.join(name)) == *allowed
            }
        });
        if !allowed {
            problems.push(
                Diagnostic::at(
                    scalar.at,
                    &scalar.field,
                    format!("the runner configuration does not let plans run `{name}`"),
                )
                .with_hint("a check program must be listed under `checks.programs` of the runner configuration"),
            );
        }
    }
}

/// Whether a field is a check command's program: the first item of a service's `check`.
fn is_check_program(field: &str) -> bool {
    field.starts_with("services[") && field.ends_with(".check[0]")
}

fn listed<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.map(|i| format!("`{i}`")).collect();
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// A base URL compared as relinker sends to it: scheme and host in lower case, no trailing `/`.
fn normalized(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
            let path = if path.is_empty() {
                String::new()
            } else {
                format!("/{path}")
            };
            format!(
                "{}://{}{path}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase()
            )
        }
        None => url.to_ascii_lowercase(),
    }
}

/// The path with links resolved where it exists; otherwise with `.` and `..` taken out, so
/// `allowed/../elsewhere` is never inside `allowed`.
fn canonical_or_lexical(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    // Relative to where relinker runs, as a reference to a missing file would be read.
    let path = match std::env::current_dir() {
        Ok(here) if path.is_relative() => here.join(path),
        _ => path.to_path_buf(),
    };
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn instances(raw: Vec<RawInstance>, problems: &mut Vec<Diagnostic>) -> Vec<Instance> {
    let mut out: Vec<Instance> = Vec::new();
    for (index, instance) in raw.into_iter().enumerate() {
        let field = format!("instances[{index}]");
        let Some(provider) = ProviderKind::from_name(instance.provider.value.trim()) else {
            problems.push(Diagnostic::at(
                instance.provider.referenced,
                format!("{field}.provider"),
                format!(
                    "`{}` is not a provider relinker knows",
                    instance.provider.value
                ),
            ));
            continue;
        };
        if let Err(reason) = crate::endpoint::check_base_url(instance.base_url.value.trim()) {
            problems.push(Diagnostic::at(
                instance.base_url.referenced,
                format!("{field}.base_url"),
                reason,
            ));
        }
        let name = instance.name.value.trim().to_owned();
        if out.iter().any(|i| i.name == name) {
            problems.push(Diagnostic::at(
                instance.name.referenced,
                format!("{field}.name"),
                format!("instance `{name}` is declared twice"),
            ));
        }
        out.push(Instance {
            name,
            provider,
            base_url: instance.base_url.value.trim().to_owned(),
            client_id: instance.client_id.map(|t| t.value),
            client_secret: instance.client_secret.map(|t| t.value),
        });
    }
    out
}

fn env_patterns(raw: Vec<Text>, problems: &mut Vec<Diagnostic>) -> Vec<(String, GlobMatcher)> {
    let mut out = Vec::new();
    for (index, pattern) in raw.into_iter().enumerate() {
        let text = pattern.value.trim().to_owned();
        let well_formed = !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '*');
        match Glob::new(&text) {
            Ok(glob) if well_formed => out.push((text, glob.compile_matcher())),
            _ => problems.push(Diagnostic::at(
                pattern.referenced,
                format!("secrets.env[{index}]"),
                format!("`{text}` is not a variable name (letters, digits, `_`, and `*` for any run of them)"),
            )),
        }
    }
    out
}

fn directories(raw: Vec<Text>, problems: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (index, dir) in raw.into_iter().enumerate() {
        let path = PathBuf::from(dir.value.trim());
        match std::fs::canonicalize(&path) {
            Ok(real) if path.is_absolute() && real.is_dir() => out.push(real),
            _ => problems.push(Diagnostic::at(
                dir.referenced,
                format!("secrets.files[{index}]"),
                format!(
                    "`{}` is not an existing directory given by its absolute path",
                    path.display()
                ),
            )),
        }
    }
    out
}

fn programs(raw: Vec<Text>, problems: &mut Vec<Diagnostic>) -> Vec<Program> {
    let mut out = Vec::new();
    for (index, program) in raw.into_iter().enumerate() {
        let text = program.value.trim();
        let path = Path::new(text);
        if text == "relinker" {
            out.push(Program::Relinker);
        } else if !text.contains('/') && !text.is_empty() {
            out.push(Program::Named(text.to_owned()));
        } else if let (true, Ok(real)) = (path.is_absolute(), std::fs::canonicalize(path)) {
            out.push(Program::Path(real));
        } else {
            problems.push(Diagnostic::at(
                program.referenced,
                format!("checks.programs[{index}]"),
                format!("`{text}` is not `relinker`, a program name, or the absolute path of an existing file"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_compare_as_relinker_sends_to_them() {
        for (a, b) in [
            (
                "https://123-ABC-456.mktorest.com/",
                "https://123-abc-456.mktorest.com",
            ),
            (
                "HTTPS://r1-api.dotdigital.com",
                "https://r1-api.dotdigital.com/",
            ),
        ] {
            assert_eq!(normalized(a), normalized(b), "{a} {b}");
        }
        assert_ne!(
            normalized("https://123-abc-456.mktorest.com.attacker.example"),
            normalized("https://123-abc-456.mktorest.com")
        );
    }

    #[test]
    fn a_path_that_climbs_out_of_an_allowed_directory_is_outside_it() {
        let allowed = Path::new("/run/secrets/relinker");
        let climbed = canonical_or_lexical(Path::new("/run/secrets/relinker/../../../etc/shadow"));
        assert!(!climbed.starts_with(allowed), "{}", climbed.display());
        assert!(canonical_or_lexical(Path::new("/run/secrets/relinker/./a")).starts_with(allowed));
    }

    #[test]
    fn only_the_first_item_of_a_services_check_is_its_program() {
        assert!(is_check_program("services[2].check[0]"));
        assert!(!is_check_program("services[2].check[1]"));
        assert!(!is_check_program("rotations[0].check[0]"));
    }
}
