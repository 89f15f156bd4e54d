//! The emulated Administrators tool: API users (first name, last name, email, the external
//! applications they serve, and the credentials Movius emailed them) and the integrations that
//! use them, with the tool's rules: one API user per email, applications from the
//! organization's list, and an integration works only with an API user that serves its
//! application (MultiLine for Salesforce needs `Salesforce`; `HttpApi` will not do).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand::RngExt as _;

use crate::secret::Secret;

/// Characters generated names and passwords draw from.
const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// An API user.
#[derive(Debug, Clone)]
pub(crate) struct ApiUser {
    pub(crate) email: String,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) applications: Vec<String>,
    pub(crate) username: String,
    pub(crate) password: Secret,
}

/// An integration: its external application and the credential it is configured with.
#[derive(Debug, Clone)]
pub(crate) struct Integration {
    pub(crate) application: String,
    pub(crate) username: String,
    pub(crate) password: Secret,
}

/// Credentials Movius emails a new API user.
#[derive(Debug, Clone)]
pub(crate) struct Emailed {
    pub(crate) username: String,
    pub(crate) password: Secret,
}

/// Why the tool refuses a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ToolError {
    #[error("no API user with email `{0}`")]
    NoSuchUser(String),
    #[error("no integration `{0}`")]
    NoSuchIntegration(String),
    #[error("an API user with email `{0}` already exists")]
    EmailTaken(String),
    #[error("`{0}` is not an external application of this organization")]
    UnknownApplication(String),
    #[error("select at least one external application")]
    NoApplication,
    #[error("API user `{user}` does not serve `{application}`: the integration would not work")]
    WrongApplication { user: String, application: String },
}

/// A new API user's details, as the Add API User form takes them.
#[derive(Debug, Clone)]
pub(crate) struct Details {
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) email: String,
    pub(crate) applications: Vec<String>,
}

/// Changes the Edit pencil makes; `None` leaves a field.
#[derive(Debug, Clone, Default)]
pub(crate) struct Edit {
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) applications: Option<Vec<String>>,
}

/// Everything the sandbox holds.
#[derive(Debug, Clone)]
pub(crate) struct World {
    /// The external applications the organization can select: HttpApi, Salesforce, custom apps.
    pub(crate) applications: BTreeSet<String>,
    /// By email, lower-cased.
    pub(crate) users: BTreeMap<String, ApiUser>,
    pub(crate) integrations: BTreeMap<String, Integration>,
    /// What Movius emails the next API users, before random credentials.
    pub(crate) next_credentials: VecDeque<Emailed>,
}

pub(crate) fn key(email: &str) -> String {
    email.trim().to_lowercase()
}

impl World {
    fn user(&self, email: &str) -> Result<&ApiUser, ToolError> {
        self.users
            .get(&key(email))
            .ok_or_else(|| ToolError::NoSuchUser(email.to_owned()))
    }

    fn check_applications(&self, applications: &[String]) -> Result<(), ToolError> {
        if applications.is_empty() {
            return Err(ToolError::NoApplication);
        }
        match applications
            .iter()
            .find(|a| !self.applications.contains(*a))
        {
            Some(unknown) => Err(ToolError::UnknownApplication(unknown.clone())),
            None => Ok(()),
        }
    }

    fn credentials(&mut self) -> Emailed {
        if let Some(next) = self.next_credentials.pop_front() {
            return next;
        }
        let mut rng = rand::rng();
        let mut draw = |n: usize| -> String {
            (0..n)
                .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                .collect()
        };
        Emailed {
            username: format!("api-{}", draw(10)),
            password: Secret::new(draw(24)),
        }
    }

    /// Administrators > Add API User; answers the username emailed to the user.
    pub(crate) fn add_user(&mut self, details: Details) -> Result<String, ToolError> {
        if self.users.contains_key(&key(&details.email)) {
            return Err(ToolError::EmailTaken(details.email));
        }
        self.check_applications(&details.applications)?;
        let emailed = self.credentials();
        let username = emailed.username.clone();
        self.users.insert(
            key(&details.email),
            ApiUser {
                email: details.email.trim().to_owned(),
                first_name: details.first_name,
                last_name: details.last_name,
                applications: details.applications,
                username: emailed.username,
                password: emailed.password,
            },
        );
        Ok(username)
    }

