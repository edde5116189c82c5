//! `node-agent`: parse flags, build, serve until SIGINT/SIGTERM.

use anyhow::Result;
use node_agent::log::{log, Level};

fn main() -> Result<()> {
    // One malloc arena: the few helper threads (blocking pool, statfs
    // worker) would otherwise each get their own, which only costs resident
    // memory in an agent that allocates a few hundred KiB per scrape.
    // SAFETY: mallopt only tunes glibc's allocator; called before any thread.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    let config = match node_agent::Config::parse_from(std::env::args_os()) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(2)
        .build()?;
    node_agent::log::init(config.log_level, config.log_json);
    runtime.block_on(async {
        let app = node_agent::build(&config).await?;
        let addr = app.local_addr().to_string();
        let collectors = config.collectors.join(",");
        log(
            Level::Info,
            "Listening on",
            &[
                ("address", &addr),
                ("scheme", app.scheme()),
                ("collectors", &collectors),
            ],
        );
        app.run_until_stopped(servekit::shutdown_signal()).await;
        Ok(())
    })
}
