//! `symdlnn discover`: find the symmetries of a saved model's `Ld` again,
//! with another solver, search space or set of evaluation pairs, without
//! training again.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use symdlnn::data::io;
use symdlnn::learn::symmetry::DiscoverySolver;
use symdlnn::learn::{check_angles, discover_symmetries, model_dir, LearnedLd, SymmetryConfig};

use super::inspect::{agreement_with, print_agreement, print_symmetries, truth_for};
use super::train::search_space;
use crate::args;

#[derive(Clone, Copy, ValueEnum)]
enum Solver {
    /// Fields that solve the learned dynamics' linearised DEL equations (gauge-invariant)
    Variational,
    /// Smallest right singular vectors of the symmetry matrix of the learned Ld
    Nullspace,
}

#[derive(Args)]
#[command(after_help = "Examples:
  symdlnn discover --model model --data train.csv --sym-solver nullspace --truth kepler
  symdlnn discover --model model --data train.csv --sym-points train+box:1000 --symmetries 2 --json

Prints the generators; the model directory is not changed. The defaults
are the model's own SymDLNN settings (for a DLNN model: one generator,
variational, affine, train+box:200). The paper's solver trains its
coefficients with the network: use train for it.")]
pub struct DiscoverArgs {
    /// Model directory (DLNN or SymDLNN)
    #[arg(long)]
    model: PathBuf,
    /// Trajectories whose pairs (and triples) the symmetry is imposed on: .csv or .npy
    #[arg(long)]
    data: PathBuf,
    /// Time step of an .npy --data file
    #[arg(long, value_parser = args::positive)]
    dt: Option<f64>,
    /// Number of generators K
    #[arg(long)]
    symmetries: Option<usize>,
    /// How generators are found
    #[arg(long, value_enum)]
    sym_solver: Option<Solver>,
    /// Search space: affine (ξ = Mq + w), translations, linear, rotations, or polynomial:D (degree ≤ D)
    #[arg(long)]
    sym_basis: Option<String>,
    /// Evaluation pairs (null space): train, box:N or train+box:N
    #[arg(long)]
    sym_points: Option<String>,
    /// Seed of the box pairs (ChaCha8) [default: the model's seed]
    #[arg(long)]
    seed: Option<u64>,
    /// Compare the generators with a built-in system's symmetries
    #[arg(long, value_name = "SYSTEM")]
    truth: Option<String>,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(a: DiscoverArgs) -> anyhow::Result<()> {
    let (model, mlp) = model_dir::load(&a.model)?;
    if model.method == "lnn" {
        anyhow::bail!(
            "{}: an LNN has no discrete Lagrangian to find symmetries of (train with --method dlnn or symdlnn)",
            a.model.display()
        );
    }
    let truth = a
        .truth
        .as_deref()
        .map(|t| truth_for(t, model.n))
        .transpose()?;
    let data = io::read(&a.data, a.dt)?;
    let source = a.data.display().to_string();
    data.expect_dim(model.n, &source)?;
    let h = model.h;
    if (data.dt - h).abs() > io::DT_RTOL * h {
        anyhow::bail!(
            "{source}: the data's time step {} differs from the model's step {h}",
            data.dt
        );
    }
    check_angles(model.parametrisation.angles(), &data).with_context(|| source.clone())?;
    let own = model.training.symmetry.as_ref();
    let k = a.symmetries.or(own.map(|s| s.generators)).unwrap_or(1);
    let basis = (a.sym_basis.clone())
        .or(own.map(|s| s.basis.to_string()))
        .unwrap_or_else(|| "affine".into());
    let points = (a.sym_points.clone())
        .or(own.map(|s| s.points.to_string()))
        .unwrap_or_else(|| "train+box:200".into());
    let (basis, points) = search_space(&basis, &points, k, model.n)?;
    let solver = match (a.sym_solver, own.map(|s| s.solver)) {
        (Some(Solver::Nullspace), _) => DiscoverySolver::Nullspace,
        (Some(Solver::Variational), _) => DiscoverySolver::Variational,
        (None, Some(DiscoverySolver::Nullspace)) => DiscoverySolver::Nullspace,
        (None, _) => DiscoverySolver::Variational,
    };
    let seed = a.seed.unwrap_or(model.seed);
    let config = SymmetryConfig {
        generators: k,
        basis,
        points,
        shaping: None,
        solver,
        coefficients: None,
    };
    let ld = LearnedLd::new(mlp, model.parametrisation.clone());
    let sym = discover_symmetries(&ld, &config, &data, seed, &[])
        .with_context(|| format!("symmetry discovery on {source}"))?;
    let agreement = truth
        .as_ref()
        .map(|s| agreement_with(s, &sym))
        .transpose()?;
    if a.json {
        let mut v = serde_json::to_value(&sym)?;
        v["solver"] = serde_json::to_value(solver)?;
        v["points"] = serde_json::to_value(config.points.to_string())?;
        v["seed"] = seed.into();
        v["agreement"] = serde_json::to_value(&agreement)?;
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let count = data.trajectories.len();
    println!(
        "model {} on {source} ({count} {})",
        a.model.display(),
        if count == 1 {
            "trajectory"
        } else {
            "trajectories"
        }
    );
    print_symmetries(&sym, solver);
    if let (Some(ag), Some(s)) = (&agreement, &truth) {
        print_agreement(s, ag);
    }
    Ok(())
}
