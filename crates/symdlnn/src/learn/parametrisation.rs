//! How a network becomes a discrete Lagrangian.
//!
//! `Ld(q0, q1) = s · f(u(q0, q1)) + K(q1 − q0)`:
//!
//! * [`InputMap::Raw`] (the paper's recipe): `u = (q0, q1)`, `s = 1`;
//! * [`InputMap::MidpointVelocity`] (the robust recipe): `u = ((q̄ − μ_q)/σ_q,
//!   v/σ_v)` with `q̄ = (q0+q1)/2`, `v = (q1−q0)/h`, standardised by the
//!   training data, and `s = h` — a bijective linear change of inputs. An
//!   angle coordinate `i` (`angles`) enters through `e = (sin, cos)(q̄_i − μ̂)`,
//!   standardised on the circle: `e_1/σ_c` in place of the position and
//!   `(e_2 − ρ)/σ_c` appended after the velocities, with `ρ e^{iμ̂}` the
//!   data's mean of `e^{iq}` and `σ_c = √(1 − ρ²)` its spread. So `Ld` is
//!   `2π`-periodic in it, and for data in a narrow range of the angle the
//!   first input is the linear map's `(q̄ − μ)/σ` to leading order;
//! * kinetic prior `K = Σ_i c_i (q1_i − q0_i)²/2` with `c_i = 1/h`, i.e.
//!   `h |v|²/2` in the data's units (the network can cancel it; why not the
//!   standardised `h |v/σ_v|²/2`: `docs/design.md`);
//! * optional time-reversal symmetrisation `½ (f(u(q0, q1)) + f(u(q1, q0)))`.
//!   Off by default: it is wrong for gyroscopic or magnetic systems.
//!
//! Derivatives by the chain rule. Write `x = (a, b)` for the map's two
//! slots (`(q0, q1)`, or `(q1, q0)` for a swapped row), `A_k = ∂u/∂a_k`,
//! `B_k = ∂u/∂b_k` and `M_k = ∂²u/∂a_k∂b_k` (every map here acts on each
//! coordinate's pair `(a_k, b_k)` alone, so mixed derivatives of different
//! coordinates vanish). The engine's Hessian columns are taken along fixed
//! tangents `t_α` with `B_j = Σ_α C_jα t_α` (`C` varies from pair to pair
//! when the map is not linear); then
//! `∂²f/∂a_k∂b_j = A_k·(Σ_α C_jα H t_α) + δ_kj ∇f·M_k`.
//! A linear coordinate needs one tangent (`B_j` itself), an angle three
//! (its `sin`, `cos` and velocity inputs).

use serde::{Deserialize, Serialize};

use num_dual::HyperDual64;

use super::invariant::BuiltIn;
use crate::mechanics::Scalar;

/// Why a parametrisation cannot be built, or a stored one is inconsistent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    /// Angles with the paper's raw input map.
    #[error(
        "--angles belongs to the robust recipe (the paper's feeds raw positions to the network)"
    )]
    AnglesNeedRobust,
    /// An angle index at or beyond `n`.
    #[error("angle coordinate {index} does not exist (the data have {})", coordinates(*n))]
    NoSuchAngle {
        /// The index given.
        index: usize,
        /// The dimension.
        n: usize,
    },
    /// An angle index given twice.
    #[error("an angle coordinate is named twice")]
    AngleTwice,
    /// Symmetries that cannot be built in.
    #[error("{0}")]
    BuiltIn(String),
    /// A time step that is not a positive number.
    #[error("time step {0} is not positive")]
    TimeStep(f64),
    /// A kinetic prior of the wrong length.
    #[error("{len} kinetic prior coefficients for {n} coordinates")]
    PriorLength {
        /// Coefficients stored.
        len: usize,
        /// The dimension.
        n: usize,
    },
    /// Input statistics of the wrong length.
    #[error("input statistics do not have {0} entries each")]
    Statistics(usize),
    /// Stored angles out of order or range.
    #[error("angle coordinates {angles:?} are not ascending indices below {n}")]
    AngleList {
        /// The stored angles.
        angles: Vec<usize>,
        /// The dimension.
        n: usize,
    },
}

