//! The DLNN loss: discrete Euler–Lagrange residuals of a learned `Ld` on
//! observed positions.
//!
//! For a trajectory `q_0 … q_N`, `r_k = D2 Ld(q_{k−1}, q_k) + D1 Ld(q_k, q_{k+1})`
//! over all triples of all trajectories, and `d_p = det J(q_k, q_{k+1})` over
//! all pairs (each pair evaluated once).
//!
//! * [`Recipe::Paper`]: `mean|r|² + w · mean(1 − sigmoid(κ d^m))`, `κ = 0.01`,
//!   `m ∈ {1, 2}`. From a standard initialisation `d ≈ 3e−6`, the sigmoid sits
//!   on its plateau and the DEL term drives `Ld` towards a degenerate
//!   near-constant function (measured; DESIGN §3). Kept faithful for
//!   reproduction; the diagnostics show the collapse.
//! * [`Recipe::Robust`]: `log(mean|r|²) − (2/n) mean φ(s₀ d)` with `s₀` the
//!   sign of `det J` at initialisation and `φ = log` continued linearly below
//!   `10⁻⁶ ×` the current median `|d|` — unchanged by `Ld → c·Ld`, infinite
//!   (steeply penalised) at a degenerate or sign-flipped `J`, and its bias
//!   vanishes as the residual → 0.

use serde::{Deserialize, Serialize};

use super::pairs::PairBatch;
use super::parametrisation::Parametrisation;
use super::shaping::{Shaping, ShapingAdjoints};
use super::trainer::{LossReport, Objective};
use crate::data::Dataset;
use crate::nn::Mlp;

/// Which DLNN loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Recipe {
    /// The paper's, exactly.
    Paper,
    /// Scale-invariant, standardised inputs, kinetic prior (the default).
    Robust,
}

/// Settings of the DLNN loss.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DlnnLoss {
    pub recipe: Recipe,
    /// Weight `w` of the paper's degeneracy term.
    pub degeneracy_weight: f64,
    /// Power `m` of `d` in the paper's degeneracy term (1 or 2).
    pub degeneracy_power: u32,
    /// Sigmoid slope `κ` of the paper's degeneracy term.
    pub kappa: f64,
    /// Evaluate `J` (degeneracy term, barrier) at every this-many-th pair
    /// only; 1 is all pairs (the paper's recipe's default); 0 (the robust
    /// recipe's default) picks the stride from the data, see
    /// [`DlnnLoss::jacobian_stride`].
    #[serde(default = "all_pairs")]
    pub jacobian_every: usize,
}

fn all_pairs() -> usize {
    1
}

impl DlnnLoss {
    /// Defaults of a recipe.
    pub fn new(recipe: Recipe) -> Self {
        Self {
            recipe,
            degeneracy_weight: 1.0,
            degeneracy_power: 1,
            kappa: 0.01,
            jacobian_every: match recipe {
                Recipe::Paper => 1,
                Recipe::Robust => 0,
            },
        }
    }

    /// The automatic stride: `J` at every K-th pair with K as large as
    /// possible up to this …
    pub const AUTO_MAX_STRIDE: usize = 10;
    /// … while keeping at least this many pairs with `J`.
    pub const AUTO_MIN_JACOBIAN_PAIRS: usize = 20;

    /// The stride `K` for `pairs` training pairs: `jacobian_every`, or when
    /// that is 0, `⌊pairs / 20⌋` clamped to `1 ..= 10`. The Jacobian is the
    /// step's costliest part (it triples the engine's rows); measured on the
    /// paper's cart–pendulum (3 000 epochs, seeds 0–4) `K = 10` fits as well
    /// as `K = 1` (recreation 1.0e-5–1.8e-5, prediction 0.016–0.062, against
    /// 9e-6–1.6e-5 and 0.025–0.072; with time-reversal symmetrisation
    /// 3.7e-6–1.1e-5 and 0.0015–0.037 against 3.7e-6–1.5e-5 and
    /// 0.0009–0.061) at half the step time; on 20 cart–pendulum
    /// trajectories (2 × 64, seeds 0–5) either setting fits two or three
    /// seeds in six well, the median DEL residual 2× higher with the
    /// stride (README, *Symmetries*). The floor keeps the barrier
    /// on enough pairs of small data sets (Kepler's 50 pairs get `K = 2`;
    /// recreation over seeds 0–2 was 2.7e-5–5.8e-5 with `K = 2`,
    /// 2.9e-5–4.5e-5 with `K = 10` and 1.1e-5–4.4e-5 with `K = 1`: within
    /// the seeds' spread).
    pub fn jacobian_stride(&self, pairs: usize) -> usize {
        match self.jacobian_every {
            0 => (pairs / Self::AUTO_MIN_JACOBIAN_PAIRS).clamp(1, Self::AUTO_MAX_STRIDE),
            k => k,
        }
    }
}

