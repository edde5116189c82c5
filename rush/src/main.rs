use clap::Parser;

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
