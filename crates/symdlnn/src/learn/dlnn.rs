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
//!   near-constant function (`docs/method.md`). Kept faithful for
//!   reproduction; the diagnostics show the collapse.
//! * [`Recipe::Robust`]: `log(mean|r|²) − (2/n) mean φ(s₀ d)` with `s₀` the
//!   sign of `det J` at initialisation and `φ = log` continued linearly below
//!   `10⁻⁶ ×` the current median `|d|` — unchanged by `Ld → c·Ld`, infinite
//!   (steeply penalised) at a degenerate or sign-flipped `J`, and its bias
//!   vanishes as the residual → 0.

use std::num::NonZeroUsize;

use super::config::{DlnnLoss, Recipe};
use super::det::{det_cofactor, median_abs, median_abs_index, stats_of, DetStats};
use super::latent::Latent;
use super::objective::{LossReport, Objective};
use super::pairs::PairBatch;
use super::parametrisation::Parametrisation;
use super::shaping::{Shaping, ShapingAdjoints};
use crate::data::Dataset;
use crate::nn::Mlp;

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
    /// Minibatches: every triple of the data (`triples` holds the current
    /// batch's, in its local pair indices), the data's `J` stride, threads,
    /// engines of other sizes kept for reuse, and the current batch's
    /// `(q0, δ)` when one is selected.
    all_triples: Vec<(usize, usize)>,
    every: NonZeroUsize,
    threads: usize,
    parked: Vec<PairBatch>,
    selected: Option<Vec<f64>>,
    /// Minibatches with a running barrier threshold: the running mean of
    /// `log` median `|d|` over the training steps' batches (`None` until the
    /// first; the setting off: the batch's own median).
    running: Option<Option<f64>>,
    /// Latent positions (training on noisy observations), the current
    /// batch's pairs (global indices) and the observations they touch, and
    /// the pairs' position gradients.
    latent: Option<Latent>,
    batch_pairs: Vec<usize>,
    batch_points: Vec<usize>,
    positions_bar: Vec<f64>,
}

/// Engines of other batch sizes kept by [`Dlnn`] (a minibatch epoch has
/// batches of a few sizes: full ones, ones a window short, the last).
const PARKED: usize = 4;

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
        let every = loss.jacobian_every.resolve(pairs);
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
            all_triples: vec![],
            every,
            threads,
            parked: vec![],
            selected: None,
            running: None,
            latent: None,
            batch_pairs: (0..pairs).collect(),
            batch_points: vec![],
            positions_bar: vec![],
        };
        me.all_triples = me.triples.clone();
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

    /// Minibatches: the barrier's threshold from a running median over
    /// batches (`true`; an exponential mean of `log` median `|det J|` with
    /// weight [`Dlnn::RUNNING_WEIGHT`] on the newest batch, held constant in
    /// the gradient) instead of the batch's own median.
    pub fn set_running_threshold(&mut self, on: bool) {
        self.running = on.then_some(None);
    }

    /// Train latent positions with the network ([`super::latent`]): the
    /// loss is evaluated at them from now on. Needs an input map with
    /// position gradients and no shaping term (checked by the
    /// configuration).
    pub fn set_latent(&mut self, latent: Latent) {
        self.batch_points = latent.points_of(&self.batch_pairs);
        self.latent = Some(latent);
        self.refresh_latent();
    }

    /// The latent positions, when trained.
    pub fn latent(&self) -> Option<&Latent> {
        self.latent.as_ref()
    }

    /// Latent positions into the current batch's pairs: their `(q̂0, δ̂)`
    /// rows and engine inputs (other pairs' rows are refreshed when they
    /// are loaded, or by [`Dlnn::full_det_stats`]).
    fn refresh_latent(&mut self) {
        let Some(latent) = &self.latent else {
            return;
        };
        let n = latent.sigma().len();
        for (i, &p) in self.batch_pairs.iter().enumerate() {
            let row = &mut self.pair_data[p * 2 * n..(p + 1) * 2 * n];
            latent.pair_row(p, row);
            self.batch.set_pair(i, &row[..n], &row[n..]);
            if let Some(sel) = self.selected.as_mut() {
                sel[i * 2 * n..(i + 1) * 2 * n].copy_from_slice(row);
            }
        }
    }

    /// The newest batch's weight in the running threshold.
    pub const RUNNING_WEIGHT: f64 = 0.1;

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
        if self.batch.jacobian_pairs() == self.batch.len() && self.selected.is_none() {
            return self.det_stats();
        }
        let param = self.batch.parametrisation().clone();
        let (n, h) = (param.n, param.h);
        if let Some(latent) = &self.latent {
            for (p, row) in self.pair_data.chunks_exact_mut(2 * n).enumerate() {
                latent.pair_row(p, row);
            }
        }
        let pairs = self.pair_data.len() / (2 * n);
        let mut all = PairBatch::new(mlp, param, pairs, 1, Some(NonZeroUsize::MIN));
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

