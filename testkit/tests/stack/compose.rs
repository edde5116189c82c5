//! `docker-compose.yml` and `deploy/`, checked by parsing (no Docker engine
//! on the test machines).

use std::collections::BTreeSet;
use std::process::Command;

use yaml_serde::Value;

use crate::common::{repo, yaml};

/// The services the stack is made of.
const SERVICES: &[&str] = &[
    "postgres-primary",
    "postgres-replica",
    "redis",
    "redis-replica",
    "redis-sentinel-1",
    "redis-sentinel-2",
    "redis-sentinel-3",
    "enroll-migrate",
    "enroll-server-1",
    "enroll-server-2",
    "balancer",
    "alert-inbox",
    "node-agent",
    "alerter",
    "prometheus",
    "grafana",
];

fn services(compose: &Value) -> Vec<(String, Value)> {
    compose["services"]
        .as_mapping()
        .expect("`services:` is a mapping")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_string(), v.clone()))
        .collect()
}

fn text(v: &Value) -> String {
    match v {
        Value::Sequence(items) => items.iter().map(text).collect::<Vec<_>>().join(" "),
        Value::String(s) => s.clone(),
        other => yaml_serde::to_string(other).unwrap(),
    }
}

#[test]
fn every_service_is_there_with_a_healthcheck() {
    let compose = yaml("docker-compose.yml");
    let services = services(&compose);
    let names: BTreeSet<&str> = services.iter().map(|(n, _)| n.as_str()).collect();
    for want in SERVICES {
        assert!(
            names.contains(want),
            "docker-compose.yml has no service {want}"
        );
    }
    for (name, svc) in &services {
        if svc["restart"].as_str() == Some("no") {
            // A one-shot job (migrations): it exits, so it has no health.
            continue;
        }
        let test = &svc["healthcheck"]["test"];
        assert!(
            !text(test).trim().is_empty(),
            "service {name} has no healthcheck test"
        );
        assert!(
            svc["image"].is_string() || svc["build"].is_mapping(),
            "service {name} has neither image nor build"
        );
    }
}

