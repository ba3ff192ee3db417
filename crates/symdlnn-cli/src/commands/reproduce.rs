use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use symdlnn::data::io;
use symdlnn::eval::experiment::{self, Profile};
use symdlnn::learn::control::parse_duration;
use symdlnn::report;

#[derive(Args)]
#[command(after_help = "Examples:
  symdlnn reproduce --profile quick --out report
  symdlnn reproduce --profile quick --only cartpend-single,kepler-single --out report
  symdlnn reproduce --profile paper --out report-paper
  symdlnn reproduce --profile paper --only cartpend-multi --trajectories 20 --out report-20
  symdlnn reproduce --profile paper --only kepler-multi --time-budget 15m --out report-k

Experiments: cartpend-single, kepler-single, kepler-noisy,
cartpend-multi, kepler-multi. Writes report.md, metrics.json, figures/,
data/ and models/ into --out; report.md and metrics.json are rewritten after
each experiment, so a long run can be read while it goes.")]
pub struct ReproduceArgs {
    /// quick (small networks, minutes) or paper (the full protocol: about an hour per single-trajectory experiment; the 100-trajectory ones train each model on a 5-minute budget, about 45 minutes per experiment on 2 cores)
    #[arg(long, default_value = "quick")]
    profile: String,
    /// Comma-separated experiments to run (default: all)
    #[arg(long)]
    only: Option<String>,
    /// Output directory
    #[arg(long, default_value = "report")]
    out: PathBuf,
    /// Override the profile's epochs (every experiment); recorded in the report
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    epochs: Option<usize>,
    /// Override the number of trajectories of the multi-trajectory experiments
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(2..))]
    trajectories: Option<usize>,
    /// Train every model of the multi-trajectory experiments for at most this long (e.g. 90s, 10m; the paper profile's default 5m), holding 10 % of the trajectories out to keep the best model
    #[arg(long, value_name = "TIME")]
    time_budget: Option<String>,
    /// Seed of the networks, the initial-condition box and the noise
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads per training
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=256))]
    threads: u64,
}

pub fn run(a: ReproduceArgs) -> anyhow::Result<()> {
    let profile = Profile::from_name(&a.profile)
        .with_context(|| format!("--profile: '{}' is not quick or paper", a.profile))?;
    let mut settings = profile.settings();
    if let Some(e) = a.epochs {
        settings.epochs_single = e;
        settings.epochs_multi = e;
    }
    if let Some(m) = a.trajectories {
        settings.multi_trajectories = m;
    }
    if let Some(t) = &a.time_budget {
        settings.multi_time_budget = Some(parse_duration(t).context("--time-budget")?);
    }
    settings.seed = a.seed;
    let mut all = experiment::catalogue(&settings);
    if let Some(only) = &a.only {
        let wanted: Vec<&str> = only.split(',').map(str::trim).collect();
        for w in &wanted {
            if !all.iter().any(|e| e.name == *w) {
                let known: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
                bail!(
                    "--only: unknown experiment '{w}' (known: {})",
                    known.join(", ")
                );
            }
        }
        all.retain(|e| wanted.contains(&e.name.as_str()));
    }
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let start = Instant::now();
    let mut results = vec![];
    let count = all.len();
    for (i, exp) in all.iter().enumerate() {
        let bar = crate::progress::bar(exp.epochs as u64, "epochs");
        let mut on_progress = crate::progress::experiment(&bar, i, count);
        let run = experiment::run(exp, &settings, a.threads as usize, &a.out, &mut on_progress)?;
        bar.finish_and_clear();
        let mut result = run.result.clone();
        result.figures = report::experiment_figures(&run, &a.out)?;
        results.push(result);
        write_outputs(
            &a.out,
            profile,
            &settings,
            &results,
            start.elapsed().as_secs_f64(),
        )?;
    }
    let seconds = start.elapsed().as_secs_f64();
    write_outputs(&a.out, profile, &settings, &results, seconds)?;
    println!(
        "wrote {} and {} ({} experiments, {:.0} s)",
        a.out.join("report.md").display(),
        a.out.join("metrics.json").display(),
        results.len(),
        seconds
    );
    Ok(())
}

fn write_outputs(
    out: &std::path::Path,
    profile: Profile,
    settings: &experiment::Settings,
    results: &[experiment::ExperimentResult],
    seconds: f64,
) -> anyhow::Result<()> {
    let md = report::markdown(profile, settings, results, seconds);
    io::write_atomic(&out.join("report.md"), md.as_bytes())?;
    let json = serde_json::json!({
        "symdlnn_version": env!("CARGO_PKG_VERSION"),
        "profile": profile,
        "settings": settings,
        "seconds": seconds,
        "experiments": results,
    });
    io::write_atomic(
        &out.join("metrics.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    Ok(())
}