impl Dlnn {
    /// An engine for `len` pairs: a parked one of that size, or a new one.
    fn engine_for(&mut self, mlp: &Mlp, len: usize) -> PairBatch {
        match self.parked.iter().position(|b| b.len() == len) {
            Some(i) => self.parked.remove(i),
            None => PairBatch::new(
                mlp,
                self.batch.parametrisation().clone(),
                len,
                self.threads,
                Some(self.every),
            ),
        }
    }

    /// Make `batch` (global pair indices, ascending) the engine's pairs and
    /// `triples` (local pair indices) the residuals, sizing the buffers.
    fn load(&mut self, mlp: &Mlp, pairs: &[usize], triples: Vec<(usize, usize)>) {
        let n = self.batch.parametrisation().n;
        let mut engine = self.engine_for(mlp, pairs.len());
        for (i, &p) in pairs.iter().enumerate() {
            let row = &self.pair_data[p * 2 * n..(p + 1) * 2 * n];
            engine.set_pair(i, &row[..n], &row[n..]);
        }
        let old = std::mem::replace(&mut self.batch, engine);
        self.parked.push(old);
        if self.parked.len() > PARKED {
            self.parked.remove(0);
        }
        let jp = self.batch.jacobian_pairs();
        self.triples = triples;
        self.d1bar.resize(pairs.len() * n, 0.0);
        self.d2bar.resize(pairs.len() * n, 0.0);
        self.jbar.resize(jp * n * n, 0.0);
        self.cofs.resize(jp * n * n, 0.0);
        self.dets.resize(jp, 0.0);
    }
}

impl Objective for Dlnn {
    /// A minibatch: its pairs are evaluated (with `J` at every K-th of
    /// them, K the full data's stride), its triples are the residuals, the
    /// barrier's threshold is the batch's median `|det J|`.
    fn select(&mut self, mlp: &Mlp, batch: Option<&super::batches::Batch>) {
        let n = self.batch.parametrisation().n;
        match batch {
            None => {
                if self.selected.take().is_some() {
                    let all: Vec<usize> = (0..self.pair_data.len() / (2 * n)).collect();
                    self.load(mlp, &all, self.all_triples.clone());
                    self.batch_pairs = all;
                }
            }
            Some(b) => {
                let local = |p: usize| {
                    b.pairs
                        .binary_search(&p)
                        .expect("a batch holds its triples' pairs")
                };
                let triples = b
                    .triples
                    .iter()
                    .map(|&t| {
                        let (l, r) = self.all_triples[t];
                        (local(l), local(r))
                    })
                    .collect();
                self.load(mlp, &b.pairs, triples);
                let mut data = self.selected.take().unwrap_or_default();
                data.clear();
                for &p in &b.pairs {
                    data.extend_from_slice(&self.pair_data[p * 2 * n..(p + 1) * 2 * n]);
                }
                self.selected = Some(data);
                self.batch_pairs.clone_from(&b.pairs);
            }
        }
        if let Some(latent) = &self.latent {
            self.batch_points = latent.points_of(&self.batch_pairs);
        }
    }

