//! What relinker prints: every line goes through [`printable`], so nothing a plan, a fixture or
//! an argument contains can move a terminal's cursor or change its colours. Control characters
//! other than newline and tab are shown escaped (`\u{1b}`). A closed pipe (`| head`) is not an
//! error.

use std::borrow::Cow;
use std::io::Write;

/// `text` with every control character but `\n` and `\t` escaped.
pub(crate) fn printable(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A line on stdout.
pub(crate) fn say(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{}", printable(text));
}

/// Text on stdout, as it is (a rendering that ends its own lines).
pub(crate) fn show(text: &str) {
    let _ = std::io::stdout()
        .lock()
        .write_all(printable(text).as_bytes());
}

/// A line on stderr.
pub(crate) fn warn(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{}", printable(text));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_shown_not_obeyed() {
        assert_eq!(printable("plain\n\ttext"), "plain\n\ttext");
        assert_eq!(
            printable("api\u{1b}[2J@acme.example\r"),
            "api\\u{1b}[2J@acme.example\\u{d}"
        );
        assert_eq!(printable("\u{9b}31m"), "\\u{9b}31m");
    }
}
