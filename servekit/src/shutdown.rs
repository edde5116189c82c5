//! When a server stops: Ctrl-C (SIGINT) or SIGTERM, what `docker stop` and
//! systemd send.

use tokio::signal::unix::{signal, SignalKind};

/// Completes on Ctrl-C or SIGTERM and logs "shutting down"; pass it to a
/// server's `run_until_stopped`. The handlers are installed when it is
/// first polled. If SIGTERM cannot be listened for (which a normal process
/// never sees), that is logged and Ctrl-C alone stops.
pub async fn shutdown_signal() {
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => Some(term),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops");
            None
        }
    };
    let terminated = async {
        match term.as_mut() {
            Some(term) => {
                term.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminated => {}
    }
    tracing::info!("shutting down");
}