    fn begin_epoch(&mut self, epoch: usize) -> bool {
        let was = self.shaping.as_ref().map(|(s, _)| s.active(self.epoch));
        self.epoch = epoch;
        let now = self.shaping.as_ref().map(|(s, _)| s.active(epoch));
        was != now
    }

    /// The shaping term's coefficients, or the latent positions' offsets
    /// (never both: the configuration refuses it).
    fn own_params(&self) -> &[f64] {
        match (&self.latent, &self.shaping) {
            (Some(l), _) => l.z(),
            (None, Some((s, _))) => s.coefficients(),
            (None, None) => &[],
        }
    }

    fn own_params_mut(&mut self) -> &mut [f64] {
        match (&mut self.latent, &mut self.shaping) {
            (Some(l), _) => l.z_mut(),
            (None, Some((s, _))) => s.coefficients_mut(),
            (None, None) => &mut [],
        }
    }

    fn evaluate(&mut self, mlp: &Mlp, grad: Option<&mut [f64]>) -> LossReport {
        self.refresh_latent();
        self.batch.evaluate(mlp);
        self.compute_dets();
        let (del, floor) = self.mean_del();
        let mut term = match self.loss.recipe {
            Recipe::Paper => self.degeneracy_term(del),
            Recipe::Robust => {
                let running = match (self.running, &self.selected, grad.is_some()) {
                    (Some(state), Some(_), true) => {
                        let m = median_abs(&self.dets, false).ln();
                        let w = Self::RUNNING_WEIGHT;
                        let next = state.map_or(m, |r| (1.0 - w) * r + w * m);
                        self.running = Some(Some(next));
                        Some(next.exp())
                    }
                    _ => None,
                };
                self.barrier_term(del + floor, running)
            }
        };
        let mut grad = grad;
        if grad.is_some() {
            self.residual_adjoints(term.r_scale);
        }
        let mut terms = vec![("del", del), term.named];
        if let Some(value) = self.add_shaping(mlp, &mut term, grad.as_deref_mut()) {
            terms.push(("symmetry", value));
        }
        self.add_misfit(&mut term, &mut terms);
        if let Some(grad) = grad {
            self.backprop(mlp, &term, grad);
        }
        LossReport {
            total: term.total,
            terms,
            det: Some(self.det_stats()),
        }
    }
}

/// The loss assembled from the DEL mean and the `det J` term, with what
/// the backward pass needs.
struct DetTerm {
    /// The loss so far.
    total: f64,
    /// The `det J` term's name and value (`degeneracy` or `logdet`).
    named: (&'static str, f64),
    /// `∂loss/∂r_k = r_scale · r_k`.
    r_scale: f64,
    /// `∂loss/∂d_p`, before `barrier_weight`.
    dbar: Vec<f64>,
    /// Scales `dbar` (the paper solver's symmetry term, normalised by the
    /// robust barrier's scale, adds to the barrier's part).
    barrier_weight: f64,
    /// The barrier `mean log|det J|` (robust recipe), which the shaping
    /// term is normalised by.
    log_scale: Option<f64>,
    /// The latent misfit's weight `2/N_r` (`Σ|z|²·weight/2` in the loss).
    misfit_weight: f64,
}

impl Dlnn {
    /// `mean_k |r_k|²` over the triples, and the rounding level of that
    /// mean, `ε² mean_k (|D2 Ld|² + |D1 Ld|²)`: the robust recipe takes the
    /// logarithm of their sum, so that a residual that rounds to zero (an
    /// exactly fitted free particle) gives a finite loss. The floor's
    /// derivative is left out: it is ~`ε²` of the residual's.
    fn mean_del(&self) -> (f64, f64) {
        let n = self.batch.parametrisation().n;
        let (mut del, mut size) = (0.0, 0.0);
        for &(l, r) in &self.triples {
            for i in 0..n {
                let (a, b) = (self.batch.d2[l * n + i], self.batch.d1[r * n + i]);
                del += (a + b) * (a + b);
                size += a * a + b * b;
            }
        }
        let count = self.triples.len().max(1) as f64;
        (del / count, f64::EPSILON * f64::EPSILON * size / count)
    }

