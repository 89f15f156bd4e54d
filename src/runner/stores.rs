//! The runner configuration's `secrets.stores`: each store checked as written (its kind's
//! fields and no other kind's, a timeout that reads, an endpoint relinker may send credentials
//! to, a program to run), every problem pinned to its `file:line:col`.

use globset::{Glob, GlobMatcher};

use super::{DeclaredStore, RawStore};
use crate::diagnostic::Diagnostic;
use crate::plan::raw::Text;
use crate::stores::{AwsSource, CommandSource, DEFAULT_TIMEOUT, SourceKind, StoreSource};

/// The stores as declared, each valid one kept; the problems of the others in `problems`.
pub(super) fn declared(raw: Vec<RawStore>, problems: &mut Vec<Diagnostic>) -> Vec<DeclaredStore> {
    let mut out: Vec<DeclaredStore> = Vec::new();
    for (index, store) in raw.into_iter().enumerate() {
        let field = format!("secrets.stores[{index}]");
        let before = problems.len();
        let name = store.name.value.trim().to_owned();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            problems.push(Diagnostic::at(
                store.name.referenced,
                format!("{field}.name"),
                format!("`{name}` is not a store name (letters, digits, `-` and `_`)"),
            ));
        } else if out.iter().any(|s| s.source.name == name) {
            problems.push(Diagnostic::at(
                store.name.referenced,
                format!("{field}.name"),
                format!("store `{name}` is declared twice"),
            ));
        }
        let timeout = timeout(store.timeout.as_ref(), &field, problems);
        let paths = store.paths.as_ref().map(|p| globs(p, &field, problems));
        let kind = match store.kind.value.trim() {
            "aws-secrets-manager" => Some(aws(&store, &field, timeout, problems)),
            "command" => Some(command(&store, &field, timeout, problems)),
            other => {
                problems.push(
                    Diagnostic::at(
                        store.kind.referenced,
                        format!("{field}.kind"),
                        format!("`{other}` is not a kind of store relinker reads"),
                    )
                    .with_hint("`aws-secrets-manager`, or `command` for a program that prints the secret (op, vault, kubectl)"),
                );
                None
            }
        };
        if let Some(kind) = kind
            && problems.len() == before
        {
            out.push(DeclaredStore {
                source: StoreSource { name, kind },
                paths,
            });
        }
    }
    out
}

fn timeout(raw: Option<&Text>, field: &str, problems: &mut Vec<Diagnostic>) -> std::time::Duration {
    let Some(text) = raw else {
        return DEFAULT_TIMEOUT;
    };
    match crate::limits::parse_duration(text.value.trim()) {
        Some(duration) if !duration.is_zero() => duration,
        _ => {
            problems.push(Diagnostic::at(
                text.referenced,
                format!("{field}.timeout"),
                format!("`{}` is not a duration such as 10s or 1m", text.value),
            ));
            DEFAULT_TIMEOUT
        }
    }
}

fn globs(raw: &[Text], field: &str, problems: &mut Vec<Diagnostic>) -> Vec<(String, GlobMatcher)> {
    let mut out = Vec::new();
    for (index, pattern) in raw.iter().enumerate() {
        let text = pattern.value.trim().to_owned();
        match Glob::new(&text) {
            Ok(glob) if !text.is_empty() => out.push((text, glob.compile_matcher())),
            _ => problems.push(Diagnostic::at(
                pattern.referenced,
                format!("{field}.paths[{index}]"),
                format!("`{text}` is not a path pattern (`*` matches any run of characters)"),
            )),
        }
    }
    out
}

/// Refuses each field of `store` that belongs to another kind.
fn foreign_fields(
    fields: &[(&str, Option<serde_saphyr::Location>)],
    field: &str,
    kind: &str,
    problems: &mut Vec<Diagnostic>,
) {
    for (name, at) in fields {
        if let Some(at) = at {
            problems.push(Diagnostic::at(
                *at,
                format!("{field}.{name}"),
                format!("`{name}` is not a field of a `{kind}` store"),
            ));
        }
    }
}

fn aws(
    store: &RawStore,
    field: &str,
    timeout: std::time::Duration,
    problems: &mut Vec<Diagnostic>,
) -> SourceKind {
    let first = |list: &Option<Vec<Text>>| {
        list.as_ref()
            .map(|l| l.first().map_or(store.kind.referenced, |t| t.referenced))
    };
    foreign_fields(
        &[("argv", first(&store.argv)), ("env", first(&store.env))],
        field,
        "aws-secrets-manager",
        problems,
    );
    let endpoint = store.endpoint.as_ref().and_then(|text| {
        crate::endpoint::check_base_url(text.value.trim())
            .map_err(|why| {
                problems.push(Diagnostic::at(
                    text.referenced,
                    format!("{field}.endpoint"),
                    why,
                ));
            })
            .ok()
    });
    let named = |text: &Option<Text>, name: &str, problems: &mut Vec<Diagnostic>| {
        let text = text.as_ref()?;
        let value = text.value.trim();
        if value.is_empty() || value.contains(char::is_whitespace) {
            problems.push(Diagnostic::at(
                text.referenced,
                format!("{field}.{name}"),
                format!("`{value}` is not a {name}"),
            ));
        }
        Some(value.to_owned())
    };
    let region = named(&store.region, "region", problems);
    let profile = named(&store.profile, "profile", problems);
    SourceKind::AwsSecretsManager(AwsSource {
        region,
        profile,
        endpoint,
        timeout,
    })
}

fn command(
    store: &RawStore,
    field: &str,
    timeout: std::time::Duration,
    problems: &mut Vec<Diagnostic>,
) -> SourceKind {
    let at = |t: &Option<Text>| t.as_ref().map(|t| t.referenced);
    foreign_fields(
        &[
            ("region", at(&store.region)),
            ("profile", at(&store.profile)),
            ("endpoint", at(&store.endpoint)),
        ],
        field,
        "command",
        problems,
    );
    let argv: Vec<String> = store
        .argv
        .iter()
        .flatten()
        .map(|t| t.value.clone())
        .collect();
    match argv.first() {
        None => problems.push(
            Diagnostic::at(
                store.kind.referenced,
                format!("{field}.argv"),
                "a `command` store needs `argv`: the program and its arguments",
            )
            .with_hint("such as `argv: [op, read, \"op://{path}\"]`"),
        ),
        Some(program)
            if program.trim().is_empty()
                || program.contains("{path}")
                || program.contains("{key}") =>
        {
            problems.push(Diagnostic::at(
                store.argv.iter().flatten().next().map_or(store.kind.referenced, |t| t.referenced),
                format!("{field}.argv[0]"),
                "the program must be named: a name looked up in `PATH` or an absolute path, never a reference's part",
            ));
        }
        Some(_) => {}
    }
    let mut env = Vec::new();
    for (index, name) in store.env.iter().flatten().enumerate() {
        let value = name.value.trim();
        if value.is_empty() || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            problems.push(Diagnostic::at(
                name.referenced,
                format!("{field}.env[{index}]"),
                format!("`{value}` is not a variable name"),
            ));
        }
        env.push(value.to_owned());
    }
    SourceKind::Command(CommandSource { argv, env, timeout })
}
