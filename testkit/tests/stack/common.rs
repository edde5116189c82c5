//! Paths of the repository and the dashboards' panels as the tests see them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use serde_json::Value;

/// The repository root (the workspace above `testkit/`).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit lives inside the repository")
        .to_path_buf()
}

/// A YAML file of the repository, with `<<:` merge keys applied.
pub fn yaml(rel: &str) -> yaml_serde::Value {
    let path = repo().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut value: yaml_serde::Value =
        yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    value
        .apply_merge()
        .unwrap_or_else(|e| panic!("{}: merge keys: {e}", path.display()));
    value
}

/// Every dashboard under `dashboards/` as (file name, JSON).
pub fn dashboards() -> Vec<(String, Value)> {
    let dir = repo().join("dashboards");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("dashboards/ exists") {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let json: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        out.push((
            path.file_name().unwrap().to_string_lossy().into_owned(),
            json,
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// One query panel (rows are layout only and carry no queries).
#[derive(Debug, Clone)]
pub struct Panel {
    pub dashboard: String,
    pub title: String,
    pub exprs: Vec<String>,
}

/// Every non-row panel of a dashboard, nested row panels included.
pub fn panels(dashboard: &Value) -> Vec<Panel> {
    let name = dashboard["title"].as_str().unwrap_or_default().to_string();
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = dashboard["panels"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    while let Some(p) = stack.pop() {
        if p["type"] == "row" {
            stack.extend(p["panels"].as_array().into_iter().flatten());
            continue;
        }
        out.push(Panel {
            dashboard: name.clone(),
            title: p["title"].as_str().unwrap_or_default().to_string(),
            exprs: p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["expr"].as_str().map(str::to_string))
                .collect(),
        });
    }
    out.reverse();
    out
}

/// Metric names in a PromQL expression: identifiers outside label matchers
/// (`{...}`), strings and grouping clauses (`by (...)`), that are not
/// followed by `(` (functions) and either contain `_` (keywords do not) or
/// are followed by a label matcher (`up{...}`).
pub fn metric_names(expr: &str) -> Vec<String> {
    const GROUPING: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut names: Vec<String> = Vec::new();
    let (mut i, mut braces, mut skip_group) = (0, 0, false);
    while i < chars.len() {
        let c = chars[i];
        match c {
            '{' => braces += 1,
            '}' => braces -= 1,
            '"' => {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
            }
            '(' if skip_group => {
                while i < chars.len() && chars[i] != ')' {
                    i += 1;
                }
                skip_group = false;
            }
            '$' => {
                // A Grafana variable such as $__rate_interval.
                while i + 1 < chars.len() && (chars[i + 1].is_alphanumeric() || chars[i + 1] == '_')
                {
                    i += 1;
                }
            }
            c if (c.is_ascii_alphabetic() || c == '_') && braces == 0 => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = chars[i..].iter().find(|c| !c.is_whitespace());
                if GROUPING.contains(&word.as_str()) {
                    skip_group = true;
                } else if (word.contains('_') || next == Some(&'{'))
                    && next != Some(&'(')
                    && !names.contains(&word)
                {
                    names.push(word);
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    names
}

#[test]
fn metric_names_are_found_in_expressions() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (route, le) (rate(enroll_http_request_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))"#,
    );
    assert_eq!(names, ["enroll_http_request_duration_seconds_bucket"]);
    let names =
        metric_names(r#"node_memory_MemTotal_bytes{a="b"} - node_memory_MemAvailable_bytes"#);
    assert_eq!(
        names,
        [
            "node_memory_MemTotal_bytes",
            "node_memory_MemAvailable_bytes"
        ]
    );
    assert_eq!(
        metric_names(r#"time() - node_boot_time_seconds{x="y_z"}"#),
        ["node_boot_time_seconds"]
    );
}

/// Newest modification time of the files under `dir` (recursively).
fn newest(path: &Path) -> SystemTime {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(_) => return SystemTime::UNIX_EPOCH,
    };
    let mut t = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    if meta.is_dir() {
        for entry in fs::read_dir(path).into_iter().flatten().flatten() {
            t = t.max(newest(&entry.path()));
        }
    }
    t
}

/// The workspace binaries the stack tests run.
const BINARIES: &[&str] = &["enroll-server", "node-agent", "alerter"];

/// `<target>/debug/{enroll-server,node-agent,alerter}`, built with cargo
/// first when missing or older than their sources (or Cargo.lock).
///
/// `cargo test --workspace` builds them before any test runs; when one is
/// missing or stale (e.g. `cargo test -p testkit` after editing
/// enroll-server), this runs `cargo build` for them. Always running that
/// build would resolve features differently from `cargo test --workspace`
/// and recompile half the dependency tree inside the test.
pub fn binaries() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        repo().join(target)
    };
    let dir = target.join("debug");
    let lock = newest(&repo().join("Cargo.lock"));
    let stale = BINARIES.iter().any(|bin| {
        let built = newest(&dir.join(bin));
        // enroll-server's migrations are compiled in; servekit is shared.
        ["src", "migrations", "Cargo.toml"]
            .iter()
            .map(|s| newest(&repo().join(bin).join(s)))
            .chain([lock, newest(&repo().join("servekit/src"))])
            .any(|t| t > built)
    });
    if stale {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        eprintln!("building {BINARIES:?} (missing or older than their sources)");
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet"]);
        for bin in BINARIES {
            cmd.args(["-p", bin]);
        }
        let status = cmd.current_dir(repo()).status().expect("run cargo build");
        assert!(status.success(), "cargo build {BINARIES:?} failed");
    }
    dir
}
