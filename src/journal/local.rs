//! The local state directory: runs, their journals and the locks in files under one folder.
//!
//! ```text
//! <state-dir>/                 0700
//!   runs/<run-id>/             exists only once the run's locks were taken and it started
//!     plan.yaml                the plan exactly as applied (0600, like every file here)
//!     plan.sha256
//!     journal.jsonl
//!     attestations.jsonl
//!   locks/run-<run-id>.lock    held by the process working on the run
//!   locks/user-<hash>.lock     held by the process working on a run that touches the user
//! ```
//!
//! Locks are OS file locks: they die with their process. A lock file removed or replaced while
//! its process lives lets another process lock the run too, so the run's lock is proven (its
//! path still names the file locked) before every request that changes state and before every
//! record. Reading needs no lock: records are whole lines, and a torn last one is ignored. A
//! run directory is built under a temporary name and renamed into place, so every run
//! directory has a `started` record.
//!
//! The directory is used only while it is safe (see [`super::trust`]): it and every directory
//! under it are checked when the store is opened and when relinker makes one, and no file here
//! is opened through a symbolic link.

use std::fs::{DirBuilder, File, Metadata, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use super::entry::{Attestation, Record};
use super::lock::Lock;
use super::store::{Backend, JournalContents, Session, StateStore};
use super::trust::{self, Access};
use super::{JournalError, io};
use crate::ids::{RunId, UserId};
use crate::secret::Fingerprint;

/// Where `relinker attest` records attestations, beside the journal.
const ATTESTATIONS: &str = "attestations.jsonl";

impl StateStore {
    /// The local state directory at `path`, created (0700) if it does not exist yet: for
    /// commands that start runs.
    pub fn local(path: &Path) -> Result<Self, JournalError> {
        Ok(Self::new(StateDir::create(path)?))
    }

    /// The local state directory at `path`, which must exist: a typo must not look like "no
    /// runs".
    pub fn local_existing(path: &Path) -> Result<Self, JournalError> {
        Ok(Self::new(StateDir::existing(path)?))
    }
}

/// A state directory that exists and is a directory.
#[derive(Debug, Clone)]
pub(super) struct StateDir {
    path: PathBuf,
}

impl StateDir {
    /// The state directory at `path`, created (0700) if it does not exist yet.
    pub(super) fn create(path: &Path) -> Result<Self, JournalError> {
        match std::fs::metadata(path) {
            Ok(_) => Self::existing(path),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                create_dir(path).map_err(|source| JournalError::StateDir {
                    path: path.to_path_buf(),
                    problem: format!("cannot be created: {source}"),
                })?;
                Self::existing(path)
            }
            Err(source) => Err(JournalError::StateDir {
                path: path.to_path_buf(),
                problem: format!("cannot be read: {source}"),
            }),
        }
    }

    /// The state directory at `path`, which must exist, be a directory, be readable and be
    /// safe, as must every directory under it.
    pub(super) fn existing(path: &Path) -> Result<Self, JournalError> {
        let problem = match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => match std::fs::read_dir(path) {
                Ok(_) => {
                    trusted_tree(path, &meta)?;
                    None
                }
                Err(source) => Some(format!("cannot be read: {source}")),
            },
            Ok(_) => Some("is not a directory".to_owned()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Some(
                "does not exist (give the right one with --state-dir or RELINKER_STATE_DIR)"
                    .to_owned(),
            ),
            Err(source) => Some(format!("cannot be read: {source}")),
        };
        match problem {
            None => Ok(Self {
                path: path.to_path_buf(),
            }),
            Some(problem) => Err(JournalError::StateDir {
                path: path.to_path_buf(),
                problem,
            }),
        }
    }

    fn runs(&self) -> PathBuf {
        self.path.join("runs")
    }

    fn run_dir(&self, id: &RunId) -> PathBuf {
        self.runs().join(id.as_str())
    }

    fn journal(&self, id: &RunId) -> PathBuf {
        self.run_dir(id).join("journal.jsonl")
    }

    fn locks(&self) -> PathBuf {
        self.path.join("locks")
    }

    fn run_lock(&self, id: &RunId) -> PathBuf {
        self.locks().join(format!("run-{id}.lock"))
    }

    /// Creates a subdirectory (0700) if it is missing; one that is there must be safe.
    fn ensure(dir: &Path) -> Result<(), JournalError> {
        let meta = match std::fs::symlink_metadata(dir) {
            Ok(meta) => meta,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                create_dir(dir).map_err(io("create", dir))?;
                std::fs::symlink_metadata(dir).map_err(io("look at", dir))?
            }
            Err(error) => return Err(io("look at", dir)(error)),
        };
        trusted(dir, &meta)
    }
}

