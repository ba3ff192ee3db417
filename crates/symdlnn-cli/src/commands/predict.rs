use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use symdlnn::data::{io, Dataset, Trajectory};
use symdlnn::learn::{model_dir, LearnedLd};
use symdlnn::mechanics::{Convergence, VariationalIntegrator};

use crate::args;

#[derive(Args)]
#[command(
    allow_negative_numbers = true,
    after_help = "Examples:
  symdlnn predict --model model --data cartpend.csv --steps 300 --out pred.csv
  symdlnn predict --model model --q0 0.1,0.1 --q1 0.09995,0.1001 --steps 500 --out pred.csv"
)]
pub struct PredictArgs {
    /// Model directory
    #[arg(long)]
    model: PathBuf,
    /// Start from the first two points of a trajectory in this file
    #[arg(long, conflicts_with_all = ["q0", "q1"], required_unless_present = "q0")]
    data: Option<PathBuf>,
    /// Which trajectory of --data (from 0)
    #[arg(long, default_value_t = 0, requires = "data")]
    traj: usize,
    /// Time step of an .npy --data file
    #[arg(long, value_parser = args::positive, requires = "data")]
    dt: Option<f64>,
    /// First position, comma-separated
    #[arg(long, value_parser = args::float_list, allow_hyphen_values = true, requires = "q1")]
    q0: Option<args::FloatList>,
    /// Second position (one step h later), comma-separated
    #[arg(long, value_parser = args::float_list, allow_hyphen_values = true, requires = "q0")]
    q1: Option<args::FloatList>,
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

pub fn run(a: PredictArgs) -> anyhow::Result<()> {
    io::Format::of(&a.out)?;
    if a.steps < 1 {
        bail!("--steps must be at least 1");
    }
    let (model, mlp) = model_dir::load(&a.model)?;
    let n = model.n;
    let h = model.h;
    let (q0, q1, t0) = match (&a.data, &a.q0, &a.q1) {
        (Some(path), _, _) => {
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
            (tr.position(0).to_vec(), tr.position(1).to_vec(), tr.t[0])
        }
        (None, Some(q0), Some(q1)) => {
            for (name, x) in [("--q0", &q0.0), ("--q1", &q1.0)] {
                if x.len() != n {
                    bail!("{name} has {} values; the model has dimension {n}", x.len());
                }
            }
            (q0.0.clone(), q1.0.clone(), 0.0)
        }
        _ => bail!("give --data, or --q0 and --q1"),
    };
    let ld = LearnedLd::new(mlp, model.parametrisation.clone());
    let start = std::time::Instant::now();
    let path = VariationalIntegrator::new(&ld, Convergence::default())
        .rollout_positions(&q0, &q1, a.steps - 1)
        .context("prediction failed")?;
    let seconds = start.elapsed().as_secs_f64();
    let tr = Trajectory::from_positions(n, t0, h, path.q);
    io::write(
        &a.out,
        &Dataset {
            n,
            dt: h,
            trajectories: vec![tr],
        },
    )?;
    let s = path.stats;
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "out": a.out, "points": a.steps + 1, "seconds": seconds,
                "steps_per_second": (a.steps as f64 - 1.0).max(0.0) / seconds.max(1e-12),
                "newton": {"solves": s.steps, "total_iterations": s.total_iterations,
                           "max_iterations": s.max_iterations, "max_residual": s.max_residual},
            })
        );
    } else {
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