/// `n` coordinates, for messages: "1 coordinate, index 0" or "n coordinates, 0–(n−1)".
fn coordinates(n: usize) -> String {
    if n == 1 {
        "1 coordinate, index 0".to_string()
    } else {
        format!("{n} coordinates, 0–{}", n.saturating_sub(1))
    }
}

/// Angle indices must name distinct coordinates below `n`.
pub fn check_angle_indices(angles: &[usize], n: usize) -> Result<(), ParamError> {
    let mut sorted = angles.to_vec();
    sorted.sort_unstable();
    if let Some(&index) = sorted.iter().find(|&&i| i >= n) {
        return Err(ParamError::NoSuchAngle { index, n });
    }
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err(ParamError::AngleTwice);
    }
    Ok(())
}

/// The input map of the network (linear but for angle coordinates).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum InputMap {
    /// `u = (q0, q1)`.
    Raw,
    /// `u = ((q̄ − μ_q)/σ_q, v/σ_v)`; for an angle `μ_q` is its circular
    /// mean `μ̂`, `σ_q` its spread `σ_c` and its inputs are as the module
    /// header says.
    MidpointVelocity {
        /// Mean of the midpoints (per coordinate).
        mu_q: Vec<f64>,
        /// Standard deviation of the midpoints.
        sd_q: Vec<f64>,
        /// Standard deviation of the velocities.
        sd_v: Vec<f64>,
        /// The angle coordinates, ascending (models written before angles
        /// existed have none).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        angles: Vec<usize>,
    },
    /// Invariants of the pair under built-in symmetries ([`BuiltIn`]):
    /// `u = ((f_q − μ_q)/σ_q, f_v/σ_v)` with `f_q` the position features
    /// and `f_v` the velocity features of [`BuiltIn::features`]; an angle
    /// coordinate's feature enters through `sin`, `cos` as in
    /// [`InputMap::MidpointVelocity`].
    Invariant {
        /// The symmetries and the coordinates they leave alone.
        built_in: BuiltIn,
        /// Mean of the position features (an angle's circular mean).
        mu_q: Vec<f64>,
        /// Spread of the position features (an angle's circular spread).
        sd_q: Vec<f64>,
        /// Standard deviation of the velocity features.
        sd_v: Vec<f64>,
        /// The angle coordinates, ascending.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        angles: Vec<usize>,
    },
}

