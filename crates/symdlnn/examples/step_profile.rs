use symdlnn::data::{Dataset, Trajectory};
use symdlnn::learn::dlnn::Recipe;
use symdlnn::learn::{dlnn_trainer, TrainConfig};
fn main() {
    let n = 201;
    let q: Vec<f64> = (0..n)
        .flat_map(|k| {
            let x = k as f64 / (n - 1) as f64;
            [(2.0 * x).sin(), (3.0 * x).cos()]
        })
        .collect();
    let data = Dataset {
        n: 2,
        dt: 0.01,
        trajectories: vec![Trajectory::from_positions(2, 0.0, 0.01, q)],
    };
    let threads: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(1);
    let steps: usize = std::env::args()
        .nth(2)
        .map(|s| s.parse().unwrap())
        .unwrap_or(200);
    let mut cfg = TrainConfig::new(Recipe::Paper, 1_000_000);
    cfg.threads = threads;
    let mut t = dlnn_trainer(&cfg, &data).unwrap();
    let s = std::time::Instant::now();
    for _ in 0..steps {
        t.step().unwrap();
    }
    println!(
        "{:.3} ms/step",
        s.elapsed().as_secs_f64() * 1e3 / steps as f64
    );
    let mx = t.mlp.params().iter().fold(0.0f64, |m, x| m.max(x.abs()));
    println!("max param {mx} loss {:?}", t.current_loss());
}
#[allow(dead_code)]
fn _unused() {}
