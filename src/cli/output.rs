//! What relinker prints: every line goes through [`printable`], so nothing a plan, a fixture or
//! an argument contains can move a terminal's cursor or change its colours. Control characters
//! other than newline and tab are shown escaped (`\u{1b}`). A closed pipe (`| head`) is not an
//! error. With `--log-format json`, every line on stderr is a JSON object, the final error
//! included, so a log collector never meets a line it cannot parse.

use std::borrow::Cow;
use std::io::Write;
use std::sync::OnceLock;

/// Whether stderr carries JSON lines (`--log-format json`); set once, at start.
static STDERR_JSON: OnceLock<bool> = OnceLock::new();

/// Makes every later stderr line a JSON object (or not).
pub(crate) fn stderr_json(json: bool) {
    let _ = STDERR_JSON.set(json);
}

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

/// A line of progress on stderr (JSON at level INFO with `--log-format json`).
pub(crate) fn note(text: &str) {
    stderr_line("INFO", text, None);
}

/// A line on stderr.
pub(crate) fn warn(text: &str) {
    stderr_line("WARN", text, None);
}

/// The final error on stderr, with the exit code it ends the process with.
pub(crate) fn error(text: &str, exit_code: u8) {
    stderr_line("ERROR", &format!("error: {text}"), Some(exit_code));
}

fn stderr_line(level: &str, text: &str, exit_code: Option<u8>) {
    let line = if STDERR_JSON.get().copied().unwrap_or(false) {
        json_line(level, text, exit_code)
    } else {
        printable(text).into_owned()
    };
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// A line shaped like the log's own JSON lines (`tracing_subscriber`'s): the message under
/// `fields`. JSON escapes every control character itself.
fn json_line(level: &str, text: &str, exit_code: Option<u8>) -> String {
    let mut fields = serde_json::json!({ "message": text });
    if let Some(code) = exit_code {
        fields["exit_code"] = code.into();
    }
    serde_json::json!({
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "level": level,
        "fields": fields,
        "target": "relinker",
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_line_carries_the_message_and_exit_code_escaped() {
        let line: serde_json::Value =
            serde_json::from_str(&json_line("ERROR", "error: bad \u{1b}[2J", Some(2))).unwrap();
        assert_eq!(line["level"], "ERROR");
        assert_eq!(line["fields"]["message"], "error: bad \u{1b}[2J");
        assert_eq!(line["fields"]["exit_code"], 2);
        assert!(!json_line("WARN", "x", None).contains("exit_code"));
    }

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
