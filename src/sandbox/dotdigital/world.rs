//! The emulated dotdigital accounts: their API users and the integrations that use them, and
//! the rules the UI enforces. Usernames are generated and never edited; a password must meet
//! the platform's rules; a disabled or deleted user is refused like a wrong password.

use std::collections::{BTreeMap, VecDeque};

use rand::RngExt as _;

use crate::secret::Secret;

/// Characters generated names and passwords draw from.
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A region and its API host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Region {
    R1,
    R2,
    R3,
}

impl Region {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "r1" => Some(Region::R1),
            "r2" => Some(Region::R2),
            "r3" => Some(Region::R3),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Region::R1 => "r1",
            Region::R2 => "r2",
            Region::R3 => "r3",
        }
    }

    /// The API host the account-info answer names.
    pub(crate) fn endpoint(self) -> String {
        format!("https://{}-api.dotdigital.com", self.name())
    }
}

/// An account.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) region: Region,
}

/// An API user.
#[derive(Debug, Clone)]
pub(crate) struct ApiUser {
    pub(crate) username: String,
    pub(crate) password: Secret,
    pub(crate) enabled: bool,
    pub(crate) account: u64,
    pub(crate) description: String,
}

/// The credential an integration is configured with.
#[derive(Debug, Clone)]
pub(crate) struct Integration {
    pub(crate) username: String,
    pub(crate) password: Secret,
}

/// Why a credential is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Unknown user, wrong password, or a disabled user: all alike.
    InvalidLogin,
    /// The host's region does not serve the account.
    WrongRegion,
}

/// Why the UI refuses a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UiError {
    #[error("no API user `{0}`")]
    NoSuchUser(String),
    #[error("no integration `{0}`")]
    NoSuchIntegration(String),
    #[error("no account {0}")]
    NoSuchAccount(u64),
    #[error("the password is not allowed: {0}")]
    WeakPassword(String),
    #[error("the account has several: name one with `account`")]
    WhichAccount,
}

/// What the Edit pencil's page changes: each field left out stays as it is.
#[derive(Debug, Default)]
pub(crate) struct Edit {
    pub(crate) description: Option<String>,
    pub(crate) password: Option<Secret>,
    pub(crate) enabled: Option<bool>,
}

/// Everything the sandbox holds.
#[derive(Debug, Clone)]
pub(crate) struct World {
    /// The region of the host the sandbox plays: r1 answers for every account.
    pub(crate) host: Region,
    pub(crate) accounts: BTreeMap<u64, Account>,
    /// By username, lower-cased.
    pub(crate) users: BTreeMap<String, ApiUser>,
    pub(crate) integrations: BTreeMap<String, Integration>,
    /// Usernames the UI hands out next, before random ones.
    pub(crate) next_usernames: VecDeque<String>,
}

fn key(username: &str) -> String {
    username.trim().to_lowercase()
}

/// Whether a password meets the platform's rules: eight characters or more, a digit or a
/// symbol, not the word "password", not the user's email (its username) or the company's
/// name. The reference asks to avoid "including your email address or company name as part
/// of your password": containing either is refused, equal or not, and case does not matter
/// (an email address is the same in any case).
pub(crate) fn weak_password(
    password: &str,
    username: &str,
    account: Option<&Account>,
) -> Option<String> {
    let lower = password.to_lowercase();
    if password.chars().count() < 8 {
        return Some("it must have at least 8 characters".into());
    }
    if password.chars().all(char::is_alphanumeric) {
        return Some("it must have a digit or a non-alphanumeric character".into());
    }
    if lower.contains("password") {
        return Some("it must not contain \"password\"".into());
    }
    let username = key(username);
    if !username.is_empty() && lower.contains(&username) {
        return Some("it must not contain the API user's email address (its username)".into());
    }
    if let Some(account) = account
        && !account.name.is_empty()
        && lower.contains(&account.name.to_lowercase())
    {
        return Some("it must not contain the company's name".into());
    }
    None
}

