use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use symdlnn::data::{generate, io};
use symdlnn::mechanics::{Convergence, Lagrangian, System, TimeGrid};

use crate::args;

#[derive(Args)]
#[command(
    allow_negative_numbers = true,
    after_help = "Examples:
  # the paper's cart–pendulum training trajectory (201 points)
  symdlnn simulate --system cartpend --dt 0.01 --steps 200 --fine 100 --out d.csv
  # the paper's Kepler test trajectory
  symdlnn simulate --system kepler --q0 1.1,-0.01 --v0 0,0.6 --dt 0.1 --steps 200 --out k.csv
  # 20 trajectories from the system's box of initial conditions, with noise
  symdlnn simulate --system kepler --trajectories 20 --noise 0.001 --seed 7 --out multi.npy"
)]
pub struct SimulateArgs {
    /// System: cartpend, kepler, oscillator, double-pendulum, iso-oscillator, free-particle, kepler3d
    #[arg(long)]
    system: String,
    /// Initial position, comma-separated (default: the paper's training one)
    #[arg(long, value_parser = args::float_list, allow_hyphen_values = true, conflicts_with = "trajectories")]
    q0: Option<args::FloatList>,
    /// Initial velocity, comma-separated (default: the paper's training one)
    #[arg(long, value_parser = args::float_list, allow_hyphen_values = true, conflicts_with = "trajectories")]
    v0: Option<args::FloatList>,
    /// Time step between kept points (default: the system's)
    #[arg(long, value_parser = args::positive)]
    dt: Option<f64>,
    /// Number of kept steps; the file has steps + 1 points (default: the system's)
    #[arg(long)]
    steps: Option<usize>,
    /// Fine integrator steps per kept step (default: the system's)
    #[arg(long)]
    fine: Option<usize>,
    /// Draw M initial conditions from the system's box (see `symdlnn systems`)
    #[arg(long, value_name = "M")]
    trajectories: Option<usize>,
    /// Standard deviation of Gaussian noise added to positions
    #[arg(long, default_value_t = 0.0, value_parser = args::non_negative)]
    noise: f64,
    /// Seed for initial conditions (stream 0) and noise (stream 1), ChaCha8
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output file, .csv (t, q, v, p columns) or .npy (positions only)
    #[arg(long)]
    out: PathBuf,
    /// Print a JSON summary
    #[arg(long)]
    json: bool,
}

pub fn run(a: SimulateArgs) -> anyhow::Result<()> {
    let system = System::from_name(&a.system)?;
    io::Format::of(&a.out)?; // refuse a bad extension before any work
    let n = system.dim();
    let d = system.default_grid();
    let grid = TimeGrid {
        dt: a.dt.unwrap_or(d.dt),
        steps: a.steps.unwrap_or(d.steps),
        fine: a.fine.unwrap_or(d.fine),
    };
    generate::check_size(grid, n, a.trajectories.unwrap_or(1))?;
    let ics = match a.trajectories {
        Some(0) => bail!("--trajectories must be at least 1"),
        Some(m) => generate::sample_initial_conditions(&system.initial_box(), m, a.seed),
        None => {
            let (q0, v0) = system.default_initial_condition();
            let q0 = a.q0.map_or(q0, |x| x.0);
            let v0 = a.v0.map_or(v0, |x| x.0);
            for (name, x) in [("--q0", &q0), ("--v0", &v0)] {
                if x.len() != n {
                    bail!(
                        "{name} has {} values; {} has dimension {n}",
                        x.len(),
                        system.name()
                    );
                }
            }
            vec![(q0, v0)]
        }
    };
    let start = std::time::Instant::now();
    let bar = crate::progress::bar(
        if ics.len() > 1 { ics.len() as u64 } else { 0 },
        "trajectories",
    );
    let mut trajectories = Vec::with_capacity(ics.len());
    for (i, ic) in ics.iter().enumerate() {
        let one = generate::trajectory(&system, &ic.0, &ic.1, grid, Convergence::default())
            .with_context(|| format!("trajectory {i} from q0={:?}, v0={:?}", ic.0, ic.1))?;
        trajectories.push(one);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mut data = symdlnn::data::Dataset {
        n,
        dt: grid.dt,
        trajectories,
    };
    generate::add_position_noise(&mut data, a.noise, a.seed)?;
    generate::check_finite(&data)?;
    io::write(&a.out, &data)?;
    let elapsed = start.elapsed().as_secs_f64();
    if a.json {
        let v = serde_json::json!({
            "system": system.name(), "out": a.out, "trajectories": data.trajectories.len(),
            "points": grid.steps + 1, "dt": grid.dt, "fine": grid.fine, "noise": a.noise,
            "seed": a.seed, "seconds": elapsed,
        });
        println!("{v}");
    } else {
        println!(
            "wrote {} trajectory(ies) × {} points of {} (dt {}, {} fine steps each) to {} in {:.2} s",
            data.trajectories.len(),
            grid.steps + 1,
            system.name(),
            grid.dt,
            grid.fine,
            a.out.display(),
            elapsed
        );
    }
    Ok(())
}
