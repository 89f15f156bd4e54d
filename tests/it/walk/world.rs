//! The worlds a walk runs in: each platform's sandbox, plan and secrets; what its state is made
//! of (facts read from `/_sandbox/state`); what each step of its plan changes; and what a person
//! can do there through the control API. The driver and the invariants know a platform only
//! through this module, so a new world is a new `Spec` and a few match arms here.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};

mod dotdigital;
mod marketo;
mod movius;
mod secrets;

pub(super) use secrets::{Credential, SecretChange};

use crate::harness::{ACME, POLICY, RENAME, Relinker, TestSandbox, Workspace};
use crate::pg::TestPostgres;
use relinker::sandbox::marketo::SandboxConfig;

/// A world's state as the invariants see it: fact name -> value.
pub(super) type Facts = BTreeMap<&'static str, String>;

/// The rotation a world's plan makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Procedure {
    /// Marketo: rename `jane.doe` through a temporary user (plans/examples/rename-api-user.yaml).
    MarketoRename,
    /// dotdigital: replace the user two integrations share (tests/it/dotdigital.rs).
    DotdigitalReplace,
    /// Movius: replace Jane's API user by a new one (tests/it/movius.rs).
    MoviusReplace,
    /// Movius: a new email on Jane's API user.
    MoviusRename,
}

/// One world: a platform, the reading its sandbox plays, and how many seeds the short walk
/// (plain `cargo test`) gives it.
pub(super) struct Spec {
    pub name: &'static str,
    pub procedure: Procedure,
    /// Marketo readings (docs/sandbox.md, "Behaviours") the sandbox plays.
    pub readings: &'static [&'static str],
    /// Runs are kept in a PostgreSQL server of the walk's own, which restarts at times.
    pub postgres: bool,
    pub short_seeds: u64,
}

/// Every world. The short walk weighs the non-default Marketo readings and the platforms where
/// issue 24 found defects; the long walk gives each the same number of seeds.
pub(super) const WORLDS: [Spec; 9] = [
    Spec {
        name: "marketo",
        procedure: Procedure::MarketoRename,
        readings: &[],
        postgres: false,
        short_seeds: 2,
    },
    Spec {
        name: "marketo-pg",
        procedure: Procedure::MarketoRename,
        readings: &[],
        postgres: true,
        short_seeds: 1,
    },
    Spec {
        name: "marketo-pending",
        procedure: Procedure::MarketoRename,
        readings: &["api-only-invitations=pending"],
        postgres: false,
        short_seeds: 2,
    },
    Spec {
        name: "marketo-minted",
        procedure: Procedure::MarketoRename,
        readings: &["token-scope-after-relink=minted"],
        postgres: false,
        short_seeds: 2,
    },
    Spec {
        name: "marketo-minted-603",
        procedure: Procedure::MarketoRename,
        readings: &["token-scope-after-relink=minted", "linked-user-edit=603"],
        postgres: false,
        short_seeds: 2,
    },
    Spec {
        name: "marketo-revoked",
        procedure: Procedure::MarketoRename,
        readings: &["token-scope-after-relink=revoked"],
        postgres: false,
        short_seeds: 1,
    },
    Spec {
        name: "dotdigital",
        procedure: Procedure::DotdigitalReplace,
        readings: &[],
        postgres: false,
        short_seeds: 3,
    },
    Spec {
        name: "movius",
        procedure: Procedure::MoviusReplace,
        readings: &[],
        postgres: false,
        short_seeds: 2,
    },
    Spec {
        name: "movius-rename",
        procedure: Procedure::MoviusRename,
        readings: &[],
        postgres: false,
        short_seeds: 1,
    },
];

/// What a step changes in the world: `fact` goes from `before` to one of `after`.
pub(super) struct Change {
    pub fact: &'static str,
    pub before: &'static str,
    pub after: &'static [&'static str],
}

/// A step of a world's plan, as the walk models it.
pub(super) struct StepModel {
    pub id: &'static str,
    pub changes: &'static [Change],
    /// A person can bring its effect about (or reverse it) through the control API.
    pub by_person: bool,
}

const fn step(id: &'static str, changes: &'static [Change], by_person: bool) -> StepModel {
    StepModel {
        id,
        changes,
        by_person,
    }
}

const fn change(
    fact: &'static str,
    before: &'static str,
    after: &'static [&'static str],
) -> Change {
    Change {
        fact,
        before,
        after,
    }
}

// ---- dotdigital ----

// ---- Movius ----

// ---- Marketo ----

