//! Behaviours the reference leaves open. Where Marketo's documentation is silent, the sandbox
//! can play each reading, so relinker is tested against all of them rather than the kindest.
//! Set in a fixture (`behaviours: {token-scope-after-relink: minted}`) or with
//! `relinker sandbox --behaviour KEY=VALUE`; docs/sandbox.md describes each.

use std::fmt;
use std::str::FromStr;

/// What a cached token's `scope` says after its service is relinked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenScope {
    /// The user the service is linked to now.
    #[default]
    Live,
    /// The user it was linked to when the token was minted, until the token expires.
    Minted,
    /// Relinking invalidates the service's tokens; the next identity call mints a new one.
    Revoked,
}

/// What `invite.json` with `apiOnly: true` creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiOnlyInvitations {
    /// An active user at once.
    #[default]
    Immediate,
    /// A pending invitation until it is accepted; `user.json` answers 404 meanwhile.
    Pending,
}

/// How error bodies write their codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorCodes {
    /// `"code": "606"`.
    #[default]
    String,
    /// `"code": 606`.
    Integer,
}

/// Which HTTP status an error answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorStatus {
    /// 4xx/5xx.
    #[default]
    Http,
    /// 200 with `"success": false` and the `errors` array, as Marketo's other REST APIs answer.
    Ok,
}

/// What happens when a user a LaunchPoint service is linked to is edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkedUserEdit {
    /// Refused with 1003.
    #[default]
    Refused1003,
    /// Refused with 603 (access denied).
    Refused603,
    /// The edit succeeds and the service keeps working.
    Accepted,
}

/// What `allusers.json`'s `pageOffset` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PageOffset {
    /// Users: offset 200 starts at the 201st user.
    #[default]
    Entries,
    /// Pages: offset 2 is the third page.
    Pages,
}

/// Every open behaviour, each set to one reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Behaviours {
    /// `token-scope-after-relink`.
    pub token_scope: TokenScope,
    /// `api-only-invitations`.
    pub api_only_invitations: ApiOnlyInvitations,
    /// `error-codes`.
    pub error_codes: ErrorCodes,
    /// `error-status`.
    pub error_status: ErrorStatus,
    /// `linked-user-edit`.
    pub linked_user_edit: LinkedUserEdit,
    /// `page-offset`.
    pub page_offset: PageOffset,
}

/// One behaviour set to one reading: `KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    key: String,
    value: String,
}

/// A setting that names no behaviour, or no reading of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// Not `KEY=VALUE`.
    #[error("`{0}` is not KEY=VALUE")]
    Shape(String),
    /// An unknown key.
    #[error("unknown behaviour `{key}`; the behaviours are {}", KEYS.join(", "))]
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

/// Every behaviour's key, in the docs' order.
pub const KEYS: [&str; 6] = [
    "token-scope-after-relink",
    "api-only-invitations",
    "error-codes",
    "error-status",
    "linked-user-edit",
    "page-offset",
];

/// The values a key takes, the default first.
pub fn values(key: &str) -> &'static [&'static str] {
    match key {
        "token-scope-after-relink" => &["live", "minted", "revoked"],
        "api-only-invitations" => &["immediate", "pending"],
        "error-codes" => &["string", "integer"],
        "error-status" => &["http", "200"],
        "linked-user-edit" => &["1003", "603", "accepted"],
        "page-offset" => &["entries", "pages"],
        _ => &[],
    }
}

impl Setting {
    /// `key` set to `value`, if both are known.
    pub fn new(key: &str, value: &str) -> Result<Self, SettingError> {
        let (key, value) = (key.trim(), value.trim());
        if !KEYS.contains(&key) {
            return Err(SettingError::Key { key: key.into() });
        }
        if !values(key).contains(&value) {
            return Err(SettingError::Value {
                key: key.into(),
                value: value.into(),
            });
        }
        Ok(Self {
            key: key.into(),
            value: value.into(),
        })
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

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

impl Behaviours {
    /// These behaviours with `settings` applied in order (a later one wins).
    #[must_use]
    pub fn with(mut self, settings: &[Setting]) -> Self {
        for setting in settings {
            self.set(setting);
        }
        self
    }

    fn set(&mut self, setting: &Setting) {
        // `Setting::new` admits only known keys and values: each is its default's position.
        let index = values(&setting.key)
            .iter()
            .position(|v| *v == setting.value)
            .unwrap_or(0);
        match setting.key.as_str() {
            "token-scope-after-relink" => {
                self.token_scope =
                    [TokenScope::Live, TokenScope::Minted, TokenScope::Revoked][index];
            }
            "api-only-invitations" => {
                self.api_only_invitations =
                    [ApiOnlyInvitations::Immediate, ApiOnlyInvitations::Pending][index];
            }
            "error-codes" => self.error_codes = [ErrorCodes::String, ErrorCodes::Integer][index],
            "error-status" => self.error_status = [ErrorStatus::Http, ErrorStatus::Ok][index],
            "linked-user-edit" => {
                self.linked_user_edit = [
                    LinkedUserEdit::Refused1003,
                    LinkedUserEdit::Refused603,
                    LinkedUserEdit::Accepted,
                ][index];
            }
            "page-offset" => self.page_offset = [PageOffset::Entries, PageOffset::Pages][index],
            _ => {}
        }
    }

    /// Each behaviour as `KEY=VALUE`, for `/_sandbox/info`.
    pub fn settings(&self) -> Vec<String> {
        let value = |key: &str, index: usize| format!("{key}={}", values(key)[index]);
        vec![
            value(KEYS[0], self.token_scope as usize),
            value(KEYS[1], self.api_only_invitations as usize),
            value(KEYS[2], self.error_codes as usize),
            value(KEYS[3], self.error_status as usize),
            value(KEYS[4], self.linked_user_edit as usize),
            value(KEYS[5], self.page_offset as usize),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_name_a_known_reading_and_later_ones_win() {
        let minted: Setting = "token-scope-after-relink=minted".parse().unwrap();
        let pages: Setting = "page-offset = pages".parse().unwrap();
        let live: Setting = "token-scope-after-relink=live".parse().unwrap();
        let set = Behaviours::default().with(&[minted.clone(), pages]);
        assert_eq!(set.token_scope, TokenScope::Minted);
        assert_eq!(set.page_offset, PageOffset::Pages);
        assert_eq!(set.with(&[live]).token_scope, TokenScope::Live);
        assert!(set.settings().contains(&"page-offset=pages".to_owned()));
        assert_eq!(
            "token-scope=live"
                .parse::<Setting>()
                .unwrap_err()
                .to_string(),
            "unknown behaviour `token-scope`; the behaviours are token-scope-after-relink, api-only-invitations, error-codes, error-status, linked-user-edit, page-offset"
        );
        assert_eq!(
            "error-status=500"
                .parse::<Setting>()
                .unwrap_err()
                .to_string(),
            "behaviour `error-status` takes http, 200, not `500`"
        );
        assert!("nonsense".parse::<Setting>().is_err());
    }

    #[test]
    fn defaults_are_todays_readings() {
        let defaults = Behaviours::default().settings();
        for (key, setting) in KEYS.iter().zip(&defaults) {
            assert_eq!(*setting, format!("{key}={}", values(key)[0]));
        }
    }
}