impl Backend for StateDir {
    fn location(&self) -> String {
        format!("`{}`", self.path.display())
    }

    fn flag(&self) -> String {
        format!("--state-dir {}", self.path.display())
    }

    fn plan_label(&self, id: &RunId) -> String {
        self.run_dir(id).join("plan.yaml").display().to_string()
    }

    fn journal_label(&self, id: &RunId) -> String {
        self.run_dir(id).join("journal.jsonl").display().to_string()
    }

    fn writable(&self) -> Result<bool, JournalError> {
        // A file that removes itself when dropped, in the directory runs are written to.
        match tempfile::NamedTempFile::new_in(&self.path) {
            Ok(_) => Ok(true),
            Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => Ok(false),
            Err(error) => Err(super::io("write a file in", &self.path)(error)),
        }
    }

    fn run_ids(&self) -> Result<Vec<RunId>, JournalError> {
        let dir = self.runs();
        if !dir.exists() {
            return Ok(Vec::new());
        }
        Ok(std::fs::read_dir(&dir)
            .map_err(io("list", &dir))?
            .filter_map(Result::ok)
            .filter(|e| e.path().join("journal.jsonl").is_file())
            .filter_map(|e| RunId::parse(&e.file_name().to_string_lossy()).ok())
            .collect())
    }

    fn has_run(&self, id: &RunId) -> Result<bool, JournalError> {
        Ok(self.run_dir(id).exists())
    }

    fn read(&self, id: &RunId) -> Result<JournalContents, JournalError> {
        let path = self.journal(id);
        if !path.is_file() {
            return Err(JournalError::NoSuchRun {
                run_id: id.clone(),
                location: self.location(),
                flag: self.flag(),
            });
        }
        read_journal(&path)
    }

    fn plan_bytes(&self, id: &RunId) -> Result<Vec<u8>, JournalError> {
        let path = self.run_dir(id).join("plan.yaml");
        let mut bytes = Vec::new();
        trust::open(&path, Access::Read)
            .and_then(|mut file| file.read_to_end(&mut bytes))
            .map_err(io("read", &path))?;
        Ok(bytes)
    }

    /// Each attestation is one line appended whole beside the journal.
    fn attest(&self, id: &RunId, attestation: &Attestation) -> Result<(), JournalError> {
        let path = self.run_dir(id).join(ATTESTATIONS);
        let line = attestation_line(attestation, &path)?;
        let mut file = trust::open(&path, Access::AppendOrCreate).map_err(io("open", &path))?;
        file.write_all(line.as_bytes())
            .map_err(io("append to", &path))?;
        file.sync_data().map_err(io("sync", &path))
    }

    fn attestations(&self, id: &RunId) -> Result<Vec<Attestation>, JournalError> {
        read_attestations(&self.run_dir(id))
    }

    fn is_active(&self, id: &RunId) -> Result<bool, JournalError> {
        Ok(Lock::is_held(&self.run_lock(id)))
    }

    fn session(&self) -> Result<Box<dyn Session>, JournalError> {
        Ok(Box::new(LocalSession {
            dir: self.clone(),
            locks: Vec::new(),
            journal: None,
        }))
    }
}

/// The file locks a process holds, and the journal it appends to (of which run, where).
#[derive(Debug)]
struct LocalSession {
    dir: StateDir,
    locks: Vec<Lock>,
    journal: Option<(RunId, PathBuf, File)>,
}

impl LocalSession {
    /// The run's lock, held and still its lock file's.
    fn run_lock_held(&self, id: &RunId) -> Result<(), JournalError> {
        let path = self.dir.run_lock(id);
        let lost = |reason: String| JournalError::LockLost {
            run_id: id.clone(),
            reason,
        };
        let lock = self
            .locks
            .iter()
            .find(|lock| lock.path() == path)
            .ok_or_else(|| lost("this process never took it".into()))?;
        lock.still_held().map_err(|error| lost(error.to_string()))
    }
}

