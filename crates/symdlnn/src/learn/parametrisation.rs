//! How a network becomes a discrete Lagrangian.
//!
//! `Ld(q0, q1) = s · f(P x + c) + K(q1 − q0)` with `x = (q0, q1)`:
//!
//! * [`InputMap::Raw`] (the paper's recipe): `u = (q0, q1)`, `s = 1`;
//! * [`InputMap::MidpointVelocity`] (the robust recipe): `u = ((q̄ − μ_q)/σ_q,
//!   v/σ_v)` with `q̄ = (q0+q1)/2`, `v = (q1−q0)/h`, standardised by the
//!   training data, and `s = h` — a bijective linear change of inputs;
//! * kinetic prior `K = Σ_i c_i (q1_i − q0_i)²/2` with `c_i = 1/h`, i.e.
//!   `h |v|²/2` in the data's units (the network can cancel it). DESIGN §3
//!   writes `h |v/σ_v|²/2`; measured on the paper's cart–pendulum (3 000
//!   epochs, seed 0) that standardised prior gives prediction error 0.95
//!   against 0.040 for `h |v|²/2`, which is also what the JAX measurements
//!   behind DESIGN used (`jax_dlnn_explore.py`, `KIN=fixed`);
//! * optional time-reversal symmetrisation `½ (f(P x + c) + f(P S x + c))`,
//!   `S (q0, q1) = (q1, q0)`. Off by default: it is wrong for gyroscopic or
//!   magnetic systems.
//!
//! With the tangents `t_j = P e_{n+j}` the engine's Hessian columns give
//! `J_ij = ∂²Ld/∂q0_i∂q1_j = s (P e_i)·(H t_j)`; for a swapped row, by the
//! symmetry of `H`, `J_ij = s (P e_j)·(H' t_i)` — no extra tangents.

use serde::{Deserialize, Serialize};

use crate::mechanics::Scalar;

/// The linear input map of the network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum InputMap {
    /// `u = (q0, q1)`.
    Raw,
    /// `u = ((q̄ − μ_q)/σ_q, v/σ_v)`.
    MidpointVelocity {
        mu_q: Vec<f64>,
        sd_q: Vec<f64>,
        sd_v: Vec<f64>,
    },
}

/// Everything but the network weights that defines a learned `Ld`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Parametrisation {
    /// Configuration dimension `n`.
    pub n: usize,
    /// Time step `h`.
    pub h: f64,
    pub input_map: InputMap,
    /// Output scale `s`.
    pub output_scale: f64,
    /// Kinetic prior coefficients `c_i` (empty: no prior).
    pub kinetic_prior: Vec<f64>,
    /// Time-reversal symmetrisation.
    pub time_reversible: bool,
}

impl Parametrisation {
    /// The paper's: raw inputs, unit output scale, no prior.
    pub fn raw(n: usize, h: f64) -> Self {
        Self {
            n,
            h,
            input_map: InputMap::Raw,
            output_scale: 1.0,
            kinetic_prior: vec![],
            time_reversible: false,
        }
    }

    /// The robust recipe's, standardised by `positions` (row-major `T × n`
    /// over all trajectories) and `velocities` (finite differences `(q_{k+1} − q_k)/h`).
    pub fn midpoint_velocity(
        n: usize,
        h: f64,
        positions: &[f64],
        velocities: &[f64],
        kinetic_prior: bool,
        time_reversible: bool,
    ) -> Self {
        let (mu_q, sd_q) = mean_std(n, positions);
        let (_, sd_v) = mean_std(n, velocities);
        let kinetic_prior = if kinetic_prior {
            vec![1.0 / h; n]
        } else {
            vec![]
        };
        Self {
            n,
            h,
            input_map: InputMap::MidpointVelocity { mu_q, sd_q, sd_v },
            output_scale: h,
            kinetic_prior,
            time_reversible,
        }
    }

    /// Network input dimension `d = 2n`.
    pub fn input_dim(&self) -> usize {
        2 * self.n
    }

    /// `u = P (q0, q0 + δ) + c`, written with the increment `δ` (no
    /// cancellation in `q1 − q0`), for any scalar type. `swapped` evaluates
    /// at `(q1, q0)`.
    pub fn input<D: Scalar>(&self, q0: &[D], delta: &[D], swapped: bool, u: &mut [D]) {
        let n = self.n;
        match &self.input_map {
            InputMap::Raw => {
                for i in 0..n {
                    let (a, b) = (q0[i], q0[i] + delta[i]);
                    (u[i], u[n + i]) = if swapped { (b, a) } else { (a, b) };
                }
            }
            InputMap::MidpointVelocity { mu_q, sd_q, sd_v } => {
                let sign = if swapped { -1.0 } else { 1.0 };
                for i in 0..n {
                    u[i] = (q0[i] + delta[i] * 0.5 - mu_q[i]) / sd_q[i];
                    u[n + i] = delta[i] * (sign / (self.h * sd_v[i]));
                }
            }
        }
    }

    /// Column `k` of `P` (`d`-vector), i.e. `∂u/∂x_k`.
    pub fn column(&self, k: usize, out: &mut [f64]) {
        let n = self.n;
        out.fill(0.0);
        match &self.input_map {
            InputMap::Raw => out[k] = 1.0,
            InputMap::MidpointVelocity { sd_q, sd_v, .. } => {
                let i = k % n;
                out[i] = 0.5 / sd_q[i];
                out[n + i] = if k < n { -1.0 } else { 1.0 } / (self.h * sd_v[i]);
            }
        }
    }

    /// The tangents `t_j = P e_{n+j}`, row-major `n × d`.
    pub fn tangents(&self) -> Vec<f64> {
        let d = self.input_dim();
        let mut t = vec![0.0; self.n * d];
        for j in 0..self.n {
            self.column(self.n + j, &mut t[j * d..(j + 1) * d]);
        }
        t
    }

    /// The full `P`, columns stacked: `cols[k*d..(k+1)*d] = P e_k`.
    pub fn columns(&self) -> Vec<f64> {
        let d = self.input_dim();
        let mut c = vec![0.0; 2 * self.n * d];
        for k in 0..2 * self.n {
            self.column(k, &mut c[k * d..(k + 1) * d]);
        }
        c
    }

    /// Kinetic prior value and its contribution to `D1`, `D2`, `J` at increment `δ`.
    pub fn add_prior(
        &self,
        delta: &[f64],
        value: &mut f64,
        d1: &mut [f64],
        d2: &mut [f64],
        jac: &mut [f64],
    ) {
        let n = self.n;
        for (i, c) in self.kinetic_prior.iter().enumerate() {
            *value += 0.5 * c * delta[i] * delta[i];
            d1[i] -= c * delta[i];
            d2[i] += c * delta[i];
            jac[i * n + i] -= c;
        }
    }
}

/// Per-coordinate mean and standard deviation (population), with a floor so
/// that a constant coordinate does not divide by zero.
pub(crate) fn mean_std(n: usize, rows: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let t = (rows.len() / n.max(1)).max(1) as f64;
    let mut mu = vec![0.0; n];
    for r in rows.chunks(n) {
        for i in 0..n {
            mu[i] += r[i] / t;
        }
    }
    let mut sd = vec![0.0; n];
    for r in rows.chunks(n) {
        for i in 0..n {
            sd[i] += (r[i] - mu[i]).powi(2) / t;
        }
    }
    for s in &mut sd {
        *s = s.sqrt().max(1e-12);
    }
    (mu, sd)
}
