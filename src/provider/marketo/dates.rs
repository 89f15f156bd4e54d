//! Marketo's date-time formats.
//!
//! The User Management API is inconsistent: `user.json` writes
//! `2020-12-31T08:00:00.000t+0000`, the role, workspace and invitation endpoints write
//! `20200807T20:49:54.0t+0000` (note the literal lowercase `t` before the offset), the invite
//! request takes W3C ISO-8601 without milliseconds (`2020-12-31T23:59:59-05:00`) and the update
//! request's example sends `20211231T08:00:00.000t+0000`. This module reads all of them and writes
//! the one each place expects. The sandbox reads and writes them with a codec of its own
//! (`sandbox::marketo::dates`), so a misreading here shows up on the wire.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};

/// Formats tried in order when reading; every example in the reference matches one of them.
const READ_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.ft%z",
    "%Y%m%dT%H:%M:%S%.ft%z",
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y%m%dT%H:%M:%S%.f%z",
];

/// A date-time string that matches none of Marketo's formats.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{value}` is not a Marketo date-time (expected e.g. `2020-12-31T08:00:00.000t+0000` or `2020-12-31T23:59:59-05:00`)"
)]
pub struct DateError {
    /// The string that failed to parse.
    pub value: String,
}

/// Parses any date-time format the Marketo reference shows.
pub fn parse(value: &str) -> Result<DateTime<FixedOffset>, DateError> {
    let trimmed = value.trim();
    if let Ok(parsed) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(parsed);
    }
    READ_FORMATS
        .iter()
        .find_map(|format| DateTime::parse_from_str(trimmed, format).ok())
        .ok_or_else(|| DateError {
            value: value.to_owned(),
        })
}

/// The `user.json` style: `2020-12-31T08:00:00.000t+0000`.
pub fn format_user_record(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3ft%z").to_string()
}

/// The compact style of roles, workspaces and invitations: `20200807T20:49:54.0t+0000`.
///
/// The reference shows a single fractional digit; tenths of a second keep that shape.
pub fn format_compact(at: DateTime<Utc>) -> String {
    let tenths = at.timestamp_subsec_millis() / 100;
    format!(
        "{}.{tenths}t{}",
        at.format("%Y%m%dT%H:%M:%S"),
        at.format("%z")
    )
}

/// W3C ISO-8601 without milliseconds, as the invite request's `expiresAt` takes it.
pub fn format_iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// The format the update request's example sends: `20211231T08:00:00.000t+0000`.
pub fn format_update_request(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H:%M:%S%.3ft%z").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every date-time string that appears in the reference, with the UTC instant it denotes.
    const REFERENCE_EXAMPLES: &[(&str, &str)] = &[
        ("2020-12-31T08:00:00.000t+0000", "2020-12-31T08:00:00Z"),
        ("2020-02-05T01:02:23.000t+0000", "2020-02-05T01:02:23Z"),
        ("20200807T20:49:54.0t+0000", "2020-08-07T20:49:54Z"),
        ("20200731T20:49:54.0t+0000", "2020-07-31T20:49:54Z"),
        ("20100327T18:27:42.0t+0000", "2010-03-27T18:27:42Z"),
        ("20180423T02:33:29.0t+0000", "2018-04-23T02:33:29Z"),
        ("20151024T01:45:40.0t+0000", "2015-10-24T01:45:40Z"),
        ("20171024T23:41:24.0t+0000", "2017-10-24T23:41:24Z"),
        ("20160910T23:08:05.0t+0000", "2016-09-10T23:08:05Z"),
        ("20181119T21:59:36.0t+0000", "2018-11-19T21:59:36Z"),
        ("20190129T23:36:37.0t+0000", "2019-01-29T23:36:37Z"),
        ("20190322T15:55:40.0t+0000", "2019-03-22T15:55:40Z"),
        ("2020-12-31T23:59:59-05:00", "2021-01-01T04:59:59Z"),
        ("20211231T08:00:00.000t+0000", "2021-12-31T08:00:00Z"),
        ("2021-12-31T08:00:00.000t+0000", "2021-12-31T08:00:00Z"),
        // Beyond the reference: forms a client or person may reasonably send.
        ("2020-12-31T23:59:59Z", "2020-12-31T23:59:59Z"),
        ("2020-12-31T08:00:00.000+0000", "2020-12-31T08:00:00Z"),
        ("2020-12-31T08:00:00.000t+05:30", "2020-12-31T02:30:00Z"),
    ];

    #[track_caller]
    fn assert_parses(input: &str, utc: &str) {
        let parsed = parse(input).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            parsed
                .with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Secs, true),
            utc,
            "{input}"
        );
    }

    #[test]
    fn reads_every_reference_example() {
        for (input, utc) in REFERENCE_EXAMPLES {
            assert_parses(input, utc);
        }
    }

    #[test]
    fn rejects_non_dates() {
        for bad in [
            "",
            "yesterday",
            "2020-13-01T00:00:00Z",
            "20200807T20:49:54.0x+0000",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn writes_each_documented_shape() {
        let at = parse("2020-08-07T20:49:54.000t+0000")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(format_user_record(at), "2020-08-07T20:49:54.000t+0000");
        assert_eq!(format_compact(at), "20200807T20:49:54.0t+0000");
        assert_eq!(format_iso(at), "2020-08-07T20:49:54+00:00");
        assert_eq!(format_update_request(at), "20200807T20:49:54.000t+0000");
    }

    #[test]
    fn written_forms_read_back() {
        let at = parse("2031-01-02T03:04:05Z").unwrap().with_timezone(&Utc);
        for written in [
            format_user_record(at),
            format_compact(at),
            format_iso(at),
            format_update_request(at),
        ] {
            assert_eq!(
                parse(&written).unwrap().with_timezone(&Utc),
                at,
                "{written}"
            );
        }
    }
}
