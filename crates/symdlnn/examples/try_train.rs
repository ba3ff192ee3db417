use symdlnn::data::generate;
use symdlnn::learn::dlnn::Recipe;
use symdlnn::learn::*;
use symdlnn::mechanics::*;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sysname = args.get(1).map(|s| s.as_str()).unwrap_or("cartpend");
    let epochs: usize = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(3000);
    let seed: u64 = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(0);
    let tr: bool = args.get(4).map(|s| s == "tr").unwrap_or(false);
    let s = System::from_name(sysname).unwrap();
    let (q0, v0) = s.default_initial_condition();
    let mut grid = s.default_grid();
    let (nn, extra) = if sysname == "cartpend" {
        (200, 100)
    } else {
        (50, 150)
    };
    grid.steps = nn + extra;
    let full = generate::trajectory(&s, &q0, &v0, grid, Convergence::default()).unwrap();
    let n = s.dim();
    let mut train = full.clone();
    train.t.truncate(nn + 1);
    train.q.truncate((nn + 1) * n);
    train.v = None;
    train.p = None;
    let data = symdlnn::data::Dataset {
        n,
        dt: grid.dt,
        trajectories: vec![train],
    };
    let mut cfg = TrainConfig::new(Recipe::Robust, epochs);
    cfg.seed = seed;
    cfg.time_reversible = tr;
    let mut t = dlnn_trainer(&cfg, &data).unwrap();
    if let Ok(g) = std::env::var("GUARD") {
        t.guard = Some(symdlnn::learn::StepGuard::new(g.parse().unwrap()));
    }
    let start = std::time::Instant::now();
    for e in 0..epochs {
        let r = t.step().unwrap();
        if e % (epochs / 5).max(1) == 0 {
            println!("{e} {:?}", r.report);
        }
    }
    let el = start.elapsed().as_secs_f64();
    println!("{:.3} ms/epoch", el * 1e3 / epochs as f64);
    let rep = t.current_loss();
    println!(
        "final del {:.3e} rejected {:?}",
        rep.terms[0].1,
        t.guard.as_ref().map(|g| g.rejected)
    );
    let ld = LearnedLd::new(t.mlp.clone(), t.objective.parametrisation().clone());
    let path = VariationalIntegrator::new(&ld, Convergence::default())
        .rollout_positions(full.position(0), full.position(1), nn + extra - 1)
        .unwrap();
    let mean: Vec<f64> = (0..n)
        .map(|i| full.q.iter().skip(i).step_by(n).sum::<f64>() / (full.len() as f64))
        .collect();
    let scale = (full
        .q
        .iter()
        .enumerate()
        .map(|(k, x)| (x - mean[k % n]).powi(2))
        .sum::<f64>()
        / full.q.len() as f64)
        .sqrt();
    let rmse = |a: usize, b: usize| {
        ((a * n..b * n)
            .map(|k| (path.q[k] - full.q[k]).powi(2))
            .sum::<f64>()
            / ((b - a) * n) as f64)
            .sqrt()
            / scale
    };
    println!(
        "rec {:.3e} pred {:.3e} stats {:?}",
        rmse(0, nn + 1),
        rmse(nn + 1, nn + extra + 1),
        path.stats
    );
}
