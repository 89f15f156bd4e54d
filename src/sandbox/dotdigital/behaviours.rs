//! Readings of what dotdigital's documentation leaves to the account: which rate-limit scheme
//! it is on. Set in a fixture (`behaviours: {rate-limit-scheme: flat}`) or with
//! `relinker sandbox --behaviour rate-limit-scheme=flat`; docs/sandbox.md describes each.

use std::fmt;
use std::str::FromStr;

/// How an account's calls are limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RateLimitScheme {
    /// Per minute, by tier: 429 with `X-RateLimit-*` headers on every answer.
    #[default]
    Tiered,
    /// The older flat scheme: 2,000 calls an hour, then 400 `ERROR_APIUSAGE_EXCEEDED`, with no
    /// header saying when it lifts.
    Flat,
}

/// Every open behaviour's key, in the docs' order.
pub const KEYS: [&str; 1] = ["rate-limit-scheme"];

/// The values a key takes, the default first.
pub fn values(key: &str) -> &'static [&'static str] {
    match key {
        "rate-limit-scheme" => &["tiered", "flat"],
        _ => &[],
    }
}

/// One behaviour set to one reading: `KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    scheme: RateLimitScheme,
}

/// A setting that names no behaviour, or no reading of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// Not `KEY=VALUE`.
    #[error("`{0}` is not KEY=VALUE")]
    Shape(String),
    /// An unknown key.
    #[error("unknown dotdigital behaviour `{key}`; the behaviours are {}", KEYS.join(", "))]
    Key {
        /// The key.
        key: String,
    },
    /// A value the key does not take.
    #[error("behaviour `{key}` takes {}, not `{value}`", values(key).join(", "))]
    Value {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
}

impl Setting {
    /// `key` set to `value`, if both are known.
    pub fn new(key: &str, value: &str) -> Result<Self, SettingError> {
        let (key, value) = (key.trim(), value.trim());
        if !KEYS.contains(&key) {
            return Err(SettingError::Key { key: key.into() });
        }
        let scheme = match value {
            "tiered" => RateLimitScheme::Tiered,
            "flat" => RateLimitScheme::Flat,
            _ => {
                return Err(SettingError::Value {
                    key: key.into(),
                    value: value.into(),
                });
            }
        };
        Ok(Self { scheme })
    }

    /// The scheme it sets.
    pub(crate) fn scheme(&self) -> RateLimitScheme {
        self.scheme
    }
}

impl FromStr for Setting {
    type Err = SettingError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| SettingError::Shape(text.into()))?;
        Self::new(key, value)
    }
}

impl fmt::Display for RateLimitScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = values(KEYS[0])[*self as usize];
        write!(f, "{}={value}", KEYS[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_name_a_known_reading() {
        let flat: Setting = "rate-limit-scheme = flat".parse().unwrap();
        assert_eq!(flat.scheme(), RateLimitScheme::Flat);
        assert_eq!(
            RateLimitScheme::default().to_string(),
            "rate-limit-scheme=tiered"
        );
        assert_eq!(RateLimitScheme::Flat.to_string(), "rate-limit-scheme=flat");
        assert_eq!(
            "rate-limit-scheme=hourly"
                .parse::<Setting>()
                .unwrap_err()
                .to_string(),
            "behaviour `rate-limit-scheme` takes tiered, flat, not `hourly`"
        );
        assert!("page-offset=pages".parse::<Setting>().is_err());
        assert!("flat".parse::<Setting>().is_err());
    }
}
