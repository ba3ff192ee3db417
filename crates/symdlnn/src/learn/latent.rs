//! Latent positions: training on noisy observations (errors in variables).
//!
//! The observations are `y_k = q_k + ε_k`, `ε_k ~ N(0, diag σ²)`. The DLNN
//! loss is evaluated at latent positions `q̂_k = y_k + σ ⊙ z_k` (one per
//! observation), trained with the network: the `z_k` are the objective's own
//! parameters, starting at 0 (`q̂ = y`). The Gaussian negative
//! log-likelihood of the DEL residuals with their variance profiled out is
//! `(N_r/2)·log(mean|r|²)` (`N_r` residual components); with the
//! observation model it becomes
//!
//! `(N_r/2)·log(mean|r(q̂)|²) + Σ_k |z_k|²/2`,
//!
//! which the robust recipe's loss, divided by `N_r/2`, extends by the
//! *misfit* term `Σ_k |z_k|²/N_r` (the barrier keeps its weight). A
//! minibatch sees the misfit of the observations its pairs touch. The
//! gradient with respect to `z_k` is `σ ⊙ q̄_k + (2/N_r)·z_k`, with `q̄_k`
//! from the engine's input adjoint through an affine input map
//! ([`super::PairBatch::backprop_with_positions`]).
//!
//! A model trained this way reports the standardised misfit
//! `Σ_k |z_k|² / (N·n)` (`N` observations): ≈ 1 when `q̂` departs from the
//! data by the noise level, ≪ 1 when it stays on the data (the network fits
//! the noise).

use serde::{Deserialize, Serialize};

use crate::data::Dataset;

/// What a model trained with latent positions records about them
/// (`model.json`'s `noise`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoiseRecord {
    /// The noise standard deviation used, per coordinate.
    pub sigma: Vec<f64>,
    /// How it was set: `auto` (estimated) or `given`.
    pub source: String,
    /// Standard deviation of the observation residuals `y − q̂` per
    /// coordinate (≈ `sigma` when `q̂` takes the noise out).
    pub residual_sd: Vec<f64>,
    /// Lag-1 autocorrelation of the residuals within trajectories, per
    /// coordinate (≈ 0 for white noise; near 1 when `q̂` misses a smooth
    /// part of the motion).
    pub residual_lag1: Vec<f64>,
}

impl NoiseRecord {
    /// The record in words: the noise level, then the residuals against it,
    /// with a warning when they say the fit is off (sd below half of σ: the
    /// model follows the noise; lag-1 autocorrelation above 0.5: `q̂`
    /// misses a smooth part of the motion).
    pub fn lines(&self) -> Vec<String> {
        let list = |v: &[f64], f: &dyn Fn(f64) -> String| -> String {
            v.iter().map(|&x| f(x)).collect::<Vec<_>>().join(", ")
        };
        let e = |x: f64| format!("{x:.2e}");
        let mut lines = vec![
            format!("noise σ ({}): {}", self.source, list(&self.sigma, &e)),
            format!(
                "observation residuals y − q̂: sd {} (σ {}); lag-1 autocorrelation {}",
                list(&self.residual_sd, &e),
                list(&self.sigma, &e),
                list(&self.residual_lag1, &|x| format!("{x:.2}"))
            ),
        ];
        let small = self
            .residual_sd
            .iter()
            .zip(&self.sigma)
            .any(|(r, s)| *r < 0.5 * s);
        if small {
            lines.push("warning: the residuals are below half the noise level: the model may be fitting the noise (give σ, or train fewer epochs)".into());
        }
        if self.residual_lag1.iter().any(|&l| l > 0.5) {
            lines.push("warning: the residuals are correlated in time: the denoised path misses part of the motion (σ too large?)".into());
        }
        lines
    }
}

/// Latent positions of every observation of a data set.
#[derive(Clone, Debug, PartialEq)]
pub struct Latent {
    n: usize,
    /// The observations `y`, all trajectories one after the other (`N × n`).
    y: Vec<f64>,
    /// Noise standard deviation per coordinate.
    sigma: Vec<f64>,
    /// `z`: `q̂ = y + σ ⊙ z` (`N × n`).
    z: Vec<f64>,
    /// The observation index of each pair's first point (its second is the
    /// next).
    pair_start: Vec<usize>,
}

impl Latent {
    /// Latent positions at the observations of `data` (`z = 0`), noise
    /// `sigma` (`n` positive values, checked by the configuration).
    pub fn new(data: &Dataset, sigma: Vec<f64>) -> Self {
        let n = data.n;
        let mut y = Vec::new();
        let mut pair_start = Vec::new();
        for t in &data.trajectories {
            let first = y.len() / n.max(1);
            pair_start.extend((0..t.len().saturating_sub(1)).map(|k| first + k));
            y.extend_from_slice(&t.q);
        }
        let z = vec![0.0; y.len()];
        Self {
            n,
            y,
            sigma,
            z,
            pair_start,
        }
    }

    /// The noise standard deviation per coordinate.
    pub fn sigma(&self) -> &[f64] {
        &self.sigma
    }

