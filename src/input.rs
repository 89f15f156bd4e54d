//! The files people hand relinker: plans, offboarding configs, sandbox fixtures, departed
//! lists, secret files and saved plans. Each is read only if it is a regular file (a FIFO, a
//! device or a directory would hang or never end) and only up to its kind's size limit, and its
//! text is UTF-8 or the error says where the first bad byte is. Messages name the file and say
//! what is wrong in words, without the operating system's error numbers.

use std::fmt;
use std::io::Read;
use std::path::Path;

/// A YAML scalar for a file relinker writes (a generated plan, a fixture): JSON's string syntax
/// is valid YAML and escapes everything that needs it, so what is read back is `text`.
pub fn yaml_scalar(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
}

/// What a file is for, which sets its size limit and how messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A plan.
    Plan,
    /// An offboarding config.
    Config,
    /// A sandbox fixture.
    Fixture,
    /// A departed-people list.
    Departed,
    /// A secret (`${file:…}`).
    Secret,
    /// A saved plan (`plan --out`).
    SavedPlan,
}

/// One mebibyte.
const MIB: u64 = 1024 * 1024;

/// The largest fixture: what `sandbox --from-live` writes of a 50,000-user instance, twice over.
/// Measured by copying a sandbox seeded with 2,001 users (a fifth API-only) with `--from-live`
/// and dividing (259 bytes per user, 84 per row of usage), and by `cargo bench --bench
/// fixture_load` (docs/performance.md), which writes a 50,000-user copy through `fixture_from`
/// as `--from-live` does (261 and 85; these larger figures are used):
///
/// - users: 261 bytes each (a userid like `aisha.abernathy1003@acme-corporation.example`, two
///   role pairs on average, a last login), 50,000 × 261 = 13.1 MB;
/// - usage: 85 bytes per API-only user per day; a fifth of the users API-only (the issue's
///   2,000 of 10,000), each calling on all 7 days, 10,000 × 7 × 85 = 6.0 MB;
/// - services (158 bytes), roles (140), workspaces (80): 500 services and 1,000 roles, 0.2 MB.
///
/// About 19.3 MB (18.4 MiB) in all; twice that is 36.8 MiB, rounded up to 40 MiB. The same copy
/// in JSON (`--out FILE.json`) is 18.7 MiB, its keys quoted, and fits twice too. A file within
/// the limit is read whole and parsed (the 50,000-user copy in about 1.3 s or more in YAML,
/// nearly all of it the YAML parser's, and in a fraction of a second in JSON); a larger one, in
/// either notation, is refused from its metadata, before a byte is read.
pub const FIXTURE_LIMIT: u64 = 40 * MIB;

impl Kind {
    /// The largest file of this kind relinker reads.
    pub const fn limit(self) -> u64 {
        match self {
            Kind::Plan | Kind::Config | Kind::SavedPlan => MIB,
            Kind::Fixture => FIXTURE_LIMIT,
            Kind::Secret => 64 * 1024,
            Kind::Departed => 16 * MIB,
        }
    }

    /// How messages name it.
    pub const fn noun(self) -> &'static str {
        match self {
            Kind::Plan => "plan",
            Kind::Config => "config",
            Kind::Fixture => "fixture",
            Kind::Departed => "departed list",
            Kind::Secret => "secret file",
            Kind::SavedPlan => "saved plan",
        }
    }
}

/// A size as people read it: `64 KiB`, `16 MiB`.
fn size(bytes: u64) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// What is wrong with a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// It cannot be opened or read.
    Unreadable(String),
    /// It is not a regular file: what it is.
    NotRegular(&'static str),
    /// It is larger than its kind's limit.
    TooLarge(u64),
    /// Its text is not UTF-8: where the first bad byte is (1-based line, column in bytes).
    NotUtf8 {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
    },
}

/// A file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InputError {
    /// What the file is for.
    pub kind: Kind,
    /// The path as given.
    pub path: String,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (noun, path) = (self.kind.noun(), &self.path);
        match &self.problem {
            Problem::Unreadable(reason) => write!(f, "cannot read {noun} `{path}`: {reason}"),
            Problem::NotRegular(what) => {
                write!(f, "{noun} `{path}` is {what}, not a regular file")
            }
            Problem::TooLarge(limit) => write!(
                f,
                "{noun} `{path}` is larger than {}, the most relinker reads of a {noun}",
                size(*limit)
            ),
            Problem::NotUtf8 { line, column } => write!(
                f,
                "{noun} `{path}` is not UTF-8 text (line {line}, column {column} is the first bad byte)"
            ),
        }
    }
}

/// An I/O error in words, without the OS error number (which repeats itself in chains).
pub fn reason(error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::NotFound => "no such file".into(),
        ErrorKind::PermissionDenied => "permission denied".into(),
        ErrorKind::IsADirectory => "it is a directory".into(),
        _ => {
            let text = error.to_string();
            match text.find(" (os error") {
                Some(at) => text[..at].to_owned(),
                None => text,
            }
        }
    }
}

/// What a path that is not a regular file is.
fn what(metadata: &std::fs::Metadata) -> &'static str {
    let kind = metadata.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "not a file"
}

