//! Email addresses: the one rule for what counts as an address, and the one rule for when two
//! addresses name the same user.
//!
//! Userids on the platforms relinker rotates are email addresses, compared without regard to
//! case. Plans, offboarding configs, departed lists, the sandbox's fixtures and the identity
//! types in [`crate::ids`] all use these two functions, so a plan naming `JÖRG@acme.example`
//! finds and matches the user `jörg@acme.example` everywhere, never only in some places.

/// The most bytes an address may have (RFC 5321's path limit, less the brackets).
pub const MAX_LEN: usize = 254;
/// The most bytes a local part may have.
pub const MAX_LOCAL: usize = 64;
/// The most bytes a domain label may have.
const MAX_LABEL: usize = 63;
/// Characters a local part cannot hold unquoted; relinker does not take quoted local parts.
const SPECIALS: &str = "\"(),:;<>[\\]";

/// Why text is not an email address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotAddress {
    /// Nothing.
    #[error("it is empty")]
    Empty,
    /// Over [`MAX_LEN`] bytes.
    #[error("it is longer than 254 bytes")]
    TooLong,
    /// A control character.
    #[error("it contains a control character")]
    Control,
    /// Whitespace.
    #[error("it contains whitespace")]
    Whitespace,
    /// No `@`.
    #[error("it has no `@`")]
    NoAt,
    /// More than one `@`.
    #[error("it has more than one `@`")]
    ManyAt,
    /// Nothing before the `@`.
    #[error("nothing comes before the `@`")]
    EmptyLocal,
    /// A local part over [`MAX_LOCAL`] bytes.
    #[error("the part before the `@` is longer than 64 bytes")]
    LongLocal,
    /// A dot first, last, or twice in a row before the `@`.
    #[error("the part before the `@` starts or ends with a dot, or has two in a row")]
    Dots,
    /// A character an unquoted local part cannot hold.
    #[error("the part before the `@` holds a character an address cannot (one of `\"(),:;<>[\\]`)")]
    Special,
    /// A domain without a dot.
    #[error("the domain has no dot (such as `acme.example`)")]
    OneLabel,
    /// An empty domain label (`acme..example`, a dot first or last).
    #[error("the domain has an empty part between dots")]
    EmptyLabel,
    /// A domain label over 63 bytes.
    #[error("a part of the domain is longer than 63 bytes")]
    LongLabel,
    /// A domain label with something other than letters, digits and inner hyphens.
    #[error(
        "the domain holds a character other than letters, digits, `-` and `.`, or a part starts or ends with `-`"
    )]
    BadLabel,
}

/// Checks that `text` is an email address relinker accepts: exactly one `@`; no control
/// characters or whitespace; a dot-atom local part of at most 64 bytes (internationalised
/// letters allowed, quoted local parts not); a domain of at least two labels of letters
/// (internationalised allowed), digits and inner hyphens, each at most 63 bytes; 254 bytes in
/// all.
pub fn check(text: &str) -> Result<(), NotAddress> {
    if text.is_empty() {
        return Err(NotAddress::Empty);
    }
    if text.chars().any(char::is_control) {
        return Err(NotAddress::Control);
    }
    if text.chars().any(char::is_whitespace) {
        return Err(NotAddress::Whitespace);
    }
    if text.len() > MAX_LEN {
        return Err(NotAddress::TooLong);
    }
    let mut parts = text.split('@');
    let (Some(local), Some(domain)) = (parts.next(), parts.next()) else {
        return Err(NotAddress::NoAt);
    };
    if parts.next().is_some() {
        return Err(NotAddress::ManyAt);
    }
    if local.is_empty() {
        return Err(NotAddress::EmptyLocal);
    }
    if local.len() > MAX_LOCAL {
        return Err(NotAddress::LongLocal);
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(NotAddress::Dots);
    }
    if local.chars().any(|c| SPECIALS.contains(c)) {
        return Err(NotAddress::Special);
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(NotAddress::OneLabel);
    }
    for label in labels {
        if label.is_empty() {
            return Err(NotAddress::EmptyLabel);
        }
        if label.len() > MAX_LABEL {
            return Err(NotAddress::LongLabel);
        }
        let allowed = label.chars().all(|c| c.is_alphanumeric() || c == '-');
        if !allowed || label.starts_with('-') || label.ends_with('-') {
            return Err(NotAddress::BadLabel);
        }
    }
    Ok(())
}

/// Whether `text` is an email address relinker accepts ([`check`]).
pub fn is_address(text: &str) -> bool {
    check(text).is_ok()
}

/// Text as messages repeat it: quoted, control characters escaped, and cut short when long.
pub fn shown(text: &str) -> String {
    const MOST: usize = 80;
    let escaped: String = text.escape_debug().collect();
    match escaped.char_indices().nth(MOST) {
        Some((at, _)) => format!("`{}…` ({} bytes)", &escaped[..at], text.len()),
        None => format!("`{escaped}`"),
    }
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
            "jörg@acme.example",
            "o'neil@x.io",
            "ü@bücher.example",
            "user@xn--bcher-kva.example",
            "a@b-c.d",
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        let long_local = format!("{}@acme.example", "a".repeat(65));
        let long_whole = format!("a@{}.example", vec!["b".repeat(60); 5].join("."));
        for (bad, why) in [
            ("", NotAddress::Empty),
            ("jane", NotAddress::NoAt),
            ("api@@acme.example", NotAddress::ManyAt),
            ("@acme.example", NotAddress::EmptyLocal),
            (".jane@acme.example", NotAddress::Dots),
            ("jane.@acme.example", NotAddress::Dots),
            ("ja..ne@acme.example", NotAddress::Dots),
            ("\"jane doe\"@acme.example", NotAddress::Whitespace),
            ("\"jane\"@acme.example", NotAddress::Special),
            ("jane@acme", NotAddress::OneLabel),
            ("jane@.acme.example", NotAddress::EmptyLabel),
            ("jane@acme.example.", NotAddress::EmptyLabel),
            ("jane@-acme.example", NotAddress::BadLabel),
            ("jane@ac_me.example", NotAddress::BadLabel),
            ("jane doe@acme.example", NotAddress::Whitespace),
            ("api\u{1b}[31m@acme.example", NotAddress::Control),
            (long_local.as_str(), NotAddress::LongLocal),
            (long_whole.as_str(), NotAddress::TooLong),
        ] {
            assert_eq!(check(bad), Err(why), "{bad}");
        }
        let huge = format!("{}@acme.example", "a".repeat(10_000));
        assert_eq!(check(&huge), Err(NotAddress::TooLong));
        assert!(shown(&huge).ends_with(&format!("({} bytes)", huge.len())));
        assert_eq!(shown("a\u{1b}b"), "`a\\u{1b}b`");
    }

    #[test]
    fn one_folding_rule_for_every_comparison() {
        assert!(same("JÖRG@acme.example", "jörg@ACME.example"));
        assert!(same("Jane@Acme.Example", "jane@acme.example"));
        assert!(!same("jane@acme.example", "jan@acme.example"));
        assert_eq!(fold("JÖRG@ACME.example"), "jörg@acme.example");
    }
}
