//! `symdlnn discover`: find the symmetries of saved models again, with
//! another solver, search space or set of evaluation pairs, without
//! training; over several models (seeds) of one system, jointly.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use symdlnn::data::{io, Dataset};
use symdlnn::learn::model_dir::{self, ModelFile};
use symdlnn::learn::symmetry::{agreement_between, discover_jointly, DiscoverySolver, Symmetries};
use symdlnn::learn::{check_unwrapped, LearnedLd, MethodKind};
use symdlnn::mechanics::System;

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
  symdlnn discover --model seed0 --model seed1 --model seed2 --data train.csv --truth kepler

Prints the generators; the model directories are not changed. The defaults
are the (first) model's own SymDLNN settings (for a DLNN model: one
generator, variational, affine, train+box:200). With several models of one
system (say, trained from different seeds) the generators are found
jointly — each model's equations scaled to the same weight and stacked —
and each model's own are compared with them. The paper's solver trains its
coefficients with the network: use train for it.")]
pub struct DiscoverArgs {
    /// Model directory (DLNN or SymDLNN); repeat it for joint discovery over several models
    #[arg(long, required = true)]
    model: Vec<PathBuf>,
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
    /// Seed of the box pairs (ChaCha8) [default: the (first) model's seed]
    #[arg(long)]
    seed: Option<u64>,
    /// Compare the generators with a built-in system's symmetries
    #[arg(long, value_name = "SYSTEM")]
    truth: Option<String>,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

/// One model read for discovery.
struct Loaded {
    path: PathBuf,
    model: ModelFile,
    ld: LearnedLd,
}

/// Read `path`, refusing what has no discrete Lagrangian or does not fit
/// `data` (dimension, step, unwrapped angles).
fn load(path: &Path, data: &Dataset, source: &str) -> anyhow::Result<Loaded> {
    let (model, mlp) = model_dir::load(path)?;
    if model.method == MethodKind::Lnn {
        anyhow::bail!(
            "{}: an LNN has no discrete Lagrangian to find symmetries of (train with --method dlnn or symdlnn)",
            path.display()
        );
    }
    data.expect_dim(model.n, source)
        .with_context(|| format!("the model {}", path.display()))?;
    let h = model.h;
    if (data.dt - h).abs() > io::DT_RTOL * h {
        anyhow::bail!(
            "{source}: the data's time step {} differs from the step {h} of {}",
            data.dt,
            path.display()
        );
    }
    check_unwrapped(model.parametrisation.angles(), data).with_context(|| source.to_string())?;
    let ld = LearnedLd::new(mlp, model.parametrisation.clone());
    Ok(Loaded {
        path: path.to_path_buf(),
        model,
        ld,
    })
}

pub fn run(a: DiscoverArgs) -> anyhow::Result<()> {
    let data = io::read(&a.data, a.dt)?;
    let source = a.data.display().to_string();
    let models = (a.model.iter())
        .map(|p| load(p, &data, &source))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let first = &models[0].model;
    let truth = (a.truth.as_deref())
        .map(|t| truth_for(t, first.n))
        .transpose()?;
    let own = first.training.method.symmetry();
    let k = a.symmetries.or(own.map(|s| s.generators)).unwrap_or(1);
    let basis = (a.sym_basis.clone())
        .or(own.map(|s| s.basis.to_string()))
        .unwrap_or_else(|| "affine".into());
    let points = (a.sym_points.clone())
        .or(own.map(|s| s.points.to_string()))
        .unwrap_or_else(|| "train+box:200".into());
    let (basis, points) = search_space(&basis, &points, k, first.n)?;
    let solver = match (a.sym_solver, own.map(|s| s.solver)) {
        (Some(Solver::Nullspace), _) => DiscoverySolver::Nullspace,
        (Some(Solver::Variational), _) => DiscoverySolver::Variational,
        (None, Some(DiscoverySolver::Nullspace)) => DiscoverySolver::Nullspace,
        (None, _) => DiscoverySolver::Variational,
    };
    let seed = a.seed.unwrap_or(first.seed);
    // Each model's own generators and (with several models) the joint ones;
    // one model's are training's, to the bit.
    let lds: Vec<&LearnedLd> = models.iter().map(|m| &m.ld).collect();
    let pairs = points.pairs(&data, seed);
    let found = discover_jointly(&lds, solver, basis, k, &data, &pairs)
        .with_context(|| format!("symmetry discovery on {source}"))?;
    let several = models.len() > 1;
    let sym = if several {
        &found.joint
    } else {
        &found.alone[0]
    };
    let agreement = truth.as_ref().map(|s| agreement_with(s, sym)).transpose()?;
    let each = (models.iter().zip(&found.alone))
        .filter(|_| several)
        .map(|(m, own)| {
            let truth = truth.as_ref().map(|s| agreement_with(s, own)).transpose()?;
            Ok((
                m,
                own,
                agreement_between(&own.generators, &sym.generators),
                truth,
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if a.json {
        let mut v = serde_json::to_value(sym)?;
        v["solver"] = serde_json::to_value(solver)?;
        v["points"] = serde_json::to_value(points.to_string())?;
        v["seed"] = seed.into();
        v["agreement"] = serde_json::to_value(&agreement)?;
        if several {
            let list: Vec<serde_json::Value> = (each.iter())
                .map(|(m, own, with_joint, truth)| {
                    let mut e = serde_json::to_value(own)?;
                    e["model"] = m.path.display().to_string().into();
                    e["agreement_with_joint"] = serde_json::to_value(with_joint)?;
                    e["agreement"] = serde_json::to_value(truth)?;
                    Ok(e)
                })
                .collect::<anyhow::Result<_>>()?;
            v["models"] = list.into();
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let count = data.trajectories.len();
    let trajectories = if count == 1 {
        "trajectory"
    } else {
        "trajectories"
    };
    if !several {
        println!(
            "model {} on {source} ({count} {trajectories})",
            models[0].path.display()
        );
    } else {
        println!(
            "{} models jointly on {source} ({count} {trajectories})",
            models.len()
        );
    }
    print_symmetries(sym, solver);
    if let (Some(ag), Some(s)) = (&agreement, &truth) {
        print_agreement(s, ag);
    }
    if several {
        println!("  each model alone:");
        for (m, own, with_joint, against_truth) in &each {
            print_alone(m, own, with_joint, against_truth.as_deref(), truth.as_ref());
        }
    }
    Ok(())
}

/// One model's own generators beside the joint ones.
fn print_alone(
    m: &Loaded,
    own: &Symmetries,
    with_joint: &[f64],
    against_truth: Option<&[f64]>,
    truth: Option<&System>,
) {
    let names: Vec<&str> = own
        .generators
        .iter()
        .map(|g| g.description.as_str())
        .collect();
    // `agreement` gives |cos| for one generator against one, angles otherwise.
    let measure = |x: &[f64], others: usize| -> String {
        if own.generators.len() == 1 && others == 1 {
            format!("|cos| {:.6}", x[0])
        } else {
            let angles: Vec<String> = x.iter().map(|a| format!("{a:.3}°")).collect();
            format!("principal angles {}", angles.join(", "))
        }
    };
    let mut line = format!(
        "    {}: {}; gap {:.2e}; to the joint {}",
        m.path.display(),
        names.join(", "),
        own.gap.unwrap_or(f64::NAN),
        measure(with_joint, own.generators.len())
    );
    if let (Some(x), Some(s)) = (against_truth, truth) {
        line += &format!("; to {}'s {}", s.name(), measure(x, s.symmetries().len()));
    }
    println!("{line}");
}
