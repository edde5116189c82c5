//! Web configuration files (`--web.config.file`) for tests: a throwaway CA,
//! a server certificate for `localhost` / `127.0.0.1` signed by it, a client
//! certificate, bcrypt hashes made here, and `promtool check web-config`
//! as the reference checker.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// bcrypt cost of the hashes made here: the lowest bcrypt allows, so tests
/// stay fast (production hashes use 10 or more).
pub const TEST_BCRYPT_COST: u32 = 4;

/// Files written into a directory: `ca.crt`, `server.crt`, `server.key`,
/// `client.crt`, `client.key`, and the web configurations written with
/// [`TestPki::write_config`].
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The directory holding them.
    pub dir: PathBuf,
    /// The CA's certificate, PEM: what a client trusts.
    pub ca_pem: String,
    /// A client certificate and key signed by the CA, PEM, concatenated (as
    /// `reqwest::Identity::from_pem` takes them).
    pub client_identity_pem: String,
}

impl TestPki {
    /// Makes a CA, a server certificate and a client certificate in `dir`.
    pub fn create(dir: &Path) -> Result<Self> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "testkit CA");
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate()?;
        let server =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?
                .signed_by(&server_key, &issuer)?;
        let client_key = KeyPair::generate()?;
        let mut client_params = CertificateParams::new(vec!["scraper.test".to_string()])?;
        client_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "scraper");
        client_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let client = client_params.signed_by(&client_key, &issuer)?;

        let write = |name: &str, text: &str| {
            std::fs::write(dir.join(name), text).with_context(|| format!("writing {name}"))
        };
        write("ca.crt", &ca_cert.pem())?;
        write("server.crt", &server.pem())?;
        write("server.key", &server_key.serialize_pem())?;
        write("client.crt", &client.pem())?;
        write("client.key", &client_key.serialize_pem())?;
        Ok(Self {
            dir: dir.to_path_buf(),
            ca_pem: ca_cert.pem(),
            client_identity_pem: format!("{}{}", client.pem(), client_key.serialize_pem()),
        })
    }

    /// Writes `name` in the directory with `yaml` and returns its path.
    pub fn write_config(&self, name: &str, yaml: &str) -> Result<PathBuf> {
        let path = self.dir.join(name);
        std::fs::write(&path, yaml).with_context(|| format!("writing {name}"))?;
        Ok(path)
    }

    /// A web configuration with TLS (relative paths, as operators write
    /// them) and the given `(user, password)` pairs hashed with bcrypt.
    pub fn tls_and_users(&self, users: &[(&str, &str)]) -> Result<String> {
        let mut yaml =
            String::from("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n");
        yaml.push_str(&users_yaml(users)?);
        Ok(yaml)
    }
}

/// `basic_auth_users:` with each password hashed (empty for no users).
pub fn users_yaml(users: &[(&str, &str)]) -> Result<String> {
    if users.is_empty() {
        return Ok(String::new());
    }
    let mut yaml = String::from("basic_auth_users:\n");
    for (user, password) in users {
        let hash = bcrypt::hash(password, TEST_BCRYPT_COST)?;
        yaml.push_str(&format!("  {user}: '{hash}'\n"));
    }
    Ok(yaml)
}

/// `promtool` from Debian's `prometheus` package (`scripts/install-deps.sh`
/// installs it), or `None` with a notice when it is absent.
pub fn promtool() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/promtool");
    if path.exists() {
        Some(path)
    } else {
        eprintln!("NOTICE: /usr/bin/promtool is not installed; the comparison with it is skipped");
        None
    }
}

/// `promtool check web-config FILE`: `Some((accepted, output))`, or `None`
/// without promtool.
pub fn promtool_check_web_config(file: &Path) -> Option<(bool, String)> {
    let promtool = promtool()?;
    let out = Command::new(promtool)
        .args(["check", "web-config"])
        .arg(file)
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), text))
}