    /// The paper's recipe: `del + w · mean(1 − sigmoid(κ d^m))`.
    fn degeneracy_term(&self, del: f64) -> DetTerm {
        let (w, m, kappa) = (
            self.loss.degeneracy_weight,
            self.loss.degeneracy_power as i32,
            self.loss.kappa,
        );
        let p_count = self.dets.len().max(1) as f64;
        let mut deg = 0.0;
        let mut db = vec![0.0; self.dets.len()];
        for (p, &d) in self.dets.iter().enumerate() {
            let s = 1.0 / (1.0 + (-kappa * d.powi(m)).exp());
            deg += 1.0 - s;
            db[p] = -w / p_count * s * (1.0 - s) * kappa * m as f64 * d.powi(m - 1);
        }
        deg /= p_count;
        DetTerm {
            total: del + w * deg,
            named: ("degeneracy", deg),
            r_scale: 2.0 / self.triples.len().max(1) as f64,
            dbar: db,
            barrier_weight: 1.0,
            log_scale: None,
            misfit_weight: 0.0,
        }
    }

    /// The robust recipe: `log(del) − (2/n) mean φ(s₀ d)` (`del` with its
    /// rounding floor, [`Dlnn::mean_del`]). The threshold
    /// of `φ`'s linear continuation moves with the median `|d|` (one
    /// pair's), and its derivative goes to that pair.
    fn barrier_term(&self, del: f64, running: Option<f64>) -> DetTerm {
        let n = self.batch.parametrisation().n;
        let p_count = self.dets.len().max(1) as f64;
        // A running threshold is a constant of the step: no derivative.
        let med = median_abs_index(&self.dets).filter(|_| running.is_none());
        let x_min = DetStats::NEAR_DEGENERATE
            * running.unwrap_or_else(|| med.map_or(f64::NAN, |m| self.dets[m].abs()));
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
        DetTerm {
            total: del.ln() - (2.0 / n as f64) * barrier,
            named: ("logdet", barrier),
            r_scale: 2.0 / (self.triples.len().max(1) as f64 * del),
            dbar: db,
            barrier_weight: 1.0,
            log_scale: Some(barrier),
            misfit_weight: 0.0,
        }
    }

