//! The PostgreSQL state store, for teams with more than one runner: runs, journals and
//! attestations in tables relinker creates and migrates itself, run locks and user claims as
//! session advisory locks.
//!
//! An advisory lock belongs to the connection that took it, so a killed runner's locks die
//! with its connection, as file locks die with their process; and a runner whose connection
//! died (a restart, a failover, a terminated backend) has lost its locks while it lives, which
//! it learns by asking on that connection before each request that changes state. Each
//! [`Session`] (one run being worked on) has a connection of its own; reads share one. A
//! journal append is one `INSERT`, committed (and so durable, with PostgreSQL's default
//! `synchronous_commit`) before it returns.
//!
//! The client is `tokio-postgres`, driven by a runtime on a thread of its own: the journal's
//! callers are synchronous (an executor appends under `block_in_place`, commands read from
//! plain functions), and a dedicated thread serves them the same way from any context, with a
//! bounded wait on every call. How a connection is made (TLS as `sslmode` says, a password
//! never sent in clear text) is `target`'s, `tls`'s and `wire`'s; the schema and its checked
//! migrations are `migrations`'.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock, mpsc};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use self::migrations::{MIGRATIONS, Schema};
use self::target::Target;
use self::wire::{ConnectError, connect};
use super::JournalError;
use super::entry::{Attestation, Record};
use super::lock::LockError;
use super::store::{Backend, JournalContents, Session, StateStore};
use crate::ids::{RunId, UserId};
use crate::secret::Fingerprint;

mod migrations;
mod target;
mod tls;
mod wire;

impl StateStore {
    /// The PostgreSQL store at `url`, its schema created or migrated to this binary's version.
    /// Refused when the database's schema is newer than the binary. Each database call,
    /// connecting included, waits at most `wait`: a database that does not answer must not
    /// hang a scheduled job.
    pub fn postgres(url: &str, wait: Duration) -> Result<Self, JournalError> {
        Ok(Self::new(Postgres::open(url, wait)?))
    }
}

/// A PostgreSQL database holding relinker's state.
pub(super) struct Postgres {
    /// Where the database is and how each host is reached.
    target: Arc<Target>,
    /// The URL without its password, for people.
    shown: String,
    /// The longest any one call may take.
    wait: Duration,
    /// The connection reads share.
    reader: Arc<Client>,
}

impl fmt::Debug for Postgres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Postgres")
            .field("at", &self.shown)
            .finish_non_exhaustive()
    }
}

impl Postgres {
    fn open(url: &str, wait: Duration) -> Result<Self, JournalError> {
        let target = Arc::new(Target::parse(url, wait)?);
        let shown = target.shown().to_owned();
        let reader = block(&shown, wait, "connect to", connect(target.clone()))?;
        let store = Self {
            target,
            shown,
            wait,
            reader: Arc::new(reader),
        };
        store.migrate()?;
        Ok(store)
    }

    /// Creates or upgrades the schema, one runner at a time; refuses a newer one, and one
    /// whose recorded migrations are not this binary's.
    fn migrate(&self) -> Result<(), JournalError> {
        let reader = self.reader.clone();
        let schema = self.call("migrate the schema of", async move {
            migrations::migrate(&reader).await
        });
        match schema {
            Ok(Schema::Current) => Ok(()),
            Ok(Schema::Newer { found }) => Err(JournalError::SchemaNewer {
                location: self.location(),
                found,
                known: MIGRATIONS.len(),
            }),
            Ok(Schema::Edited {
                version,
                name,
                recorded,
                expected,
            }) => Err(JournalError::MigrationEdited {
                location: self.location(),
                version,
                name,
                recorded: recorded.unwrap_or_else(|| "none".to_owned()),
                expected,
            }),
            Err(error) => {
                // The transaction may be open on the shared connection; end it.
                let reader = self.reader.clone();
                let _ = self.call("end a migration in", async move {
                    reader.batch_execute("ROLLBACK").await
                });
                Err(error)
            }
        }
    }

    /// Runs a database call on the store's thread, within the bounded wait.
    fn call<T: Send + 'static>(
        &self,
        action: &'static str,
        work: impl Future<Output = Result<T, tokio_postgres::Error>> + Send + 'static,
    ) -> Result<T, JournalError> {
        block(&self.shown, self.wait, action, work)
    }
}

