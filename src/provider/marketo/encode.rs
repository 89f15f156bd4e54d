//! Userids are emails and travel in URL paths: each is percent-encoded as one path segment.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but RFC 3986's unreserved characters is encoded, so `+`, `%`, `/`, `?`, `#`,
/// `@`, spaces and non-ASCII can never change the path's meaning.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Encodes `value` as a single path segment.
pub fn segment(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::segment;

    #[test]
    fn encodes_every_character_that_could_change_the_path() {
        let cases = [
            ("jane.doe@acme.example", "jane.doe%40acme.example"),
            ("jane+ops@acme.example", "jane%2Bops%40acme.example"),
            ("100%@acme.example", "100%25%40acme.example"),
            ("a/b@acme.example", "a%2Fb%40acme.example"),
            ("what?@acme.example", "what%3F%40acme.example"),
            ("hash#tag@acme.example", "hash%23tag%40acme.example"),
            (
                "\"jane doe\"@acme.example",
                "%22jane%20doe%22%40acme.example",
            ),
            ("zoë@bücher.example", "zo%C3%AB%40b%C3%BCcher.example"),
            ("a_b-c~d@x.io", "a_b-c~d%40x.io"),
        ];
        for (input, expected) in cases {
            assert_eq!(segment(input), expected, "{input}");
        }
    }
}