/// A world being walked: its sandbox, its workspace, and what the walk's people changed
/// about the secrets the plan reads.
pub(super) struct Site {
    pub spec: &'static Spec,
    pub sandbox: TestSandbox,
    pub work: Workspace,
    /// Variables set (or, when `None`, removed) for every relinker command, over the harness's.
    env: BTreeMap<&'static str, Option<String>>,
    credential: Credential,
    /// Users the walk's person created or added (dotdigital, Movius): the platform names them.
    made: usize,
    /// The Marketo roles of Jane's user at the start, in the state dump's words.
    jane_roles: String,
    /// The state store, when it is PostgreSQL.
    pub pg: Option<TestPostgres>,
}

impl Site {
    /// The world, ready to walk; `None` when it needs PostgreSQL and the server binaries are
    /// not installed (outside CI: `TestPostgres` says so).
    pub async fn start(spec: &'static Spec) -> Option<Self> {
        let pg = if spec.postgres {
            Some(TestPostgres::start().await?)
        } else {
            None
        };
        let sandbox = match spec.procedure {
            Procedure::MarketoRename => {
                let config = SandboxConfig {
                    behaviours: spec
                        .readings
                        .iter()
                        .map(|r| r.parse().expect("a known reading"))
                        .collect(),
                    ..SandboxConfig::default()
                };
                TestSandbox::with(ACME, config).await
            }
            Procedure::DotdigitalReplace => {
                let fixture =
                    relinker::sandbox::dotdigital::Fixture::parse(dotdigital::FIXTURE, "walk")
                        .expect("walk fixture");
                TestSandbox::serve(relinker::sandbox::dotdigital::Sandbox::new(&fixture)).await
            }
            Procedure::MoviusReplace | Procedure::MoviusRename => {
                let fixture = relinker::sandbox::movius::Fixture::parse(movius::FIXTURE, "walk")
                    .expect("walk fixture");
                TestSandbox::serve(relinker::sandbox::movius::Sandbox::new(&fixture)).await
            }
        };
        let base = sandbox.handle.base_url();
        let work = match spec.procedure {
            Procedure::MarketoRename => Workspace::new(&sandbox, RENAME, POLICY),
            Procedure::DotdigitalReplace => Workspace::with_files(
                &dotdigital::plan(&base),
                &[("new.password", dotdigital::NEW_PASSWORD)],
            ),
            Procedure::MoviusReplace | Procedure::MoviusRename => Workspace::with_files(
                &movius::plan(&base, spec.procedure),
                &[("new.password", movius::NEW_PASSWORD)],
            ),
        }
        .with_state(pg.as_ref().map(TestPostgres::url).as_deref());
        let mut env = BTreeMap::new();
        match spec.procedure {
            Procedure::MarketoRename => {}
            Procedure::DotdigitalReplace => {
                env.insert("DD_OLD", Some(dotdigital::OLD_PASSWORD.to_owned()));
            }
            Procedure::MoviusReplace | Procedure::MoviusRename => {
                env.insert("MV_OLD", Some(movius::OLD_PASSWORD.to_owned()));
            }
        }
        let state = sandbox.state().await;
        let jane_roles = marketo::jane_roles(&state);
        Some(Self {
            spec,
            sandbox,
            work,
            env,
            credential: Credential::Right,
            made: 0,
            jane_roles,
            pg,
        })
    }

    /// The database restarts: every session (and the advisory locks it holds) ends.
    pub async fn restart_database(&mut self) -> String {
        match self.pg.as_mut() {
            Some(pg) => {
                pg.stop();
                pg.restart().await;
                "restarted".into()
            }
            None => "no database".into(),
        }
    }

    /// Everything the state store holds, as text.
    pub async fn stored(&self) -> String {
        match &self.pg {
            Some(pg) => pg.dump().await,
            None => self.work.state_files(),
        }
    }

