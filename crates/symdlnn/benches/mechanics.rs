//! Ground-truth generation: the paper's cart–pendulum training trajectory
//! (20 000 fine midpoint steps, Δt 0.01, h_f 1e-4, 201 kept points).

use criterion::{criterion_group, criterion_main, Criterion};
use symdlnn::data::generate;
use symdlnn::mechanics::{Convergence, System};

fn ground_truth(c: &mut Criterion) {
    let s = System::from_name("cartpend").unwrap();
    let (q0, v0) = s.default_initial_condition();
    let grid = s.default_grid();
    c.bench_function("cartpend_training_trajectory_20000_fine_steps", |b| {
        b.iter(|| generate::trajectory(&s, &q0, &v0, grid, Convergence::default()).unwrap())
    });
}

criterion_group!(benches, ground_truth);
criterion_main!(benches);