/// Everything but the network weights that defines a learned `Ld`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Parametrisation {
    /// Configuration dimension `n`.
    pub n: usize,
    /// Time step `h`.
    pub h: f64,
    /// The network's input map.
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
            input_map: InputMap::MidpointVelocity {
                mu_q,
                sd_q,
                sd_v,
                angles: vec![],
            },
            output_scale: h,
            kinetic_prior,
            time_reversible,
        }
    }

    /// Whether the input map is affine in `(q0, q1)` (raw or standardised
    /// inputs without angles or built-in symmetries): its derivatives are
    /// constants, which position gradients ([`super::pairs::PairBatch::backprop_with_positions`])
    /// rely on.
    pub fn is_affine(&self) -> bool {
        match &self.input_map {
            InputMap::Raw => true,
            InputMap::MidpointVelocity { angles, .. } => angles.is_empty(),
            InputMap::Invariant { .. } => false,
        }
    }

    /// The angle coordinates (none for [`InputMap::Raw`]).
    pub fn angles(&self) -> &[usize] {
        match &self.input_map {
            InputMap::Raw => &[],
            InputMap::MidpointVelocity { angles, .. } | InputMap::Invariant { angles, .. } => {
                angles
            }
        }
    }

    /// Make coordinates `angles` periodic (robust recipe only), with their
    /// circular statistics from `positions` (row-major `T × n`).
    pub fn with_angles(
        mut self,
        angles: Vec<usize>,
        positions: &[f64],
    ) -> Result<Self, ParamError> {
        let n = self.n;
        let InputMap::MidpointVelocity {
            angles: a,
            mu_q,
            sd_q,
            ..
        } = &mut self.input_map
        else {
            return Err(ParamError::AnglesNeedRobust);
        };
        check_angle_indices(&angles, n)?;
        let mut sorted = angles;
        sorted.sort_unstable();
        let t = (positions.len() / n).max(1) as f64;
        for &i in &sorted {
            let (s, c) = positions
                .chunks_exact(n)
                .map(|q| q[i].sin_cos())
                .fold((0.0, 0.0), |(s, c), (x, y)| (s + x / t, c + y / t));
            mu_q[i] = s.atan2(c);
            sd_q[i] = (1.0 - s * s - c * c).max(0.0).sqrt().max(1e-12);
        }
        *a = sorted;
        Ok(self)
    }

    /// Whether the fields fit together (a model file read from disk is
    /// checked before use): every per-coordinate vector has `n` entries
    /// (the prior: `n` or none), angles ascending and below `n`, `h > 0`.
    pub fn check(&self) -> Result<(), ParamError> {
        let n = self.n;
        if !(self.h.is_finite() && self.h > 0.0) {
            return Err(ParamError::TimeStep(self.h));
        }
        if !self.kinetic_prior.is_empty() && self.kinetic_prior.len() != n {
            return Err(ParamError::PriorLength {
                len: self.kinetic_prior.len(),
                n,
            });
        }
        if let InputMap::MidpointVelocity {
            mu_q,
            sd_q,
            sd_v,
            angles,
        } = &self.input_map
        {
            if [mu_q, sd_q, sd_v].iter().any(|v| v.len() != n) {
                return Err(ParamError::Statistics(n));
            }
            if angles.windows(2).any(|w| w[0] >= w[1]) || angles.iter().any(|&i| i >= n) {
                return Err(ParamError::AngleList {
                    angles: angles.clone(),
                    n,
                });
            }
        }
        if let InputMap::Invariant {
            built_in,
            mu_q,
            sd_q,
            sd_v,
            angles,
        } = &self.input_map
        {
            let (p, k) = (built_in.position_count(), built_in.velocity_count());
            if built_in.dim() != n || mu_q.len() != p || sd_q.len() != p || sd_v.len() != k {
                return Err(ParamError::Statistics(n));
            }
            if built_in.check_angles(angles).is_err() || angles.windows(2).any(|w| w[0] >= w[1]) {
                return Err(ParamError::AngleList {
                    angles: angles.clone(),
                    n,
                });
            }
        }
        Ok(())
    }

    /// The symmetries built into the input map, if any.
    pub fn built_in(&self) -> Option<&BuiltIn> {
        match &self.input_map {
            InputMap::Invariant { built_in, .. } => Some(built_in),
            _ => None,
        }
    }

    /// Build `built_in`'s symmetries into a robust parametrisation: its
    /// input map becomes [`InputMap::Invariant`], standardised by the
    /// features of the training `pairs` (`(q0, q1)`, `2n` each, row-major),
    /// keeping its angle coordinates, kinetic prior and time reversal.
    pub fn with_built_in(self, built_in: BuiltIn, pairs: &[f64]) -> Result<Self, ParamError> {
        let (n, h) = (self.n, self.h);
        let InputMap::MidpointVelocity { angles, .. } = &self.input_map else {
            return Err(ParamError::AnglesNeedRobust);
        };
        built_in
            .check_angles(angles)
            .map_err(|e| ParamError::BuiltIn(e.to_string()))?;
        let (p, k) = (built_in.position_count(), built_in.velocity_count());
        let (mut fq, mut fv) = (Vec::new(), Vec::new());
        let (mut pos, mut vel) = (vec![0.0; p], vec![0.0; k]);
        for pair in pairs.chunks_exact(2 * n) {
            let (q0, q1) = pair.split_at(n);
            let qbar: Vec<f64> = q0.iter().zip(q1).map(|(a, b)| a + 0.5 * (b - a)).collect();
            let v: Vec<f64> = q0.iter().zip(q1).map(|(a, b)| (b - a) / h).collect();
            built_in.features(&qbar, &v, &mut pos, &mut vel);
            fq.extend_from_slice(&pos);
            fv.extend_from_slice(&vel);
        }
        let (mut mu_q, mut sd_q) = if p == 0 {
            (vec![], vec![])
        } else {
            mean_std(p, &fq)
        };
        let sd_v = velocity_scales(&built_in, h, pairs, &fv);
        if built_in.so3.is_some() {
            // The speed |u|² (slot 1): scaled by at least its mean, as the
            // velocities are by a floor (a near-constant speed
            // would otherwise magnify the network's curvature in v).
            sd_q[1] = sd_q[1].max(mu_q[1].abs());
        }
        let t = (fq.len() / p.max(1)).max(1) as f64;
        for &i in angles {
            let f = built_in.angle_slot(i);
            let (s, c) = (fq.chunks_exact(p))
                .map(|x| x[f].sin_cos())
                .fold((0.0, 0.0), |(s, c), (x, y)| (s + x / t, c + y / t));
            mu_q[f] = s.atan2(c);
            sd_q[f] = (1.0 - s * s - c * c).max(0.0).sqrt().max(1e-12);
        }
        let angles = angles.clone();
        Ok(Self {
            input_map: InputMap::Invariant {
                built_in,
                mu_q,
                sd_q,
                sd_v,
                angles,
            },
            ..self
        })
    }

    /// Whether the reversed pair's input-map derivatives (slot `a` holding
    /// `q1`) are the pair's own: true for maps of `q̄` and `v` written per
    /// coordinate; the invariant map's are a sign change of them
    /// ([`Parametrisation::reversal_parity`]).
    pub fn reversal_shares_derivatives(&self) -> bool {
        !matches!(self.input_map, InputMap::Invariant { .. })
    }

    /// `S` with `u(q1, q0) = S u(q0, q1)`: `+1` for position-like inputs,
    /// `−1` for velocity-like ones (`d` entries).
    pub fn reversal_parity(&self) -> Vec<f64> {
        let d = self.input_dim();
        let (p, n) = match &self.input_map {
            InputMap::Raw => return vec![1.0; d],
            InputMap::MidpointVelocity { .. } => (self.n, self.n),
            InputMap::Invariant { built_in, .. } => {
                (built_in.position_count(), built_in.velocity_count())
            }
        };
        (0..d)
            .map(|k| if (p..p + n).contains(&k) { -1.0 } else { 1.0 })
            .collect()
    }

    /// Network input dimension `d` ([`input_dim`]).
    pub fn input_dim(&self) -> usize {
        input_dim(self.n, self.angles().len(), self.built_in())
    }

    /// Number `m` of Hessian tangents: one per coordinate, three per angle;
    /// every input for the invariant map.
    pub fn tangent_count(&self) -> usize {
        match self.input_map {
            InputMap::Invariant { .. } => self.input_dim(),
            _ => self.n + 2 * self.angles().len(),
        }
    }

    /// `u(q0, q0 + δ)`, written with the increment `δ` (no cancellation in
    /// `q1 − q0`), for any scalar type. `swapped` evaluates at `(q0 + δ, q0)`.
    pub fn input<D: Scalar>(&self, q0: &[D], delta: &[D], swapped: bool, u: &mut [D]) {
        let n = self.n;
        match &self.input_map {
            InputMap::Raw => {
                for i in 0..n {
                    let (a, b) = (q0[i], q0[i] + delta[i]);
                    (u[i], u[n + i]) = if swapped { (b, a) } else { (a, b) };
                }
            }
            InputMap::MidpointVelocity {
                mu_q,
                sd_q,
                sd_v,
                angles,
            } => {
                let sign = if swapped { -1.0 } else { 1.0 };
                for (i, angle) in slots(n, angles) {
                    let centred = q0[i] + delta[i] * 0.5 - mu_q[i];
                    if let Some(a) = angle {
                        u[i] = centred.sin() / sd_q[i];
                        u[2 * n + a] = (centred.cos() - rho(sd_q[i])) / sd_q[i];
                    } else {
                        u[i] = centred / sd_q[i];
                    }
                    u[n + i] = delta[i] * (sign / (self.h * sd_v[i]));
                }
            }
            InputMap::Invariant {
                built_in,
                mu_q,
                sd_q,
                sd_v,
                angles,
            } => {
                let sign = if swapped { -1.0 } else { 1.0 };
                let (p, nv) = (built_in.position_count(), built_in.velocity_count());
                let qbar: Vec<D> = (0..n).map(|i| q0[i] + delta[i] * 0.5).collect();
                let v: Vec<D> = (0..n).map(|i| delta[i] * (sign / self.h)).collect();
                let (mut pos, mut vel) = (vec![D::zero(); p], vec![D::zero(); nv]);
                built_in.features(&qbar, &v, &mut pos, &mut vel);
                for f in 0..p {
                    u[f] = (pos[f] - mu_q[f]) / sd_q[f];
                }
                for (a, &i) in angles.iter().enumerate() {
                    let f = built_in.angle_slot(i);
                    let centred = pos[f] - mu_q[f];
                    u[f] = centred.sin() / sd_q[f];
                    u[p + nv + a] = (centred.cos() - rho(sd_q[f])) / sd_q[f];
                }
                for k in 0..nv {
                    u[p + k] = vel[k] / sd_v[k];
                }
            }
        }
    }

    /// The tangents `t_α`, row-major `m × d`: per coordinate in order,
    /// `B_j` for a linear one, the unit vectors of its `sin`, `cos` and
    /// velocity inputs for an angle.
    pub fn tangents(&self) -> Vec<f64> {
        let (n, d) = (self.n, self.input_dim());
        let mut t = vec![0.0; self.tangent_count() * d];
        let mut rows = t.chunks_mut(d);
        match &self.input_map {
            InputMap::Raw => {
                for (j, r) in rows.enumerate() {
                    r[n + j] = 1.0;
                }
            }
            InputMap::MidpointVelocity {
                sd_q, sd_v, angles, ..
            } => {
                for (i, angle) in slots(n, angles) {
                    let v = 1.0 / (self.h * sd_v[i]);
                    if let Some(a) = angle {
                        // The array first: zip then stops without taking a row.
                        for (k, r) in [i, 2 * n + a, n + i].into_iter().zip(rows.by_ref()) {
                            r[k] = 1.0;
                        }
                    } else if let Some(r) = rows.next() {
                        r[i] = 0.5 / sd_q[i];
                        r[n + i] = v;
                    }
                }
            }
            InputMap::Invariant { .. } => {
                for (k, r) in rows.enumerate() {
                    r[k] = 1.0;
                }
            }
        }
        t
    }

    /// The input map's derivatives at the pair `(q0, q0 + δ)`, with respect
    /// to its slots, into `cols` (`A_k` then `B_k`, `2n × d`), `coef` (`C`,
    /// `n × m`) and `mixed` (`M_kj = ∂²u/∂a_k∂b_j`, `n × n × d`), all
    /// overwritten (module header). For maps of `q̄` and `v` written per
    /// coordinate they serve the swapped row too
    /// ([`Parametrisation::reversal_shares_derivatives`]).
    pub fn input_derivatives(
        &self,
        q0: &[f64],
        delta: &[f64],
        cols: &mut [f64],
        coef: &mut [f64],
        mixed: &mut [f64],
    ) {
        let (n, d, m) = (self.n, self.input_dim(), self.tangent_count());
        cols.fill(0.0);
        coef.fill(0.0);
        mixed.fill(0.0);
        match &self.input_map {
            InputMap::Raw => {
                for i in 0..n {
                    cols[i * d + i] = 1.0;
                    cols[(n + i) * d + n + i] = 1.0;
                    coef[i * m + i] = 1.0;
                }
            }
            InputMap::MidpointVelocity {
                mu_q,
                sd_q,
                sd_v,
                angles,
            } => {
                // Each slot moves q̄ by half its step and v by ∓1/h.
                let mut alpha = 0;
                for (i, angle) in slots(n, angles) {
                    let v = 1.0 / (self.h * sd_v[i]);
                    let (a_col, b_col) = (i * d, (n + i) * d);
                    cols[a_col + n + i] = -v;
                    cols[b_col + n + i] = v;
                    if let Some(a) = angle {
                        let (s, c) = (q0[i] + 0.5 * delta[i] - mu_q[i]).sin_cos();
                        let (s, c) = (s / sd_q[i], c / sd_q[i]);
                        let cos_in = 2 * n + a;
                        for col in [a_col, b_col] {
                            cols[col + i] = 0.5 * c;
                            cols[col + cos_in] = -0.5 * s;
                        }
                        // ∂²/∂a∂b of sin and cos of q̄ = (a + b)/2.
                        mixed[(i * n + i) * d + i] = -0.25 * s;
                        mixed[(i * n + i) * d + cos_in] = -0.25 * c;
                        coef[i * m + alpha] = 0.5 * c;
                        coef[i * m + alpha + 1] = -0.5 * s;
                        coef[i * m + alpha + 2] = v;
                        alpha += 3;
                    } else {
                        cols[a_col + i] = 0.5 / sd_q[i];
                        cols[b_col + i] = 0.5 / sd_q[i];
                        coef[i * m + alpha] = 1.0;
                        alpha += 1;
                    }
                }
            }
            InputMap::Invariant { .. } => self.derivatives_by_duals(q0, delta, cols, coef, mixed),
        }
    }

    /// [`Parametrisation::input_derivatives`] by hyper-dual numbers: for
    /// each `(k, j)`, `ε1` on slot `a_k` and `ε2` on `b_j` give `∂u/∂a_k`,
    /// `∂u/∂b_j` and `∂²u/∂a_k∂b_j`. The tangents are the unit inputs, so
    /// `C = B`.
    fn derivatives_by_duals(
        &self,
        q0: &[f64],
        delta: &[f64],
        cols: &mut [f64],
        coef: &mut [f64],
        mixed: &mut [f64],
    ) {
        let (n, d) = (self.n, self.input_dim());
        let mut u = vec![HyperDual64::from(0.0); d];
        for k in 0..n {
            for j in 0..n {
                // a_k carries ε1, b_j = a_j + δ_j carries ε2: δ_j gets +ε2, −ε1 if j = k.
                let x0: Vec<HyperDual64> = (0..n)
                    .map(|i| HyperDual64::new(q0[i], f64::from(i == k), 0.0, 0.0))
                    .collect();
                let dx: Vec<HyperDual64> = (0..n)
                    .map(|i| {
                        let e1 = if i == k { -1.0 } else { 0.0 };
                        HyperDual64::new(delta[i], e1, f64::from(i == j), 0.0)
                    })
                    .collect();
                self.input(&x0, &dx, false, &mut u);
                for (e, x) in u.iter().enumerate() {
                    cols[k * d + e] = x.eps1;
                    cols[(n + j) * d + e] = x.eps2;
                    coef[j * d + e] = x.eps2;
                    mixed[(k * n + j) * d + e] = x.eps1eps2;
                }
            }
        }
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

/// The network input dimension of `n` coordinates of which `angles` are
/// angles: `2n` (with built-in symmetries: their position and velocity
/// features), plus one (the `cos` input) per angle.
pub fn input_dim(n: usize, angles: usize, built_in: Option<&BuiltIn>) -> usize {
    built_in.map_or(2 * n, |b| b.position_count() + b.velocity_count()) + angles
}

/// The invariant map's velocity scales: each feature's root mean square
/// (`features`, its rows), but at least the scale that the coordinates'
/// own velocity spreads give its direction, `√(mean over pairs of Σ_i
/// g_ki(q̄)² σ_i²)` with `σ_i` coordinate `i`'s velocity root mean square
/// and `g_k(q̄)` the feature's direction (every velocity feature is linear
/// in `v`: `vel_k = g_k(q̄)·v`). A feature along a coordinate axis (the
/// cart–pendulum's translation in `s`, a remaining coordinate) keeps its
/// own scale, as in the midpoint-velocity map; one that the data conserve
/// gets the floor: a built-in translation's velocity (the Morse chain's
/// centre of mass) is constant along each trajectory and zero when the
/// total momentum is, and standardised by its own spread it would scale
/// the network's curvature along it in `J = D1D2 Ld` by `1/σ²` — `10²⁴` at
/// the `1e−12` floor — where the data do not constrain that curvature:
/// `det J` changes sign from pair to pair at initialisation or is
/// astronomically large, and training or the rollout's Newton solve
/// fails. In a rotated plane the floor of both velocities is about the
/// plane's common scale (the radial velocity's small spread on an arc of
/// an orbit is not its scale elsewhere). A floor common to all features
/// (their common root mean square) also scaled down a velocity whose units
/// differ from the others' (the cart's against the pendulum's angular
/// velocity) for no reason (`docs/measurements.md` §11).
fn velocity_scales(built_in: &BuiltIn, h: f64, pairs: &[f64], features: &[f64]) -> Vec<f64> {
    let n = built_in.dim();
    let (p, k) = (built_in.position_count(), built_in.velocity_count());
    let v: Vec<f64> = (pairs.chunks_exact(2 * n))
        .flat_map(|pair| (0..n).map(move |i| (pair[n + i] - pair[i]) / h))
        .collect();
    let sigma = rms(n, &v);
    let (mut pos, mut vel, mut e) = (vec![0.0; p], vec![0.0; k], vec![0.0; n]);
    let mut sum = vec![0.0; k];
    let t = (pairs.len() / (2 * n).max(1)).max(1) as f64;
    for pair in pairs.chunks_exact(2 * n) {
        let (q0, q1) = pair.split_at(n);
        let qbar: Vec<f64> = q0.iter().zip(q1).map(|(a, b)| a + 0.5 * (b - a)).collect();
        for (i, s) in sigma.iter().enumerate() {
            e.fill(0.0);
            e[i] = *s;
            built_in.features(&qbar, &e, &mut pos, &mut vel);
            for (acc, x) in sum.iter_mut().zip(&vel) {
                *acc += x * x / t;
            }
        }
    }
    let own = rms(k, features);
    (own.iter().zip(&sum))
        .map(|(s, x)| s.max(x.sqrt()).max(1e-12))
        .collect()
}

/// Per-coordinate root mean square, with a floor.
fn rms(n: usize, rows: &[f64]) -> Vec<f64> {
    let t = (rows.len() / n.max(1)).max(1) as f64;
    let mut s = vec![0.0; n];
    for r in rows.chunks(n) {
        for i in 0..n {
            s[i] += r[i] * r[i] / t;
        }
    }
    s.iter().map(|x| x.sqrt().max(1e-12)).collect()
}

/// Each coordinate `i < n` with its place among the (ascending) angles,
/// `None` when it is not one.
fn slots(n: usize, angles: &[usize]) -> impl Iterator<Item = (usize, Option<usize>)> + '_ {
    (0..n).map(move |i| (i, angles.binary_search(&i).ok()))
}