impl Backend for Postgres {
    fn location(&self) -> String {
        format!("`{}`", self.shown)
    }

    fn flag(&self) -> String {
        format!("--state {}", self.shown)
    }

    fn plan_label(&self, id: &RunId) -> String {
        format!("{}#runs/{id}/plan.yaml", self.shown)
    }

    fn journal_label(&self, id: &RunId) -> String {
        format!("{}#runs/{id}/journal", self.shown)
    }

    fn writable(&self) -> Result<bool, JournalError> {
        let reader = self.reader.clone();
        let rows = self.call("check the privileges on", async move {
            reader
                .query(
                    "SELECT bool_and(has_table_privilege(t, 'INSERT')) FROM unnest(ARRAY['relinker.runs', 'relinker.journal', 'relinker.attestations']) AS t",
                    &[],
                )
                .await
        })?;
        Ok(rows
            .first()
            .and_then(|row| row.get::<_, Option<bool>>(0))
            .unwrap_or(false))
    }

    fn run_ids(&self) -> Result<Vec<RunId>, JournalError> {
        let reader = self.reader.clone();
        let ids = self.call("list the runs in", async move {
            reader.query("SELECT id FROM relinker.runs", &[]).await
        })?;
        Ok(texts(&ids)
            .filter_map(|text| RunId::parse(text).ok())
            .collect())
    }

    fn has_run(&self, id: &RunId) -> Result<bool, JournalError> {
        let (reader, id) = (self.reader.clone(), id.to_string());
        self.call("read a run from", async move {
            let row = reader
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM relinker.runs WHERE id = $1)",
                    &[&id],
                )
                .await?;
            Ok(row.get::<_, bool>(0))
        })
    }

    fn read(&self, id: &RunId) -> Result<JournalContents, JournalError> {
        let (reader, key) = (self.reader.clone(), id.to_string());
        let rows = self.call("read a journal from", async move {
            reader
                .query(
                    "SELECT seq, record FROM relinker.journal WHERE run_id = $1 ORDER BY seq",
                    &[&key],
                )
                .await
        })?;
        if rows.is_empty() {
            return Err(JournalError::NoSuchRun {
                run_id: id.clone(),
                location: self.location(),
                flag: self.flag(),
            });
        }
        let mut contents = JournalContents::default();
        for row in rows {
            let seq: i32 = row.get(0);
            let text: &str = row.get(1);
            let record = serde_json::from_str(text).map_err(|error| JournalError::Corrupt {
                place: format!("{}#runs/{id}/journal", self.shown),
                line: usize::try_from(seq).unwrap_or(0),
                reason: error.to_string(),
            })?;
            contents.records.push(record);
        }
        Ok(contents)
    }

    fn plan_bytes(&self, id: &RunId) -> Result<Vec<u8>, JournalError> {
        let (reader, key) = (self.reader.clone(), id.to_string());
        let row = self.call("read a plan from", async move {
            reader
                .query_opt("SELECT plan FROM relinker.runs WHERE id = $1", &[&key])
                .await
        })?;
        row.map(|row| row.get::<_, Vec<u8>>(0))
            .ok_or_else(|| JournalError::NoSuchRun {
                run_id: id.clone(),
                location: self.location(),
                flag: self.flag(),
            })
    }

    fn attest(&self, id: &RunId, attestation: &Attestation) -> Result<(), JournalError> {
        let line = encode(attestation, &self.location())?;
        let (reader, key) = (self.reader.clone(), id.to_string());
        self.call("record an attestation in", async move {
            reader
                .execute(
                    "INSERT INTO relinker.attestations (run_id, record) VALUES ($1, $2)",
                    &[&key, &line],
                )
                .await
        })
        .map(drop)
    }

    fn attestations(&self, id: &RunId) -> Result<Vec<Attestation>, JournalError> {
        let (reader, key) = (self.reader.clone(), id.to_string());
        let rows = self.call("read attestations from", async move {
            reader
                .query(
                    "SELECT record FROM relinker.attestations WHERE run_id = $1 ORDER BY seq",
                    &[&key],
                )
                .await
        })?;
        // A row is committed whole: one that does not read is damage, never a torn write.
        texts(&rows)
            .enumerate()
            .map(|(index, text)| {
                serde_json::from_str(text).map_err(|error| JournalError::Corrupt {
                    place: format!("{}#runs/{id}/attestations", self.shown),
                    line: index + 1,
                    reason: error.to_string(),
                })
            })
            .collect()
    }

    fn is_active(&self, id: &RunId) -> Result<bool, JournalError> {
        let (reader, key) = (self.reader.clone(), run_key(id));
        // Taking the lock for an instant when it is free, as the local store looks.
        self.call("look at the locks in", async move {
            let row = reader
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .await?;
            let free: bool = row.get(0);
            if free {
                reader
                    .execute("SELECT pg_advisory_unlock($1)", &[&key])
                    .await?;
            }
            Ok(!free)
        })
    }

    fn session(&self) -> Result<Box<dyn Session>, JournalError> {
        let client = block(
            &self.shown,
            self.wait,
            "connect to",
            connect(self.target.clone()),
        )?;
        Ok(Box::new(PgSession {
            shown: self.shown.clone(),
            wait: self.wait,
            location: self.location(),
            client: Arc::new(client),
            attached: None,
        }))
    }
}