impl Session for LocalSession {
    fn lock_run(&mut self, id: &RunId) -> Result<(), JournalError> {
        let dir = self.dir.locks();
        StateDir::ensure(&dir)?;
        let lock = Lock::acquire(&self.dir.run_lock(id), &format!("run `{id}`"), id.as_str())?;
        self.locks.push(lock);
        Ok(())
    }

    fn lock_users(&mut self, users: &[&UserId], owner: &RunId) -> Result<(), JournalError> {
        let dir = self.dir.locks();
        StateDir::ensure(&dir)?;
        for user in users {
            let hash = Fingerprint::of(user.folded().as_bytes());
            let name = format!("user-{}.lock", &hash.as_str()[7..23]);
            let lock = Lock::acquire(&dir.join(name), &format!("user `{user}`"), owner.as_str())?;
            self.locks.push(lock);
        }
        Ok(())
    }

    fn create(
        &mut self,
        id: &RunId,
        plan: &[u8],
        records: &[Record],
        attestations: &[Attestation],
    ) -> Result<(), JournalError> {
        let path = self.dir.run_dir(id);
        if path.exists() {
            return Err(JournalError::RunExists { run_id: id.clone() });
        }
        let runs = self.dir.runs();
        StateDir::ensure(&runs)?;
        let building = runs.join(format!(".new-{id}-{}", std::process::id()));
        if building.exists() {
            // Left by a process that died while building it; nothing in it was ever a run.
            let _ = std::fs::remove_dir_all(&building);
        }
        StateDir::ensure(&building)?;
        write_synced(&building.join("plan.yaml"), plan)?;
        let digest = Fingerprint::of(plan);
        write_synced(
            &building.join("plan.sha256"),
            format!("{digest}\n").as_bytes(),
        )?;
        let journal = building.join("journal.jsonl");
        let lines = records
            .iter()
            .map(|record| encode(record, &journal))
            .collect::<Result<String, _>>()?;
        write_synced(&journal, lines.as_bytes())?;
        if !attestations.is_empty() {
            let file = building.join(ATTESTATIONS);
            let lines = attestations
                .iter()
                .map(|a| attestation_line(a, &file))
                .collect::<Result<String, _>>()?;
            write_synced(&file, lines.as_bytes())?;
        }
        sync_dir(&building);
        std::fs::rename(&building, &path).map_err(io("create", &path))?;
        sync_dir(&runs);
        self.attach(id)
    }

    fn attach(&mut self, id: &RunId) -> Result<(), JournalError> {
        let path = self.dir.journal(id);
        let file = trust::open(&path, Access::Append).map_err(io("open", &path))?;
        self.journal = Some((id.clone(), path, file));
        Ok(())
    }

    /// The journal file stays writable whatever becomes of the lock file, so each append
    /// first proves the lock (two `stat`s, nothing beside the fsync): once it is lost, another
    /// process may be appending to the same journal.
    fn append(&mut self, record: &Record) -> Result<(), JournalError> {
        let Some((id, _, _)) = &self.journal else {
            return Err(JournalError::Detached);
        };
        self.run_lock_held(id)?;
        let Some((_, path, file)) = &mut self.journal else {
            return Err(JournalError::Detached);
        };
        let line = encode(record, path)?;
        file.write_all(line.as_bytes())
            .map_err(io("append to", path))?;
        file.sync_data().map_err(io("sync", path))
    }

    fn still_held(&self, id: &RunId) -> Result<(), JournalError> {
        self.run_lock_held(id)
    }

    /// The run's folder is first renamed out of the run namespace, so a crash midway never
    /// leaves something that reads as a run. The lock file stays: removing it could race a
    /// process taking it for this id.
    fn remove(&mut self, id: &RunId) -> Result<(), JournalError> {
        let dir = self.dir.run_dir(id);
        let doomed = self.dir.runs().join(format!(".pruned-{id}"));
        std::fs::rename(&dir, &doomed).map_err(io("move away", &dir))?;
        std::fs::remove_dir_all(&doomed).map_err(io("remove", &doomed))
    }
}

