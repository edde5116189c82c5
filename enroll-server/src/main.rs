use anyhow::Result;
use clap::Parser;
use enroll_server::config::{Cli, Command};
use enroll_server::startup::{Application, MIGRATOR};

/// mimalloc instead of glibc malloc: the request path allocates small,
/// short-lived buffers on several threads, where glibc's arenas spent about a
/// tenth of the server's CPU under load (profiled during a rush). Its 2.x
/// series (the crate's `v2` feature): with 3.x, the default of the crate
/// since 0.1.49, malloc alone was ~4 % of all CPU during a rush, and four
/// interleaved pairs of rush runs were 1–6 % faster with 2.x in every pair.
/// Freed memory is kept a second before it goes back to the OS (see
/// `enroll_server::allocator`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    enroll_server::allocator::keep_freed_pages();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve())
}

async fn serve() -> Result<()> {
    let cli = Cli::parse();
    let settings = cli.options.resolve()?;
    init_tracing(settings.log_json);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(settings).await?;
            app.run_until_stopped(servekit::shutdown_signal()).await
        }
        Command::Migrate => {
            let pool = sqlx::PgPool::connect(&settings.database_url).await?;
            MIGRATOR.run(&pool).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
    }
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