    /// `D̄1`, `D̄2` of the DEL term: `r_scale · r_k` into both pairs of a triple.
    fn residual_adjoints(&mut self, r_scale: f64) {
        let n = self.batch.parametrisation().n;
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

    /// The shaping term, if any: always evaluated and reported (its value
    /// is returned); added to the loss, and its adjoints to `grad`, from
    /// its warm-up on.
    fn add_shaping(
        &mut self,
        mlp: &Mlp,
        term: &mut DetTerm,
        grad: Option<&mut [f64]>,
    ) -> Option<f64> {
        let n = self.batch.parametrisation().n;
        let net = mlp.params().len();
        let epoch = self.epoch;
        let (shaping, use_train) = self.shaping.as_mut()?;
        let active = shaping.active(epoch);
        let train_pairs: &[f64] = match (*use_train, &self.selected) {
            (false, _) => &[],
            (true, Some(local)) => local,
            (true, None) => &self.pair_data,
        };
        let adjoints = match (active, grad) {
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
            term.log_scale,
            adjoints,
        );
        if active {
            term.total += shaping.weight() * r.value;
            // The barrier enters the loss as −(2/n)·barrier.
            term.barrier_weight += shaping.weight() * r.d_log_scale / (-2.0 / n as f64);
        }
        Some(r.value)
    }

    /// The latent positions' misfit `weight · Σ|z|²/2` over the
    /// observations of the current batch, `weight = 2/N_r`; reported
    /// standardised (`Σ|z|²/(points·n)`).
    fn add_misfit(&self, term: &mut DetTerm, terms: &mut Vec<(&'static str, f64)>) {
        let Some(latent) = &self.latent else {
            return;
        };
        let n = self.batch.parametrisation().n;
        let points = &self.batch_points;
        let misfit = latent.misfit(points);
        term.misfit_weight = 2.0 / (self.triples.len().max(1) * n) as f64;
        term.total += term.misfit_weight * misfit / 2.0;
        terms.push(("misfit", misfit / (points.len().max(1) * n) as f64));
    }

    /// The gradient: `J̄ = barrier_weight · d̄ · cof(J)` and the residual
    /// adjoints through the engine into the network's part of `grad`, and
    /// with latent positions their offsets' into its own part.
    fn backprop(&mut self, mlp: &Mlp, term: &DetTerm, grad: &mut [f64]) {
        let nn = self.batch.parametrisation().n.pow(2);
        for (p, db) in term.dbar.iter().enumerate() {
            for k in 0..nn {
                self.jbar[p * nn + k] = term.barrier_weight * db * self.cofs[p * nn + k];
            }
        }
        let (network, own) = grad.split_at_mut(mlp.params().len());
        let Some(latent) = &self.latent else {
            self.batch
                .backprop(mlp, &self.d1bar, &self.d2bar, &self.jbar, network);
            return;
        };
        self.positions_bar.resize(
            self.batch_pairs.len() * 2 * self.batch.parametrisation().n,
            0.0,
        );
        self.batch.backprop_with_positions(
            mlp,
            (&self.d1bar, &self.d2bar, &self.jbar),
            network,
            &mut self.positions_bar,
        );
        let (pairs, points) = (&self.batch_pairs, &self.batch_points);
        latent.backprop(pairs, &self.positions_bar, points, term.misfit_weight, own);
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

    /// The robust parametrisation of `d` (kinetic prior) with the symmetry
    /// `spec` built in.
    fn built_in_param(d: &Dataset, spec: &str, tr: bool) -> Parametrisation {
        built_in_param_with_angles(d, spec, tr, vec![])
    }

    /// [`built_in_param`] with coordinates `angles` periodic.
    fn built_in_param_with_angles(
        d: &Dataset,
        spec: &str,
        tr: bool,
        angles: Vec<usize>,
    ) -> Parametrisation {
        use crate::learn::invariant::{BuiltIn, SymmetrySpec};
        let n = d.n;
        let q: Vec<f64> = d.trajectories.iter().flat_map(|t| t.q.clone()).collect();
        let pairs: Vec<f64> = (d.trajectories.iter())
            .flat_map(|t| {
                (0..t.len() - 1).flat_map(move |k| [t.position(k), t.position(k + 1)].concat())
            })
            .collect();
        let spec: SymmetrySpec = spec.parse().unwrap();
        let b = BuiltIn::from_declared(n, &[spec], &[]).unwrap();
        Parametrisation::midpoint_velocity(n, d.dt, &q, &q, true, tr)
            .with_angles(angles, &q)
            .unwrap()
            .with_built_in(b, &pairs)
            .unwrap()
    }

    /// Latent positions of `d` with noise `sigma` and offsets `z` drawn
    /// uniformly from [−1, 1) with `seed`.
    fn random_latent(d: &Dataset, sigma: Vec<f64>, seed: u64) -> crate::learn::latent::Latent {
        use rand::{Rng, SeedableRng};
        let mut latent = crate::learn::latent::Latent::new(d, sigma);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        for z in latent.z_mut() {
            *z = rng.random::<f64>() * 2.0 - 1.0;
        }
        latent
    }

    /// An exactly fitted free particle (network output constant, so `Ld`
    /// is the kinetic prior; positions in exact binary steps) has DEL
    /// residuals that are exactly zero: the robust loss must stay finite
    /// (it was `log 0 = −∞`, a training failure on the zoo's free particle).
    #[test]
    fn an_exactly_zero_residual_gives_a_finite_robust_loss() {
        let (n, h) = (2, 0.5);
        let q: Vec<f64> = (0..12)
            .flat_map(|k| [0.25 * k as f64, -0.5 * k as f64])
            .collect();
        let d = Dataset {
            n,
            dt: h,
            trajectories: vec![Trajectory::from_positions(n, 0.0, h, q.clone())],
        };
        let mut mlp = Mlp::new(2 * n, &[8, 8], Activation::Softplus, 3).unwrap();
        mlp.params_mut().fill(0.0);
        let param = Parametrisation::midpoint_velocity(n, h, &q, &q, true, false);
        let mut dlnn = Dlnn::new(&mlp, param, &d, DlnnLoss::new(Recipe::Robust), None, 1);
        let mut grad = vec![0.0; mlp.params().len()];
        let r = dlnn.evaluate(&mlp, Some(&mut grad));
        let del = r.terms.iter().find(|t| t.0 == "del").unwrap().1;
        assert_eq!(del, 0.0, "the residuals must be exactly zero for this test");
        assert!(r.total.is_finite(), "loss {}", r.total);
        assert!(grad.iter().all(|g| g.is_finite()));
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
        loss.jacobian_every = 5.into();
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
                    loss.jacobian_every = every.into();
                    let mut obj = Dlnn::new(&mlp, param.clone(), &d, loss, None, 2);
                    let what =
                        format!("{recipe:?} tr={tr} angles={angles} n={n} jacobian_every={every}");
                    crate::learn::objective::assert_gradient_matches_fd(
                        &mut obj, &mut mlp, 3, 2e-5, 1e-3, &what,
                    );
                }
            }
        }
    }

