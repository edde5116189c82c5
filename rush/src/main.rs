use clap::Parser;
use rush::mix::Scenario;

/// mimalloc instead of glibc malloc: every request allocates a few small
/// short-lived buffers, and glibc's malloc/free were a sizeable share of the
/// tool's CPU during a rush (profiled). The 2.x series, as in enroll-server,
/// with the same one-second purge delay (`servekit::allocator` says why).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One thread, like a single `wrk` thread: the tool needs well under one
/// core and should not compete with the system under test for the second.
fn main() -> anyhow::Result<()> {
    servekit::allocator::keep_freed_pages();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(rush_all())
}

/// The run, or `--repeat` runs and their table, or both scenarios in turn
/// and their comparison.
async fn rush_all() -> anyhow::Result<()> {
    let cli = rush::Cli::parse();
    let scenario = match cli.scenario.round() {
        [one] => *one,
        _ => return compare(&cli).await,
    };
    if cli.repeat == 1 {
        let summary = run_once(&cli, scenario).await?;
        if summary.violations > 0 {
            std::process::exit(1);
        }
        return Ok(());
    }
    let mut runs = Vec::new();
    for k in 1..=cli.repeat {
        eprintln!("=== run {k} of {}", cli.repeat);
        let mut one = cli.clone();
        one.out = cli.out.join(format!("run-{k}"));
        runs.push(run_once(&one, scenario).await?);
    }
    println!("\n{}", rush::repeat::table(&runs));
    let path = rush::repeat::write_json(&cli.out, &runs)?;
    println!("  wrote {}", path.display());
    if runs.iter().any(|s| s.violations > 0) {
        std::process::exit(1);
    }
    Ok(())
}

/// `--scenario both`: rounds of default then phased, each run's table as
/// it finishes, then each scenario's spreads and the two side by side.
async fn compare(cli: &rush::Cli) -> anyhow::Result<()> {
    let (mut default, mut phased) = (Vec::new(), Vec::new());
    for k in 1..=cli.repeat {
        for &scenario in cli.scenario.round() {
            eprintln!("=== round {k} of {}: {}", cli.repeat, scenario.name());
            let mut one = cli.clone();
            one.out = cli.out.join(format!("run-{k}-{}", scenario.name()));
            let summary = run_once(&one, scenario).await?;
            match scenario {
                Scenario::Default => default.push(summary),
                Scenario::Phased | Scenario::Waitlist | Scenario::Cart => phased.push(summary),
            }
        }
    }
    if cli.repeat > 1 {
        for (name, runs) in [("default", &default), ("phased", &phased)] {
            println!("\n  {name} scenario\n{}", rush::repeat::table(runs));
        }
    }
    println!("\n{}", rush::compare::table(&default, &phased));
    let path = rush::compare::write_json(&cli.out, &default, &phased)?;
    println!("  wrote {}", path.display());
    if default.iter().chain(&phased).any(|s| s.violations > 0) {
        std::process::exit(1);
    }
    Ok(())
}

/// One whole run: its table, its violations and the files it wrote.
async fn run_once(cli: &rush::Cli, scenario: Scenario) -> anyhow::Result<rush::report::Summary> {
    let summary = rush::run(cli, scenario).await?;
    println!("\n{}", summary.table());
    for v in &summary.violation_examples {
        println!("  violation: {v}");
    }
    println!(
        "  wrote {} and {}",
        cli.out.join("rush-results.json").display(),
        cli.out.join("rush-plot.svg").display()
    );
    Ok(summary)
}
