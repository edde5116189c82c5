//! `shutdown_signal` completes on SIGTERM sent to the process, and not
//! before. (Its own test binary: the process keeps tokio's handler.)

use std::time::Duration;

#[test]
fn sigterm_completes_the_shutdown_signal() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut stop = Box::pin(servekit::shutdown_signal());
        // Polled once: the handlers are installed and nothing has arrived.
        let early = tokio::time::timeout(Duration::from_millis(50), &mut stop).await;
        assert!(early.is_err(), "completed without a signal");
        // SAFETY: sends SIGTERM to this process, whose handler is installed.
        assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGTERM) }, 0);
        tokio::time::timeout(Duration::from_secs(5), stop)
            .await
            .expect("SIGTERM completes it");
    });
}
