//! Per-step wall times of the DLNN training step of `benches/learn.rs` (the
//! peer's 201-point trajectory, 4-128-128-128-1 softplus), for profiling
//! and quick comparisons on a noisy machine: the minimum and the quartiles
//! of many single steps are steadier than a mean.
//!
//! `cargo run --release --example step_timing -- [robust|paper|all-jacobians][+noise][+shaping:N] [threads] [steps]`
//!
//! `+noise` trains latent positions (`--noise 0.001`) with the network;
//! `+shaping:N` adds SymDLNN's shaping term of the bench (over the training
//! pairs and `N` box pairs) to the step.

use std::time::Instant;

#[path = "../benches/common/mod.rs"]
mod common;
use common::peer_data;

use symdlnn::learn::symmetry::{DiscoverySolver, EvaluationPoints, SymmetryBasis};
use symdlnn::learn::{trainer, JacobianStride, Recipe, ShapingConfig, SymmetryConfig, TrainConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map_or("robust", String::as_str);
    let noise = which.contains("+noise");
    let which = which.replace("+noise", "");
    let which = which.as_str();
    let threads: usize = args.get(1).map_or(Ok(2), |s| s.parse())?;
    let steps: usize = args.get(2).map_or(Ok(2000), |s| s.parse())?;
    let unknown = || format!("unknown step '{which}'");
    let (step, boxed) = match which.split_once("+shaping:") {
        Some((step, n)) => (step, Some(n.parse::<usize>().map_err(|_| unknown())?)),
        None => (which, None),
    };
    let (recipe, every) = match step {
        "robust" => (Recipe::Robust, 0),
        "all-jacobians" => (Recipe::Robust, 1),
        "paper" => (Recipe::Paper, 1),
        _ => return Err(unknown().into()),
    };
    let data = peer_data();
    let mut cfg = TrainConfig::new(recipe, 1_000_000);
    cfg.threads = threads;
    if let Some(d) = cfg.dlnn_mut() {
        d.loss.jacobian_every = JacobianStride::from(every);
        if noise {
            d.noise = symdlnn::data::NoiseSpec::Sigma(vec![1e-3]);
        }
    }
    if let Some(boxed) = boxed {
        cfg = cfg.with_symmetry(SymmetryConfig {
            generators: 1,
            basis: SymmetryBasis::Affine,
            points: EvaluationPoints { train: true, boxed },
            shaping: Some(ShapingConfig {
                weight: 1.0,
                warmup: 0,
            }),
            solver: DiscoverySolver::Variational,
            coefficients: None,
            build_in: false,
        })?;
    }
    let mut t = trainer(&cfg, &data, None)?;
    for _ in 0..100 {
        t.step()?;
    }
    let mut ms = Vec::with_capacity(steps);
    for _ in 0..steps {
        let start = Instant::now();
        t.step()?;
        ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    let q = |f: f64| ms[((steps - 1) as f64 * f) as usize];
    println!(
        "{which}{} {threads} thread(s), {steps} steps: min {:.3} ms, quartiles {:.3} / {:.3} / {:.3} ms",
        if noise { "+noise" } else { "" },
        q(0.0),
        q(0.25),
        q(0.5),
        q(0.75)
    );
    Ok(())
}
