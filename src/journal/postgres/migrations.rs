//! The schema's migrations, and the database's record of those it has had: each one's number
//! and the SHA-256 of its text, as sqlx and refinery keep them.
//!
//! A migration recorded with a digest other than its text's now was edited after databases
//! ran it (or the record was): a schema relinker cannot vouch for, refused before anything is
//! read or written. A migration, once released, is never edited; a change is a new one.

use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use crate::journal::chain::hex;

/// One step of the schema.
pub(super) struct Migration {
    /// What it does, for the message that refuses an edited one.
    pub(super) name: &'static str,
    /// Its statements, run in the migrating transaction.
    pub(super) sql: &'static str,
}

impl Migration {
    /// The digest the database records for it: SHA-256 of its text, in hexadecimal.
    pub(super) fn sha256(&self) -> String {
        hex(&Sha256::digest(self.sql.as_bytes()))
    }
}

/// The schema's migrations, in order; the database records each one it has had.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "runs, journal, attestations and lock holders",
        sql: "
    CREATE TABLE relinker.runs (
        id text PRIMARY KEY,
        plan bytea NOT NULL,
        plan_sha256 text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE relinker.journal (
        run_id text NOT NULL REFERENCES relinker.runs (id) ON DELETE CASCADE,
        seq integer NOT NULL,
        record text NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
    CREATE TABLE relinker.attestations (
        run_id text NOT NULL REFERENCES relinker.runs (id) ON DELETE CASCADE,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        record text NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
    CREATE TABLE relinker.lock_holders (
        key bigint PRIMARY KEY,
        holder text NOT NULL
    );
",
    },
    Migration {
        name: "a checksum for each migration",
        sql: "ALTER TABLE relinker.schema_version ADD COLUMN sha256 text;",
    },
];

/// The advisory lock key under which migrations run, one runner at a time.
const MIGRATION_KEY: i64 = 0x5245_4C49_4E4B_4552; // "RELINKER"

/// What the database's schema turned out to be.
pub(super) enum Schema {
    /// This binary's, migrated to it if it was older.
    Current,
    /// A newer binary's: left as it is.
    Newer {
        /// The newest migration the database has had.
        found: usize,
    },
    /// A migration the database had is not the one this binary has: nothing was migrated.
    Edited {
        /// Its number, from 1.
        version: usize,
        /// Its name.
        name: &'static str,
        /// The digest the database recorded, if any.
        recorded: Option<String>,
        /// The digest of this binary's text.
        expected: String,
    },
}

/// Creates or upgrades the schema on `client` in one transaction, under the migration lock,
/// and checks each recorded migration against its text. The caller ends the transaction when
/// this fails.
pub(super) async fn migrate(client: &Client) -> Result<Schema, tokio_postgres::Error> {
    client
        .batch_execute(&format!(
            "BEGIN;
             SELECT pg_advisory_xact_lock({MIGRATION_KEY});
             CREATE SCHEMA IF NOT EXISTS relinker;
             CREATE TABLE IF NOT EXISTS relinker.schema_version (version integer NOT NULL);"
        ))
        .await?;
    let row = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM relinker.schema_version",
            &[],
        )
        .await?;
    let found = usize::try_from(row.get::<_, i32>(0)).unwrap_or(usize::MAX);
    if found > MIGRATIONS.len() {
        client.batch_execute("COMMIT").await?;
        return Ok(Schema::Newer { found });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(found) {
        client.batch_execute(migration.sql).await?;
        client
            .execute(
                "INSERT INTO relinker.schema_version (version) VALUES ($1)",
                &[&number(index)],
            )
            .await?;
    }
    if found < MIGRATIONS.len() {
        // The migrations just run, and those recorded before the table had a checksum column,
        // are recorded with this binary's digest.
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            client
                .execute(
                    "UPDATE relinker.schema_version SET sha256 = $2 WHERE version = $1 AND sha256 IS NULL",
                    &[&number(index), &migration.sha256()],
                )
                .await?;
        }
    }
    let recorded = client
        .query(
            "SELECT version, sha256 FROM relinker.schema_version ORDER BY version",
            &[],
        )
        .await?;
    for row in recorded {
        let index = usize::try_from(row.get::<_, i32>(0))
            .ok()
            .and_then(|version| version.checked_sub(1));
        let digest: Option<String> = row.get(1);
        let Some((index, migration)) = index.and_then(|i| Some((i, MIGRATIONS.get(i)?))) else {
            continue;
        };
        let expected = migration.sha256();
        if digest.as_deref() != Some(expected.as_str()) {
            client.batch_execute("ROLLBACK").await?;
            return Ok(Schema::Edited {
                version: index + 1,
                name: migration.name,
                recorded: digest,
                expected,
            });
        }
    }
    client.batch_execute("COMMIT").await?;
    Ok(Schema::Current)
}

/// A migration's number as the database stores it.
fn number(index: usize) -> i32 {
    i32::try_from(index + 1).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Databases hold these digests: a test failing here means a released migration was
    /// edited, which every database that ran it will refuse. Add a new migration instead.
    #[test]
    fn released_migrations_keep_their_digests() {
        let digests: Vec<String> = MIGRATIONS.iter().map(Migration::sha256).collect();
        assert_eq!(
            digests,
            [
                "e3499c511ec0488e7c0c2e1049c540d8a37c2389663484f5948ec539191a34ce",
                "8ec4833aab61b0645f629fab2b1e31e82c414a25a8eee4682f45a0f058d52035",
            ]
        );
    }
}
