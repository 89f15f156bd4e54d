//! How large a copy of a big instance is, and how long it takes to load.
//!
//! Builds a copy of an instance of USERS users exactly as `relinker sandbox --from-live` writes
//! it (the text comes from `fixture_from`): a fifth of the users API-only, each calling on every
//! one of the seven days the usage statistics report (the largest `usage:` a copy can have), one
//! known service per hundred users, 40 roles, 20 workspaces, one to three role pairs per user,
//! a last login for four users in five and an expiry for one in fifty. It writes the copy to a
//! temporary file in each notation `--from-live` writes (YAML, and JSON for `--out FILE.json`)
//! and times what `--sandbox` does with it: read the file (bounded by the fixture cap), tell
//! which platform it seeds, parse and validate it, and seed a sandbox from it.
//!
//! `cargo bench --bench fixture_load [-- USERS...]` (default 10000 20000 50000).

// A test or bench stops at the first thing that is not as expected; the product never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Counts here are far below 2^52, and `main` reads as one scenario.
#![allow(clippy::cast_precision_loss, clippy::too_many_lines)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeZone, Utc};
use relinker::ids::{ServiceName, UserId};
use relinker::input::Kind;
use relinker::provider::marketo::mirror::Mirror;
use relinker::provider::marketo::{
    DailyUsage, RoleInfo, RolePair, UserActivity, UserRecord, WorkspaceInfo,
};
use relinker::rehearsal::fixture_from;
use relinker::sandbox::Notation;
use relinker::sandbox::marketo::{Fixture, Sandbox, SandboxConfig};

const FIRST: [&str; 10] = [
    "Jennifer",
    "Michael",
    "Christopher",
    "Aisha",
    "Olusegun",
    "Marie-Claire",
    "Wei",
    "Alexandra",
    "Jonathan",
    "Priya",
];
const LAST: [&str; 10] = [
    "Abernathy",
    "Okonkwo-Smith",
    "Nguyen",
    "Fitzgerald",
    "Van der Berg",
    "Kowalczyk",
    "Rodriguez",
    "Chen",
    "Montgomery",
    "Patel",
];
const ROLES: u64 = 40;
const WORKSPACES: u64 = 20;

/// The userid of API-only user `i`.
fn integration(i: usize) -> UserId {
    UserId::from_platform(format!("integration.{i}@123-abc-456.mktoapi.com"))
}

/// A mirror of an instance of `users` users, as `--from-live` reads one.
fn mirror(users: usize, today: NaiveDate) -> Mirror {
    let api_only = users / 5;
    let services = users / 100;
    let admin = UserId::from_platform("relinker.admin@123-abc-456.mktoapi.com");
    let mut roles = vec![RoleInfo {
        id: 101,
        name: "Admin".into(),
        description: "Access to all features".into(),
        kind: "system".into(),
        only_all_zones: true,
    }];
    roles.extend((0..ROLES).map(|r| RoleInfo {
        id: 1000 + r,
        name: format!("Marketing operations role {r}"),
        description: format!("Role {r} of the marketing operations team"),
        kind: "custom".into(),
        only_all_zones: false,
    }));
    let workspaces = (1..=WORKSPACES)
        .map(|w| WorkspaceInfo {
            id: w,
            name: format!("Workspace {w} EMEA"),
            description: format!("Regional workspace {w}"),
        })
        .collect();
    let login = Utc.with_ymd_and_hms(2026, 11, 30, 9, 15, 0).single();
    let expiry = Utc.with_ymd_and_hms(2027, 6, 30, 0, 0, 0).single();
    let mut all = vec![UserActivity {
        record: UserRecord {
            userid: admin.clone(),
            email: "it-ops@acme-corporation.example".into(),
            first_name: "Relinker".into(),
            last_name: "Admin".into(),
            api_only: true,
            roles: vec![RolePair {
                role_id: 101,
                workspace_id: 0,
            }],
            expires_at: None,
        },
        last_login_at: login,
    }];
    for i in 0..users {
        let (first, last) = (FIRST[i % 10], LAST[(i / 10) % 10]);
        let mailbox = format!(
            "{}.{}{i}@acme-corporation.example",
            first.to_lowercase(),
            last.to_lowercase().replace(' ', "")
        );
        let userid = if i < api_only {
            integration(i)
        } else {
            UserId::from_platform(mailbox.clone())
        };
        let roles = (0..=i % 3)
            .map(|k| RolePair {
                role_id: 1000 + ((i + k) as u64 % ROLES),
                workspace_id: 1 + ((i + k) as u64 % WORKSPACES),
            })
            .collect();
        all.push(UserActivity {
            record: UserRecord {
                userid,
                email: mailbox,
                first_name: first.into(),
                last_name: last.into(),
                api_only: i < api_only,
                roles,
                expires_at: expiry.filter(|_| i % 50 == 0),
            },
            last_login_at: login.filter(|_| i % 5 != 0),
        });
    }
    all.sort_by(|a, b| a.record.userid.cmp(&b.record.userid));
    let usage = (0..7)
        .map(|back| DailyUsage {
            date: today - chrono::Duration::days(back),
            calls: (0..api_only)
                .map(|i| (integration(i), 1000 + i as u64))
                .collect(),
        })
        .collect();
    Mirror {
        roles,
        workspaces,
        users: all,
        admin: (ServiceName::new("relinker-admin"), admin),
        services: (0..services)
            .map(|s| {
                (
                    ServiceName::new(format!("integration-service-{s}")),
                    integration(s),
                )
            })
            .collect::<BTreeMap<_, _>>(),
        usage,
        warnings: Vec::new(),
    }
}

