//! Where an AWS store's credentials and region come from: the standard environment
//! variables, then the shared credentials and config files, as the AWS CLI and SDKs read them
//! (the part of their chains a runner uses: no instance metadata, web identity or SSO, which
//! docs/secrets.md says).

use std::collections::HashMap;
use std::path::PathBuf;

use crate::secret::Secret;

/// An access key, with its session token when it is temporary.
pub(super) struct Credentials {
    pub(super) access_key_id: String,
    pub(super) secret_access_key: Secret,
    pub(super) session_token: Option<Secret>,
}

/// The profile to read: the store's `profile:`, else `AWS_PROFILE`, else `default`.
fn profile(declared: Option<&str>) -> String {
    declared
        .map(str::to_owned)
        .or_else(|| non_empty("AWS_PROFILE"))
        .unwrap_or_else(|| "default".into())
}

fn non_empty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The credentials: `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (with
/// `AWS_SESSION_TOKEN`) unless the store names a profile, else the profile's in the shared
/// credentials file, else in the config file.
pub(super) fn credentials(declared_profile: Option<&str>) -> Result<Credentials, String> {
    if declared_profile.is_none()
        && let (Some(id), Some(key)) = (
            non_empty("AWS_ACCESS_KEY_ID"),
            non_empty("AWS_SECRET_ACCESS_KEY"),
        )
    {
        return Ok(Credentials {
            access_key_id: id,
            secret_access_key: Secret::new(key),
            session_token: non_empty("AWS_SESSION_TOKEN").map(Secret::new),
        });
    }
    let profile = profile(declared_profile);
    for (file, section) in [
        (credentials_file(), profile.clone()),
        (config_file(), config_section(&profile)),
    ] {
        let Some(mut values) = file.as_ref().and_then(|f| read_section(f, &section)) else {
            continue;
        };
        if let (Some(id), Some(key)) = (
            values.remove("aws_access_key_id"),
            values.remove("aws_secret_access_key"),
        ) {
            return Ok(Credentials {
                access_key_id: id,
                secret_access_key: Secret::new(key),
                session_token: values.remove("aws_session_token").map(Secret::new),
            });
        }
    }
    Err(format!(
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile `{profile}` an access key in the shared credentials file"
    ))
}

/// The region: the store's `region:`, else `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the
/// profile's in the config file.
pub(super) fn region(
    declared: Option<&str>,
    declared_profile: Option<&str>,
) -> Result<String, String> {
    if let Some(region) = declared
        .map(str::to_owned)
        .or_else(|| non_empty("AWS_REGION"))
        .or_else(|| non_empty("AWS_DEFAULT_REGION"))
    {
        return Ok(region);
    }
    let profile = profile(declared_profile);
    config_file()
        .and_then(|file| read_section(&file, &config_section(&profile)))
        .and_then(|mut values| values.remove("region"))
        .ok_or_else(|| {
            format!(
                "no AWS region: give the store a `region:`, set AWS_REGION, or give profile `{profile}` a region in the config file"
            )
        })
}

/// The config file names profiles `[profile NAME]`, except `[default]`.
fn config_section(profile: &str) -> String {
    if profile == "default" {
        profile.to_owned()
    } else {
        format!("profile {profile}")
    }
}

fn credentials_file() -> Option<PathBuf> {
    non_empty("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".aws").join("credentials")))
}

fn config_file() -> Option<PathBuf> {
    non_empty("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".aws").join("config")))
}

fn home() -> Option<PathBuf> {
    non_empty("HOME").map(PathBuf::from)
}

/// The `key = value` lines of `[section]` in an INI file, keys in lower case; `None` when the
/// file cannot be read or has no such section.
fn read_section(file: &std::path::Path, section: &str) -> Option<HashMap<String, String>> {
    let text = crate::input::read_text(file, crate::input::Kind::Secret).ok()?;
    parse_section(&text, section)
}

fn parse_section(text: &str, section: &str) -> Option<HashMap<String, String>> {
    let mut found = None;
    let mut current: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            current = Some(name.split_whitespace().collect::<Vec<_>>().join(" "));
            if current.as_deref() == Some(section) {
                found.get_or_insert_with(HashMap::new);
            }
            continue;
        }
        // An indented line belongs to a nested setting (`s3 =` and its lines): not ours.
        if current.as_deref() != Some(section) || line.starts_with([' ', '\t']) {
            continue;
        }
        if let (Some(values), Some((key, value))) = (found.as_mut(), trimmed.split_once('=')) {
            let value = value.trim();
            if !value.is_empty() {
                values.insert(key.trim().to_ascii_lowercase(), value.to_owned());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_profiles_section_of_an_ini_file() {
        let text = "[default]\nregion = us-east-1\n\n[profile ops]\n# a comment\nregion=eu-west-1\naws_access_key_id = AKIDOPS\ns3 =\n  max_concurrent_requests = 2\n[other]\nregion = x\n";
        let ops = parse_section(text, "profile ops").unwrap();
        assert_eq!(ops.get("region").map(String::as_str), Some("eu-west-1"));
        assert_eq!(
            ops.get("aws_access_key_id").map(String::as_str),
            Some("AKIDOPS")
        );
        assert!(!ops.contains_key("max_concurrent_requests"));
        assert_eq!(
            parse_section(text, "default")
                .unwrap()
                .get("region")
                .map(String::as_str),
            Some("us-east-1")
        );
        assert!(parse_section(text, "profile missing").is_none());
        assert_eq!(config_section("default"), "default");
        assert_eq!(config_section("ops"), "profile ops");
    }
}