    /// Select the API user, the Edit pencil, Save.
    pub(crate) fn edit_user(&mut self, email: &str, edit: Edit) -> Result<(), ToolError> {
        let mut user = self.user(email)?.clone();
        if let Some(new) = &edit.email
            && key(new) != key(email)
            && self.users.contains_key(&key(new))
        {
            return Err(ToolError::EmailTaken(new.clone()));
        }
        if let Some(applications) = &edit.applications {
            self.check_applications(applications)?;
        }
        user.first_name = edit.first_name.unwrap_or(user.first_name);
        user.last_name = edit.last_name.unwrap_or(user.last_name);
        user.applications = edit.applications.unwrap_or(user.applications);
        if let Some(new) = edit.email {
            new.trim().clone_into(&mut user.email);
        }
        self.users.remove(&key(email));
        self.users.insert(key(&user.email), user);
        Ok(())
    }

    /// Select the API user, the Edit pencil, Delete, Yes.
    pub(crate) fn delete_user(&mut self, email: &str) -> Result<(), ToolError> {
        self.users
            .remove(&key(email))
            .map(|_| ())
            .ok_or_else(|| ToolError::NoSuchUser(email.to_owned()))
    }

    /// A person enters an API user's emailed credentials into an integration's settings.
    pub(crate) fn switch(&mut self, integration: &str, email: &str) -> Result<(), ToolError> {
        let user = self.user(email)?.clone();
        let found = self
            .integrations
            .get_mut(integration)
            .ok_or_else(|| ToolError::NoSuchIntegration(integration.to_owned()))?;
        if !user.applications.contains(&found.application) {
            return Err(ToolError::WrongApplication {
                user: user.email,
                application: found.application.clone(),
            });
        }
        found.username = user.username;
        found.password = user.password;
        Ok(())
    }

    /// Whether an integration is configured with this credential and an API user that serves
    /// its application has it.
    pub(crate) fn integration_works(
        &self,
        integration: &str,
        username: &str,
        password: &str,
    ) -> Result<bool, ToolError> {
        let found = self
            .integrations
            .get(integration)
            .ok_or_else(|| ToolError::NoSuchIntegration(integration.to_owned()))?;
        let configured = found.username == username && found.password.expose() == password;
        let served = self.users.values().any(|u| {
            u.username == username
                && u.password.expose() == password
                && u.applications.contains(&found.application)
        });
        Ok(configured && served)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> World {
        World {
            applications: ["HttpApi", "Salesforce"].map(String::from).into(),
            users: BTreeMap::new(),
            integrations: BTreeMap::from([(
                "crm".to_owned(),
                Integration {
                    application: "Salesforce".into(),
                    username: String::new(),
                    password: Secret::new(String::new()),
                },
            )]),
            next_credentials: VecDeque::new(),
        }
    }

    fn details(email: &str, application: &str) -> Details {
        Details {
            first_name: "Api".into(),
            last_name: "User".into(),
            email: email.into(),
            applications: vec![application.into()],
        }
    }

    #[test]
    fn an_integration_needs_a_user_serving_its_application() {
        let mut world = world();
        world
            .add_user(details("http@acme.example", "HttpApi"))
            .unwrap();
        assert!(matches!(
            world.switch("crm", "http@acme.example"),
            Err(ToolError::WrongApplication { .. })
        ));
        world
            .add_user(details("sf@acme.example", "Salesforce"))
            .unwrap();
        world.switch("crm", "SF@acme.example").unwrap();
        let user = world.user("sf@acme.example").unwrap().clone();
        assert!(
            world
                .integration_works("crm", &user.username, user.password.expose())
                .unwrap()
        );
        world.delete_user("sf@acme.example").unwrap();
        assert!(
            !world
                .integration_works("crm", &user.username, user.password.expose())
                .unwrap()
        );
    }

    #[test]
    fn emails_are_unique_and_renames_keep_the_credentials() {
        let mut world = world();
        let username = world
            .add_user(details("a@acme.example", "HttpApi"))
            .unwrap();
        assert_eq!(
            world.add_user(details("A@acme.example", "HttpApi")),
            Err(ToolError::EmailTaken("A@acme.example".into()))
        );
        world
            .edit_user(
                "a@acme.example",
                Edit {
                    email: Some("b@acme.example".into()),
                    ..Edit::default()
                },
            )
            .unwrap();
        assert_eq!(world.user("b@acme.example").unwrap().username, username);
        assert!(world.user("a@acme.example").is_err());
        assert_eq!(
            world.add_user(details("c@acme.example", "Zendesk")),
            Err(ToolError::UnknownApplication("Zendesk".into()))
        );
    }
}
