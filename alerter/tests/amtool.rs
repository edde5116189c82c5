//! Alertmanager's own client, `amtool` (Debian's prometheus-alertmanager,
//! `scripts/install-deps.sh`), against a real alerter with its notifier:
//! silences added, queried (filters, `--expired`, JSON output), updated and
//! expired; alerts pushed with `alert add` and read back with `alert query`
//! (silenced ones hidden unless asked for, receiver filter); `config show`,
//! `config routes test` (Alertmanager's own config loader parsing
//! `config.original`, time intervals included) and `cluster show` from
//! `/api/v2/status`; and all of
//! it behind `--web.config.file` basic auth, with amtool's
//! `--http.config.file`. Skipped, with a notice, when amtool is absent.

use std::path::{Path, PathBuf};

use alerter::app::WebSettings;
use serde_json::Value;

mod support;

const AMTOOL: &str = "/usr/bin/amtool";

const CONFIG: &str = r#"global:
  scrape_interval: 15s
route:
  receiver: default
  group_by: [alertname, instance]
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      mute_time_intervals: [maintenance]
receivers:
  - name: default
    slack_configs:
      - api_url: http://127.0.0.1:9/hooks/very-secret-hook
  - name: pager
    slack_configs:
      - token: xoxb-very-secret-token
        channel: '#pager'
        api_base_url: http://127.0.0.1:9/api
time_intervals:
  - name: maintenance
    time_intervals:
      - weekdays: ['saturday']
        times: [{start_time: '02:00', end_time: '04:00'}]
        days_of_month: ['-7:-1']
        location: Europe/Berlin
"#;

/// amtool pointed at one alerter, with its own empty home (no user
/// configuration is read).
struct Amtool {
    url: String,
    home: PathBuf,
    http_config: Option<PathBuf>,
}

struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Amtool {
    fn available() -> bool {
        let there = Path::new(AMTOOL).exists();
        if !there {
            eprintln!("NOTICE: {AMTOOL} is not installed (prometheus-alertmanager); skipped");
        }
        there
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = tokio::process::Command::new(AMTOOL);
        cmd.env_clear()
            .env("HOME", &self.home)
            .env("TZ", "UTC")
            .arg(format!("--alertmanager.url={}", self.url))
            .arg("--timeout=20s");
        if let Some(file) = &self.http_config {
            cmd.arg(format!("--http.config.file={}", file.display()));
        }
        let out = cmd.args(args).output().await.expect("run amtool");
        Output {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs and requires success; returns stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            out.ok,
            "amtool {args:?} failed:\n{}{}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    async fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["-o", "json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all).await).expect("amtool printed JSON")
    }
}

