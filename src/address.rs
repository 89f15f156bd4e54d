//! Email addresses: the one rule for what counts as an address, and the one rule for when two
//! addresses name the same user.
//!
//! Userids on the platforms relinker rotates are email addresses, compared without regard to
//! case. Plans, offboarding configs, departed lists, the sandbox's fixtures and the identity
//! types in [`crate::ids`] all use these two functions, so a plan naming `JÖRG@acme.example`
//! finds and matches the user `jörg@acme.example` everywhere, never only in some places.

/// Whether `text` has the shape of an email address: `local@domain.tld`. Whitespace is allowed
/// only inside a quoted local part (`"jane doe"@acme.example`), as RFC 5322 allows.
pub fn is_address(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
    !local.is_empty()
        && (quoted || !local.chars().any(char::is_whitespace))
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.chars().any(char::is_whitespace)
}

/// The case-folded form of an address: two addresses name the same user exactly when their
/// folded forms are equal. Unicode lowercase, so `JÖRG@…` and `jörg@…` are one user.
pub fn fold(text: &str) -> String {
    text.to_lowercase()
}

/// Whether two addresses name the same user.
pub fn same(a: &str, b: &str) -> bool {
    // Fast path for the common case of identical or ASCII-only text.
    a == b || (a.is_ascii() && b.is_ascii() && a.eq_ignore_ascii_case(b)) || fold(a) == fold(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_not_addresses() {
        for good in [
            "jane@acme.example",
            "a.b+c@x.io",
            "\"jane doe\"@acme.example",
            "jörg@acme.example",
            "o'neil@x.io",
            "ü@bücher.example",
        ] {
            assert!(is_address(good), "{good}");
        }
        for bad in [
            "",
            "jane",
            "@acme.example",
            "jane@acme",
            "jane@.acme.example",
            "jane@acme.example.",
            "jane doe@acme.example",
        ] {
            assert!(!is_address(bad), "{bad}");
        }
    }

    #[test]
    fn one_folding_rule_for_every_comparison() {
        assert!(same("JÖRG@acme.example", "jörg@ACME.example"));
        assert!(same("Jane@Acme.Example", "jane@acme.example"));
        assert!(!same("jane@acme.example", "jan@acme.example"));
        assert_eq!(fold("JÖRG@ACME.example"), "jörg@acme.example");
    }
}
