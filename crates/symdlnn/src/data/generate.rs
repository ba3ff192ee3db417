//! Ground-truth trajectories by the paper's protocol.
//!
//! From `q0` and `p0 = ∂L/∂q̇(q0, v0)`, integrate the midpoint variational
//! integrator in position–momentum form with the fine step
//! `h_f = Δt / fine` and keep every `fine`-th point. The file records
//! positions, the fine integrator's discrete momenta `p_k` (so that the
//! Noether momentum of a symmetric system is conserved in the file to solver
//! precision) and velocities from the inverse Legendre map
//! `∂L/∂q̇(q_k, v_k) = p_k`.
//!
//! Random initial conditions are drawn uniformly from the system's
//! [`InitialBox`] with a ChaCha8 generator seeded by `seed` (stream 0);
//! position noise `N(0, σ²)` uses the same seed on stream 1, so the noise does
//! not change the initial conditions and vice versa.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::{Dataset, Trajectory};
use crate::mechanics::{
    Convergence, InitialBox, Lagrangian, LagrangianDerivatives, Midpoint, SolverError, System,
    TimeGrid, VariationalIntegrator,
};

/// Why ground truth could not be generated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GenerateError {
    /// A setting is out of range.
    #[error("invalid setting: {0}")]
    Invalid(String),
    /// The integrator failed.
    #[error(transparent)]
    Solver(#[from] SolverError),
    /// The integrator failed on one trajectory of a dataset.
    #[error("trajectory {index}: {error}")]
    InTrajectory {
        /// Index of the trajectory in the dataset.
        index: usize,
        /// The integrator's error.
        error: SolverError,
    },
}

/// Refuse a grid or an initial condition that cannot be integrated.
fn check(grid: TimeGrid, n: usize, q0: &[f64], v0: &[f64]) -> Result<(), GenerateError> {
    let bad = |m: String| Err(GenerateError::Invalid(m));
    if !(grid.dt.is_finite() && grid.dt > 0.0) {
        return bad(format!("dt must be a positive number, got {}", grid.dt));
    }
    if grid.fine == 0 {
        return bad("fine steps per kept step must be at least 1".into());
    }
    if grid.steps < 2 {
        return bad(format!(
            "need at least 2 steps (3 points), got {}",
            grid.steps
        ));
    }
    if q0.len() != n || v0.len() != n {
        return bad(format!(
            "initial condition has {} positions and {} velocities; the system has dimension {n}",
            q0.len(),
            v0.len()
        ));
    }
    if !q0.iter().chain(v0).all(|x| x.is_finite()) {
        return bad("initial condition is not finite".into());
    }
    check_size(grid, n, 1)
}

/// Refuse `trajectories` trajectories on `grid` in dimension `n` whose
/// fine steps or storage (times, positions, velocities, momenta, and the
/// rollout) overflow or exceed the machine's memory, before allocating.
pub fn check_size(grid: TimeGrid, n: usize, trajectories: usize) -> Result<(), GenerateError> {
    let what = format!(
        "{trajectories} trajectory(ies) of {} steps in dimension {n}",
        grid.steps
    );
    if grid.steps.checked_mul(grid.fine).is_none() {
        return Err(GenerateError::Invalid(format!(
            "{what}: {} × {} fine steps overflow",
            grid.steps, grid.fine
        )));
    }
    let per_point = 1 + 5 * n.max(1);
    let values = grid
        .steps
        .checked_add(1)
        .and_then(|p| p.checked_mul(per_point))
        .and_then(|v| v.checked_mul(trajectories));
    crate::sanity::check_memory(&what, values, std::mem::size_of::<f64>())
        .map_err(|e| GenerateError::Invalid(e.to_string()))
}