fn ids(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[tokio::test]
async fn amtool_manages_silences_and_reads_alerts_and_status() {
    if !Amtool::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = support::start_with_notifier(dir.path(), CONFIG, WebSettings::default())
        .await
        .unwrap();
    let am = Amtool {
        url: run.base.clone(),
        home: dir.path().to_path_buf(),
        http_config: None,
    };

    // Silences: add (prints the new id), query, update, expire.
    let id = am
        .ok(&[
            "silence",
            "add",
            "alertname=DiskFull",
            "instance=db1",
            "-a",
            "ops",
            "-c",
            "disk swap",
            "-d",
            "2h",
        ])
        .await
        .trim()
        .to_string();
    assert_eq!(id.len(), 36, "a UUID: {id:?}");
    let later = am
        .ok(&[
            "silence",
            "add",
            "alertname=~Load.*",
            "-c",
            "later",
            "--start",
            "2099-01-01T00:00:00Z",
            "--end",
            "2099-01-01T01:00:00Z",
        ])
        .await
        .trim()
        .to_string();
    let table = am.ok(&["silence", "query"]).await;
    assert!(table.starts_with("ID "), "{table}");
    let row = table.lines().find(|l| l.starts_with(&id)).expect("listed");
    assert!(
        row.contains(r#"alertname="DiskFull" instance="db1""#)
            && row.contains("ops")
            && row.contains("disk swap"),
        "{row}"
    );
    assert_eq!(
        ids(&am.ok(&["silence", "query", "-q", "instance=db1"]).await),
        [id.as_str()]
    );
    assert_eq!(
        ids(&am
            .ok(&["silence", "query", "-q", "alertname=~Load.*"])
            .await),
        [later.as_str()]
    );
    let listed = am.json(&["silence", "query", "DiskFull"]).await;
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["status"]["state"], "active");
    assert_eq!(listed[0]["createdBy"], "ops");
    let hours = |s: &Value| {
        let t = |k: &str| {
            s[k].as_str()
                .unwrap()
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
        };
        (t("endsAt") - t("startsAt")).num_minutes()
    };
    assert!((119..=120).contains(&hours(&listed[0])), "{listed}");
    let pending = am.json(&["silence", "query", "alertname=~Load.*"]).await;
    assert_eq!(pending[0]["status"]["state"], "pending");

    // `silence update` posts the silence back with its id: same id, new end.
    let updated = am
        .json(&["silence", "update", "--end", "2099-01-01T02:00:00Z", &later])
        .await;
    assert_eq!(updated[0]["id"], later.as_str(), "updated in place");
    let pending = am.json(&["silence", "query", "alertname=~Load.*"]).await;
    assert_eq!(pending[0]["endsAt"], "2099-01-01T02:00:00.000Z");

    // Alerts: pushed by amtool, read back; the silenced one is hidden by
    // default and shown as suppressed with -s.
    am.ok(&[
        "alert",
        "add",
        "alertname=DiskFull",
        "instance=db1",
        "severity=critical",
        "--annotation=summary=Disk full",
    ])
    .await;
    am.ok(&[
        "alert",
        "add",
        "alertname=HighLoad",
        "instance=web1",
        "--annotation=summary=Load high",
    ])
    .await;
    let active = am.ok(&["alert", "query"]).await;
    assert!(
        active.contains("HighLoad") && active.contains("Load high"),
        "{active}"
    );
    assert!(
        !active.contains("DiskFull"),
        "silenced alerts are not active: {active}"
    );
    let silenced = am.json(&["alert", "query", "-s", "DiskFull"]).await;
    assert_eq!(silenced[0]["status"]["state"], "suppressed");
    assert_eq!(silenced[0]["status"]["silencedBy"][0], id.as_str());
    assert_eq!(silenced[0]["receivers"][0]["name"], "pager");
    let to_default = am
        .json(&["alert", "query", "-a", "-s", "-r", "default"])
        .await;
    assert_eq!(to_default.as_array().unwrap().len(), 1, "{to_default}");
    assert_eq!(to_default[0]["labels"]["alertname"], "HighLoad");

    // Expire: gone from the default listing, there with --expired; the
    // alert it muted is active again.
    am.ok(&["silence", "expire", &id]).await;
    assert!(!am.ok(&["silence", "query", "-q"]).await.contains(&id));
    assert!(am
        .ok(&["silence", "query", "--expired", "-q"])
        .await
        .contains(&id));
    assert!(am
        .ok(&["alert", "query", "DiskFull"])
        .await
        .contains("DiskFull"));
    let missing = am
        .run(&["silence", "expire", "00000000-0000-4000-8000-000000000000"])
        .await;
    assert!(!missing.ok, "expiring an unknown silence fails");
    assert!(
        missing.stderr.contains("404") || missing.stderr.contains("NotFound"),
        "{}",
        missing.stderr
    );

    // Status: configuration (secrets hidden), routing as Alertmanager's own
    // loader reads it, cluster.
    let config = am.ok(&["config", "show"]).await;
    assert!(
        config.contains("receiver: pager") && config.contains("severity="),
        "{config}"
    );
    assert!(!config.contains("very-secret"), "{config}");
    let route = am
        .ok(&[
            "config",
            "routes",
            "test",
            "--verify.receivers=pager",
            "severity=critical",
        ])
        .await;
    assert_eq!(route.trim(), "pager");
    let route = am
        .ok(&[
            "config",
            "routes",
            "test",
            "--verify.receivers=default",
            "severity=info",
        ])
        .await;
    assert_eq!(route.trim(), "default");
    assert!(config.contains("location: Europe/Berlin"), "{config}");
    let tree = am.ok(&["config", "routes", "show"]).await;
    assert!(tree.contains("pager"), "{tree}");
    let cluster = am.ok(&["cluster", "show"]).await;
    assert!(
        cluster.contains("Cluster Status:") && cluster.contains("disabled"),
        "{cluster}"
    );

    run.stop().await;
}

#[tokio::test]
async fn amtool_needs_the_credentials_of_the_web_config() {
    if !Amtool::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let web_yml = dir.path().join("web.yml");
    std::fs::write(
        &web_yml,
        testkit::webcfg::users_yaml(&[("ops", "correct horse")]).unwrap(),
    )
    .unwrap();
    let web = WebSettings {
        config_file: Some(web_yml),
        ..Default::default()
    };
    let run = support::start_with_notifier(dir.path(), CONFIG, web)
        .await
        .unwrap();
    let mut am = Amtool {
        url: run.base.clone(),
        home: dir.path().to_path_buf(),
        http_config: None,
    };
    let refused = am
        .run(&["silence", "add", "alertname=X", "-c", "no credentials"])
        .await;
    assert!(!refused.ok);
    assert!(refused.stderr.contains("401"), "{}", refused.stderr);
    assert!(
        !am.run(&["cluster", "show"]).await.ok,
        "reads need credentials too"
    );

    let wrong = dir.path().join("wrong.yml");
    std::fs::write(&wrong, "basic_auth:\n  username: ops\n  password: wrong\n").unwrap();
    am.http_config = Some(wrong);
    assert!(
        !am.run(&["silence", "add", "alertname=X", "-c", "wrong password"])
            .await
            .ok
    );

    let right = dir.path().join("amtool-http.yml");
    std::fs::write(
        &right,
        "basic_auth:\n  username: ops\n  password: correct horse\n",
    )
    .unwrap();
    am.http_config = Some(right);
    let id = am
        .ok(&["silence", "add", "alertname=X", "-c", "with credentials"])
        .await;
    let listed = am.ok(&["silence", "query", "-q"]).await;
    assert_eq!(
        ids(&listed),
        [id.trim()],
        "only the authenticated add created one"
    );
    am.ok(&["silence", "expire", id.trim()]).await;
    assert!(am.ok(&["silence", "query", "-q"]).await.trim().is_empty());
    run.stop().await;
}
