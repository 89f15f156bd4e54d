//! dotdigital's password rules, and a generator that meets them. A password has at least eight
//! characters and at least one digit or non-alphanumeric character, and does not contain the
//! user's email address, the company's name or the word "password".

use rand::RngExt as _;

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

/// A new random password that meets the rules, from the operating system's generator.
pub fn generate() -> Secret {
    let mut rng = rand::rng();
    loop {
        let text: String = (0..GENERATED_LENGTH)
            .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
            .collect();
        let digit = text.chars().any(|c| c.is_ascii_digit());
        let symbol = text.chars().any(|c| !c.is_ascii_alphanumeric());
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
}
