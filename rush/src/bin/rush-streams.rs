//! `rush-streams`: event streams held by one enroll-server (see
//! `rush::streams`). `cargo run --release -p rush --bin rush-streams`.

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One thread, as in `rush`: the tool should not compete with the server
/// for the second core.
fn main() -> anyhow::Result<()> {
    servekit::allocator::keep_freed_pages();
    let cli = rush::streams::StreamsCli::parse();
    let figures = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(rush::streams::run(&cli))?;
    println!("\n{}", figures.table());
    Ok(())
}
