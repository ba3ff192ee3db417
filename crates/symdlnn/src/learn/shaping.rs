//! The symmetry-shaping term of SymDLNN: while the network learns, push the
//! learned `Ld` towards having `K` generators in a basis of vector fields.
//!
//! For a fixed `Ld` the symmetry residual of a field `ξ = Σ_a c_a X_a` at a
//! pair is linear in `c`: `s = A c` with rows
//! `A_pa = X_a(q0_p)·D1 Ld_p + X_a(q1_p)·D2 Ld_p`. With the singular values
//! `σ_1 ≤ … ≤ σ_B` of `A` (over training and box pairs) the term is
//!
//! `λ · R`, `R = Σ_{j≤K} σ_j² / ‖A‖_F²` ∈ `[0, K/B]`,
//!
//! invariant under `Ld → c·Ld` and bounded (it cannot reward an exact but
//! wrong symmetry without limit, unlike `log σ²`). Its gradient with respect
//! to `A` is `2 A (V_K V_Kᵀ − R I) / ‖A‖_F²` (`V_K` the right singular
//! vectors of the `K` smallest), which the engine turns into parameter
//! gradients through the adjoints `D̄1_p = Σ_a Ā_pa X_a(q0_p)`,
//! `D̄2_p = Σ_a Ā_pa X_a(q1_p)` — the same route as the DEL residual's.

use nalgebra::{DMatrix, SymmetricEigen};
use serde::{Deserialize, Serialize};

use super::pairs::PairBatch;
use super::parametrisation::Parametrisation;
use super::symmetry::SymmetryBasis;
use crate::nn::Mlp;

/// Settings of the shaping term.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShapingConfig {
    /// `λ`.
    pub weight: f64,
    /// The term is added from this epoch on (before: reported, not trained).
    pub warmup: usize,
}

/// Rows of `A` and the shaping term's value and adjoints.
pub struct Shaping {
    basis: SymmetryBasis,
    k: usize,
    config: ShapingConfig,
    n: usize,
    /// Extra (box) pairs, evaluated by their own batch (no Jacobian).
    boxed: Option<PairBatch>,
    /// `(q0, q1)` of the box pairs, `2n` each.
    box_pairs: Vec<f64>,
    /// Adjoints for the box pairs.
    d1bar: Vec<f64>,
    d2bar: Vec<f64>,
}

/// `R = Σ_{j≤k} σ_j² / ‖A‖_F²` of the `rows × len` row-major `A` and, when
/// asked, `dR/dA` (same layout). `None` when `A` is zero or not finite.
pub fn shaping_ratio(a: &[f64], len: usize, k: usize, grad: bool) -> Option<(f64, Vec<f64>)> {
    let rows = a.len() / len;
    let m = DMatrix::from_row_slice(rows, len, a);
    let f: f64 = a.iter().map(|x| x * x).sum();
    if !(f.is_finite() && f > 0.0) {
        return None;
    }
    let ata = m.transpose() * &m;
    let eig = SymmetricEigen::new(ata);
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|&i, &j| eig.eigenvalues[i].total_cmp(&eig.eigenvalues[j]));
    let smallest = &order[..k.min(len)];
    let s: f64 = smallest.iter().map(|&i| eig.eigenvalues[i].max(0.0)).sum();
    let r = s / f;
    if !grad {
        return Some((r, vec![]));
    }
    // P = V_K V_Kᵀ − R I; dR/dA = 2 A P / F.
    let mut p = DMatrix::<f64>::identity(len, len) * (-r);
    for &i in smallest {
        let v = eig.eigenvectors.column(i);
        p += v * v.transpose();
    }
    let g = (&m * p) * (2.0 / f);
    let mut out = vec![0.0; rows * len];
    for i in 0..rows {
        for j in 0..len {
            out[i * len + j] = g[(i, j)];
        }
    }
    Some((r, out))
}

impl Shaping {
    /// The term for `k` generators in `basis`, on the training pairs (their
    /// derivatives come from the DLNN batch) plus `box_pairs` (`2n` each).
    pub fn new(
        mlp: &Mlp,
        param: &Parametrisation,
        basis: SymmetryBasis,
        k: usize,
        config: ShapingConfig,
        box_pairs: Vec<f64>,
        threads: usize,
    ) -> Self {
        let n = param.n;
        let count = box_pairs.len() / (2 * n);
        let boxed = (count > 0).then(|| {
            let mut b = PairBatch::new(mlp, param.clone(), count, threads, false);
            for (p, row) in box_pairs.chunks_exact(2 * n).enumerate() {
                let delta: Vec<f64> = (0..n).map(|i| row[n + i] - row[i]).collect();
                b.set_pair(p, &row[..n], &delta);
            }
            b
        });
        Self {
            basis,
            k,
            config,
            n,
            boxed,
            box_pairs,
            d1bar: vec![0.0; count * n],
            d2bar: vec![0.0; count * n],
        }
    }

    /// Whether the term trains at `epoch`.
    pub fn active(&self, epoch: usize) -> bool {
        epoch >= self.config.warmup
    }

