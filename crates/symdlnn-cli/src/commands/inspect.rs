use std::path::PathBuf;

use clap::Args;
use symdlnn::learn::model_dir;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  symdlnn inspect --model model\n  symdlnn inspect --model model --json"
)]
pub struct InspectArgs {
    /// Model directory
    #[arg(long)]
    model: PathBuf,
    /// Print model.json's contents as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(a: InspectArgs) -> anyhow::Result<()> {
    let (m, mlp) = model_dir::load(&a.model)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&m)?);
        return Ok(());
    }
    let arch: Vec<String> = mlp.widths().iter().map(|w| w.to_string()).collect();
    println!(
        "model {} (symdlnn {}, format {})",
        a.model.display(),
        m.symdlnn_version,
        m.format
    );
    println!(
        "  method {} ({:?} recipe), n = {}, h = {}",
        m.method, m.training.recipe, m.n, m.h
    );
    println!(
        "  network {} {} ({} parameters), seed {}",
        arch.join("-"),
        m.architecture.activation.name(),
        mlp.params().len(),
        m.seed
    );
    println!(
        "  trained {} epochs in {:.1} s on {} ({} trajectories, {} samples)",
        m.epochs_done, m.training_seconds, m.data.source, m.data.trajectories, m.data.samples
    );
    let losses: Vec<String> = m
        .final_losses
        .iter()
        .map(|(k, v)| format!("{k} {v:.4e}"))
        .collect();
    println!("  final losses: {}", losses.join(", "));
    if let Some(d) = m.det_j {
        println!(
            "  det J: min |det(hJ)| {:.3e}, median {:.3e}, sign flips {}{}",
            d.min_abs_hdet,
            d.median_abs_hdet,
            d.sign_flips,
            if m.near_degenerate {
                "  — WARNING: near-degenerate Ld"
            } else {
                ""
            }
        );
    }
    Ok(())
}
