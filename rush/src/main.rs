use clap::Parser;

/// mimalloc instead of glibc malloc: every request allocates a few small
/// short-lived buffers, and glibc's malloc/free were about a tenth of the
/// tool's CPU during a rush (profiled).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One thread, like a single `wrk` thread: the tool needs well under one
/// core and should not compete with the system under test for the second.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = rush::Cli::parse();
    let summary = rush::run(&cli).await?;
    println!("\n{}", summary.table());
    for v in &summary.violation_examples {
        println!("  violation: {v}");
    }
    println!(
        "  wrote {} and {}",
        cli.out.join("rush-results.json").display(),
        cli.out.join("rush-plot.svg").display()
    );
    if summary.violations > 0 {
        std::process::exit(1);
    }
    Ok(())
}