    /// The weight `λ`.
    pub fn weight(&self) -> f64 {
        self.config.weight
    }

    /// `R` over the training pairs (`train_pairs` as `(q0, δ)` rows of `2n`,
    /// with their `D1`, `D2`) and the box pairs (evaluated here). With
    /// `train_bar = Some((d1bar, d2bar))`, add `λ dR/dD1`, `λ dR/dD2` for the
    /// training pairs into them and back-propagate the box pairs' part into
    /// `grad`.
    pub fn evaluate(
        &mut self,
        mlp: &Mlp,
        train_pairs: &[f64],
        d1: &[f64],
        d2: &[f64],
        train_bar: Option<(&mut [f64], &mut [f64], &mut [f64])>,
    ) -> f64 {
        let n = self.n;
        let len = self.basis.len(n);
        let train = train_pairs.len() / (2 * n);
        if let Some(b) = self.boxed.as_mut() {
            b.evaluate(mlp);
        }
        let boxed = self.box_pairs.len() / (2 * n);
        let mut a = vec![0.0; (train + boxed) * len];
        let mut q1 = vec![0.0; n];
        for p in 0..train {
            let row = &train_pairs[p * 2 * n..(p + 1) * 2 * n];
            for i in 0..n {
                q1[i] = row[i] + row[n + i];
            }
            let out = &mut a[p * len..(p + 1) * len];
            self.basis
                .contract(n, &row[..n], &d1[p * n..(p + 1) * n], out);
            self.basis.contract(n, &q1, &d2[p * n..(p + 1) * n], out);
        }
        if let Some(b) = self.boxed.as_ref() {
            for p in 0..boxed {
                let row = &self.box_pairs[p * 2 * n..(p + 1) * 2 * n];
                let out = &mut a[(train + p) * len..(train + p + 1) * len];
                self.basis
                    .contract(n, &row[..n], &b.d1[p * n..(p + 1) * n], out);
                self.basis
                    .contract(n, &row[n..], &b.d2[p * n..(p + 1) * n], out);
            }
        }
        let want_grad = train_bar.is_some();
        let Some((r, da)) = shaping_ratio(&a, len, self.k, want_grad) else {
            return f64::NAN;
        };
        if let Some((d1bar, d2bar, grad)) = train_bar {
            let w = self.config.weight;
            let c: Vec<f64> = da.iter().map(|x| w * x).collect();
            for p in 0..train {
                let row = &train_pairs[p * 2 * n..(p + 1) * 2 * n];
                for i in 0..n {
                    q1[i] = row[i] + row[n + i];
                }
                let cp = &c[p * len..(p + 1) * len];
                self.basis
                    .field(n, cp, &row[..n], &mut d1bar[p * n..(p + 1) * n]);
                self.basis.field(n, cp, &q1, &mut d2bar[p * n..(p + 1) * n]);
            }
            if let Some(b) = self.boxed.as_mut() {
                self.d1bar.fill(0.0);
                self.d2bar.fill(0.0);
                for p in 0..boxed {
                    let row = &self.box_pairs[p * 2 * n..(p + 1) * 2 * n];
                    let cp = &c[(train + p) * len..(train + p + 1) * len];
                    self.basis
                        .field(n, cp, &row[..n], &mut self.d1bar[p * n..(p + 1) * n]);
                    self.basis
                        .field(n, cp, &row[n..], &mut self.d2bar[p * n..(p + 1) * n]);
                }
                b.backprop(mlp, &self.d1bar, &self.d2bar, &[], grad);
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_and_its_gradient_agree_with_finite_differences() {
        let (rows, len) = (9, 4);
        let a: Vec<f64> = (0..rows * len)
            .map(|k| ((k * 7 + 3) as f64 * 0.37).sin() + 0.1 * (k % 3) as f64)
            .collect();
        for k in [1, 2] {
            let (r, g) = shaping_ratio(&a, len, k, true).unwrap();
            assert!(r > 0.0 && r <= k as f64 / len as f64 + 1e-15);
            for idx in [0, 5, 17, 35] {
                let e = 1e-6;
                let (mut p, mut m) = (a.clone(), a.clone());
                p[idx] += e;
                m[idx] -= e;
                let fd = (shaping_ratio(&p, len, k, false).unwrap().0
                    - shaping_ratio(&m, len, k, false).unwrap().0)
                    / (2.0 * e);
                assert!(
                    (g[idx] - fd).abs() < 1e-7 * (1.0 + fd.abs()),
                    "k {k} idx {idx}: {} vs {fd}",
                    g[idx]
                );
            }
        }
        // Invariant under scaling A (Ld → c·Ld).
        let scaled: Vec<f64> = a.iter().map(|x| -3.5 * x).collect();
        let (r1, r2) = (
            shaping_ratio(&a, len, 1, false).unwrap().0,
            shaping_ratio(&scaled, len, 1, false).unwrap().0,
        );
        assert!((r1 - r2).abs() < 1e-12 * r1, "{r1} vs {r2}");
        assert_eq!(shaping_ratio(&[0.0; 8], 4, 1, false), None);
    }
}