/// The mean resultant length `ρ = √(1 − σ_c²)` of an angle's spread `σ_c`.
fn rho(sd_circle: f64) -> f64 {
    (1.0 - sd_circle * sd_circle).max(0.0).sqrt()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The Morse chain's translation `(1, 1, 1)/√3` built in, on pairs with
    /// zero total momentum (its default trajectory): the translation's
    /// velocity feature is zero on every pair. Standardised by its own
    /// spread it was divided by the `1e−12` floor (`det J` of the trained
    /// model ~`1e36`, a singular Newton Jacobian at the rollout's first
    /// step); it now gets the scale the coordinates' velocity spreads give
    /// its direction (`√(Σ σ_i²/3)`), and the features that move keep at
    /// least their own.
    #[test]
    fn a_built_in_translation_without_velocity_spread_gets_the_coordinates_scale() {
        let (n, h) = (3, 0.06);
        let mut pairs = vec![];
        for k in 0..50 {
            let x = k as f64 * 0.3;
            let q0 = [
                -1.0 + 0.1 * x.sin(),
                0.05 * x.cos(),
                1.2 - 0.1 * (0.7 * x).sin(),
            ];
            // Internal motion only: δ ⟂ (1, 1, 1).
            let (a, b) = (0.01 * (1.3 * x).cos(), 0.02 * (0.9 * x).sin());
            let delta = [a, b - a, -b];
            pairs.extend(
                q0.iter()
                    .copied()
                    .chain(q0.iter().zip(delta).map(|(q, d)| q + d)),
            );
        }
        let positions: Vec<f64> = pairs.clone();
        let t = vec![1.0 / 3f64.sqrt(); 3];
        let b = BuiltIn::new(n, &[t], None).unwrap();
        let p = Parametrisation::midpoint_velocity(n, h, &positions, &positions, true, true)
            .with_built_in(b.clone(), &pairs)
            .unwrap();
        let InputMap::Invariant { sd_v, .. } = &p.input_map else {
            panic!("not an invariant map");
        };
        // The features' own root mean squares: the translation's ~0 (rounding).
        let mut fv = vec![];
        let mut vel = vec![0.0; n];
        for pair in pairs.chunks_exact(2 * n) {
            let (q0, q1) = pair.split_at(n);
            let qbar: Vec<f64> = q0.iter().zip(q1).map(|(x, y)| 0.5 * (x + y)).collect();
            let v: Vec<f64> = q0.iter().zip(q1).map(|(x, y)| (y - x) / h).collect();
            b.features(&qbar, &v, &mut [0.0; 2], &mut vel);
            fv.extend_from_slice(&vel);
        }
        let own = rms(n, &fv);
        assert!(own[0] <= 1e-12, "translation spread {own:?}");
        // The coordinates' velocity spreads, and the scale they give (1, 1, 1)/√3.
        let v: Vec<f64> = (pairs.chunks_exact(2 * n))
            .flat_map(|pair| (0..n).map(move |i| (pair[n + i] - pair[i]) / h))
            .collect();
        let sigma = rms(n, &v);
        let along = (sigma.iter().map(|s| s * s).sum::<f64>() / 3.0).sqrt();
        assert!(
            (sd_v[0] - along).abs() <= 1e-12 * along,
            "translation scale {} vs the coordinates' {along}",
            sd_v[0]
        );
        for k in 1..n {
            assert!(sd_v[k] >= own[k], "feature {k}: {} < {}", sd_v[k], own[k]);
        }
        // A pair moving the chain as a whole at the internal speed gets an
        // O(1) input, not 1e12.
        let mut u = vec![0.0f64; p.input_dim()];
        let drift = [0.01; 3];
        p.input(&[-1.0, 0.0, 1.2], &drift, false, &mut u);
        let ut = u[b.position_count()];
        assert!(ut.abs() < 10.0, "translation input {ut:e}");
    }

    /// A translation along a coordinate axis (the cart–pendulum's `s`) and
    /// a remaining axis keep their own velocity scales, however different:
    /// the floor is per direction, not common to all features.
    #[test]
    fn axis_velocity_features_keep_their_own_scales() {
        let (n, h) = (2, 0.01);
        let mut pairs = vec![];
        for k in 0..60 {
            let x = k as f64 * 0.1;
            let q0 = [0.3 * x.sin(), 0.8 * (1.7 * x).cos()];
            let delta = [0.002 * x.cos(), 0.03 * (1.7 * x).sin()];
            pairs.extend(
                q0.iter()
                    .copied()
                    .chain(q0.iter().zip(delta).map(|(q, d)| q + d)),
            );
        }
        let b = BuiltIn::new(n, &[vec![1.0, 0.0]], None).unwrap();
        let p = Parametrisation::midpoint_velocity(n, h, &pairs, &pairs, true, true)
            .with_built_in(b, &pairs)
            .unwrap();
        let InputMap::Invariant { sd_v, .. } = &p.input_map else {
            panic!("not an invariant map");
        };
        let v: Vec<f64> = (pairs.chunks_exact(2 * n))
            .flat_map(|pair| (0..n).map(move |i| (pair[n + i] - pair[i]) / h))
            .collect();
        let own = rms(n, &v);
        assert!(own[0] < 0.2 * own[1], "spreads {own:?}");
        for k in 0..n {
            assert!(
                (sd_v[k] - own[k]).abs() <= 1e-12 * own[k],
                "feature {k}: {sd_v:?} vs {own:?}"
            );
        }
    }

    /// so(3) built in on a circular orbit: the speed `|u|²` is the same on
    /// every pair, and its scale is its mean, not the `1e−12` floor of its
    /// spread (which made kepler3d's 8-trajectory model fail in Newton at
    /// the fourth step of its rollout).
    #[test]
    fn a_constant_speed_under_so3_is_scaled_by_its_mean() {
        let (n, h) = (3, 0.1);
        let point = |k: usize| {
            let a = 0.2 * k as f64;
            [a.cos(), 0.8 * a.sin(), 0.6 * a.sin()]
        };
        let pairs: Vec<f64> = (0..40)
            .flat_map(|k| [point(k), point(k + 1)].concat())
            .collect();
        let b = BuiltIn::from_declared(n, &["so3".parse().unwrap()], &[]).unwrap();
        let p = Parametrisation::midpoint_velocity(n, h, &pairs, &pairs, true, true)
            .with_built_in(b, &pairs)
            .unwrap();
        let InputMap::Invariant { mu_q, sd_q, .. } = &p.input_map else {
            panic!("not an invariant map");
        };
        assert!(mu_q[1] > 0.1, "mean speed² {}", mu_q[1]);
        assert_eq!(sd_q[1], mu_q[1]);
    }
}
