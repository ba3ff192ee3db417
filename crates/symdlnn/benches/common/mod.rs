//! The JAX peer's data (`benches/peer/jax_peer.sh`), shared by the bench
//! and `examples/step_timing.rs`.

use symdlnn::data::{Dataset, Trajectory};

/// The peer's trajectory: (sin(linspace(0, 2)), cos(linspace(0, 3))), 201 points.
pub fn peer_data() -> Dataset {
    peer_data_points(201)
}

/// The peer's trajectory with `n` points (`jax_peer.sh shared N`).
#[allow(dead_code)]
pub fn peer_data_points(n: usize) -> Dataset {
    let q: Vec<f64> = (0..n)
        .flat_map(|k| {
            let x = k as f64 / (n - 1) as f64;
            [(2.0 * x).sin(), (3.0 * x).cos()]
        })
        .collect();
    Dataset {
        n: 2,
        dt: 0.01,
        trajectories: vec![Trajectory::from_positions(2, 0.0, 0.01, q)],
    }
}
