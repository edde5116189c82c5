//! The layers, file errors and `--help` of the configuration.

use super::*;

fn write(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
    f
}

#[test]
fn layers_apply_in_order() {
    let f = write(
        "database_url: postgres://file/db\nredis_url: redis://file:1\nadmin_token: file-token-0123456789\ncredit_limit: 21\n",
    );
    let cli = Options {
        config: Some(f.path().to_path_buf()),
        redis_url: Some("redis://env:2".into()),
        ..Options::default()
    };
    let s = cli.resolve().unwrap();
    assert_eq!(s.database_url, "postgres://file/db", "file over default");
    assert_eq!(s.redis_url, "redis://env:2", "env/flag over file");
    assert_eq!(s.credit_limit, 21);
    assert_eq!(s.listen, "0.0.0.0:8080".parse().unwrap(), "default kept");
}

#[test]
fn admin_sessions_last_eight_hours_unless_set() {
    let base = || Options {
        database_url: Some("postgres://x".into()),
        admin_token: Some("admin-token-0123456789".into()),
        ..Options::default()
    };
    let s = base().resolve().unwrap();
    assert_eq!(s.admin_session_ttl, std::time::Duration::from_secs(28_800));
    let f = write("admin_session_ttl_secs: 600\n");
    let s = Options {
        config: Some(f.path().to_path_buf()),
        ..base()
    }
    .resolve()
    .unwrap();
    assert_eq!(s.admin_session_ttl, std::time::Duration::from_secs(600));
    let s = Options {
        config: Some(f.path().to_path_buf()),
        admin_session_ttl_secs: Some(60),
        ..base()
    }
    .resolve()
    .unwrap();
    assert_eq!(
        s.admin_session_ttl,
        std::time::Duration::from_secs(60),
        "environment over file"
    );
}

#[test]
fn unknown_key_names_file_and_line() {
    let f = write("database_url: x\nadmin_tokn: y\n");
    let err = Options {
        config: Some(f.path().to_path_buf()),
        ..Options::default()
    }
    .resolve()
    .unwrap_err()
    .to_string();
    assert!(err.contains(&format!("{}:2:", f.path().display())), "{err}");
    assert!(err.contains("admin_tokn"), "{err}");
}

#[test]
fn secrets_stay_out_of_debug() {
    let s = Options {
        database_url: Some("postgres://u:hunter2@db/x".into()),
        admin_token: Some("super-secret-admin-token".into()),
        ..Options::default()
    }
    .resolve()
    .unwrap();
    let shown = format!("{s:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("super-secret"),
        "{shown}"
    );
}

#[test]
fn help_documents_every_environment_variable() {
    use clap::CommandFactory;
    let help = Cli::command().render_long_help().to_string();
    let source = include_str!("mod.rs");
    let vars: Vec<&str> = source
        .split("env = \"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert!(vars.len() >= 18, "{vars:?}");
    for var in vars {
        assert!(help.contains(var), "--help lacks {var}");
    }
}

#[test]
fn short_admin_token_is_refused() {
    let err = Options {
        database_url: Some("postgres://x".into()),
        admin_token: Some("short".into()),
        ..Options::default()
    }
    .resolve()
    .unwrap_err();
    assert!(err.to_string().contains("16 characters"));
}

#[test]
fn redis_replies_may_outlast_the_wait_for_replicas() {
    let with_wait = |ms: Option<u64>| Options {
        database_url: Some("postgres://x".into()),
        admin_token: Some("admin-token-0123456789".into()),
        redis_wait_replicas: ms.map(|_| 1),
        redis_wait_ms: ms,
        ..Options::default()
    };
    let ms = |s: Settings| s.redis_reply_timeout().as_millis();
    assert_eq!(ms(with_wait(None).resolve().unwrap()), 500);
    assert_eq!(ms(with_wait(Some(200)).resolve().unwrap()), 700);
    assert_eq!(ms(with_wait(Some(1000)).resolve().unwrap()), 1500);
}
