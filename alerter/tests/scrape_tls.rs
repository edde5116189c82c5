//! The alerter scraping a target behind `--web.config.file` (here, another
//! alerter over TLS with a bcrypt user): `scheme: https`, `tls_config` with
//! the test CA and `basic_auth` from a password file make the target `up`;
//! a wrong password, or no CA, leave it down with the reason; a missing
//! password file is refused at load with the job's line.

use std::path::Path;
use std::sync::Arc;

use alerter::app::{Alerter, Settings, WebSettings};
use alerter::config::Config;
use alerter::promql::{parse_supported, Evaluator, Value};
use testkit::webcfg::TestPki;

mod support;

const T0: i64 = 1_700_000_000_000;

async fn build(config: &Path, web: WebSettings) -> Alerter {
    let settings = Settings {
        web,
        ..support::settings(config.to_path_buf())
    };
    Alerter::build(settings, Arc::new(alerter::sink::LogSink))
        .await
        .expect("build")
}

fn up(alerter: &Alerter, job: &str) -> Option<f64> {
    let shared = alerter.shared();
    let engine = shared.engine();
    let expr = parse_supported(&format!("up{{job=\"{job}\"}}")).unwrap();
    match Evaluator::new(&engine.storage, T0).eval(&expr).unwrap() {
        Value::Vector(v) => v.first().map(|s| s.value),
        other => panic!("{other:?}"),
    }
}

fn job(name: &str, port: u16, extra: &str) -> String {
    format!(
        "  - job_name: {name}\n    scheme: https\n{extra}    static_configs:\n      - targets: ['localhost:{port}']\n"
    )
}

#[tokio::test]
async fn targets_behind_tls_and_basic_auth_are_scraped_with_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path()).unwrap();
    let web = pki
        .tls_and_users(&[("prometheus", "scrape-secret")])
        .unwrap();
    let web_yml = pki.write_config("web.yml", &web).unwrap();
    let target_config = dir.path().join("target.yml");
    std::fs::write(&target_config, "global:\n  scrape_interval: 15s\n").unwrap();
    let target = build(
        &target_config,
        WebSettings {
            config_file: Some(web_yml),
            enable_lifecycle: false,
        },
    )
    .await;
    let port = target.port();
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(target.run_until_stopped(async {
        let _ = stopped.await;
    }));

    std::fs::write(dir.path().join("scrape.pw"), "scrape-secret\n").unwrap();
    let tls = "    tls_config: {ca_file: ca.crt}\n";
    let scraper_config = dir.path().join("scraper.yml");
    let text = format!(
        "global:\n  scrape_interval: 15s\nscrape_configs:\n{}{}{}",
        job(
            "secured",
            port,
            &format!("{tls}    basic_auth: {{username: prometheus, password_file: scrape.pw}}\n")
        ),
        job(
            "wrong_password",
            port,
            &format!("{tls}    basic_auth: {{username: prometheus, password: guess}}\n")
        ),
        job(
            "unknown_ca",
            port,
            "    basic_auth: {username: prometheus, password: x}\n"
        ),
    );
    std::fs::write(&scraper_config, &text).unwrap();
    let scraper = build(&scraper_config, WebSettings::default()).await;
    scraper.tick(T0).await;
    assert_eq!(up(&scraper, "secured"), Some(1.0));
    assert_eq!(up(&scraper, "wrong_password"), Some(0.0));
    assert_eq!(up(&scraper, "unknown_ca"), Some(0.0));
    let errors: Vec<String> = scraper
        .shared()
        .engine()
        .targets
        .iter()
        .map(|t| format!("{} {}", t.target.job, t.last_error))
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("wrong_password") && e.contains("401")),
        "{errors:?}"
    );

    // A password file that cannot be read is refused at load, naming the job.
    std::fs::remove_file(dir.path().join("scrape.pw")).unwrap();
    let err = Config::load(&scraper_config).unwrap_err().to_string();
    assert!(
        err.contains("scraper.yml:4:") && err.contains("secured"),
        "{err}"
    );
    assert!(err.contains("scrape.pw"), "{err}");
}
