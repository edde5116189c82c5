//! `alerter` binary: see the library for everything.

fn main() -> std::process::ExitCode {
    alerter::cli::main()
}