/// One connection: the advisory locks it took, and the run it appends to.
struct PgSession {
    shown: String,
    wait: Duration,
    location: String,
    client: Arc<Client>,
    /// The run attached, and the sequence number its next record takes.
    attached: Option<(RunId, i32)>,
}

impl fmt::Debug for PgSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgSession")
            .field("at", &self.shown)
            .field("attached", &self.attached)
            .finish_non_exhaustive()
    }
}

impl PgSession {
    fn call<T: Send + 'static>(
        &self,
        action: &'static str,
        work: impl Future<Output = Result<T, tokio_postgres::Error>> + Send + 'static,
    ) -> Result<T, JournalError> {
        block(&self.shown, self.wait, action, work)
    }

    /// Takes the advisory lock `key` for `owner`, or says which run holds it.
    fn lock(&self, key: i64, what: String, owner: &RunId) -> Result<(), JournalError> {
        let (client, owner) = (self.client.clone(), owner.to_string());
        let holder = self.call("take a lock in", async move {
            let row = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .await?;
            if row.get::<_, bool>(0) {
                // Record the holder for whoever is refused next; the lock itself is what
                // counts.
                client
                    .execute(
                        "INSERT INTO relinker.lock_holders (key, holder) VALUES ($1, $2)
                         ON CONFLICT (key) DO UPDATE SET holder = EXCLUDED.holder",
                        &[&key, &owner],
                    )
                    .await?;
                return Ok(None);
            }
            let holder = client
                .query_opt(
                    "SELECT holder FROM relinker.lock_holders WHERE key = $1",
                    &[&key],
                )
                .await?;
            Ok(Some(
                holder.map_or_else(|| "unknown".to_owned(), |row| row.get(0)),
            ))
        })?;
        match holder {
            None => Ok(()),
            Some(holder) => Err(JournalError::Locked(LockError::Busy { what, holder })),
        }
    }
}

impl Session for PgSession {
    fn lock_run(&mut self, id: &RunId) -> Result<(), JournalError> {
        self.lock(run_key(id), format!("run `{id}`"), id)
    }

