//! A real SMTP server on a free port that keeps what it receives:
//! Debian's aiosmtpd driven by `smtp_sink.py` (embedded here). Every mail is
//! one JSON line (read back with [`SmtpSink::received`]) and one entry of
//! an mbox file a person can read.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::process::{free_port, wait_for_port, ChildGuard};

const SCRIPT: &str = include_str!("smtp_sink.py");

/// How the sink behaves.
#[derive(Debug, Clone, Default)]
pub struct SinkOptions {
    /// Recipients starting with this are refused `550 5.1.1`.
    pub reject_prefix: Option<String>,
    /// Wait this long before accepting each mail's data.
    pub delay_ms: u64,
    /// Require AUTH with this user and password.
    pub auth: Option<(String, String)>,
    /// Certificate and key (PEM): STARTTLS is offered and required, or TLS
    /// from the first byte with `smtps`.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub smtps: bool,
    /// Keep the mails in this directory (created) instead of a temporary one.
    pub dir: Option<PathBuf>,
}

/// One mail as the sink received it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedMail {
    /// When the sink accepted it, in seconds since the Unix epoch.
    pub received_at: f64,
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub message_id: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// A running sink, stopped (by pid) when dropped; its files stay with it.
#[derive(Debug)]
pub struct SmtpSink {
    pub port: u16,
    opts: SinkOptions,
    child: Option<ChildGuard>,
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

/// Debian's interpreter, where python3-aiosmtpd is installed (a `python3`
/// earlier on PATH may be another one).
fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

impl SmtpSink {
    /// Starts a sink on 127.0.0.1 and a free port.
    pub fn start(opts: SinkOptions) -> Result<Self> {
        let (dir, temp) = match &opts.dir {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                (d.clone(), None)
            }
            None => {
                let t = tempfile::Builder::new().prefix("enroll-smtp-").tempdir()?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        std::fs::write(dir.join("smtp_sink.py"), SCRIPT)?;
        let mut sink = Self {
            port: free_port(),
            opts,
            child: None,
            dir,
            _temp: temp,
        };
        sink.restart()?;
        Ok(sink)
    }

    /// Starts the sink again on the same port, keeping what it received
    /// (after [`SmtpSink::stop`]: the mail server is back).
    pub fn restart(&mut self) -> Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let o = &self.opts;
        let mut cmd = Command::new(python());
        cmd.arg(self.dir.join("smtp_sink.py"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--jsonl")
            .arg(self.jsonl_path())
            .arg("--mbox")
            .arg(self.mbox_path())
            .arg("--delay-ms")
            .arg(o.delay_ms.to_string());
        if let Some(p) = &o.reject_prefix {
            cmd.arg("--reject-prefix").arg(p);
        }
        if let Some((u, p)) = &o.auth {
            cmd.arg("--auth").arg(format!("{u}:{p}"));
        }
        if let Some((cert, key)) = &o.tls {
            cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
            if o.smtps {
                cmd.arg("--smtps");
            }
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        let mut child = ChildGuard::spawn("smtp sink (python3 aiosmtpd)", &mut cmd)
            .context("python3 with aiosmtpd is needed (Debian: python3-aiosmtpd)")?;
        if let Err(e) = wait_for_port(self.port, Duration::from_secs(15)) {
            if child.try_wait().is_some() {
                bail!("the SMTP sink exited at start (is python3-aiosmtpd installed?): {e}");
            }
            return Err(e);
        }
        self.child = Some(child);
        Ok(())
    }

    /// Stops the sink (the mail server goes down); the files stay.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill();
        }
    }

    /// `smtp://127.0.0.1:<port>`, plain (add `?tls=required` or use
    /// `smtps://` for the TLS modes).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The mbox file a person can read (`mutt -f`, `less`).
    pub fn mbox_path(&self) -> PathBuf {
        self.dir.join("mails.mbox")
    }

    fn jsonl_path(&self) -> PathBuf {
        self.dir.join("mails.jsonl")
    }

    /// Every mail received so far, in order.
    pub fn received(&self) -> Vec<ReceivedMail> {
        let Ok(text) = std::fs::read_to_string(self.jsonl_path()) else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|v| {
                let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                ReceivedMail {
                    received_at: v["received_at"].as_f64().unwrap_or_default(),
                    mail_from: s("mail_from"),
                    rcpt_tos: v["rcpt_tos"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| r.as_str().map(str::to_string))
                        .collect(),
                    message_id: s("message_id"),
                    subject: s("subject"),
                    text: s("text"),
                    html: s("html"),
                }
            })
            .collect()
    }
}
