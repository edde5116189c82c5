//! What several alerter test binaries share (each uses a part of it).
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use alerter::app::{Alerter, Settings, WebSettings};
use alerter::notify::{attach, NotifyOptions};
use alerter::shared::Clock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Serves `body` as a metrics page on every connection of `listener`, then
/// closes the connection (no keep-alive), so once the task is stopped
/// nothing answers on that port any more.
pub fn serve_metrics(listener: TcpListener, body: &'static str) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf).await;
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(resp.as_bytes()).await;
            let _ = conn.shutdown().await;
        }
    })
}

/// An alerter under test: `config`, a free loopback port, the clock stepped
/// by hand, the default HTTP limits and no web configuration.
pub fn settings(config: PathBuf) -> Settings {
    Settings {
        config_path: config,
        listen_address: "127.0.0.1:0".into(),
        external_url: String::new(),
        resend_delay: Duration::from_secs(60),
        clock: Clock::Manual,
        http: Default::default(),
        web: Default::default(),
    }
}

/// An alerter with its notifier attached (on the system clock, dispatcher
/// not started: nothing is delivered), serving on a free port.
pub struct Running {
    /// `http://localhost:PORT` or `https://…`.
    pub base: String,
    pub port: u16,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub server: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.server.await.unwrap().unwrap();
    }
}

/// Writes `config` as `dir/alerter.yml` and starts an alerter with the
/// notifier attached and `web` as its web settings.
pub async fn start_with_notifier(
    dir: &std::path::Path,
    config: &str,
    web: WebSettings,
) -> anyhow::Result<Running> {
    let path = dir.join("alerter.yml");
    std::fs::write(&path, config).unwrap();
    let settings = Settings {
        web,
        ..settings(path)
    };
    let alerter = Alerter::build(settings, std::sync::Arc::new(alerter::sink::LogSink)).await?;
    let options = NotifyOptions {
        spawn_dispatcher: false,
        ..Default::default()
    };
    let (alerter, _notifications) = attach(alerter, options).await?;
    let port = alerter.port();
    let base = format!("{}://localhost:{port}", alerter.scheme());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(alerter.run_until_stopped(async {
        let _ = stopped.await;
    }));
    Ok(Running {
        base,
        port,
        stop: Some(stop),
        server,
    })
}