    /// Latent positions: the gradient with respect to their offsets `z`
    /// (through the engine's input adjoint, the barrier included) and to
    /// the network agree with finite differences of the whole loss, misfit
    /// included; full batch and a minibatch.
    #[test]
    fn loss_gradient_with_latent_positions_agrees_with_finite_differences() {
        for n in [1, 2] {
            let d = data(n);
            let q: Vec<f64> = d.trajectories.iter().flat_map(|t| t.q.clone()).collect();
            for (tr, prior, every, minibatch) in [
                (false, true, 1, false),
                (true, true, 1, false),
                (false, false, 3, false),
                (true, true, 3, true),
            ] {
                let param = Parametrisation::midpoint_velocity(n, d.dt, &q, &q, prior, tr);
                let mut mlp =
                    Mlp::new(param.input_dim(), &[8, 6], Activation::Softplus, 2).unwrap();
                let mut loss = DlnnLoss::new(Recipe::Robust);
                loss.jacobian_every = every.into();
                let mut obj = Dlnn::new(&mlp, param, &d, loss, None, 2);
                let sigma = (0..n).map(|c| 0.01 * (c + 1) as f64).collect();
                obj.set_latent(random_latent(&d, sigma, 3));
                if minibatch {
                    let b = crate::learn::batches::Batch {
                        pairs: vec![1, 2, 3, 9, 10, 11],
                        triples: vec![1, 2, 8, 9],
                    };
                    obj.select(&mlp, Some(&b));
                }
                let report = obj.evaluate(&mlp, None);
                let misfit = report.terms.iter().find(|t| t.0 == "misfit").unwrap().1;
                assert!(misfit > 0.1 && misfit < 1.0, "{misfit}");
                let what = format!(
                    "latent n={n} tr={tr} prior={prior} every={every} minibatch={minibatch}"
                );
                crate::learn::objective::assert_gradient_matches_fd(
                    &mut obj, &mut mlp, 3, 2e-5, 1e-3, &what,
                );
            }
        }
    }

