//! The `relinker` binary: everything lives in the library; this only hands over the arguments.

use std::process::ExitCode;

fn main() -> ExitCode {
    relinker::cli::run(std::env::args_os())
}