    fn lock_users(&mut self, users: &[&UserId], owner: &RunId) -> Result<(), JournalError> {
        for user in users {
            self.lock(user_key(user), format!("user `{user}`"), owner)?;
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
        let lines = records
            .iter()
            .map(|record| encode(record, &self.location))
            .collect::<Result<Vec<_>, _>>()?;
        let attested = attestations
            .iter()
            .map(|a| encode(a, &self.location))
            .collect::<Result<Vec<_>, _>>()?;
        let digest = Fingerprint::of(plan).to_string();
        let (client, key, plan) = (self.client.clone(), id.to_string(), plan.to_vec());
        // One transaction: the run, its plan and its records appear together or not at all.
        let created = self.call("create a run in", async move {
            client.batch_execute("BEGIN").await?;
            let written = async {
                let inserted = client
                    .execute(
                        "INSERT INTO relinker.runs (id, plan, plan_sha256) VALUES ($1, $2, $3)",
                        &[&key, &plan, &digest],
                    )
                    .await;
                match inserted {
                    Ok(_) => {}
                    Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                        return Ok(false);
                    }
                    Err(error) => return Err(error),
                }
                for (seq, line) in (1_i32..).zip(&lines) {
                    client
                        .execute(
                            "INSERT INTO relinker.journal (run_id, seq, record) VALUES ($1, $2, $3)",
                            &[&key, &seq, line],
                        )
                        .await?;
                }
                for line in &attested {
                    client
                        .execute(
                            "INSERT INTO relinker.attestations (run_id, record) VALUES ($1, $2)",
                            &[&key, line],
                        )
                        .await?;
                }
                Ok(true)
            }
            .await;
            match written {
                Ok(true) => {
                    client.batch_execute("COMMIT").await?;
                    Ok(true)
                }
                Ok(false) => {
                    client.batch_execute("ROLLBACK").await?;
                    Ok(false)
                }
                Err(error) => {
                    let _ = client.batch_execute("ROLLBACK").await;
                    Err(error)
                }
            }
        })?;
        if !created {
            return Err(JournalError::RunExists { run_id: id.clone() });
        }
        self.attached = Some((
            id.clone(),
            i32::try_from(records.len()).unwrap_or(i32::MAX) + 1,
        ));
        Ok(())
    }

    fn attach(&mut self, id: &RunId) -> Result<(), JournalError> {
        let (client, key) = (self.client.clone(), id.to_string());
        let last = self.call("open a journal in", async move {
            let row = client
                .query_one(
                    "SELECT coalesce(max(seq), 0) FROM relinker.journal WHERE run_id = $1",
                    &[&key],
                )
                .await?;
            Ok(row.get::<_, i32>(0))
        })?;
        self.attached = Some((id.clone(), last + 1));
        Ok(())
    }

    /// Through the connection that holds the run's lock: an append that went through was made
    /// while the lock was held (a session's advisory locks end only with it), so an append
    /// after the lock was lost fails with the connection, and needs no proof of its own.
    fn append(&mut self, record: &Record) -> Result<(), JournalError> {
        let Some((id, next)) = &mut self.attached else {
            return Err(JournalError::Detached);
        };
        let line = encode(record, &self.location)?;
        let (client, key, seq) = (self.client.clone(), id.to_string(), *next);
        block(
            &self.shown,
            self.wait,
            "append to a journal in",
            async move {
                client
                    .execute(
                        "INSERT INTO relinker.journal (run_id, seq, record) VALUES ($1, $2, $3)",
                        &[&key, &seq, &line],
                    )
                    .await
            },
        )?;
        *next += 1;
        Ok(())
    }

    /// Asks on the session's own connection, the one that took the lock: an answer proves
    /// the connection lives and holds it. A dead connection (a database restart, a failover,
    /// `pg_terminate_backend`) or one that does not answer within the wait proves nothing, and
    /// is a lost lock: PostgreSQL released it with the session, and another runner may hold it.
    fn still_held(&self, id: &RunId) -> Result<(), JournalError> {
        let client = self.client.clone();
        // pg_locks shows a bigint advisory key as two oids: its high half, then its low half.
        let bits = u64::from_be_bytes(run_key(id).to_be_bytes());
        let high = u32::try_from(bits >> 32).unwrap_or_default();
        let low = u32::try_from(bits & 0xFFFF_FFFF).unwrap_or_default();
        let held = self.call("prove a lock in", async move {
            let row = client
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
                     AND pid = pg_backend_pid() AND classid = $1 AND objid = $2 AND objsubid = 1)",
                    &[&high, &low],
                )
                .await?;
            Ok(row.get::<_, bool>(0))
        });
        let reason = match held {
            Ok(true) => return Ok(()),
            Ok(false) => "the database session no longer holds it".to_owned(),
            Err(JournalError::Database { reason, .. }) => {
                format!("the database connection that held it is gone: {reason}")
            }
            Err(JournalError::Unreachable { waited, .. }) => format!(
                "the database did not answer within {}s, so nothing proves the lock is still held",
                waited.as_secs()
            ),
            Err(other) => other.to_string(),
        };
        Err(JournalError::LockLost {
            run_id: id.clone(),
            reason,
        })
    }

    fn remove(&mut self, id: &RunId) -> Result<(), JournalError> {
        let (client, key) = (self.client.clone(), id.to_string());
        self.call("remove a run from", async move {
            client
                .execute("DELETE FROM relinker.runs WHERE id = $1", &[&key])
                .await
        })
        .map(drop)
    }
}