/// Reads a file of `kind`: a regular file, at most its kind's limit.
pub fn read_bytes(path: &Path, kind: Kind) -> Result<Vec<u8>, InputError> {
    let fail = |problem| InputError {
        kind,
        path: path.display().to_string(),
        problem,
    };
    // Checked before opening: opening a FIFO for reading blocks until someone writes to it.
    let metadata = std::fs::metadata(path).map_err(|e| {
        let mut why = reason(&e);
        // A shell passes a pattern that matched nothing on as it is (`plans/offboard-*.yaml`).
        if e.kind() == std::io::ErrorKind::NotFound
            && path.to_string_lossy().contains(['*', '?', '['])
        {
            why.push_str(" (no file matches this pattern; the shell passed it on as written)");
        }
        fail(Problem::Unreadable(why))
    })?;
    if !metadata.is_file() {
        return Err(fail(Problem::NotRegular(what(&metadata))));
    }
    let limit = kind.limit();
    if metadata.len() > limit {
        return Err(fail(Problem::TooLarge(limit)));
    }
    let file = std::fs::File::open(path).map_err(|e| fail(Problem::Unreadable(reason(&e))))?;
    let mut bytes = Vec::new();
    // A file can grow after its size was read: never read past the limit.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(Problem::Unreadable(reason(&e))))?;
    if bytes.len() as u64 > limit {
        return Err(fail(Problem::TooLarge(limit)));
    }
    Ok(bytes)
}

/// Where the first byte that is not UTF-8 is: 1-based line and column (in bytes).
pub fn utf8_position(bytes: &[u8], valid_up_to: usize) -> (usize, usize) {
    let before = &bytes[..valid_up_to];
    let line = before.split(|b| *b == b'\n').count();
    let column = valid_up_to
        - before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, column)
}

/// Reads a text file of `kind`.
pub fn read_text(path: &Path, kind: Kind) -> Result<String, InputError> {
    let bytes = read_bytes(path, kind)?;
    String::from_utf8(bytes).map_err(|e| {
        let (line, column) = utf8_position(e.as_bytes(), e.utf8_error().valid_up_to());
        InputError {
            kind,
            path: path.display().to_string(),
            problem: Problem::NotUtf8 { line, column },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_devices_and_oversized_files_are_refused_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let error = read_text(dir.path(), Kind::Plan).unwrap_err();
        assert_eq!(error.problem, Problem::NotRegular("a directory"));
        #[cfg(unix)]
        {
            let error = read_text(Path::new("/dev/zero"), Kind::Secret).unwrap_err();
            assert_eq!(error.problem, Problem::NotRegular("a device"));
            assert!(
                error
                    .to_string()
                    .starts_with("secret file `/dev/zero` is a device")
            );
        }
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'a'; 64 * 1024 + 1]).unwrap();
        let error = read_text(&big, Kind::Secret).unwrap_err();
        assert_eq!(error.problem, Problem::TooLarge(64 * 1024));
        assert!(error.to_string().contains("larger than 64 KiB"), "{error}");
        let missing = read_text(&dir.path().join("nope"), Kind::Config).unwrap_err();
        assert_eq!(
            missing.to_string(),
            format!(
                "cannot read config `{}`: no such file",
                dir.path().join("nope").display()
            )
        );
    }

    #[track_caller]
    fn limit(kind: Kind, expected: u64) {
        assert_eq!(kind.limit(), expected, "{kind:?}");
    }

    #[test]
    fn only_fixtures_get_the_larger_limit() {
        limit(Kind::Fixture, 40 * MIB);
        limit(Kind::Plan, MIB);
        limit(Kind::Config, MIB);
        limit(Kind::SavedPlan, MIB);
        limit(Kind::Secret, 64 * 1024);
        limit(Kind::Departed, 16 * MIB);
    }

    #[test]
    fn a_fixture_over_its_limit_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let over = dir.path().join("over.yaml");
        // Sparse: the file takes no disk, and reading it would take its whole size in memory.
        for size in [FIXTURE_LIMIT + 1, 64 * 1024 * MIB] {
            std::fs::File::create(&over).unwrap().set_len(size).unwrap();
            let error = read_text(&over, Kind::Fixture).unwrap_err();
            assert_eq!(error.problem, Problem::TooLarge(FIXTURE_LIMIT));
            assert_eq!(
                error.to_string(),
                format!(
                    "fixture `{}` is larger than 40 MiB, the most relinker reads of a fixture",
                    over.display()
                )
            );
        }
        // A plan keeps its own limit.
        std::fs::File::create(&over)
            .unwrap()
            .set_len(MIB + 1)
            .unwrap();
        let error = read_text(&over, Kind::Plan).unwrap_err();
        assert_eq!(error.problem, Problem::TooLarge(MIB));
    }

    #[test]
    fn the_first_bad_byte_is_placed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.yaml");
        std::fs::write(&file, b"version: 1\nname: \xffbad\n").unwrap();
        let error = read_text(&file, Kind::Plan).unwrap_err();
        assert_eq!(error.problem, Problem::NotUtf8 { line: 2, column: 7 });
    }
}
