//! `--web.config.file` parsing: what loads, what is refused and where
//! (`file:line:column`), and the same verdicts from `promtool check
//! web-config` for the files both should judge alike.

use std::path::Path;

use servekit::webconfig::WebConfig;
use testkit::webcfg::{promtool_check_web_config, users_yaml, TestPki};

fn pki() -> (tempfile::TempDir, TestPki) {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path()).unwrap();
    (dir, pki)
}

/// Loads `yaml` written as `name`; the error text on failure.
fn load(pki: &TestPki, name: &str, yaml: &str) -> Result<WebConfig, String> {
    let path = pki.write_config(name, yaml).unwrap();
    WebConfig::load(&path).map_err(|e| e.to_string())
}

fn promtool_agrees(path: &Path, accepted: bool) {
    if let Some((ok, out)) = promtool_check_web_config(path) {
        assert_eq!(
            ok,
            accepted,
            "promtool check web-config {}:\n{out}",
            path.display()
        );
    }
}

#[test]
fn a_file_with_tls_users_and_headers_loads_and_promtool_accepts_it() {
    let (_dir, pki) = pki();
    let yaml = format!(
        "{}http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n",
        pki.tls_and_users(&[("alice", "s3cret"), ("prometheus", "scrape")]).unwrap()
    );
    let web = load(&pki, "web.yml", &yaml).unwrap();
    assert_eq!(web.scheme(), "https");
    assert!(web.requires_auth());
    assert!(
        !format!("{web:?}").contains("$2"),
        "no hash in Debug output"
    );
    promtool_agrees(&pki.dir.join("web.yml"), true);
}

#[test]
fn an_empty_file_or_users_only_means_plain_http() {
    let (_dir, pki) = pki();
    let web = load(&pki, "empty.yml", "").unwrap();
    assert_eq!((web.scheme(), web.requires_auth()), ("http", false));
    let web = load(&pki, "users.yml", &users_yaml(&[("a", "b")]).unwrap()).unwrap();
    assert_eq!((web.scheme(), web.requires_auth()), ("http", true));
    promtool_agrees(&pki.dir.join("users.yml"), true);
}

#[test]
fn mutual_tls_with_a_client_ca_loads() {
    let (_dir, pki) = pki();
    let yaml = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  min_version: TLS13\n";
    load(&pki, "mtls.yml", yaml).unwrap();
    promtool_agrees(&pki.dir.join("mtls.yml"), true);
}

/// Each bad file is refused with the line and column of the culprit, and
/// promtool refuses it too.
#[test]
fn bad_files_are_refused_at_their_line() {
    let (_dir, pki) = pki();
    let tls = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
    let cases: &[(&str, String, &str)] = &[
        (
            "unknown key",
            format!("{tls}  cert_flie: x\n"),
            "bad1.yml:4:3: tls_server_config: unknown field `cert_flie`",
        ),
        (
            "unknown top-level key",
            "basic_auth_user:\n  a: b\n".into(),
            "bad2.yml:1:1: unknown field `basic_auth_user`",
        ),
        (
            "not a bcrypt hash",
            "basic_auth_users:\n  alice: plaintext\n".into(),
            "bad3.yml:2:3: basic_auth_users: the password of user \"alice\" is not a bcrypt hash",
        ),
        (
            "missing certificate file",
            "tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n".into(),
            "bad4.yml:2:3: cert_file: ",
        ),
        (
            "key of another certificate",
            "tls_server_config:\n  cert_file: server.crt\n  key_file: client.key\n".into(),
            "bad5.yml:3:3: cert_file ",
        ),
        (
            "missing key_file",
            "tls_server_config:\n  cert_file: server.crt\n".into(),
            "bad6.yml:1:1: tls_server_config: missing key_file",
        ),
        (
            "bad client_auth_type",
            format!("{tls}  client_auth_type: Sometimes\n"),
            "bad7.yml:4:3: invalid client_auth_type \"Sometimes\"",
        ),
        (
            "a header that cannot be set",
            "http_server_config:\n  headers:\n    Server: mine\n".into(),
            "bad8.yml:3:5: HTTP header \"Server\" can not be configured",
        ),
        (
            "a header value outside its list",
            "http_server_config:\n  headers:\n    X-Frame-Options: always\n".into(),
            "bad9.yml:3:5: invalid value for X-Frame-Options",
        ),
        (
            "client CA without a policy",
            format!("{tls}  client_ca_file: ca.crt\n"),
            "bad10.yml:4:3: client_ca_file is set without a client_auth_type",
        ),
        (
            "a list for a mapping",
            "tls_server_config: [a]\n".into(),
            "bad11.yml:1:20: tls_server_config: invalid type: sequence, expected a mapping",
        ),
        (
            "not YAML",
            "basic_auth_users:\n  alice: 'x\n".into(),
            "bad12.yml:3:1: found unexpected end of stream",
        ),
    ];
    for (i, (what, yaml, expected)) in cases.iter().enumerate() {
        let name = format!("bad{}.yml", i + 1);
        let err = load(&pki, &name, yaml).expect_err(what);
        let expected = format!("{}/{expected}", pki.dir.display());
        assert!(
            err.starts_with(&expected),
            "{what}: {err}\nexpected: {expected}"
        );
        assert!(!err.contains("$2"), "{what}: a hash in the message: {err}");
        promtool_agrees(&pki.dir.join(&name), false);
    }
}

#[test]
fn settings_this_server_does_not_implement_are_refused_by_name() {
    let (_dir, pki) = pki();
    let tls = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
    for (line, key) in [
        (
            "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
            "cipher_suites",
        ),
        (
            "  client_auth_type: RequireAnyClientCert\n",
            "RequireAnyClientCert",
        ),
        ("  min_version: TLS10\n", "TLS10"),
    ] {
        let err = load(&pki, "unsupported.yml", &format!("{tls}{line}")).unwrap_err();
        assert!(err.contains("unsupported.yml:4:"), "{err}");
        assert!(err.contains("not supported"), "{err}");
        assert!(err.contains(key), "{err}");
    }
}

#[test]
fn a_missing_file_is_named() {
    let err = WebConfig::load(Path::new("/nonexistent/web.yml")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/web.yml: cannot read"),
        "{err}"
    );
}