/// An attestation as one line, newline included.
fn attestation_line(attestation: &Attestation, path: &Path) -> Result<String, JournalError> {
    let mut line = serde_json::to_string(attestation)
        .map_err(|e| io("encode an attestation for", path)(std::io::Error::other(e)))?;
    line.push('\n');
    Ok(line)
}

/// A record as one journal line, newline included.
fn encode(record: &Record, path: &Path) -> Result<String, JournalError> {
    let mut line = serde_json::to_string(record)
        .map_err(|e| io("encode a record for", path)(std::io::Error::other(e)))?;
    line.push('\n');
    Ok(line)
}

/// The attestations beside the journal in a run directory.
fn read_attestations(run_dir: &Path) -> Result<Vec<Attestation>, JournalError> {
    let path = run_dir.join(ATTESTATIONS);
    match trust::open(&path, Access::Read) {
        Ok(file) => Ok(read_lines(file, &path, "attestations")?.0),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(io("open", &path)(error)),
    }
}

/// Refuses a directory that is not safe to keep state in.
fn trusted(path: &Path, meta: &Metadata) -> Result<(), JournalError> {
    match trust::dir_problem(path, meta) {
        None => Ok(()),
        Some(problem) => Err(JournalError::UnsafeState {
            path: path.to_path_buf(),
            problem,
        }),
    }
}

/// Refuses a state directory that someone other than its owner could change: the directory
/// itself (`meta`, its link followed when it is one), `runs/`, `locks/` and every run's folder,
/// each as it is (a link is refused).
fn trusted_tree(path: &Path, meta: &Metadata) -> Result<(), JournalError> {
    trusted(path, meta)?;
    for sub in ["runs", "locks"] {
        let dir = path.join(sub);
        let meta = match std::fs::symlink_metadata(&dir) {
            Ok(meta) => meta,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(io("look at", &dir)(error)),
        };
        trusted(&dir, &meta)?;
        if sub != "runs" {
            continue;
        }
        for entry in std::fs::read_dir(&dir).map_err(io("list", &dir))? {
            let entry = entry.map_err(io("list", &dir))?;
            // Not followed: a link's own metadata.
            let meta = entry.metadata().map_err(io("look at", &entry.path()))?;
            if meta.is_dir() || meta.file_type().is_symlink() {
                trusted(&entry.path(), &meta)?;
            }
        }
    }
    Ok(())
}

/// Creates a directory and its missing parents, readable by its owner only.
fn create_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// Opens a new file for writing, readable by its owner only. `create_new` never follows a link:
/// a name that is taken, by a link or anything else, fails.
fn create_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Writes a new file and syncs it.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), JournalError> {
    let mut file = create_file(path).map_err(io("create", path))?;
    file.write_all(bytes).map_err(io("write", path))?;
    file.sync_all().map_err(io("sync", path))
}

/// Makes new names in a directory durable; not every platform allows it.
fn sync_dir(path: &Path) {
    if let Ok(dir) = File::open(path) {
        let _ = dir.sync_all();
    }
}

/// Reads a journal, tolerating a torn last line.
pub fn read_journal(path: &Path) -> Result<JournalContents, JournalError> {
    let file = trust::open(path, Access::Read).map_err(io("open", path))?;
    let (records, torn_tail) = read_lines(file, path, "journal")?;
    Ok(JournalContents { records, torn_tail })
}