/// Statistics of `det J` over the training pairs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetStats {
    /// `min |det(hJ)|`.
    pub min_abs_hdet: f64,
    /// `median |det(hJ)|`.
    pub median_abs_hdet: f64,
    /// Pairs where `det J` has the sign opposite to the median's: a `J` that
    /// changes sign between points is an indefinite, unphysical `Ld`.
    pub sign_changes: usize,
}

impl DetStats {
    /// `|det(hJ)|` below this (relative to the median) counts as near-degenerate.
    pub const NEAR_DEGENERATE: f64 = 1e-6;

    /// Whether `Ld` looks near-degenerate (an absolute `|det(hJ)|` this
    /// small means `Ld` barely depends on the velocity; or any sign flip).
    pub fn near_degenerate(&self) -> bool {
        self.sign_changes > 0
            || self.median_abs_hdet < 1e-8
            || self.min_abs_hdet < Self::NEAR_DEGENERATE * self.median_abs_hdet
    }
}

/// `det A` and its cofactor matrix `∂det/∂A` for a row-major `n × n` matrix.
pub fn det_cofactor(n: usize, a: &[f64], cof: &mut [f64]) -> f64 {
    match n {
        1 => {
            cof[0] = 1.0;
            a[0]
        }
        2 => {
            cof.copy_from_slice(&[a[3], -a[2], -a[1], a[0]]);
            a[0] * a[3] - a[1] * a[2]
        }
        3 => {
            let m = |i: usize, j: usize| a[i * 3 + j];
            for i in 0..3 {
                for j in 0..3 {
                    let (i1, i2) = ((i + 1) % 3, (i + 2) % 3);
                    let (j1, j2) = ((j + 1) % 3, (j + 2) % 3);
                    cof[i * 3 + j] = m(i1, j1) * m(i2, j2) - m(i1, j2) * m(i2, j1);
                }
            }
            (0..3).map(|j| a[j] * cof[j]).sum()
        }
        _ => {
            let mat = nalgebra::DMatrix::from_row_slice(n, n, a);
            let det = mat.clone().lu().determinant();
            match mat.try_inverse() {
                Some(inv) => {
                    for i in 0..n {
                        for j in 0..n {
                            cof[i * n + j] = det * inv[(j, i)];
                        }
                    }
                }
                None => cof.fill(0.0),
            }
            det
        }
    }
}

/// The DLNN objective on a dataset.
pub struct Dlnn {
    /// All pairs, with `J` at every K-th (the stride).
    batch: PairBatch,
    /// `(q0, δ)` of every pair, row-major `pairs × 2n`.
    pair_data: Vec<f64>,
    triples: Vec<(usize, usize)>,
    loss: DlnnLoss,
    sign0: f64,
    d1bar: Vec<f64>,
    d2bar: Vec<f64>,
    jbar: Vec<f64>,
    dets: Vec<f64>,
    cofs: Vec<f64>,
    resid: Vec<f64>,
    /// SymDLNN's shaping term, and whether it uses the training pairs.
    shaping: Option<(Shaping, bool)>,
    epoch: usize,
}

