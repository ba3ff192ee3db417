//! Determinants of the learned `Ld`'s mixed Hessian `J = D12 Ld`: `det J`
//! with its cofactors (the derivative DLNN's degeneracy terms need) and the
//! statistics reported after training. Used by the DLNN loss and by
//! symmetry discovery's row normalisation.

use serde::{Deserialize, Serialize};

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

/// Statistics of `det J` values, `|det(hJ)| = h^n |det J|`.
pub(crate) fn stats_of(dets: &[f64], hn: f64) -> DetStats {
    let m = median_abs(dets, true);
    DetStats {
        min_abs_hdet: dets.iter().map(|d| d.abs()).fold(f64::INFINITY, f64::min) * hn,
        median_abs_hdet: median_abs(dets, false) * hn,
        sign_changes: dets.iter().filter(|d| **d * m <= 0.0).count(),
    }
}

/// The index of the median of `|x|` (the element [`median_abs`] returns).
pub(crate) fn median_abs_index(x: &[f64]) -> Option<usize> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].abs().total_cmp(&x[b].abs()));
    order.get(x.len() / 2).copied()
}

/// Median of `|x|` (or of `x` itself when `signed`).
pub(crate) fn median_abs(x: &[f64], signed: bool) -> f64 {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
