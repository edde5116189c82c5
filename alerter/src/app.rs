//! Startup shared by main and tests.

use std::process::ExitCode;

use crate::cli::RunArgs;

/// Runs the alerter from parsed command-line options.
pub fn run_from_cli(_args: RunArgs) -> ExitCode {
    ExitCode::FAILURE
}