    /// Latent positions through a nonlinear (invariant) input map: the
    /// map's own second and third derivatives enter the position gradient
    /// (`learn::curvature`); checked against finite differences, with and
    /// without time reversal, `J` at every pair and at every third.
    #[test]
    fn latent_gradient_through_built_in_symmetries_agrees_with_finite_differences() {
        for (n, spec) in [
            (2, "rotation:0.2,-0.1"),
            (2, "translation:1,0.5"),
            (3, "so3:0.2,-0.1,0.3"),
        ] {
            let d = data(n);
            let sigma: Vec<f64> = (0..n).map(|i| 0.01 * (i + 1) as f64).collect();
            for (tr, every) in [(false, 1), (true, 1), (true, 3)] {
                let param = built_in_param(&d, spec, tr);
                let mut mlp =
                    Mlp::new(param.input_dim(), &[8, 6], Activation::Softplus, 2).unwrap();
                let mut loss = DlnnLoss::new(Recipe::Robust);
                loss.jacobian_every = every.into();
                let mut obj = Dlnn::new(&mlp, param, &d, loss, None, 2);
                obj.set_latent(random_latent(&d, sigma.clone(), 4));
                let what = format!("latent {spec} tr={tr} every={every}");
                crate::learn::objective::assert_gradient_matches_fd(
                    &mut obj, &mut mlp, 5, 2e-5, 1e-3, &what,
                );
            }
        }
    }

    #[test]
    fn loss_gradient_with_built_in_symmetries_agrees_with_finite_differences() {
        for (n, spec, angles) in [
            (2, "rotation:0.2,-0.1", vec![]),
            (2, "translation:1,0.5", vec![]),
            // The cart–pendulum's case: q1 an angle, the translation along q0.
            (2, "translation:1,0", vec![1]),
            (3, "so3:0.2,-0.1,0.3", vec![]),
        ] {
            let d = data(n);
            for tr in [false, true] {
                let param = built_in_param_with_angles(&d, spec, tr, angles.clone());
                for every in [1, 3] {
                    let mut mlp =
                        Mlp::new(param.input_dim(), &[8, 6], Activation::Softplus, 2).unwrap();
                    let mut loss = DlnnLoss::new(Recipe::Robust);
                    loss.jacobian_every = every.into();
                    let mut obj = Dlnn::new(&mlp, param.clone(), &d, loss, None, 2);
                    let what = format!("{spec} tr={tr} jacobian_every={every}");
                    crate::learn::objective::assert_gradient_matches_fd(
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
        loss.jacobian_every = every.into();
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
        crate::learn::objective::assert_gradient_matches_fd(
            &mut obj, &mut mlp, 3, 2e-5, 1e-3, &what,
        );
    }

    /// The paper's solver: the symmetry term's gradient with respect to the
    /// network (training and box pairs) and to its trained coefficients,
    /// raw (paper recipe) and normalised by the barrier's scale (robust),
    /// agrees with finite differences of the total loss.
    #[test]
    fn paper_solver_gradient_agrees_with_finite_differences() {
        use crate::learn::config::{CoefficientConfig, ShapingConfig};
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
                    build_in: false,
                };
                check_symmetry_term(recipe, sym, every);
            }
        }
    }

    /// The shaping term's gradient through the engine (training and box
    /// pairs, each basis) agrees with finite differences of the total loss.
    #[test]
    fn shaping_term_gradient_agrees_with_finite_differences() {
        use crate::learn::config::ShapingConfig;
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
                    build_in: false,
                };
                check_symmetry_term(recipe, sym, 1);
            }
        }
    }
}
