use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use symdlnn::data::{io, Dataset, Trajectory};
use symdlnn::eval::start::{observed_start, StartChoice};
use symdlnn::eval::VbeaLagrangian;
use symdlnn::learn::{model_dir, LearnedLd};
use symdlnn::mechanics::{Convergence, LagrangianDerivatives, VariationalIntegrator};

use crate::args;

#[derive(Args)]
#[command(
    allow_negative_numbers = true,
    after_help = "Examples:
  symdlnn predict --model model --data cartpend.csv --steps 300 --out pred.csv
  symdlnn predict --model model --data noisy.csv --fit-start 10 --steps 300 --out pred.csv
  symdlnn predict --model model --q0 0.1,0.1 --q1 0.09995,0.1001 --steps 500 --out pred.csv
  symdlnn predict --model model --q0 1,0 --v0 0,0.6 --steps 500 --out pred.csv

--v0 starts from a state: the initial momentum p0 = ∂L_VBEA/∂q̇(q0, v0) of the
model's modified Lagrangian, then p0 + D1 Ld(q0, q1) = 0 gives q1.

--fit-start K starts from the (q0, q1) whose rollout under the model best
fits the data's first K points (least squares), instead of its first two
points: with noisy data, two points put an error of about √2·σ/Δt into the
starting velocity. A model trained with --noise does this by default: from
its own training data it starts from its denoised positions, from other data
it fits the first 10 points (--fit-start K to choose K)."
)]
pub struct PredictArgs {
    /// Model directory
    #[arg(long)]
    model: PathBuf,
    /// Start from the first two points of a trajectory in this file
    #[arg(long, conflicts_with_all = ["q0", "q1", "v0"], required_unless_present = "q0")]
    data: Option<PathBuf>,
    /// Which trajectory of --data (from 0)
    #[arg(long, default_value_t = 0, requires = "data")]
    traj: usize,
    /// Start from the (q0, q1) fitted to the first K points of --data (default for a model trained with --noise: its denoised start on its training data, else K = 10)
    #[arg(long, value_name = "K", requires = "data", conflicts_with_all = ["q0", "q1", "v0"])]
    fit_start: Option<usize>,
    /// Time step of an .npy --data file
    #[arg(long, value_parser = args::positive, requires = "data")]
    dt: Option<f64>,
    /// First position, comma-separated (with --q1 or --v0)
    #[arg(long, value_parser = args::float_list, allow_hyphen_values = true)]
    q0: Option<args::FloatList>,
    /// Second position (one step h later), comma-separated
    #[arg(long, value_parser = args::float_list, allow_hyphen_values = true, requires = "q0", conflicts_with = "v0")]
    q1: Option<args::FloatList>,
    /// Initial velocity, comma-separated: start from the state (q0, v0)
    #[arg(long, value_parser = args::float_list, allow_hyphen_values = true, requires = "q0")]
    v0: Option<args::FloatList>,
    /// Steps: the output has steps + 1 points
    #[arg(long)]
    steps: usize,
    /// Output file (.csv or .npy)
    #[arg(long)]
    out: PathBuf,
    /// Print a JSON summary
    #[arg(long)]
    json: bool,
}

/// Where a prediction starts.
enum Start {
    /// Two positions one step apart (from `--data`: how they were chosen).
    Positions(Vec<f64>, Vec<f64>, Option<StartChoice>),
    /// A position and a velocity (through the modified Lagrangian's momentum).
    State(Vec<f64>, Vec<f64>),
}