impl Dlnn {
    /// The objective for `data` with network `mlp` (used to size the engine
    /// and, when `sign0` is `None`, to fix the sign of `det J`).
    pub fn new(
        mlp: &Mlp,
        param: Parametrisation,
        data: &Dataset,
        loss: DlnnLoss,
        sign0: Option<f64>,
        threads: usize,
    ) -> Self {
        let n = param.n;
        let pairs: usize = data
            .trajectories
            .iter()
            .map(|t| t.len().saturating_sub(1))
            .sum();
        let every = loss.jacobian_stride(pairs);
        let mut batch = PairBatch::new(mlp, param, pairs, threads, Some(every));
        let jac_pairs = batch.jacobian_pairs();
        let mut triples = Vec::new();
        let mut pair_data = Vec::with_capacity(pairs * 2 * n);
        let mut p = 0;
        let mut delta = vec![0.0; n];
        for tr in &data.trajectories {
            for k in 0..tr.len() - 1 {
                let (a, b) = (tr.position(k), tr.position(k + 1));
                for i in 0..n {
                    delta[i] = b[i] - a[i];
                }
                batch.set_pair(p + k, a, &delta);
                pair_data.extend_from_slice(a);
                pair_data.extend_from_slice(&delta);
                if k >= 1 {
                    triples.push((p + k - 1, p + k));
                }
            }
            p += tr.len() - 1;
        }
        let mut me = Self {
            batch,
            pair_data,
            triples,
            loss,
            sign0: 1.0,
            d1bar: vec![0.0; pairs * n],
            d2bar: vec![0.0; pairs * n],
            jbar: vec![0.0; jac_pairs * n * n],
            dets: vec![0.0; jac_pairs],
            cofs: vec![0.0; jac_pairs * n * n],
            resid: vec![0.0; n],
            shaping: None,
            epoch: 0,
        };
        me.sign0 = sign0.unwrap_or_else(|| {
            me.batch.evaluate(mlp);
            me.compute_dets();
            if median_abs(&me.dets, true) >= 0.0 {
                1.0
            } else {
                -1.0
            }
        });
        me
    }

    /// Add SymDLNN's shaping term (on the training pairs too when `train`).
    pub fn set_shaping(&mut self, shaping: Shaping, train: bool) {
        self.shaping = Some((shaping, train));
    }

    /// The parametrisation of the learned `Ld`.
    pub fn parametrisation(&self) -> &Parametrisation {
        self.batch.parametrisation()
    }

    /// Sign of `det J` at initialisation (stored with checkpoints).
    pub fn sign0(&self) -> f64 {
        self.sign0
    }

    fn compute_dets(&mut self) {
        let n = self.batch.parametrisation().n;
        let jac = &self.batch.jac;
        for p in 0..self.dets.len() {
            let j = &jac[p * n * n..(p + 1) * n * n];
            self.dets[p] = det_cofactor(n, j, &mut self.cofs[p * n * n..(p + 1) * n * n]);
        }
    }

    /// `det J` statistics at the last evaluation.
    pub fn det_stats(&self) -> DetStats {
        let p = self.batch.parametrisation();
        stats_of(&self.dets, p.h.powi(p.n as i32))
    }

    /// `det J` statistics over all pairs at `mlp`, which must be the network
    /// of the last evaluation: when `J` is evaluated at every pair these are
    /// [`Dlnn::det_stats`], otherwise `J` is evaluated once everywhere.
    pub fn full_det_stats(&mut self, mlp: &Mlp) -> DetStats {
        if self.batch.jacobian_pairs() == self.batch.len() {
            return self.det_stats();
        }
        let param = self.batch.parametrisation().clone();
        let (n, h) = (param.n, param.h);
        let pairs = self.batch.len();
        let mut all = PairBatch::new(mlp, param, pairs, 1, Some(1));
        for (p, row) in self.pair_data.chunks_exact(2 * n).enumerate() {
            all.set_pair(p, &row[..n], &row[n..]);
        }
        all.evaluate(mlp);
        let mut cof = vec![0.0; n * n];
        let dets: Vec<f64> = all
            .jac
            .chunks_exact(n * n)
            .map(|j| det_cofactor(n, j, &mut cof))
            .collect();
        stats_of(&dets, h.powi(n as i32))
    }
}

/// Statistics of `det J` values, `|det(hJ)| = h^n |det J|`.
fn stats_of(dets: &[f64], hn: f64) -> DetStats {
    let m = median_abs(dets, true);
    DetStats {
        min_abs_hdet: dets.iter().map(|d| d.abs()).fold(f64::INFINITY, f64::min) * hn,
        median_abs_hdet: median_abs(dets, false) * hn,
        sign_changes: dets.iter().filter(|d| **d * m <= 0.0).count(),
    }
}