impl World {
    /// The account a credential authenticates to, or why not.
    pub(crate) fn authenticate(&self, username: &str, password: &str) -> Result<&Account, Refusal> {
        let user = self
            .users
            .get(&key(username))
            .filter(|u| u.enabled && u.password.expose() == password)
            .ok_or(Refusal::InvalidLogin)?;
        let account = self
            .accounts
            .get(&user.account)
            .ok_or(Refusal::InvalidLogin)?;
        if self.host != Region::R1 && self.host != account.region {
            return Err(Refusal::WrongRegion);
        }
        Ok(account)
    }

    fn user_mut(&mut self, username: &str) -> Result<&mut ApiUser, UiError> {
        self.users
            .get_mut(&key(username))
            .ok_or_else(|| UiError::NoSuchUser(username.to_owned()))
    }

    /// The username New user shows: the fixture's next one not taken, else a random one. Only
    /// a saved user uses it up ([`World::create_user`]).
    fn generate_username(&self) -> String {
        if let Some(next) = self
            .next_usernames
            .iter()
            .find(|n| !self.users.contains_key(&key(n)))
        {
            return next.clone();
        }
        let mut rng = rand::rng();
        loop {
            let tail: String = (0..12)
                .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                .collect();
            let username = format!("apiuser-{tail}@apiconnector.com");
            if !self.users.contains_key(&username) {
                return username;
            }
        }
    }

    /// Settings > Access > API users > New user.
    pub(crate) fn create_user(
        &mut self,
        password: Secret,
        description: String,
        account: Option<u64>,
    ) -> Result<String, UiError> {
        let account = match account {
            Some(id) => self.accounts.get(&id).ok_or(UiError::NoSuchAccount(id))?,
            None if self.accounts.len() == 1 => {
                self.accounts.values().next().ok_or(UiError::WhichAccount)?
            }
            None => return Err(UiError::WhichAccount),
        };
        // The page shows the generated username before the password is typed: the password
        // is checked against it.
        let username = self.generate_username();
        if let Some(reason) = weak_password(password.expose(), &username, Some(account)) {
            return Err(UiError::WeakPassword(reason));
        }
        let account = account.id;
        while let Some(front) = self.next_usernames.pop_front() {
            if front == username {
                break;
            }
        }
        self.users.insert(
            key(&username),
            ApiUser {
                username: username.clone(),
                password,
                enabled: true,
                account,
                description,
            },
        );
        Ok(username)
    }

    /// The Edit pencil: a new password.
    pub(crate) fn set_password(&mut self, username: &str, password: Secret) -> Result<(), UiError> {
        let user = self.user_mut(username)?;
        let (account, username) = (user.account, user.username.clone());
        if let Some(reason) =
            weak_password(password.expose(), &username, self.accounts.get(&account))
        {
            return Err(UiError::WeakPassword(reason));
        }
        self.user_mut(&username)?.password = password;
        Ok(())
    }

    /// The Edit pencil: Enabled ticked or not.
    pub(crate) fn set_enabled(&mut self, username: &str, enabled: bool) -> Result<(), UiError> {
        self.user_mut(username)?.enabled = enabled;
        Ok(())
    }

    /// The Edit pencil: a new description ("to differentiate between API users"); the
    /// credential is untouched.
    pub(crate) fn set_description(
        &mut self,
        username: &str,
        description: String,
    ) -> Result<(), UiError> {
        self.user_mut(username)?.description = description;
        Ok(())
    }

    /// The Edit pencil's Save: any of description, password and Enabled at once. The page is
    /// saved whole or not at all: a refused password changes nothing else.
    pub(crate) fn edit(&mut self, username: &str, edit: Edit) -> Result<(), UiError> {
        self.user_mut(username)?;
        if let Some(password) = edit.password {
            self.set_password(username, password)?;
        }
        if let Some(description) = edit.description {
            self.set_description(username, description)?;
        }
        if let Some(enabled) = edit.enabled {
            self.set_enabled(username, enabled)?;
        }
        Ok(())
    }

    /// Tick the user, Delete.
    pub(crate) fn delete_user(&mut self, username: &str) -> Result<(), UiError> {
        self.users
            .remove(&key(username))
            .map(|_| ())
            .ok_or_else(|| UiError::NoSuchUser(username.to_owned()))
    }

