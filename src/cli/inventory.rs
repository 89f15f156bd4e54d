//! `relinker inventory PLAN_OR_CONFIG [--format text|markdown|json|csv]`: every API-only user
//! of a Marketo instance, with its email, roles, the known services linked to it, and its calls
//! in the last 7 days. Reads only.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, ValueEnum};

use super::exit::{Failure, OrExit, Outcome};
use super::run::{RetryArgs, say};
use super::target;
use crate::provider::marketo::inventory::{ApiUser, Inventory, inventory};
use crate::provider::marketo::resolve_credentials;
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
}

/// Reads the instance and prints the inventory.
pub async fn run(args: &InventoryArgs) -> Result<Outcome, Failure> {
    let (instance, services, base_dir) = target::marketo_source(&args.source, "inventory")?;
    // Nothing here records a fingerprint: a fresh fingerprinter serves.
    let credentials = resolve_credentials(&instance, &services, &base_dir, &Fingerprinter::fresh())
        .or_invalid_input()?;
    let client = target::marketo_client(
        &instance,
        &instance.base_url,
        &credentials,
        args.retry.policy(),
    )?;
    let found = inventory(&client, &credentials)
        .await
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
    let mut write = |record: &[&str]| writer.write_record(record).or_failed();
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
