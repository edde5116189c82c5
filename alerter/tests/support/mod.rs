//! What several alerter test binaries share (each uses a part of it).
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use alerter::app::Settings;
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
