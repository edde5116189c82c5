//! Commands typed into devstack's terminal while the stack runs: stop,
//! kill or start one service, to watch the balancer route around it and an
//! alert arrive, then resolve.

use std::io::BufRead;

use tokio::sync::mpsc;

use crate::services::Service;

/// One command.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// SIGTERM: the service drains and stops.
    Stop(String),
    /// SIGKILL, as a crash would.
    Kill(String),
    /// Start a stopped service again.
    Start(String),
    /// Which services run.
    Status,
    Help,
}

pub const HELP: &str = "commands: stop <service> (SIGTERM, drained) · kill <service> (SIGKILL) · \
start <service> · status · help";

/// Reads `line`.
pub fn parse(line: &str) -> Result<Command, String> {
    let mut words = line.split_whitespace();
    let verb = words.next().unwrap_or("");
    let name = words.next().map(str::to_string);
    match (verb, name) {
        ("stop", Some(n)) => Ok(Command::Stop(n)),
        ("kill", Some(n)) => Ok(Command::Kill(n)),
        ("start", Some(n)) => Ok(Command::Start(n)),
        ("status", None) => Ok(Command::Status),
        ("help", None) | ("", None) => Ok(Command::Help),
        _ => Err(format!("not understood: {line:?}; {HELP}")),
    }
}

/// Lines typed on stdin, read on a thread of their own; the channel closes
/// at end of input (stdin not a terminal, or closed).
pub fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Carries out `command` on `services`; returns what to tell the operator.
pub fn apply(command: Command, services: &mut [Service]) -> String {
    let (verb, name) = match &command {
        Command::Help => return HELP.to_string(),
        Command::Status => {
            return services
                .iter_mut()
                .map(|s| {
                    let state = if s.is_running() { "running" } else { "stopped" };
                    format!("{:<18} {state:<8} {}", s.name, s.url())
                })
                .collect::<Vec<_>>()
                .join("\n");
        }
        Command::Stop(n) => ("stopped", n),
        Command::Kill(n) => ("killed", n),
        Command::Start(n) => ("started", n),
    };
    let Some(i) = services.iter().position(|s| &s.name == name) else {
        let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        return format!("no service {name:?}; services: {}", names.join(", "));
    };
    let service = &mut services[i];
    match command {
        Command::Stop(_) => service.stop(),
        Command::Kill(_) => service.kill(),
        Command::Start(_) => {
            if let Err(e) = service.start() {
                return format!("{e:#}");
            }
        }
        Command::Status | Command::Help => unreachable!(),
    }
    format!("{verb} {name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_commands() {
        assert_eq!(
            parse("kill enroll-server-2"),
            Ok(Command::Kill("enroll-server-2".into()))
        );
        assert_eq!(
            parse("  stop  alerter "),
            Ok(Command::Stop("alerter".into()))
        );
        assert_eq!(parse("start x"), Ok(Command::Start("x".into())));
        assert_eq!(parse("status"), Ok(Command::Status));
        assert_eq!(parse(""), Ok(Command::Help));
        assert!(parse("stop").is_err());
        assert!(parse("reboot everything").is_err());
    }
}