    /// A person types a credential into an integration's settings.
    pub(crate) fn configure(
        &mut self,
        integration: &str,
        username: &str,
        password: Secret,
    ) -> Result<(), UiError> {
        let found = self
            .integrations
            .get_mut(integration)
            .ok_or_else(|| UiError::NoSuchIntegration(integration.to_owned()))?;
        username.clone_into(&mut found.username);
        found.password = password;
        Ok(())
    }

    /// Whether an integration is configured with this credential and it authenticates.
    pub(crate) fn integration_works(
        &self,
        integration: &str,
        username: &str,
        password: &str,
    ) -> Result<bool, UiError> {
        let found = self
            .integrations
            .get(integration)
            .ok_or_else(|| UiError::NoSuchIntegration(integration.to_owned()))?;
        Ok(key(&found.username) == key(username)
            && found.password.expose() == password
            && self.authenticate(username, password).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world(host: Region) -> World {
        let mut world = World {
            host,
            accounts: BTreeMap::new(),
            users: BTreeMap::new(),
            integrations: BTreeMap::new(),
            next_usernames: VecDeque::from(["apiuser-next00000001@apiconnector.com".to_owned()]),
        };
        world.accounts.insert(
            7,
            Account {
                id: 7,
                name: "Acme".into(),
                region: Region::R2,
            },
        );
        world
    }

    #[test]
    fn disabled_users_and_wrong_passwords_are_refused_alike() {
        let mut world = world(Region::R1);
        let user = world
            .create_user(Secret::new("s3cret-words"), String::new(), None)
            .unwrap();
        assert_eq!(user, "apiuser-next00000001@apiconnector.com");
        assert_eq!(world.authenticate(&user, "s3cret-words").unwrap().id, 7);
        assert_eq!(
            world.authenticate(&user, "wrong-1").unwrap_err(),
            Refusal::InvalidLogin
        );
        world.set_enabled(&user, false).unwrap();
        assert_eq!(
            world.authenticate(&user, "s3cret-words").unwrap_err(),
            Refusal::InvalidLogin
        );
        // Generated once the fixture's list is used up.
        let next = world
            .create_user(Secret::new("s3cret-words"), String::new(), None)
            .unwrap();
        assert!(next.starts_with("apiuser-") && next.ends_with("@apiconnector.com"));
        assert_eq!(
            next.len(),
            "apiuser-".len() + 12 + "@apiconnector.com".len()
        );
    }

    #[test]
    fn a_host_of_another_region_denies_access_and_r1_answers_for_all() {
        let mut world = world(Region::R3);
        let user = world
            .create_user(Secret::new("s3cret-words"), String::new(), None)
            .unwrap();
        assert_eq!(
            world.authenticate(&user, "s3cret-words").unwrap_err(),
            Refusal::WrongRegion
        );
        world.host = Region::R1;
        assert!(world.authenticate(&user, "s3cret-words").is_ok());
    }

    #[test]
    fn the_ui_refuses_weak_passwords() {
        let mut world = world(Region::R1);
        for weak in [
            "short1",
            "onlyletters",
            "my-password-1",
            "acme-rocks-1",
            // The username the page shows, in any case, alone or within.
            "APIUSER-NEXT00000001@apiconnector.com",
            "x-apiuser-next00000001@apiconnector.com-1",
        ] {
            assert!(
                matches!(
                    world.create_user(Secret::new(weak), String::new(), None),
                    Err(UiError::WeakPassword(_))
                ),
                "{weak}"
            );
        }
        // Refusals use up no username; the next user still gets the page's.
        let user = world
            .create_user(Secret::new("s3cret-words"), String::new(), None)
            .unwrap();
        assert_eq!(user, "apiuser-next00000001@apiconnector.com");
        for weak in [user.clone(), user.to_uppercase(), format!("{user}-2")] {
            assert!(
                matches!(
                    world.set_password(&user, Secret::new(weak.clone())),
                    Err(UiError::WeakPassword(reason)) if reason.contains("email address")
                ),
                "{weak}"
            );
        }
        assert_eq!(world.authenticate(&user, "s3cret-words").unwrap().id, 7);
    }
}