/// Bytes of each top-level section of a fixture's text.
fn sections(text: &str) -> BTreeMap<String, usize> {
    let mut sizes = BTreeMap::new();
    let mut current = String::from("(header)");
    for line in text.split_inclusive('\n') {
        if let Some(key) = line
            .strip_suffix(":\n")
            .filter(|k| !k.starts_with([' ', '#']))
        {
            key.clone_into(&mut current);
        }
        *sizes.entry(current.clone()).or_default() += line.len();
    }
    sizes
}

/// The process's peak resident memory since it was last reset, in MiB (Linux only).
fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Resets the peak resident memory to what is resident now (Linux only).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// One notation's copy of one instance, loaded as `--sandbox` loads it.
struct Row {
    users: usize,
    notation: Notation,
    bytes: usize,
    read: f64,
    sniff: f64,
    parse: f64,
    seed: f64,
    peak: Option<f64>,
}

/// Loads `path` `runs` times: the median of each stage, and the peak memory of the last load.
fn load(path: &Path, runs: usize) -> (f64, f64, f64, f64, Option<f64>) {
    let mut read = Vec::new();
    let mut sniff = Vec::new();
    let mut parse = Vec::new();
    let mut seed = Vec::new();
    let mut peak = None;
    let name = path.display().to_string();
    for run in 0..runs {
        let measured = run == runs - 1 && reset_peak();
        let started = Instant::now();
        let loaded = relinker::sandbox::fixture_text(path).expect("read the copy");
        read.push(started.elapsed());
        let started = Instant::now();
        let provider = relinker::sandbox::provider_of(&loaded, &name).expect("provider");
        sniff.push(started.elapsed());
        assert_eq!(provider, "marketo");
        let started = Instant::now();
        let fixture = Fixture::parse(&loaded, &name).expect("the copy loads");
        parse.push(started.elapsed());
        let started = Instant::now();
        let sandbox = Sandbox::new(SandboxConfig::default(), &fixture);
        seed.push(started.elapsed());
        if measured {
            peak = peak_mib();
        }
        drop((sandbox, fixture, loaded));
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        ms(times[times.len() / 2])
    };
    (
        median(&mut read),
        median(&mut sniff),
        median(&mut parse),
        median(&mut seed),
        peak,
    )
}

/// What the YAML copy of `users` users is made of, section by section.
fn describe(users: usize, text: &str) {
    let sizes = sections(text);
    let bytes = text.len();
    let limit = Kind::Fixture.limit();
    println!(
        "instance                {users} users + relinker's admin ({} API-only, each calling on 7 days), {} known services, {} roles, {WORKSPACES} workspaces",
        users / 5,
        users / 100,
        ROLES + 1
    );
    println!(
        "YAML copy               {bytes} bytes ({:.1} MiB), {:.0} bytes per user all told; the fixture cap is {} MiB ({:.1}x this copy)",
        bytes as f64 / 1_048_576.0,
        bytes as f64 / users as f64,
        limit / 1_048_576,
        limit as f64 / bytes as f64
    );
    let users_bytes = sizes.get("users").copied().unwrap_or(0);
    let usage_bytes = sizes.get("usage").copied().unwrap_or(0);
    println!(
        "  users:                {users_bytes} bytes, {:.0} per user",
        users_bytes as f64 / (users + 1) as f64
    );
    println!(
        "  usage:                {usage_bytes} bytes, {:.0} per API-only user ({:.0} per day)",
        usage_bytes as f64 / (users / 5).max(1) as f64,
        usage_bytes as f64 / (users / 5).max(1) as f64 / 7.0
    );
    for (section, size) in &sizes {
        if section != "users" && section != "usage" {
            println!("  {section}: {size} bytes");
        }
    }
}

fn main() {
    let mut sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if sizes.is_empty() {
        sizes = vec![10_000, 20_000, 50_000];
    }
    let today = NaiveDate::from_ymd_opt(2026, 12, 7).expect("date");
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = 5;
    let mut rows = Vec::new();
    for &users in &sizes {
        let copies = {
            let mirror = mirror(users, today);
            [Notation::Yaml, Notation::Json].map(|notation| {
                let (text, left_out) = fixture_from(&mirror, "`the benchmark`", today, notation);
                assert!(left_out.is_empty(), "{left_out:?}");
                (notation, text)
            })
        };
        describe(users, &copies[0].1);
        for (notation, text) in copies {
            let extension = match notation {
                Notation::Yaml => "yaml",
                Notation::Json => "json",
            };
            let path = dir.path().join(format!("copy-{users}.{extension}"));
            std::fs::write(&path, &text).expect("write the copy");
            let bytes = text.len();
            drop(text);
            let (read, sniff, parse, seed, peak) = load(&path, runs);
            std::fs::remove_file(&path).expect("remove the copy");
            rows.push(Row {
                users,
                notation,
                bytes,
                read,
                sniff,
                parse,
                seed,
                peak,
            });
        }
    }
    println!();
    println!(
        "median of {runs} loads (ms); peak resident memory during the last load (MiB; needs Linux's /proc)"
    );
    println!(
        "{:>7} {:<5} {:>9} {:>7} {:>9} {:>10} {:>7} {:>9} {:>6}",
        "users", "", "copy MiB", "read", "platform", "parse+val", "seed", "total", "peak"
    );
    for row in rows {
        println!(
            "{:>7} {:<5} {:>9.1} {:>7.1} {:>9.1} {:>10.1} {:>7.1} {:>9.1} {:>6}",
            row.users,
            match row.notation {
                Notation::Yaml => "YAML",
                Notation::Json => "JSON",
            },
            row.bytes as f64 / 1_048_576.0,
            row.read,
            row.sniff,
            row.parse,
            row.seed,
            row.read + row.sniff + row.parse + row.seed,
            row.peak
                .map_or_else(|| "-".to_owned(), |mib| format!("{mib:.0}")),
        );
    }
}