/// Reads a file of one JSON record per line, appended whole: a last line that does not read
/// was torn by a process stopped mid-write and is ignored (`true`); any other is damage.
fn read_lines<T: serde::de::DeserializeOwned>(
    file: File,
    path: &Path,
    what: &str,
) -> Result<(Vec<T>, bool), JournalError> {
    let lines: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(io("read", path))?;
    let mut records = Vec::with_capacity(lines.len());
    let mut torn = false;
    let last = lines.len();
    for (index, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<T>(line) {
            Ok(record) => records.push(record),
            Err(_) if index + 1 == last => {
                tracing::warn!(path = %path.display(), "ignoring a torn last line in the {what} (the process stopped mid-write)");
                torn = true;
            }
            Err(error) => {
                return Err(JournalError::Corrupt {
                    place: path.display().to_string(),
                    line: index + 1,
                    reason: error.to_string(),
                });
            }
        }
    }
    Ok((records, torn))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::StepId;
    use crate::journal::Entry;
    use crate::journal::run::Run;
    use crate::journal::run::tests::{PLAN, id, started};

    #[test]
    fn a_torn_last_line_is_ignored_and_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateStore::local(&dir.path().join("state")).unwrap();
        let mut run = Run::start(&state, &id("r1"), PLAN, started("a@x.io")).unwrap();
        run.append(Entry::Intent {
            step: StepId::new("r0-delete"),
        })
        .unwrap();
        drop(run);
        let runs = dir.path().join("state/runs/r1");
        let path = runs.join("journal.jsonl");
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"kind\":\"intent\",\"st").unwrap();
        let contents = state.read(&id("r1")).unwrap();
        assert_eq!(contents.records.len(), 2);
        assert!(contents.torn_tail);
        assert!(Run::open(&state, &id("r1")).unwrap().torn_tail());
        let digest = std::fs::read_to_string(runs.join("plan.sha256")).unwrap();
        assert!(digest.starts_with("sha256:"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir.path().join("state")), 0o700);
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&runs.join("plan.yaml")), 0o600);
        }
    }

    /// A run whose lock file was replaced proves nothing and appends nothing more; once its
    /// process let go, the run opens again (under the new file).
    #[test]
    fn a_replaced_lock_file_is_a_lost_lock() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateStore::local(dir.path()).unwrap();
        let mut run = Run::start(&state, &id("r1"), PLAN, started("a@x.io")).unwrap();
        run.still_held().unwrap();
        let lock = dir.path().join("locks/run-r1.lock");
        std::fs::remove_file(&lock).unwrap();
        std::fs::write(&lock, "").unwrap();
        let lost = run.still_held().unwrap_err();
        assert!(
            matches!(&lost, JournalError::LockLost { run_id, .. } if run_id == &id("r1")),
            "{lost:?}"
        );
        assert!(lost.to_string().contains("was replaced"), "{lost}");
        assert!(lost.to_string().contains("`relinker resume r1`"), "{lost}");
        let appended = run.append(Entry::Intent {
            step: StepId::new("r0-delete"),
        });
        assert!(
            matches!(appended, Err(JournalError::LockLost { .. })),
            "{appended:?}"
        );
        assert_eq!(state.read(&id("r1")).unwrap().records.len(), 1);
        drop(run);
        Run::open(&state, &id("r1")).unwrap().still_held().unwrap();
    }

    /// New runs name the format they are written in; a run without one is format 1, and one
    /// in a newer format is refused, never replayed.
    #[test]
    fn a_run_in_a_newer_journal_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateStore::local(dir.path()).unwrap();
        drop(Run::start(&state, &id("r1"), PLAN, started("a@x.io")).unwrap());
        let path = dir.path().join("runs/r1/journal.jsonl");
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(
            written.contains("\"kind\":\"started\",\"format_version\":1,"),
            "{written}"
        );
        let format = |text: &str| {
            std::fs::write(&path, text).unwrap();
            match &state.read(&id("r1")).map(|c| c.records[0].entry.clone()) {
                Ok(Entry::Started(started)) => Ok(started.format_version),
                Ok(other) => panic!("{other:?}"),
                Err(error) => Err(error.to_string()),
            }
        };
        assert_eq!(format(&written.replace("\"format_version\":1,", "")), Ok(1));
        let newer = written.replace("\"format_version\":1,", "\"format_version\":2,");
        let refused = format(&newer).unwrap_err();
        assert!(
            refused.contains("journal format 2, newer than this relinker reads (1)"),
            "{refused}"
        );
        assert!(matches!(
            Run::open(&state, &id("r1")),
            Err(JournalError::FormatNewer {
                found: 2,
                known: 1,
                ..
            })
        ));
    }

    #[test]
    fn damage_before_the_last_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateStore::local(dir.path()).unwrap();
        drop(Run::start(&state, &id("r1"), PLAN, started("a@x.io")).unwrap());
        let path = dir.path().join("runs/r1/journal.jsonl");
        std::fs::write(&path, "garbage\n{\"kind\":\"finished\"}\n").unwrap();
        assert!(matches!(
            state.read(&id("r1")),
            Err(JournalError::Corrupt { line: 1, .. })
        ));
    }
}
