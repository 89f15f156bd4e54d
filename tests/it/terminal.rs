//! The binary on a pseudo-terminal, as a person at a terminal sees it: the screen is rendered
//! by a terminal emulator (vt100), so what is asserted is what stays visible, after every bar
//! and spinner redrew and cleared itself.

use std::num::NonZeroU16;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::harness::{ENV, POLICY, RENAME, TestSandbox, Workspace};

const ROWS: NonZeroU16 = NonZeroU16::new(60).unwrap();
const COLS: NonZeroU16 = NonZeroU16::new(200).unwrap();

/// relinker running on a pseudo-terminal; killed when dropped.
struct Terminal {
    pty: pty_process::Pty,
    child: tokio::process::Child,
    screen: vt100::Parser,
    exited: bool,
}

impl Terminal {
    fn spawn(work: &Workspace, args: &[&str]) -> Self {
        Self::spawn_with(work, args, &[])
    }

    /// As [`Terminal::spawn`], with these environment variables too.
    fn spawn_with(work: &Workspace, args: &[&str], env: &[(&str, &str)]) -> Self {
        let (pty, pts) = pty_process::open().expect("open a pty");
        pty.resize(pty_process::Size::new(ROWS.get(), COLS.get()))
            .expect("size the pty");
        let mut command = pty_process::Command::new(env!("CARGO_BIN_EXE_relinker"))
            .args(args)
            .current_dir(work.path())
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .env("RELINKER_STATE_DIR", "state")
            .env("TERM", "xterm-256color")
            .kill_on_drop(true);
        for (name, value) in ENV.iter().chain(env) {
            command = command.env(name, value);
        }
        let child = command.spawn(pts).expect("spawn relinker on the pty");
        Self {
            pty,
            child,
            screen: vt100::Parser::new(ROWS, COLS, 0),
            exited: false,
        }
    }

    /// Whether any character on the screen is drawn in a colour.
    fn coloured(&self) -> bool {
        let screen = self.screen.screen();
        let (rows, cols) = screen.size();
        (0..rows.get()).any(|row| {
            (0..cols.get()).any(|col| {
                screen
                    .cell(row, col)
                    .is_some_and(|cell| cell.fgcolor() != vt100::Color::Default)
            })
        })
    }

    /// The row of the screen that shows `needle` (rows, not lines: a line as wide as the
    /// terminal runs on into the next row in `contents`).
    fn row_with(&self, needle: &str) -> String {
        self.screen
            .screen()
            .rows(0, COLS.get())
            .find(|row| row.contains(needle))
            .unwrap_or_else(|| panic!("no row shows `{needle}`:\n{}", self.contents()))
    }

    /// What the terminal shows now.
    fn contents(&self) -> String {
        self.screen.screen().contents()
    }

    /// Reads what relinker wrote next, waiting until `deadline`; `what` says what was awaited
    /// when it never comes.
    async fn read_more(&mut self, deadline: tokio::time::Instant, what: &str) {
        let mut buffer = [0u8; 4096];
        let read = tokio::time::timeout_at(deadline, self.pty.read(&mut buffer))
            .await
            .unwrap_or_else(|_elapsed| panic!("{what}:\n{}", self.contents()));
        match read {
            // A pty whose other end closed reads 0 or fails with EIO.
            Ok(0) | Err(_) => self.exited = true,
            Ok(n) => {
                self.screen.process(&buffer[..n]);
            }
        }
    }

    /// Reads output until the screen shows `needle`; panics with the screen after `within`.
    async fn shows(&mut self, needle: &str, within: Duration) -> String {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let contents = self.contents();
            if contents.contains(needle) {
                return contents;
            }
            assert!(
                !self.exited,
                "relinker ended before showing `{needle}`:\n{contents}"
            );
            self.read_more(deadline, &format!("the screen never showed `{needle}`"))
                .await;
        }
    }

    async fn type_line(&mut self, line: &str) {
        self.pty
            .write_all(format!("{line}\r").as_bytes())
            .await
            .expect("type on the pty");
    }

    /// Whether the terminal echoes what is typed.
    fn echoes(&self) -> bool {
        rustix::termios::tcgetattr(&self.pty)
            .expect("the pty's modes")
            .local_modes
            .contains(rustix::termios::LocalModes::ECHO)
    }

    /// Reads to the end and returns the exit code and the final screen.
    async fn finish(&mut self) -> (Option<i32>, String) {
        let deadline = tokio::time::Instant::now() + Duration::from_mins(1);
        while !self.exited {
            self.read_more(deadline, "relinker did not end").await;
        }
        let status = self.child.wait().await.expect("wait for relinker");
        (status.code(), self.contents())
    }
}