    /// The standardised offsets `z` (the trained parameters).
    pub fn z(&self) -> &[f64] {
        &self.z
    }

    /// Mutable [`Latent::z`].
    pub fn z_mut(&mut self) -> &mut [f64] {
        &mut self.z
    }

    /// Latent position `i` into `out`.
    fn point(&self, i: usize, out: &mut [f64]) {
        let n = self.n;
        let (y, z) = (&self.y[i * n..(i + 1) * n], &self.z[i * n..(i + 1) * n]);
        for (c, o) in out[..n].iter_mut().enumerate() {
            *o = y[c] + self.sigma[c] * z[c];
        }
    }

    /// All latent positions `q̂`, row-major `N × n` (trajectories one after
    /// the other, as the data).
    pub fn positions(&self) -> Vec<f64> {
        let mut q = vec![0.0; self.y.len()];
        for (i, row) in q.chunks_exact_mut(self.n).enumerate() {
            self.point(i, row);
        }
        q
    }

    /// `(q̂0, q̂1 − q̂0)` of pair `p` into `out` (`2n`).
    pub fn pair_row(&self, p: usize, out: &mut [f64]) {
        let (n, i) = (self.n, self.pair_start[p]);
        let (a, b) = out.split_at_mut(n);
        self.point(i, a);
        self.point(i + 1, b);
        for c in 0..n {
            b[c] -= a[c];
        }
    }

    /// The observations the pairs `pairs` touch, ascending, each once.
    pub fn points_of(&self, pairs: &[usize]) -> Vec<usize> {
        let mut pts: Vec<usize> = pairs
            .iter()
            .flat_map(|&p| [self.pair_start[p], self.pair_start[p] + 1])
            .collect();
        pts.sort_unstable();
        pts.dedup();
        pts
    }

    /// `Σ |z_k|²` over the observations `points`.
    pub fn misfit(&self, points: &[usize]) -> f64 {
        let n = self.n;
        points
            .iter()
            .flat_map(|&i| &self.z[i * n..(i + 1) * n])
            .map(|z| z * z)
            .sum()
    }

    /// Add into `zbar` (laid out as `z`) the gradient of `weight · Σ|z|²/2`
    /// over `points` and the chain rule of the pairs' position gradients
    /// `positions_bar` (`pairs.len() × 2n`, `q̄0` then `q̄1`).
    pub fn backprop(
        &self,
        pairs: &[usize],
        positions_bar: &[f64],
        points: &[usize],
        weight: f64,
        zbar: &mut [f64],
    ) {
        let n = self.n;
        for (row, &p) in positions_bar.chunks_exact(2 * n).zip(pairs) {
            let i = self.pair_start[p];
            for c in 0..n {
                zbar[i * n + c] += self.sigma[c] * row[c];
                zbar[(i + 1) * n + c] += self.sigma[c] * row[n + c];
            }
        }
        for &i in points {
            for c in 0..n {
                zbar[i * n + c] += weight * self.z[i * n + c];
            }
        }
    }

    /// The residual statistics of [`NoiseRecord`] (`source` as given).
    pub fn record(&self, source: &str) -> NoiseRecord {
        let n = self.n;
        let e = self.residuals();
        let count = (e.len() / n.max(1)).max(1) as f64;
        let mut mean = vec![0.0; n];
        for (k, x) in e.iter().enumerate() {
            mean[k % n] += x / count;
        }
        let (mut var, mut lag) = (vec![0.0; n], vec![0.0; n]);
        for (k, x) in e.iter().enumerate() {
            var[k % n] += (x - mean[k % n]).powi(2);
        }
        for &i in &self.pair_start {
            for c in 0..n {
                lag[c] += (e[i * n + c] - mean[c]) * (e[(i + 1) * n + c] - mean[c]);
            }
        }
        let pairs = self.pair_start.len().max(1) as f64;
        NoiseRecord {
            sigma: self.sigma.clone(),
            source: source.into(),
            residual_sd: var.iter().map(|v| (v / count).sqrt()).collect(),
            residual_lag1: (0..n)
                .map(|c| {
                    if var[c] > 0.0 {
                        (lag[c] / pairs) / (var[c] / count)
                    } else {
                        0.0
                    }
                })
                .collect(),
        }
    }

    /// The latent positions as a data set shaped like `data` (the data they
    /// were made from).
    pub fn denoised(&self, data: &Dataset) -> Dataset {
        let q = self.positions();
        let mut at = 0;
        let trajectories = data
            .trajectories
            .iter()
            .map(|t| {
                let len = t.q.len();
                let mut d = t.clone();
                d.q = q[at..at + len].to_vec();
                (d.v, d.p) = (None, None);
                at += len;
                d
            })
            .collect();
        Dataset {
            trajectories,
            ..data.clone()
        }
    }

    /// The observation residuals `y − q̂` (`N × n`).
    pub fn residuals(&self) -> Vec<f64> {
        let n = self.n;
        (0..self.y.len())
            .map(|k| -self.sigma[k % n] * self.z[k])
            .collect()
    }
}
