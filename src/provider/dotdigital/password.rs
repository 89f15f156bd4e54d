//! dotdigital's password rules, and a generator that meets them. A password has at least eight
//! characters and at least one digit or non-alphanumeric character, and does not contain the
//! user's email address, the company's name or the word "password". An API user's email
//! address is its username (`apiuser-…@apiconnector.com`), so a password containing the username
//! is refused by dotdigital; relinker never sends one ([`contains_username`]), and never makes
//! one: generated passwords have no `@`, so none contains an email address.

use rand::RngExt as _;

use crate::plan::dotdigital::{Rotation, Spec};
use crate::plan::{SecretRef, Secrets};
use crate::secret::Secret;

/// Characters generated passwords draw from: no look-alikes (`0O`, `1lI`), no quotes or
/// backslashes that a shell or a config file might mangle.
const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-_.:+=";

/// How long generated passwords are.
pub const GENERATED_LENGTH: usize = 28;

/// Why a password breaks the rules.
pub fn problems(password: &str, avoid: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    if password.chars().count() < 8 {
        out.push("it has fewer than 8 characters".into());
    }
    if !password
        .chars()
        .any(|c| c.is_ascii_digit() || !c.is_alphanumeric())
    {
        out.push("it has no digit and no non-alphanumeric character".into());
    }
    let lower = password.to_lowercase();
    if lower.contains("password") {
        out.push("it contains the word \"password\"".into());
    }
    for word in avoid.iter().filter(|w| !w.is_empty()) {
        if lower.contains(&word.to_lowercase()) {
            out.push(format!("it contains `{word}`"));
        }
    }
    out
}

/// Whether `password` contains `username` (the API user's email address), in any case: the
/// reference asks to avoid "including your email address … as part of your password", and an
/// email address is the same in any case.
pub fn contains_username(password: &str, username: &str) -> bool {
    let username = username.trim().to_lowercase();
    !username.is_empty() && password.to_lowercase().contains(&username)
}

/// A password a plan names that dotdigital would refuse, found before anything runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The plan field naming it: `rotations[0].replace.with.password`.
    pub field: String,
    /// Why, without the password.
    pub reason: String,
}

/// Why `password` (what `reference` names) cannot be the password of `username`, if it cannot.
pub fn username_reason(password: &str, reference: &SecretRef, username: &str) -> Option<String> {
    contains_username(password, username).then(|| {
        format!(
            "the password `{reference}` names contains the API user's username `{username}` (its email address), which dotdigital refuses"
        )
    })
}

/// The new passwords of `spec`'s rotations that can be read now and contain the username they
/// would be set on: a replace's new user's (when its username can be read too), a password
/// rotation's user's. What cannot be read yet is checked when its step runs.
pub fn refused_in_plan(spec: &Spec, secrets: &Secrets) -> Vec<Refused> {
    let mut out = Vec::new();
    for (index, rotation) in spec.rotations.iter().enumerate() {
        let (field, username, reference) = match rotation {
            Rotation::Replace { with, .. } => (
                format!("rotations[{index}].replace.with.password"),
                &with.username,
                &with.password,
            ),
            Rotation::RotatePassword { services, password } => {
                let Some(service) = services.first().and_then(|s| spec.service(s)) else {
                    continue;
                };
                (
                    format!("rotations[{index}].rotate_password.password"),
                    &service.login.username,
                    password,
                )
            }
        };
        let (Ok(username), Ok(password)) =
            (secrets.credential(username), secrets.secret(reference))
        else {
            continue;
        };
        if let Some(reason) = username_reason(password.expose(), reference, username.expose()) {
            out.push(Refused { field, reason });
        }
    }
    out
}

/// A new random password that meets the rules, from the operating system's generator.
pub fn generate() -> Secret {
    let mut rng = rand::rng();
    loop {
        let text: String = (0..GENERATED_LENGTH)
            .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
            .collect();
        let digit = text.chars().any(|c| c.is_ascii_digit());
        let symbol = text.chars().any(|c| !c.is_ascii_alphanumeric());
        // No `@` in the alphabet: a generated password can contain no email address, hence
        // no API user's username.
        if digit && symbol && problems(&text, &[]).is_empty() {
            return Secret::new(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_and_the_generator_agree() {
        assert_eq!(problems("s3cret-words", &[]), Vec::<String>::new());
        assert_eq!(problems("short1", &[]).len(), 1);
        assert_eq!(problems("onlyletters", &[]).len(), 1);
        assert!(problems("MyPassword1", &[])[0].contains("password"));
        assert!(problems("acme-2026-x", &["Acme"])[0].contains("Acme"));
        for _ in 0..100 {
            let password = generate();
            assert_eq!(password.expose().len(), GENERATED_LENGTH);
            assert!(problems(password.expose(), &[]).is_empty());
        }
        assert_ne!(generate().expose(), generate().expose());
    }

    #[test]
    fn a_password_may_not_contain_the_users_username_in_any_case() {
        let user = "apiuser-k3x9q2m7v1ab@apiconnector.com";
        assert!(contains_username(user, user));
        assert!(contains_username(&user.to_uppercase(), user));
        assert!(contains_username(
            &format!("x{user}-1"),
            &format!(" {user} ")
        ));
        assert!(!contains_username("sandbox-New-4k", user));
        assert!(!contains_username("anything-1", ""));
        assert!(
            !ALPHABET.contains(&b'@'),
            "a generated password never holds an email"
        );
        for _ in 0..100 {
            assert!(!generate().expose().contains('@'));
        }
    }
}