    pub fn steps(&self) -> &'static [StepModel] {
        match self.spec.procedure {
            Procedure::MarketoRename => &marketo::STEPS,
            Procedure::DotdigitalReplace => &dotdigital::STEPS,
            Procedure::MoviusReplace => &movius::STEPS,
            Procedure::MoviusRename => &movius::RENAME_STEPS,
        }
    }

    pub fn model(&self, id: &str) -> Option<&'static StepModel> {
        self.steps().iter().find(|s| s.id == id)
    }

    /// The planned end state, fact by fact (facts not named keep their value from the start).
    pub fn planned(&self) -> &'static [(&'static str, &'static str)] {
        match self.spec.procedure {
            Procedure::MarketoRename => &marketo::PLANNED,
            Procedure::DotdigitalReplace => &dotdigital::PLANNED,
            Procedure::MoviusReplace => &movius::PLANNED,
            Procedure::MoviusRename => &movius::RENAMED,
        }
    }

    /// What a rotation's verification (its pivot) proves, fact by fact.
    pub fn verified(&self) -> &'static [(&'static str, &'static str)] {
        match self.spec.procedure {
            Procedure::MarketoRename => &marketo::VERIFIED,
            Procedure::DotdigitalReplace => &dotdigital::VERIFIED,
            Procedure::MoviusReplace => &movius::VERIFIED,
            Procedure::MoviusRename => &[],
        }
    }

    /// What relinker can observe of a fact's value: two values it cannot tell apart read the
    /// same. Used for facts a person changed behind the run's back, where only what relinker
    /// could have seen may be held against it.
    pub fn observed(&self, fact: &str, value: &str) -> String {
        let unobservable = match self.spec.procedure {
            Procedure::MarketoRename => false,
            Procedure::DotdigitalReplace => {
                // relinker knows the new user only by the name the plan's reference gives.
                let known = fact == "old" || self.credential == Credential::Right;
                if (fact == "old" || fact == "new") && known {
                    return if value == "enabled" {
                        "authenticates".into()
                    } else {
                        "refused".into()
                    };
                }
                fact == "int:crm-connector" || fact == "new"
            }
            Procedure::MoviusReplace | Procedure::MoviusRename => {
                fact != "int:salesforce" && fact != "others"
            }
        };
        if unobservable {
            "(unobservable)".into()
        } else {
            value.to_owned()
        }
    }

    /// Sentences relinker prints about the world, each a fact it claims: (phrase, fact, a
    /// value that reads as relinker claims).
    pub fn phrases(&self) -> &'static [(&'static str, &'static str, &'static str)] {
        match self.spec.procedure {
            Procedure::DotdigitalReplace => &[("refuses the old credential", "old", "disabled")],
            _ => &[],
        }
    }

    /// relinker in the workspace, with the walk's secrets.
    pub fn relinker(&self, args: &[&str]) -> Relinker {
        let mut command = self.work.relinker(args);
        for (name, value) in &self.env {
            command = match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        match self.new_username() {
            Some((name, value)) => command.env(name, value),
            None => command,
        }
    }

    /// The world's facts, read now.
    pub async fn facts(&mut self) -> Facts {
        let state = self.sandbox.state().await;
        self.count_made(&state);
        match self.spec.procedure {
            Procedure::MarketoRename => marketo::facts(self, &state),
            Procedure::DotdigitalReplace => dotdigital::facts(self, &state),
            Procedure::MoviusReplace => movius::facts(&state),
            Procedure::MoviusRename => movius::rename_facts(&state),
        }
    }

    /// The platform names the users a person makes in order: the last one seen is the one
    /// the run should use, whoever made it (the walk's person or the sandbox operator).
    fn count_made(&mut self, state: &Value) {
        let (names, field): (&[&str], &str) = match self.spec.procedure {
            Procedure::DotdigitalReplace => (&dotdigital::NEXT, "username"),
            Procedure::MoviusReplace => (&movius::NEXT, "username"),
            Procedure::MarketoRename | Procedure::MoviusRename => return,
        };
        for user in state["api_users"].as_array().into_iter().flatten() {
            if let Some(at) = names.iter().position(|n| same(&user[field], n)) {
                self.made = self.made.max(at + 1);
            }
        }
    }

    /// A person brings a step's effect about in the UI (`undo`: reverses it). Answers what the
    /// person did, or why they could not.
    pub async fn person(&self, id: &str, undo: bool) -> String {
        match self.spec.procedure {
            Procedure::MarketoRename => marketo::person(self, id, undo).await,
            Procedure::DotdigitalReplace => dotdigital::person(self, id, undo).await,
            Procedure::MoviusReplace | Procedure::MoviusRename => {
                movius::person(self, id, undo).await
            }
        }
    }

    /// Time passes on the instance: one token lifetime (Marketo shows a relink by then).
    pub async fn time_passes(&self) -> String {
        self.post("/_sandbox/clock", Some(json!({"advance_secs": 3600})))
            .await
    }

    async fn post(&self, path: &str, body: Option<Value>) -> String {
        let mut request = self.sandbox.http.post(self.sandbox.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request).await
    }

    async fn delete(&self, path: &str) -> String {
        answer(
            self.sandbox
                .http
                .request(Method::DELETE, self.sandbox.url(path)),
        )
        .await
    }
}

async fn answer(request: reqwest::RequestBuilder) -> String {
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
            short(status, &body)
        }
        Err(error) => format!("failed: {error}"),
    }
}

fn short(status: u16, body: &Value) -> String {
    let text = match body {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text: String = text.chars().take(120).collect();
    format!("{status} {text}").trim_end().to_owned()
}

fn same(value: &Value, userid: &str) -> bool {
    value
        .as_str()
        .is_some_and(|v| v.eq_ignore_ascii_case(userid))
}