#[test]
fn every_bind_mount_exists_and_every_volume_is_declared() {
    let compose = yaml("docker-compose.yml");
    let declared: BTreeSet<String> = compose["volumes"]
        .as_mapping()
        .map(|m| m.keys().map(|k| k.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    let mut binds = 0;
    for (name, svc) in services(&compose) {
        for volume in svc["volumes"].as_sequence().into_iter().flatten() {
            let spec = volume.as_str().expect("short volume syntax");
            let source = spec.split(':').next().unwrap();
            if source.starts_with('.') || source.starts_with('/') {
                let path = repo().join(source);
                assert!(
                    path.exists(),
                    "{name}: bind-mounted {} does not exist",
                    path.display()
                );
                binds += 1;
            } else {
                assert!(
                    declared.contains(source),
                    "{name}: volume {source} is not declared"
                );
            }
        }
        if let Some(dockerfile) = svc["build"]["dockerfile"].as_str() {
            let ctx = svc["build"]["context"].as_str().unwrap_or(".");
            let path = repo().join(ctx).join(dockerfile);
            assert!(path.is_file(), "{name}: {} does not exist", path.display());
        }
    }
    assert!(
        binds >= 8,
        "expected the config, rules and dashboards mounts, found {binds}"
    );
}

#[test]
fn the_services_are_wired_as_the_design_says() {
    let compose = yaml("docker-compose.yml");
    let redis = text(&compose["services"]["redis"]["command"]);
    assert!(
        redis.contains("--appendonly yes"),
        "Redis must run with AOF: {redis}"
    );

    let env = |svc: &str, key: &str| {
        compose["services"][svc]["environment"][key]
            .as_str()
            .unwrap_or_else(|| panic!("{svc} has no {key}"))
            .to_string()
    };
    for key in [
        "ENROLL_DATABASE_URL",
        "ENROLL_REPLICA_URLS",
        "ENROLL_REDIS_URL",
    ] {
        assert_eq!(
            env("enroll-server-1", key),
            env("enroll-server-2", key),
            "{key}"
        );
    }
    assert!(env("enroll-server-1", "ENROLL_DATABASE_URL").contains("@postgres-primary:"));
    assert!(env("enroll-server-1", "ENROLL_REPLICA_URLS").contains("@postgres-replica:"));
    assert!(env("enroll-server-1", "ENROLL_ADMIN_TOKEN").starts_with("${ENROLL_ADMIN_TOKEN:?"));

    let entry =
        std::fs::read_to_string(repo().join("deploy/postgres/replica-entrypoint.sh")).unwrap();
    assert!(
        entry.contains("pg_basebackup") && entry.contains(" -R "),
        "replica made with pg_basebackup -R"
    );
}

/// Every scrape target in deploy/prometheus.yml and deploy/alerter.yml is a
/// compose service (or the scraper itself) on the port it listens on.
#[test]
fn scrape_targets_name_compose_services() {
    let compose = yaml("docker-compose.yml");
    let names: BTreeSet<String> = services(&compose).into_iter().map(|(n, _)| n).collect();
    for file in ["deploy/prometheus.yml", "deploy/alerter.yml"] {
        let config = yaml(file);
        let mut jobs = BTreeSet::new();
        for job in config["scrape_configs"].as_sequence().unwrap() {
            jobs.insert(job["job_name"].as_str().unwrap().to_string());
            for sc in job["static_configs"].as_sequence().unwrap() {
                for target in sc["targets"].as_sequence().unwrap() {
                    let host = target.as_str().unwrap().split(':').next().unwrap();
                    assert!(
                        host == "localhost" || names.contains(host),
                        "{file}: unknown host {host}"
                    );
                }
            }
        }
        // rules/*.yml select on these job names.
        for job in ["enroll-server", "node"] {
            assert!(jobs.contains(job), "{file} has no job {job}");
        }
    }
}

/// Debian's promtool accepts deploy/prometheus.yml (skipped with a notice
/// when promtool is not installed).
#[test]
fn promtool_accepts_the_prometheus_config() {
    let out = match Command::new("promtool")
        .args(["check", "config", "--syntax-only"])
        .arg(repo().join("deploy/prometheus.yml"))
        .output()
    {
        Ok(out) => out,
        Err(_) => {
            eprintln!("NOTICE: promtool not installed (./scripts/install-deps.sh); skipped");
            return;
        }
    };
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// No secret has a default (compose refuses to start without it), the
/// databases are on the internal network without host ports, and Grafana
/// has no well-known admin password.
#[test]
fn secrets_have_no_defaults_and_data_stores_are_not_published() {
    let raw = std::fs::read_to_string(repo().join("docker-compose.yml")).unwrap();
    for secret in [
        "ENROLL_ADMIN_TOKEN",
        "POSTGRES_PASSWORD",
        "REPLICATION_PASSWORD",
        "ENROLL_DB_PASSWORD",
        "REDIS_PASSWORD",
        "REDIS_REPLICATION_PASSWORD",
        "REDIS_SENTINEL_PASSWORD",
        "GRAFANA_ADMIN_PASSWORD",
    ] {
        assert!(
            raw.contains(&format!("${{{secret}:?")),
            "{secret} is not required"
        );
        assert!(
            !raw.contains(&format!("${{{secret}:-")),
            "{secret} has a default"
        );
        let example = std::fs::read_to_string(repo().join("deploy/env.example")).unwrap();
        assert!(
            example.contains(&format!("{secret}=\n")),
            "env.example lacks {secret}"
        );
    }
    let compose = yaml("docker-compose.yml");
    assert_eq!(
        compose["networks"]["backend"]["internal"],
        Value::Bool(true)
    );
    for store in [
        "postgres-primary",
        "postgres-replica",
        "redis",
        "redis-replica",
        "redis-sentinel-1",
        "redis-sentinel-2",
        "redis-sentinel-3",
    ] {
        let svc = &compose["services"][store];
        assert!(svc["ports"].is_null(), "{store} publishes host ports");
        assert_eq!(text(&svc["networks"]), "backend", "{store} networks");
    }
    let redis = text(&compose["services"]["redis"]["command"]);
    assert!(redis.contains("--user default off"), "{redis}");
    assert!(redis.contains("-@dangerous"), "{redis}");
    let url = text(&compose["services"]["enroll-server-1"]["environment"]["ENROLL_REDIS_URL"]);
    assert!(
        url.starts_with("redis://enroll:${REDIS_PASSWORD:?"),
        "{url}"
    );
    assert!(!raw.contains("GF_SECURITY_ADMIN_PASSWORD: admin"));
    // The servers run as the DML-only role; the owner migrates first.
    let server = &compose["services"]["enroll-server-1"];
    let db = text(&server["environment"]["ENROLL_DATABASE_URL"]);
    assert!(db.starts_with("postgres://enroll_app:"), "{db}");
    assert_eq!(
        text(&server["environment"]["ENROLL_MIGRATE_ON_START"]),
        "false"
    );
    assert_eq!(
        text(&server["depends_on"]["enroll-migrate"]["condition"]),
        "service_completed_successfully"
    );
    let migrate = text(&compose["services"]["enroll-migrate"]["command"]);
    assert_eq!(migrate, "enroll-server migrate");
}

/// Students reach the enroll-servers through the balancer only (their own
/// ports are the host's loopback), the servers believe X-Forwarded-For from
/// the balancer's fixed address, HAProxy accepts its configuration as
/// compose fills it in, and alerts from both evaluators reach the inbox.
#[test]
fn the_balancer_fronts_both_instances_and_alerts_have_somewhere_to_go() {
    let compose = yaml("docker-compose.yml");
    let balancer = &compose["services"]["balancer"];
    let env = |key: &str| text(&balancer["environment"][key]);
    assert_eq!(env("ENROLL_SERVER_1"), "enroll-server-1:8080");
    assert_eq!(env("ENROLL_SERVER_2"), "enroll-server-2:8080");
    let address = text(&balancer["networks"]["default"]["ipv4_address"]);
    for server in ["enroll-server-1", "enroll-server-2"] {
        let svc = &compose["services"][server];
        assert_eq!(
            text(&svc["environment"]["ENROLL_TRUSTED_PROXIES"]),
            address,
            "{server} trusts the balancer"
        );
        let ports = text(&svc["ports"]);
        assert!(
            ports.starts_with("127.0.0.1:"),
            "{server} published: {ports}"
        );
    }
    assert!(text(&balancer["ports"]).contains("8080:8080"));

    if let Ok(out) = Command::new("haproxy")
        .arg("-c")
        .arg("-f")
        .arg(repo().join("deploy/haproxy/haproxy.cfg"))
        .env("HAPROXY_BIND", env("HAPROXY_BIND"))
        .env("HAPROXY_STATS_BIND", env("HAPROXY_STATS_BIND"))
        .env("HAPROXY_RUNTIME_SOCKET", env("HAPROXY_RUNTIME_SOCKET"))
        .env("ENROLL_SERVER_1", env("ENROLL_SERVER_1"))
        .env("ENROLL_SERVER_2", env("ENROLL_SERVER_2"))
        .output()
    {
        assert!(
            out.status.success(),
            "haproxy -c: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        eprintln!(
            "NOTICE: haproxy not installed (./scripts/install-deps.sh); config check skipped"
        );
    }

    let prometheus = yaml("deploy/prometheus.yml");
    assert_eq!(
        text(&prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]),
        "alerter:9099"
    );
    let alerter = yaml("deploy/alerter.yml");
    let oncall = &alerter["receivers"][0];
    assert_eq!(text(&alerter["route"]["receiver"]), text(&oncall["name"]));
    let inbox = text(&oncall["webhook_configs"][0]["url"]);
    assert!(inbox.starts_with("http://alert-inbox:9097"), "{inbox}");
    assert!(compose["services"]["alert-inbox"].is_mapping());
    for slack in oncall["slack_configs"].as_sequence().unwrap() {
        assert_eq!(slack["optional"], Value::Bool(true), "Slack only when set");
    }
}

/// Node Exporter Full is fetched by id when the stack is deployed, into a
/// volume a Grafana provider loads, before Grafana starts; the repository
/// keeps no copy.
#[test]
fn node_exporter_full_is_fetched_at_deploy_time() {
    let compose = yaml("docker-compose.yml");
    let fetch = &compose["services"]["grafana-dashboards"];
    assert!(text(&fetch["command"]).contains("fetch-node-exporter-full.sh"));
    assert_eq!(text(&fetch["restart"]), "no");
    let grafana = &compose["services"]["grafana"];
    assert_eq!(
        text(&grafana["depends_on"]["grafana-dashboards"]["condition"]),
        "service_completed_successfully"
    );
    let mounts = text(&grafana["volumes"]);
    assert!(
        mounts.contains("grafana-external:/etc/grafana/external"),
        "{mounts}"
    );
    let providers = yaml("dashboards/provisioning/dashboards/dashboards.yml");
    let paths = text(&providers["providers"]);
    assert!(paths.contains("/etc/grafana/external"), "{paths}");
    let tracked = Command::new("git")
        .args(["ls-files", "--", "*node-exporter-full*.json"])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(tracked.stdout.is_empty(), "a copy is tracked: {tracked:?}");
}

/// Redis runs with a replica and three sentinels; the servers find the
/// primary through the sentinels and wait for the replica before
/// acknowledging a place in line.
#[test]
fn redis_fails_over_through_sentinels() {
    let compose = yaml("docker-compose.yml");
    let server = &compose["services"]["enroll-server-1"]["environment"];
    let sentinels = text(&server["ENROLL_REDIS_SENTINELS"]);
    for n in 1..=3 {
        let name = format!("redis-sentinel-{n}");
        assert!(sentinels.contains(&format!("{name}:26379")), "{sentinels}");
        let command = text(&compose["services"][name.as_str()]["command"]);
        assert!(
            command.contains("sentinel monitor enroll redis 6379 2"),
            "{command}"
        );
        assert!(command.contains("--sentinel"), "{command}");
    }
    assert_eq!(text(&server["ENROLL_REDIS_SENTINEL_PRIMARY"]), "enroll");
    assert_eq!(text(&server["ENROLL_REDIS_WAIT_REPLICAS"]), "1");
    let replica = text(&compose["services"]["redis-replica"]["command"]);
    assert!(replica.contains("--replicaof redis 6379"), "{replica}");
    assert!(replica.contains("--masteruser replicator"), "{replica}");
    let primary = text(&compose["services"]["redis"]["command"]);
    assert!(primary.contains("--masteruser replicator"), "{primary}");
    assert!(primary.contains("replicator on"), "{primary}");
}