pub fn run(a: PredictArgs) -> anyhow::Result<()> {
    io::Format::of(&a.out)?;
    if a.steps < 1 {
        bail!("--steps must be at least 1");
    }
    let (model, mlp) = model_dir::load(&a.model)?;
    let n = model.n;
    let h = model.h;
    let ld = LearnedLd::new(mlp, model.parametrisation.clone());
    let check = |name: &str, x: &args::FloatList| {
        if x.0.len() == n {
            Ok(x.0.clone())
        } else {
            Err(anyhow::anyhow!(
                "{name} has {} values; the model has dimension {n}",
                x.0.len()
            ))
        }
    };
    let (start_pair, t0) = match (&a.data, &a.q0, &a.q1, &a.v0) {
        (Some(path), _, _, _) => {
            let data = io::read(path, a.dt)?;
            data.expect_dim(n, &path.display().to_string())?;
            if (data.dt - h).abs() > io::DT_RTOL * h {
                bail!(
                    "{}: the data's time step {} differs from the model's step {h}",
                    path.display(),
                    data.dt
                );
            }
            let tr = data.trajectories.get(a.traj).with_context(|| {
                format!(
                    "{}: no trajectory {} (the file has {})",
                    path.display(),
                    a.traj,
                    data.trajectories.len()
                )
            })?;
            let t0 = tr.t[0];
            let denoised = model_dir::load_denoised(&a.model)?;
            let (q0, q1, choice) =
                observed_start(&ld, &model, denoised.as_ref(), &data, a.traj, a.fit_start)
                    .with_context(|| match a.fit_start {
                        Some(k) => format!("--fit-start {k}"),
                        None => "fitting the start (a model trained with noise)".into(),
                    })?;
            (Start::Positions(q0, q1, Some(choice)), t0)
        }
        (None, Some(q0), Some(q1), None) => (
            Start::Positions(check("--q0", q0)?, check("--q1", q1)?, None),
            0.0,
        ),
        (None, Some(q0), None, Some(v0)) => {
            (Start::State(check("--q0", q0)?, check("--v0", v0)?), 0.0)
        }
        _ => bail!("give --data, or --q0 with --q1 or --v0"),
    };
    let choice = match &start_pair {
        Start::Positions(_, _, c) => c.clone(),
        Start::State(..) => None,
    };
    let fitted = match &choice {
        Some(StartChoice::Fitted { fit, .. }) => Some(fit.clone()),
        _ => None,
    };
    let start = std::time::Instant::now();
    let mut integrator = VariationalIntegrator::new(&ld, Convergence::default());
    let (path, failure) = match start_pair {
        Start::Positions(q0, q1, _) => integrator
            .rollout_positions_until_failure(&q0, &q1, a.steps - 1)
            .context("prediction failed")?,
        Start::State(q0, v0) => {
            let p0 = VbeaLagrangian::new(&ld).momentum(&q0, &v0);
            integrator
                .rollout_momentum_until_failure(&q0, &p0, a.steps, 1)
                .context("prediction from (q0, v0) failed")?
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    let points = path.q.len() / n.max(1);
    let tr = Trajectory::from_positions(n, t0, h, path.q);
    io::write(
        &a.out,
        &Dataset {
            n,
            dt: h,
            trajectories: vec![tr],
        },
    )?;
    if let Some(e) = failure {
        bail!(
            "prediction stopped: {e}; wrote the {points} points reached (partial) to {}",
            a.out.display()
        );
    }
    let s = path.stats;
    if a.json {
        let mut summary = serde_json::json!({
            "out": a.out, "points": a.steps + 1, "seconds": seconds,
            "steps_per_second": (a.steps as f64 - 1.0).max(0.0) / seconds.max(1e-12),
            "newton": {"solves": s.steps, "total_iterations": s.total_iterations,
                       "max_iterations": s.max_iterations, "max_residual": s.max_residual},
        });
        if let Some(f) = &fitted {
            summary["fit_start"] = serde_json::json!({
                "k": f.k, "rms_before": f.rms_before, "rms_after": f.rms_after,
                "iterations": f.iterations, "q0": f.q0, "q1": f.q1,
            });
        }
        println!("{summary}");
    } else {
        if let Some(c) = choice.as_ref().filter(|c| **c != StartChoice::TwoPoints) {
            println!("{}", c.describe());
        }
        println!(
            "wrote {} points to {} ({} Newton solves, at most {} iterations, max residual {:.2e}, {:.0} steps/s)",
            a.steps + 1,
            a.out.display(),
            s.steps,
            s.max_iterations,
            s.max_residual,
            s.steps as f64 / seconds.max(1e-12)
        );
    }
    Ok(())
}