/// Refuse a dataset holding NaN or ±inf (a simulation that blew up, or
/// noise that overflowed), naming the first such point.
pub fn check_finite(data: &Dataset) -> Result<(), GenerateError> {
    for (i, tr) in data.trajectories.iter().enumerate() {
        let arrays = [Some(&tr.q), tr.v.as_ref(), tr.p.as_ref()];
        for (name, x) in ["positions", "velocities", "momenta"].iter().zip(arrays) {
            let Some(x) = x else { continue };
            if let Some(k) = x.iter().position(|v| !v.is_finite()) {
                let n = tr.n.max(1);
                return Err(GenerateError::Invalid(format!(
                    "trajectory {i}: the {name} are not finite from t = {} on (the simulation blew up, or the noise overflowed); nothing written",
                    crate::sanity::num(tr.t.get(k / n).copied().unwrap_or(f64::NAN))
                )));
            }
        }
    }
    Ok(())
}

/// One ground-truth trajectory of `grid.steps + 1` points from `(q0, v0)`.
pub fn trajectory(
    system: &System,
    q0: &[f64],
    v0: &[f64],
    grid: TimeGrid,
    convergence: Convergence,
) -> Result<Trajectory, GenerateError> {
    let n = system.dim();
    check(grid, n, q0, v0)?;
    let hf = grid.dt / grid.fine as f64;
    let ld = Midpoint::new(system, hf);
    let p0 = system.momentum(q0, v0);
    let path = VariationalIntegrator::new(&ld, convergence).rollout_momentum(
        q0,
        &p0,
        grid.steps * grid.fine,
        grid.fine,
    )?;
    let len = grid.steps + 1;
    let mut v = Vec::with_capacity(len * n);
    let mut guess = v0.to_vec();
    for k in 0..len {
        let vk = system.velocity_from_momentum(
            &path.q[k * n..(k + 1) * n],
            &path.p[k * n..(k + 1) * n],
            &guess,
        )?;
        v.extend_from_slice(&vk);
        guess = vk;
    }
    let t = (0..len).map(|k| k as f64 * grid.dt).collect();
    Ok(Trajectory {
        n,
        t,
        q: path.q,
        v: Some(v),
        p: Some(path.p),
    })
}

/// `m` initial conditions drawn uniformly from `bx` (ChaCha8, stream 0).
pub fn sample_initial_conditions(
    bx: &InitialBox,
    m: usize,
    seed: u64,
) -> Vec<(Vec<f64>, Vec<f64>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut draw = |lo: &[f64], hi: &[f64]| -> Vec<f64> {
        lo.iter()
            .zip(hi)
            .map(|(a, b)| a + (b - a) * rng.random::<f64>())
            .collect()
    };
    (0..m)
        .map(|_| {
            let q = draw(&bx.q_lo, &bx.q_hi);
            let v = draw(&bx.v_lo, &bx.v_hi);
            (q, v)
        })
        .collect()
}

/// A dataset of ground-truth trajectories from the given initial conditions.
pub fn dataset(
    system: &System,
    initial_conditions: &[(Vec<f64>, Vec<f64>)],
    grid: TimeGrid,
    convergence: Convergence,
) -> Result<Dataset, GenerateError> {
    if initial_conditions.is_empty() {
        return Err(GenerateError::Invalid(
            "need at least one trajectory".into(),
        ));
    }
    let trajectories = initial_conditions
        .iter()
        .enumerate()
        .map(|(i, (q0, v0))| {
            trajectory(system, q0, v0, grid, convergence).map_err(|e| match e {
                GenerateError::Solver(error) => GenerateError::InTrajectory { index: i, error },
                other => other,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Dataset {
        n: system.dim(),
        dt: grid.dt,
        trajectories,
    })
}

/// Add `N(0, σ²)` noise to every position (ChaCha8 seeded by `seed`,
/// stream 1). Velocities and momenta, when present, stay the clean truth.
pub fn add_position_noise(data: &mut Dataset, sigma: f64, seed: u64) -> Result<(), GenerateError> {
    if !(sigma.is_finite() && sigma >= 0.0) {
        return Err(GenerateError::Invalid(format!(
            "noise σ must be ≥ 0, got {sigma}"
        )));
    }
    if sigma == 0.0 {
        return Ok(());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(1);
    let normal = Normal::new(0.0, sigma).map_err(|e| GenerateError::Invalid(e.to_string()))?;
    for tr in &mut data.trajectories {
        for x in &mut tr.q {
            *x += normal.sample(&mut rng);
        }
    }
    Ok(())
}
