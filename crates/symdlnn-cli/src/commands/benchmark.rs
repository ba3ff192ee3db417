use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use symdlnn::data::io;
use symdlnn::eval::zoo::{self, PeerResult};
use symdlnn::mechanics::System;
use symdlnn::report;

/// The PySINDy peer, shipped with the repository as `benches/peer/sindy.py`.
const SINDY: &str = include_str!("../../../../benches/peer/sindy.py");

#[derive(Args)]
#[command(after_help = "Examples:
  symdlnn benchmark --out zoo
  symdlnn benchmark --only spherical-pendulum,magnetic-trap --epochs 500 --out zoo-small
  symdlnn benchmark --python /tmp/sindy-venv/bin/python --out zoo

Every system of `symdlnn systems`, one trajectory and eight; DLNN with
default settings, DLNN with the recommended switches, the LNN; and PySINDy
when `PYTHON -c 'import pysindy'` works (`pip install pysindy`). Writes
report.md, metrics.json, figures/, data/, models/ and peer/ into --out,
rewritten after each experiment.")]
pub struct BenchmarkArgs {
    /// Comma-separated systems (default: all)
    #[arg(long)]
    only: Option<String>,
    /// Output directory
    #[arg(long, default_value = "zoo")]
    out: PathBuf,
    /// Override the epochs (one trajectory and eight)
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    epochs: Option<usize>,
    /// Trajectories of the multi-trajectory experiments
    #[arg(long, default_value_t = 8, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(2..))]
    trajectories: usize,
    /// Seed of the networks and the initial-condition box
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads per training
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=256))]
    threads: u64,
    /// Python interpreter for the PySINDy peer
    #[arg(long, default_value = "python3")]
    python: String,
    /// Do not run the peer
    #[arg(long)]
    no_peer: bool,
}

pub fn run(a: BenchmarkArgs) -> anyhow::Result<()> {
    let mut settings = zoo::settings();
    if let Some(e) = a.epochs {
        settings.epochs_single = e;
        settings.epochs_multi = e;
    }
    settings.multi_trajectories = a.trajectories;
    settings.seed = a.seed;
    let names: Vec<&str> = match &a.only {
        Some(only) => only.split(',').map(str::trim).collect(),
        None => System::NAMES.to_vec(),
    };
    let all = zoo::catalogue(&settings, &names).context("--only")?;
    std::fs::create_dir_all(a.out.join("peer"))
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let (peer, mut peer_note) = peer_available(&a);
    let script = a.out.join("peer").join("sindy.py");
    if peer {
        std::fs::write(&script, SINDY)
            .with_context(|| format!("cannot write {}", script.display()))?;
    }
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let start = Instant::now();
    let mut results = vec![];
    let mut peers = BTreeMap::new();
    let count = all.len();
    for (i, exp) in all.iter().enumerate() {
        let bar = crate::progress::bar(exp.epochs as u64, "epochs");
        let mut on_progress = crate::progress::experiment(&bar, i, count);
        let run = zoo::run(exp, &settings, a.threads as usize, &a.out, &mut on_progress)?;
        bar.finish_and_clear();
        let mut result = run.result.clone();
        if exp.trajectories == 1 {
            result.figures = report::zoo::zoo_figure(&run, &a.out)?.into_iter().collect();
        }
        results.push(result);
        if peer {
            eprintln!("[{}/{count}] {}: PySINDy", i + 1, exp.name);
            match run_peer(&a, &script, &exp.name, exp.grid.steps) {
                Ok(p) => {
                    peers.insert(exp.name.clone(), p);
                }
                Err(e) => {
                    eprintln!("warning: PySINDy on {}: {e:#}", exp.name);
                    peer_note = format!("{peer_note} PySINDy failed on {}: {e:#}.", exp.name);
                }
            }
        }
        write_outputs(
            &a.out, &settings, &results, &peers, &peer_note, start, &command,
        )?;
    }
    write_outputs(
        &a.out, &settings, &results, &peers, &peer_note, start, &command,
    )?;
    println!(
        "wrote {} and {} ({} experiments, {:.0} s)",
        a.out.join("report.md").display(),
        a.out.join("metrics.json").display(),
        results.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Whether the peer can run, and the report's sentence about it.
fn peer_available(a: &BenchmarkArgs) -> (bool, String) {
    if a.no_peer {
        return (false, "PySINDy not run (--no-peer).".into());
    }
    let ok = Command::new(&a.python)
        .args(["-c", "import pysindy, scipy, numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        let version = Command::new(&a.python)
            .args(["-c", "import pysindy; print(pysindy.__version__)"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        (true, format!("Peer: PySINDy {version} (`{}`).", a.python))
    } else {
        (
            false,
            format!(
                "PySINDy column missing: `{} -c \"import pysindy\"` failed; `pip install pysindy` (e.g. into a venv) and pass `--python` to include it.",
                a.python
            ),
        )
    }
}

/// Run the peer on one experiment's files and read its JSON.
fn run_peer(
    a: &BenchmarkArgs,
    script: &Path,
    name: &str,
    steps: usize,
) -> anyhow::Result<PeerResult> {
    let json = a.out.join("peer").join(format!("{name}.json"));
    let out = Command::new(&a.python)
        .arg(script)
        .arg("--data")
        .arg(a.out.join("data"))
        .args(["--name", name, "--steps", &steps.to_string()])
        .arg("--out")
        .arg(&json)
        .output()
        .context("cannot start python")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!("{}", err.lines().last().unwrap_or("failed"));
    }
    let text = std::fs::read_to_string(&json)
        .with_context(|| format!("cannot read {}", json.display()))?;
    Ok(serde_json::from_str(&text)?)
}

fn write_outputs(
    out: &Path,
    settings: &symdlnn::eval::experiment::Settings,
    results: &[symdlnn::eval::experiment::ExperimentResult],
    peers: &BTreeMap<String, PeerResult>,
    peer_note: &str,
    start: Instant,
    command: &str,
) -> anyhow::Result<()> {
    let seconds = start.elapsed().as_secs_f64();
    let md = report::zoo::zoo_markdown(settings, results, peers, peer_note, seconds, command);
    io::write_atomic(&out.join("report.md"), md.as_bytes())?;
    let json = serde_json::json!({
        "symdlnn_version": env!("CARGO_PKG_VERSION"),
        "benchmark": "zoo",
        "settings": settings,
        "seconds": seconds,
        "experiments": results,
        "peer": peers,
    });
    io::write_atomic(
        &out.join("metrics.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    Ok(())
}