/// A person links both services of the rename to `userid` in the UI.
async fn links_both(sandbox: &TestSandbox, userid: &str) {
    for service in ["salesforce-sync", "reporting-export"] {
        sandbox.person_links(service, userid).await;
    }
}

#[tokio::test]
async fn waiting_for_a_person_shows_a_spinner_with_what_it_saw_and_clears_it() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let mut terminal = Terminal::spawn(&work, &["apply", "plan.yaml", "--yes"]);

    // Both services must be linked to the temporary user by a person, in one sitting.
    let waiting = terminal.shows("last check", Duration::from_mins(1)).await;
    assert!(
        waiting.contains("a person must do these 2 steps in the platform's UI, in one sitting"),
        "{waiting}"
    );
    let spinner = terminal.row_with("last check");
    assert!(spinner.contains("waiting "), "{spinner}");
    assert!(spinner.contains("(every 2 s)"), "{spinner}");
    assert!(
        spinner.contains("is linked to `jane.doe@acme.example`"),
        "what the last look saw: {spinner}"
    );
    assert!(
        waiting.contains("press Enter to check again now"),
        "{waiting}"
    );
    assert!(
        !terminal.echoes(),
        "keys are not echoed under the bars while waiting"
    );
    // While nobody moves, the steps bar's clock goes on (it stayed at `0s` once).
    terminal.shows("/8 steps 3s", Duration::from_secs(30)).await;

    // The person links one service: the next look sees the other still waiting.
    sandbox
        .person_links("salesforce-sync", "relinker-temp@acme.example")
        .await;
    terminal.type_line("").await;
    terminal
        .shows(
            "r0-link-salesforce-sync-to-temporary-user: done",
            Duration::from_secs(30),
        )
        .await;
    // The next look names only the step still waiting.
    terminal
        .shows(
            "(every 2 s): r0-link-reporting-export-to-temporary-user: `reporting-export` is linked to `jane.doe@acme.example`",
            Duration::from_secs(30),
        )
        .await;
    let spinner = terminal.row_with("last check");
    assert!(spinner.contains(" waiting "), "{spinner}");
    assert!(!spinner.contains("salesforce-sync"), "{spinner}");
    sandbox
        .person_links("reporting-export", "relinker-temp@acme.example")
        .await;
    terminal.type_line("").await;

    // Then the links back: the person does them too, and the run ends.
    terminal
        .shows(
            "manual (r0-link-reporting-export-back)",
            Duration::from_mins(1),
        )
        .await;
    terminal.shows("last check", Duration::from_secs(30)).await;
    links_both(&sandbox, "jane.doe@acme.example").await;
    terminal.type_line("").await;
    let (code, screen) = terminal.finish().await;
    assert_eq!(code, Some(0), "{screen}");
    assert!(
        terminal.echoes(),
        "the terminal echoes again once the wait is over"
    );
    assert!(
        screen.contains("api.salesforce@acme.example"),
        "the proof: {screen}"
    );
    // Finished bars and the spinner leave nothing behind.
    assert!(!screen.contains("last check"), "{screen}");
    assert!(!screen.contains("/8 steps"), "the steps bar: {screen}");
}

#[tokio::test]
async fn on_a_terminal_apply_asks_naming_the_plan_instance_and_counts_and_no_means_no() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let mut terminal = Terminal::spawn(&work, &["apply", "plan.yaml", "--gate-wait", "0"]);
    terminal.shows("[y/N]", Duration::from_mins(1)).await;
    let question = terminal.row_with("[y/N]");
    assert!(
        question.contains(&format!(
            "Apply plan `acme-rotation` to {} as run acme-rotation-",
            sandbox.handle.base_url()
        )),
        "{question}"
    );
    assert!(
        question.contains("4 API steps (1 deletes a user), 4 manual steps?"),
        "{question}"
    );
    terminal.type_line("n").await;
    let (code, screen) = terminal.finish().await;
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("not applied."), "{screen}");
    assert!(work.run_dirs().is_empty(), "declined: no run was started");
    assert_eq!(sandbox.requests().await["state_changing"], 0);

    // `y` applies: the run goes as far as the first person's step and pauses (exit 4).
    let mut terminal = Terminal::spawn(&work, &["apply", "plan.yaml", "--gate-wait", "0"]);
    terminal.shows("[y/N]", Duration::from_mins(1)).await;
    terminal.type_line("y").await;
    let (code, screen) = terminal.finish().await;
    assert_eq!(code, Some(4), "{screen}");
    assert!(screen.contains("relinker resume"), "{screen}");
}