fn encode(record: &impl serde::Serialize, location: &str) -> Result<String, JournalError> {
    serde_json::to_string(record).map_err(|e| JournalError::Database {
        action: "encode a record for",
        location: location.to_owned(),
        reason: e.to_string(),
    })
}

/// The first column of each row, as text.
fn texts(rows: &[tokio_postgres::Row]) -> impl Iterator<Item = &str> {
    rows.iter().map(|row| row.get::<_, &str>(0))
}

/// The advisory lock key of a run.
fn run_key(id: &RunId) -> i64 {
    key(&format!("relinker run {id}"))
}

/// The advisory lock key of a user, under the one case-folding rule.
fn user_key(user: &UserId) -> i64 {
    key(&format!("relinker user {}", user.folded()))
}

/// 64 bits of the text's SHA-256: a collision would make two names share a lock, never two
/// runs share one name.
fn key(text: &str) -> i64 {
    let digest = Fingerprint::of(text.as_bytes());
    let hex = &digest.as_str()["sha256:".len()..][..16];
    i64::from_be_bytes(u64::from_str_radix(hex, 16).unwrap_or(0).to_be_bytes())
}

/// The store's thread: a runtime of its own, so a call can be waited for from any context,
/// inside another runtime or none.
fn runtime() -> Option<&'static Handle> {
    static HANDLE: OnceLock<Option<Handle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel();
            std::thread::Builder::new()
                .name("relinker-state".into())
                .spawn(move || {
                    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    let _ = tx.send(runtime.handle().clone());
                    runtime.block_on(std::future::pending::<()>());
                })
                .ok()?;
            rx.recv().ok()
        })
        .as_ref()
}

/// Runs `work` on the store's thread and waits for it, at most `wait`.
fn block<T: Send + 'static, E: Reason + Send + 'static>(
    shown: &str,
    wait: Duration,
    action: &'static str,
    work: impl Future<Output = Result<T, E>> + Send + 'static,
) -> Result<T, JournalError> {
    let location = format!("`{shown}`");
    let Some(handle) = runtime() else {
        return Err(JournalError::Database {
            action,
            location,
            reason: "the thread that talks to the database could not be started".into(),
        });
    };
    let (tx, rx) = mpsc::sync_channel(1);
    handle.spawn(async move {
        let _ = tx.send(tokio::time::timeout(wait, work).await);
    });
    match rx.recv() {
        Ok(Ok(Ok(value))) => Ok(value),
        Ok(Ok(Err(error))) => Err(JournalError::Database {
            action,
            location,
            reason: error.reason(),
        }),
        Ok(Err(_)) | Err(_) => Err(JournalError::Unreachable {
            location,
            waited: wait,
        }),
    }
}

/// What went wrong with a database call, in words.
trait Reason {
    fn reason(&self) -> String;
}

/// In the server's words when it gave any (with its SQLSTATE code).
impl Reason for tokio_postgres::Error {
    fn reason(&self) -> String {
        if let Some(db) = self.as_db_error() {
            return format!("{} (SQLSTATE {})", db.message(), db.code().code());
        }
        // The kind ("error connecting to server"), then what caused it ("Connection refused").
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(inner) = cause {
            let said = inner.to_string();
            if !text.contains(&said) {
                text = format!("{text}: {said}");
            }
            cause = inner.source();
        }
        text
    }
}

impl Reason for ConnectError {
    fn reason(&self) -> String {
        match self {
            // Said as tokio-postgres says it of a socket it opened itself.
            Self::Socket(error) => format!("error connecting to server: {error}"),
            Self::Postgres(error) => error.reason(),
            Self::Session(said) => (*said).to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_follow_the_one_case_folding_rule() {
        let upper = UserId::parse("Jane.Doe@Acme.example").unwrap();
        let lower = UserId::parse("jane.doe@acme.example").unwrap();
        assert_eq!(user_key(&upper), user_key(&lower));
        let run = RunId::parse("r1").unwrap();
        assert_ne!(run_key(&run), user_key(&lower));
        assert_ne!(run_key(&run), run_key(&RunId::parse("r2").unwrap()));
    }
}
