//! `deploy/grafana/fetch-node-exporter-full.sh`, which puts the dashboard in
//! Grafana's provisioning folder at deploy time: installs what it fetched
//! (naming the stack's data source), and never fails the deployment when
//! the download does not work. Served from `file://` URLs and a closed
//! loopback port: no network needed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana/fetch-node-exporter-full.sh")
}

fn fetch(dir: &Path, url: &str) -> Output {
    Command::new("bash")
        .arg(script())
        .arg(dir)
        .env("NODE_EXPORTER_FULL_URL", url)
        .env("FETCH_TIMEOUT_SECONDS", "5")
        .output()
        .expect("bash runs the script")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn fetch_script_installs_the_dashboard_and_never_fails_the_deploy() {
    let tmp = tempfile::tempdir().unwrap();
    let shared = tmp.path().join("shared.json");
    std::fs::write(
        &shared,
        r#"{"title": "Node Exporter Full", "panels": [{"datasource": {"uid": "${DS_PROMETHEUS}"}}]}"#,
    )
    .unwrap();
    let other = tmp.path().join("other.json");
    std::fs::write(&other, r#"{"title": "Something else"}"#).unwrap();
    let provisioning = tmp.path().join("dashboards/external");
    let installed = provisioning.join("node-exporter-full.json");

    let o = fetch(&provisioning, &format!("file://{}", shared.display()));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&installed).unwrap();
    assert!(
        text.contains(r#""uid": "prometheus""#) && !text.contains("DS_PROMETHEUS"),
        "{text}"
    );

    // Unreachable, or not the dashboard: exit 0, say so, keep the earlier copy.
    let closed = format!("http://127.0.0.1:{}/x", testkit::free_port());
    for url in [closed, format!("file://{}", other.display())] {
        let o = fetch(&provisioning, &url);
        assert!(o.status.success(), "{url}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("NOT installed"),
            "{url}: {}",
            stderr(&o)
        );
        assert!(stderr(&o).contains("keeping the copy"), "{}", stderr(&o));
        assert_eq!(std::fs::read_to_string(&installed).unwrap(), text);
    }
    let empty = tmp.path().join("empty");
    let o = fetch(&empty, "http://127.0.0.1:1/x");
    assert!(o.status.success() && !empty.join("node-exporter-full.json").exists());
    assert!(stderr(&o).contains("Grafana starts without Node Exporter Full"));
    let leftovers = std::fs::read_dir(&empty).unwrap().count();
    assert_eq!(leftovers, 0, "temporary files left in {}", empty.display());

    // A usage error is the one failure.
    let o = Command::new("bash").arg(script()).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}