#[tokio::test]
async fn log_lines_are_coloured_on_a_terminal_unless_no_color() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let mut coloured = Terminal::spawn(&work, &["-vv", "plan", "plan.yaml"]);
    coloured.shows("DEBUG", Duration::from_mins(1)).await;
    assert!(coloured.coloured(), "{}", coloured.contents());
    let mut plain =
        Terminal::spawn_with(&work, &["-vv", "plan", "plan.yaml"], &[("NO_COLOR", "1")]);
    plain.shows("DEBUG", Duration::from_mins(1)).await;
    let (code, screen) = {
        let colourless = !plain.coloured();
        let (code, screen) = plain.finish().await;
        assert!(colourless, "NO_COLOR on a terminal: {screen}");
        (code, screen)
    };
    assert_eq!(code, Some(0), "{screen}");
}

#[tokio::test]
async fn a_resumed_run_shows_its_real_position_on_the_bar() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    // Unattended: the temporary user is created, then the run pauses for a person (exit 4).
    let paused = work
        .relinker(&["apply", "plan.yaml", "--yes", "--gate-wait", "0"])
        .run()
        .await;
    paused.code(4);
    let run = paused.run_id();

    // At a terminal, `resume` starts past the step already done and waits for the person.
    let mut terminal = Terminal::spawn(&work, &["resume", &run]);
    terminal.shows("last check", Duration::from_mins(1)).await;
    let bar = terminal.row_with("/8 steps");
    assert!(bar.contains(" 1/8 steps"), "{bar}");
    links_both(&sandbox, "relinker-temp@acme.example").await;
    terminal.type_line("").await;
    terminal
        .shows(
            "manual (r0-link-reporting-export-back)",
            Duration::from_secs(30),
        )
        .await;
    terminal.shows("last check", Duration::from_secs(30)).await;
    assert!(terminal.row_with("/8 steps").contains(" 4/8 steps"));
    links_both(&sandbox, "jane.doe@acme.example").await;
    terminal.type_line("").await;
    let (code, screen) = terminal.finish().await;
    assert_eq!(code, Some(0), "{screen}");
}

/// What nothing can observe (a Movius rename, made in the Administrators tool) is attested at
/// the terminal by typing `done`, under the name of whoever is logged in there.
#[tokio::test]
async fn done_at_the_terminal_attests_what_nothing_observes_as_the_logged_in_person() {
    let sandbox = crate::movius::sandbox().await;
    let plan = format!(
        "version: 1
name: movius-rename
instance: {{ provider: movius, base_url: '{}' }}
services:
  - {{ name: dialer, application: HttpApi }}
rotations:
  - rename: {{ user: jane.doe@acme.example, email: api.team@acme.example }}
",
        sandbox.handle.base_url()
    );
    let work = Workspace::with_files(&plan, &[]);
    let mut terminal = Terminal::spawn_with(
        &work,
        &["apply", "plan.yaml", "--yes"],
        &[("USER", "dana.terminal")],
    );
    terminal
        .shows("type `done` and Enter here", Duration::from_mins(1))
        .await;
    // Enter alone looks again, and attests nothing.
    terminal.type_line("").await;
    terminal.shows("last check", Duration::from_secs(30)).await;
    terminal.type_line("done").await;
    let (code, screen) = terminal.finish().await;
    assert_eq!(code, Some(0), "{screen}");
    let id = screen
        .lines()
        .find_map(|line| line.trim().strip_prefix("run "))
        .and_then(|rest| rest.split(' ').next())
        .expect("the run's id on the screen")
        .to_owned();
    let status = work.status(&id).await;
    let rename = crate::harness::step(&status, "r0-rename-user");
    assert_eq!(rename["attested"]["by"], "dana.terminal", "{status:#}");
}
