use anyhow::Result;
use clap::Parser;
use enroll_server::config::{Cli, Command};
use enroll_server::startup::{Application, MIGRATOR};

/// mimalloc instead of glibc malloc: the request path allocates small,
/// short-lived buffers on several threads, where glibc's arenas contend.
/// Its 2.x series (the crate's `v2` feature), which spends less time in
/// malloc under a rush than 3.x. Freed memory is kept a second before it
/// goes back to the OS (see `servekit::allocator`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    servekit::allocator::keep_freed_pages();
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