/// The index of the median of `|x|` (the element [`median_abs`] returns).
fn median_abs_index(x: &[f64]) -> Option<usize> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].abs().total_cmp(&x[b].abs()));
    order.get(x.len() / 2).copied()
}

/// Median of `|x|` (or of `x` itself when `signed`).
fn median_abs(x: &[f64], signed: bool) -> f64 {
    let mut v: Vec<f64> = x
        .iter()
        .map(|a| if signed { *a } else { a.abs() })
        .collect();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

impl Objective for Dlnn {
    fn begin_epoch(&mut self, epoch: usize) -> bool {
        let was = self.shaping.as_ref().map(|(s, _)| s.active(self.epoch));
        self.epoch = epoch;
        let now = self.shaping.as_ref().map(|(s, _)| s.active(epoch));
        was != now
    }

    fn own_params(&self) -> &[f64] {
        self.shaping.as_ref().map_or(&[], |(s, _)| s.coefficients())
    }

    fn own_params_mut(&mut self) -> &mut [f64] {
        match self.shaping.as_mut() {
            Some((s, _)) => s.coefficients_mut(),
            None => &mut [],
        }
    }

    fn evaluate(&mut self, mlp: &Mlp, grad: Option<&mut [f64]>) -> LossReport {
        let n = self.batch.parametrisation().n;
        let net = mlp.params().len();
        self.batch.evaluate(mlp);
        self.compute_dets();
        let k_count = self.triples.len().max(1) as f64;
        let p_count = self.dets.len().max(1) as f64;
        // DEL residuals.
        let mut del = 0.0;
        for &(l, r) in &self.triples {
            for i in 0..n {
                let x = self.batch.d2[l * n + i] + self.batch.d1[r * n + i];
                del += x * x;
            }
        }
        del /= k_count;
        // `barrier_weight · dbar[p]`: the derivative of the loss with respect
        // to `d_p` (the paper solver's symmetry term, normalised by the
        // robust barrier's scale, scales the barrier's part).
        let (mut total, second, r_scale, dbar, mut barrier_weight, log_scale);
        match self.loss.recipe {
            Recipe::Paper => {
                let (w, m, kappa) = (
                    self.loss.degeneracy_weight,
                    self.loss.degeneracy_power as i32,
                    self.loss.kappa,
                );
                let mut deg = 0.0;
                let mut db = vec![0.0; self.dets.len()];
                for (p, &d) in self.dets.iter().enumerate() {
                    let s = 1.0 / (1.0 + (-kappa * d.powi(m)).exp());
                    deg += 1.0 - s;
                    db[p] = -w / p_count * s * (1.0 - s) * kappa * m as f64 * d.powi(m - 1);
                }
                deg /= p_count;
                total = del + w * deg;
                second = ("degeneracy", deg);
                r_scale = 2.0 / k_count;
                dbar = db;
                barrier_weight = 1.0;
                log_scale = None;
            }
            Recipe::Robust => {
                // The threshold moves with the median `|d|` (one pair's), and
                // the linear continuation with the threshold: its derivative
                // goes to that pair.
                let med = median_abs_index(&self.dets);
                let x_min =
                    DetStats::NEAR_DEGENERATE * med.map_or(f64::NAN, |m| self.dets[m].abs());
                let mut barrier = 0.0;
                let mut d_x_min = 0.0;
                let mut db = vec![0.0; self.dets.len()];
                let c = -(2.0 / n as f64) / p_count;
                for (p, &d) in self.dets.iter().enumerate() {
                    let x = self.sign0 * d;
                    let (phi, dphi) = if x >= x_min && x > 0.0 {
                        (x.ln(), 1.0 / x)
                    } else {
                        d_x_min += 1.0 / x_min - x / (x_min * x_min);
                        (x_min.ln() + (x - x_min) / x_min, 1.0 / x_min)
                    };
                    barrier += phi;
                    db[p] = c * dphi * self.sign0;
                }
                if let Some(m) = med.filter(|_| d_x_min != 0.0) {
                    db[m] += c * d_x_min * DetStats::NEAR_DEGENERATE * self.dets[m].signum();
                }
                barrier /= p_count;
                total = del.ln() - (2.0 / n as f64) * barrier;
                second = ("logdet", barrier);
                r_scale = 2.0 / (k_count * del);
                dbar = db;
                barrier_weight = 1.0;
                log_scale = Some(barrier);
            }
        }
        // The shaping term (always reported; trained after its warm-up).
        let active = self
            .shaping
            .as_ref()
            .is_some_and(|(s, _)| s.active(self.epoch));
        let mut grad = grad;
        if grad.is_some() {
            self.d1bar.fill(0.0);
            self.d2bar.fill(0.0);
            for &(l, r) in &self.triples {
                for i in 0..n {
                    self.resid[i] = self.batch.d2[l * n + i] + self.batch.d1[r * n + i];
                    self.d2bar[l * n + i] += r_scale * self.resid[i];
                    self.d1bar[r * n + i] += r_scale * self.resid[i];
                }
            }
        }
        let mut terms = vec![("del", del), second];
        if let Some((shaping, use_train)) = self.shaping.as_mut() {
            let train_pairs: &[f64] = if *use_train { &self.pair_data } else { &[] };
            let adjoints = match (active, grad.as_deref_mut()) {
                (true, Some(g)) => {
                    let (network, own) = g.split_at_mut(net);
                    Some(ShapingAdjoints {
                        d1bar: &mut self.d1bar[..],
                        d2bar: &mut self.d2bar[..],
                        network,
                        own,
                    })
                }
                _ => None,
            };
            let r = shaping.evaluate(
                mlp,
                train_pairs,
                &self.batch.d1,
                &self.batch.d2,
                log_scale,
                adjoints,
            );
            if active {
                total += shaping.weight() * r.value;
                // The barrier enters the loss as −(2/n)·barrier.
                barrier_weight += shaping.weight() * r.d_log_scale / (-2.0 / n as f64);
            }
            terms.push(("symmetry", r.value));
        }
        if let Some(grad) = grad {
            let grad = &mut grad[..net];
            for (p, db) in dbar.iter().enumerate() {
                for k in 0..n * n {
                    self.jbar[p * n * n + k] = barrier_weight * db * self.cofs[p * n * n + k];
                }
            }
            self.batch
                .backprop(mlp, &self.d1bar, &self.d2bar, &self.jbar, grad);
        }
        LossReport {
            total,
            terms,
            det: Some(self.det_stats()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Trajectory;
    use crate::learn::symmetry::{DiscoverySolver, EvaluationPoints, SymmetryBasis};
    use crate::nn::Activation;

    fn data(n: usize) -> Dataset {
        let t = 9;
        let q: Vec<f64> = (0..t * n)
            .map(|k| ((k / n) as f64 * 0.3 + (k % n) as f64).sin())
            .collect();
        Dataset {
            n,
            dt: 0.1,
            trajectories: vec![
                Trajectory::from_positions(n, 0.0, 0.1, q.clone()),
                Trajectory::from_positions(n, 0.0, 0.1, q.iter().map(|x| 0.8 * x + 0.1).collect()),
            ],
        }
    }

    #[test]
    fn det_cofactor_is_the_derivative_of_the_determinant() {
        for n in 1..=4 {
            let a: Vec<f64> = (0..n * n)
                .map(|k| {
                    ((k * 7 % 5) as f64 - 1.7) * 0.3 + if k % (n + 1) == 0 { 2.0 } else { 0.0 }
                })
                .collect();
            let mut cof = vec![0.0; n * n];
            let det = det_cofactor(n, &a, &mut cof);
            let m = nalgebra::DMatrix::from_row_slice(n, n, &a);
            assert!((det - m.determinant()).abs() < 1e-12 * (1.0 + det.abs()));
            for k in 0..n * n {
                let (mut p, mut q) = (a.clone(), a.clone());
                p[k] += 1e-6;
                q[k] -= 1e-6;
                let mut scratch = vec![0.0; n * n];
                let fd =
                    (det_cofactor(n, &p, &mut scratch) - det_cofactor(n, &q, &mut scratch)) / 2e-6;
                assert!(
                    (cof[k] - fd).abs() < 1e-7 * (1.0 + fd.abs()),
                    "n={n} k={k}: {} vs {fd}",
                    cof[k]
                );
            }
        }
    }

    #[test]
    fn det_statistics_cover_all_pairs_even_when_the_loss_uses_a_subset() {
        let d = data(2);
        let mlp = Mlp::new(4, &[8, 6], Activation::Softplus, 2).unwrap();
        let param = Parametrisation::raw(2, d.dt);
        let mut all = Dlnn::new(
            &mlp,
            param.clone(),
            &d,
            DlnnLoss::new(Recipe::Paper),
            None,
            2,
        );
        let mut loss = DlnnLoss::new(Recipe::Paper);
        loss.jacobian_every = 5;
        let mut sub = Dlnn::new(&mlp, param, &d, loss, None, 2);
        let full = all.evaluate(&mlp, None).det.unwrap();
        assert_eq!(all.full_det_stats(&mlp), full);
        let partial = sub.evaluate(&mlp, None).det.unwrap();
        let rebuilt = sub.full_det_stats(&mlp);
        // The full statistics are the same numbers, whichever batch layout.
        assert!(
            (rebuilt.median_abs_hdet - full.median_abs_hdet).abs() <= 1e-14 * full.median_abs_hdet
        );
        assert!((rebuilt.min_abs_hdet - full.min_abs_hdet).abs() <= 1e-14 * full.min_abs_hdet);
        assert_eq!(rebuilt.sign_changes, full.sign_changes);
        assert!(partial.min_abs_hdet >= full.min_abs_hdet);
    }

    #[test]
    fn loss_gradient_agrees_with_finite_differences() {
        for n in [1, 2] {
            let d = data(n);
            for (recipe, tr, prior, angles) in [
                (Recipe::Paper, false, false, false),
                (Recipe::Robust, false, true, false),
                (Recipe::Robust, true, true, false),
                (Recipe::Paper, true, false, false),
                (Recipe::Robust, false, true, true),
                (Recipe::Robust, true, true, true),
                // No prior: det J changes sign at some pairs (two for n = 1), so the barrier's
                // linear continuation (and its moving threshold) is in play.
                (Recipe::Robust, false, false, false),
                (Recipe::Robust, true, false, true),
            ] {
                let param = match recipe {
                    Recipe::Paper => Parametrisation {
                        time_reversible: tr,
                        ..Parametrisation::raw(n, d.dt)
                    },
                    Recipe::Robust => {
                        let q: Vec<f64> = d.trajectories.iter().flat_map(|t| t.q.clone()).collect();
                        let p = Parametrisation::midpoint_velocity(n, d.dt, &q, &q, prior, tr);
                        // The last coordinate an angle (a nonlinear input map).
                        if angles {
                            p.with_angles(vec![n - 1], &q).unwrap()
                        } else {
                            p
                        }
                    }
                };
                // J at every pair, and at every third (tangent rows for a subset of the batch).
                for every in [1, 3] {
                    let mut mlp =
                        Mlp::new(param.input_dim(), &[8, 6], Activation::Softplus, 2).unwrap();
                    let mut loss = DlnnLoss::new(recipe);
                    loss.degeneracy_power = 2;
                    loss.kappa = 30.0; // off the sigmoid's plateau so the term matters
                    loss.jacobian_every = every;
                    let mut obj = Dlnn::new(&mlp, param.clone(), &d, loss, None, 2);
                    let what =
                        format!("{recipe:?} tr={tr} angles={angles} n={n} jacobian_every={every}");
                    crate::learn::trainer::assert_gradient_matches_fd(
                        &mut obj, &mut mlp, 3, 2e-5, 1e-3, &what,
                    );
                }
            }
        }
    }

    /// Check the gradient of the DLNN loss plus the symmetry term of `sym`
    /// (its training pairs if `sym.points.train`, and 12 box pairs) against
    /// finite differences, network and own parameters alike.
    #[track_caller]
    fn check_symmetry_term(recipe: Recipe, sym: crate::learn::SymmetryConfig, every: usize) {
        use crate::learn::shaping::Shaping;
        let n = 2;
        let d = data(n);
        let q: Vec<f64> = d.trajectories.iter().flat_map(|t| t.q.clone()).collect();
        let param = match recipe {
            Recipe::Robust => Parametrisation::midpoint_velocity(n, d.dt, &q, &q, true, false),
            Recipe::Paper => Parametrisation::raw(n, d.dt),
        };
        let mut mlp = Mlp::new(2 * n, &[8, 6], Activation::Softplus, 5).unwrap();
        let mut loss = DlnnLoss::new(recipe);
        loss.jacobian_every = every;
        let mut obj = Dlnn::new(&mlp, param.clone(), &d, loss, None, 2);
        let boxed = EvaluationPoints {
            train: false,
            boxed: sym.points.boxed,
        }
        .pairs(&d, 3);
        let config = sym.shaping.expect("a weighted term");
        let term = Shaping::new(&mlp, &param, &sym, config, boxed, 2);
        obj.set_shaping(term, sym.points.train);
        let own = sym.coefficients.as_ref().map_or(0, |c| c.init.len());
        assert_eq!(obj.own_params().len(), own);
        let report = obj.evaluate(&mlp, None);
        let r = report.terms.iter().find(|t| t.0 == "symmetry").unwrap().1;
        assert!(r > 0.0 && r.is_finite(), "{r}");
        let what = format!(
            "{:?} {recipe:?} {:?} K={} train={} jacobian_every={every}",
            sym.solver, sym.basis, sym.generators, sym.points.train
        );
        crate::learn::trainer::assert_gradient_matches_fd(&mut obj, &mut mlp, 3, 2e-5, 1e-3, &what);
    }

    /// The paper's solver: the symmetry term's gradient with respect to the
    /// network (training and box pairs) and to its trained coefficients,
    /// raw (paper recipe) and normalised by the barrier's scale (robust),
    /// agrees with finite differences of the total loss.
    #[test]
    fn paper_solver_gradient_agrees_with_finite_differences() {
        use crate::learn::shaping::{CoefficientConfig, ShapingConfig};
        for recipe in [Recipe::Robust, Recipe::Paper] {
            for (basis, k, train, every) in [
                (SymmetryBasis::Affine, 1, true, 1),
                (SymmetryBasis::Affine, 2, true, 3),
                (SymmetryBasis::Linear, 2, false, 1),
                (SymmetryBasis::Polynomial(2), 2, true, 1),
            ] {
                let coefficients = CoefficientConfig {
                    alpha: 0.7,
                    beta: 1.3,
                    // Off unit norm and not orthogonal, so that both terms act.
                    init: CoefficientConfig::random(k, basis.len(2), 4)
                        .iter()
                        .map(|x| 0.8 * x)
                        .collect(),
                    init_name: "random".into(),
                };
                let sym = crate::learn::SymmetryConfig {
                    generators: k,
                    basis,
                    points: EvaluationPoints { train, boxed: 12 },
                    shaping: Some(ShapingConfig {
                        weight: 5.0,
                        warmup: 0,
                    }),
                    solver: DiscoverySolver::Paper,
                    coefficients: Some(coefficients),
                };
                check_symmetry_term(recipe, sym, every);
            }
        }
    }

    /// The shaping term's gradient through the engine (training and box
    /// pairs, each basis) agrees with finite differences of the total loss.
    #[test]
    fn shaping_term_gradient_agrees_with_finite_differences() {
        use crate::learn::shaping::ShapingConfig;
        for recipe in [Recipe::Robust, Recipe::Paper] {
            for (basis, k, train) in [
                (SymmetryBasis::Affine, 1, true),
                (SymmetryBasis::Affine, 2, false),
                (SymmetryBasis::Translations, 1, true),
                (SymmetryBasis::Polynomial(3), 1, true),
            ] {
                let sym = crate::learn::SymmetryConfig {
                    generators: k,
                    basis,
                    points: EvaluationPoints { train, boxed: 12 },
                    // A large weight so that the term dominates the check.
                    shaping: Some(ShapingConfig {
                        weight: 50.0,
                        warmup: 0,
                    }),
                    solver: DiscoverySolver::Nullspace,
                    coefficients: None,
                };
                check_symmetry_term(recipe, sym, 1);
            }
        }
    }
}
