//! The credentials a Marketo plan references, read when a command needs them (never by
//! validation): the admin service relinker acts as, and each declared LaunchPoint service.
//!
//! Every reference is tried before anything is reported, so a person who forgot three
//! variables learns about all three at once, each named once with the plan field behind it.

use std::collections::BTreeMap;
use std::path::Path;

use super::types::ServiceCredentials;
use crate::ids::ServiceName;
use crate::plan::marketo::{Instance, ServiceDecl, Spec};
use crate::plan::{Credential, MissingSecrets, SecretReader, Secrets};
use crate::secret::Fingerprinter;

/// Secret references that could not be read.
pub type CredentialError = MissingSecrets;

/// The credentials a plan's references resolved to.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The admin service relinker acts as.
    pub admin: ServiceCredentials,
    /// Each declared service, by name.
    pub services: BTreeMap<ServiceName, ServiceCredentials>,
}

/// Reads every credential a plan references, relative to the plan's folder, and fingerprints
/// them with `fingerprinter`.
pub fn plan_credentials(
    spec: &Spec,
    base_dir: &Path,
    fingerprinter: &Fingerprinter,
) -> Result<Credentials, CredentialError> {
    resolve_credentials(&spec.instance, &spec.services, base_dir, fingerprinter)
}

/// Reads the credentials an instance block and a services list reference, relative to
/// `base_dir`, and fingerprints them with `fingerprinter`.
pub fn resolve_credentials(
    instance: &Instance,
    services: &[ServiceDecl],
    base_dir: &Path,
    fingerprinter: &Fingerprinter,
) -> Result<Credentials, CredentialError> {
    let secrets = Secrets::Live {
        base_dir: base_dir.to_path_buf(),
    };
    let mut reader = SecretReader::new(&secrets);
    let admin_id = reader.read("instance.client_id".into(), &instance.client_id);
    let admin_secret = reader.read(
        "instance.client_secret".into(),
        &Credential::Reference(instance.client_secret.clone()),
    );
    let mut resolved = BTreeMap::new();
    for (index, service) in services.iter().enumerate() {
        let client_id = reader.read(format!("services[{index}].client_id"), &service.client_id);
        let client_secret = reader.read(
            format!("services[{index}].client_secret"),
            &Credential::Reference(service.client_secret.clone()),
        );
        if let (Some(client_id), Some(client_secret)) = (client_id, client_secret) {
            resolved.insert(
                service.name.clone(),
                ServiceCredentials::new(
                    service.name.clone(),
                    client_id.expose().to_owned(),
                    client_secret,
                    fingerprinter,
                ),
            );
        }
    }
    reader.finish()?;
    match (admin_id, admin_secret) {
        (Some(client_id), Some(client_secret)) => Ok(Credentials {
            admin: ServiceCredentials::new(
                ServiceName::new("admin"),
                client_id.expose().to_owned(),
                client_secret,
                fingerprinter,
            ),
            services: resolved,
        }),
        // Unreachable: the reader reported every reference it could not read.
        _ => Err(MissingSecrets::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_missing_secret_is_named_once() {
        let plan = crate::plan::parse(
            "version: 1
name: t
instance: { provider: marketo, base_url: https://x.mktorest.com, client_id: a, client_secret: '${env:RELINKER_TEST_UNSET_A}' }
services:
  - { name: one, client_id: '${env:RELINKER_TEST_UNSET_B}', client_secret: '${env:RELINKER_TEST_UNSET_A}' }
  - { name: two, client_id: b, client_secret: '${file:no-such-secret-file}' }
rotations:
  - relink: { services: [one, two], to: api@acme.example }
",
            "t.yaml",
            Path::new("/nonexistent-relinker-dir"),
        )
        .unwrap();
        let crate::plan::Spec::Marketo(spec) = &plan.spec else {
            panic!("a Marketo plan")
        };
        let error = plan_credentials(spec, &plan.base_dir, &Fingerprinter::fresh()).unwrap_err();
        assert_eq!(error.missing.len(), 3, "{error}");
        let text = error.to_string();
        assert!(
            text.starts_with("3 secrets the plan references cannot be read"),
            "{text}"
        );
        assert_eq!(text.matches("RELINKER_TEST_UNSET_A").count(), 2, "{text}");
        assert!(
            text.contains("  - `instance.client_secret`, `services[0].client_secret`: environment variable `RELINKER_TEST_UNSET_A`"),
            "{text}"
        );
    }
}
