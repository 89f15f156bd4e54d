//! `relinker inventory PLAN_OR_CONFIG [--format text|markdown|json|csv]`: every API-only user
//! of a Marketo instance, with its email, roles, the known services linked to it, and its calls
//! in the last 7 days. Reads only. The CSV is safe to open in a spreadsheet: no cell is read
//! as a formula (OWASP's CSV injection rule), whatever an instance's users are called.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, ValueEnum};

use super::exit::{Failure, OrExit, Outcome};
use super::run::{RetryArgs, say};
use super::target;
use crate::provider::marketo::inventory::{ApiUser, Inventory, inventory};
use crate::provider::marketo::{Api as _, resolve_credentials};
use crate::secret::Fingerprinter;

/// Output format of `inventory`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum InventoryFormat {
    /// Aligned columns, for a terminal.
    #[default]
    Text,
    /// A table, for a pull request or a wiki.
    Markdown,
    /// For machines.
    Json,
    /// For a spreadsheet.
    Csv,
}

/// Options of `relinker inventory`.
#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// A Marketo plan, or an offboarding config: its instance and the services it knows.
    #[arg(value_name = "PLAN_OR_CONFIG")]
    source: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = InventoryFormat::Text)]
    format: InventoryFormat,
    #[command(flatten)]
    retry: RetryArgs,
    #[command(flatten)]
    quota: super::reading::QuotaArgs,
    #[command(flatten)]
    runner: super::trust::RunnerArgs,
}

/// Reads the instance and prints the inventory.
pub async fn run(args: &InventoryArgs) -> Result<Outcome, Failure> {
    let (instance, services, base_dir) =
        target::marketo_source(&args.source, "inventory", &args.runner)?;
    // Nothing here records a fingerprint: a fresh fingerprinter serves.
    let credentials = resolve_credentials(&instance, &services, &base_dir, &Fingerprinter::fresh())
        .or_invalid_input()?;
    let client = target::marketo_client(
        &instance,
        &instance.base_url,
        &credentials,
        args.retry.policy(),
    )?;
    let listing = client
        .all_users()
        .await
        .map_err(|error| anyhow!("cannot read the instance: {error}"))
        .or_failed()?;
    // One read per API-only user, one per known service, the usage statistics.
    let api_only = listing.iter().filter(|user| user.api_only).count();
    let calls = u64::try_from(api_only + services.len() + 1).unwrap_or(u64::MAX);
    super::reading::weigh(&client, calls, instance.daily_quota, &args.quota).await?;
    let tally = std::sync::Arc::new(crate::provider::ReadTally::new());
    let reading = super::reading::start(
        "API-only users",
        std::sync::Arc::clone(&tally),
        &client,
        instance.daily_quota,
    );
    let found = inventory(&client, &credentials, &listing, &tally).await;
    reading.finish();
    let found = found
        .map_err(|error| anyhow!("cannot read the instance: {error}"))
        .or_failed()?;
    for warning in &found.warnings {
        super::output::warn(&format!("warning: {warning}"));
    }
    say(match args.format {
        InventoryFormat::Text => text(&found),
        InventoryFormat::Markdown => markdown(&found),
        InventoryFormat::Json => serde_json::to_string_pretty(&serde_json::json!({
            "format_version": 1,
            "users": found.users,
            "warnings": found.warnings,
        }))
        .unwrap_or_default(),
        InventoryFormat::Csv => csv(&found)?,
    }
    .trim_end());
    Ok(Outcome::Success)
}

fn text(found: &Inventory) -> String {
    let width = found
        .users
        .iter()
        .map(|u| u.userid.as_str().len())
        .max()
        .unwrap_or(6)
        .max(6);
    let mut out = format!(
        "{} API-only users\n{:<width$}  {:>5}  services / roles\n",
        found.users.len(),
        "userid",
        "calls"
    );
    for user in &found.users {
        let _ = writeln!(
            out,
            "{:<width$}  {:>5}  {}\n{:<width$}         roles: {}; email: {}; last login: {}",
            user.userid.as_str(),
            calls(user.calls_last_7_days),
            listed(&user.services, "no known service"),
            "",
            listed(&user.roles, "none"),
            user.email,
            last_login(user)
        );
    }
    out
}

fn markdown(found: &Inventory) -> String {
    let mut out = format!(
        "### API-only users ({})\n\n| userid | email | roles | services | calls, last 7 days | last login |\n|---|---|---|---|---|---|\n",
        found.users.len()
    );
    for user in &found.users {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} |",
            user.userid,
            user.email.replace('|', "\\|"),
            listed(&user.roles, "none").replace('|', "\\|"),
            listed(&user.services, "—").replace('|', "\\|"),
            calls(user.calls_last_7_days),
            last_login(user)
        );
    }
    out
}

fn csv(found: &Inventory) -> Result<String, Failure> {
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    let mut write = |record: &[&str]| {
        writer
            .write_record(
                record
                    .iter()
                    .map(|cell| spreadsheet_safe(cell).into_owned()),
            )
            .or_failed()
    };
    write(&[
        "userid",
        "email",
        "roles",
        "services",
        "calls_last_7_days",
        "last_login_at",
    ])?;
    for user in &found.users {
        let calls = user
            .calls_last_7_days
            .map(|c| c.to_string())
            .unwrap_or_default();
        write(&[
            user.userid.as_str(),
            &user.email,
            &user.roles.join("; "),
            &user.services.join("; "),
            &calls,
            &user
                .last_login_at
                .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
        ])?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| anyhow!("{e}"))
        .or_failed()?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A cell a spreadsheet shows as text: one starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return would be read as a formula (a user named `=HYPERLINK(..)` by whoever can
/// create users), so it gets a leading `'`, as OWASP's CSV injection rule says.
fn spreadsheet_safe(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

fn listed(items: &[String], none: &str) -> String {
    if items.is_empty() {
        none.to_owned()
    } else {
        items.join(", ")
    }
}

/// The last login to the minute, in UTC; "never" for a user who never logged in.
fn last_login(user: &ApiUser) -> String {
    user.last_login_at.map_or_else(
        || "never".to_owned(),
        |at| at.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

fn calls(calls: Option<u64>) -> String {
    calls.map_or_else(|| "?".to_owned(), |c| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn safe(cell: &str, shown: &str) {
        assert_eq!(spreadsheet_safe(cell), shown, "{cell:?}");
    }

    #[test]
    fn no_cell_is_read_as_a_formula() {
        safe(
            "=HYPERLINK(\"https://x.example\")",
            "'=HYPERLINK(\"https://x.example\")",
        );
        safe("+1", "'+1");
        safe("-2+3", "'-2+3");
        safe("@SUM(A1)", "'@SUM(A1)");
        safe("\t=1", "'\t=1");
        safe("\r=1", "'\r=1");
        safe("jane.doe@acme.example", "jane.doe@acme.example");
        safe("a=b", "a=b");
        safe("", "");
        safe("12", "12");
    }

    #[test]
    fn the_csv_escapes_every_cell() {
        let found = Inventory {
            users: vec![ApiUser {
                userid: crate::ids::UserId::from_platform("=cmd@acme.example"),
                email: "@evil".into(),
                roles: vec!["+Admin".into()],
                services: vec!["-svc".into()],
                calls_last_7_days: Some(3),
                last_login_at: None,
            }],
            warnings: vec![],
        };
        let text = csv(&found).unwrap();
        assert_eq!(
            text.lines().nth(1),
            Some("'=cmd@acme.example,'@evil,'+Admin,'-svc,3,")
        );
    }
}
