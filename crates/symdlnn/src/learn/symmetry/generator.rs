//! Discovered generators, their stored form and readable names.

use serde::{Deserialize, Serialize};

use super::{SymmetryBasis, SymmetryError};
use crate::mechanics::{AffineGenerator, VectorField};

/// One discovered generator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Generator {
    /// The basis its coefficients are in (models written before it was
    /// recorded: affine).
    #[serde(default)]
    pub basis: SymmetryBasis,
    /// Coefficients in the basis (unit norm).
    pub coefficients: Vec<f64>,
    /// Affine form: `M` row-major and `w` (of a polynomial field: its
    /// degree ≤ 1 part).
    #[serde(rename = "M")]
    pub m: Vec<f64>,
    /// The translation part `w` (`n`).
    pub w: Vec<f64>,
    /// What it looks like.
    pub description: String,
    /// Its singular value (normalised by the largest); for the paper's
    /// solver, its residual `‖A c‖ / σ_max` in the same normalisation.
    pub singular_value: f64,
}

impl Generator {
    /// The generator with basis coefficients `c` (unit norm), signed so that
    /// the largest coefficient is positive.
    pub(super) fn signed(
        basis: SymmetryBasis,
        n: usize,
        mut c: Vec<f64>,
        singular_value: f64,
    ) -> Self {
        let big = c
            .iter()
            .copied()
            .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
        if big < 0.0 {
            c.iter_mut().for_each(|x| *x = -*x);
        }
        let (m, w) = basis.to_affine(n, &c);
        let mut description = describe(n, &m, &w);
        let higher = basis.higher(n, &c);
        let size = higher.iter().map(|x| x * x).sum::<f64>().sqrt();
        if size > 1e-3 {
            description =
                format!("nonlinear (|degree ≥ 2 part| {size:.3}; affine part: {description})");
        }
        Generator {
            basis,
            description,
            coefficients: c,
            m,
            w,
            singular_value,
        }
    }

    /// As an [`AffineGenerator`] (normalised in affine coefficients; of a
    /// polynomial field, its degree ≤ 1 part).
    pub fn affine(&self) -> AffineGenerator {
        AffineGenerator::new(&self.description, self.m.clone(), self.w.clone())
    }

    /// Coordinates shared by every basis: `(vec(M), w)`, then the
    /// polynomial basis's degree ≥ 2 coefficients. [`agreement_of`] compares
    /// generators in them.
    pub fn canonical(&self) -> Vec<f64> {
        let n = self.w.len();
        let higher = self.basis.higher(n, &self.coefficients);
        self.m
            .iter()
            .chain(&self.w)
            .chain(higher)
            .copied()
            .collect()
    }
}

impl VectorField for Generator {
    fn at(&self, q: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; q.len()];
        self.basis.field(q.len(), &self.coefficients, q, &mut out);
        out
    }
}

/// Discovered (or, with the paper's solver, trained) generators.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Symmetries {
    /// The basis of the generators.
    pub basis: SymmetryBasis,
    /// The generators, best first.
    pub generators: Vec<Generator>,
    /// All singular values of the normalised `A`, ascending, divided by the largest.
    pub spectrum: Vec<f64>,
    /// `σ_{K+1} / σ_K` (∞ when `σ_K = 0`; absent when `K` is the whole basis).
    pub gap: Option<f64>,
    /// Number of evaluation pairs.
    pub pairs: usize,
}

impl Symmetries {
    /// Whether the stored generators fit dimension `n` (a model file read
    /// from disk is checked before use): coefficients of their basis's
    /// length, `M` of `n²` and `w` of `n` entries.
    pub fn check(&self, n: usize) -> Result<(), SymmetryError> {
        for (j, g) in self.generators.iter().enumerate() {
            let len = g.basis.len(n);
            if g.coefficients.len() != len || g.m.len() != n * n || g.w.len() != n {
                return Err(SymmetryError::Stored {
                    generator: j,
                    sizes: [g.coefficients.len(), g.m.len(), g.w.len()],
                    basis: g.basis,
                    n,
                });
            }
        }
        Ok(())
    }
}

/// A readable name for the affine field `M q + w`.
pub fn describe(n: usize, m: &[f64], w: &[f64]) -> String {
    let norm = |x: &[f64]| x.iter().map(|a| a * a).sum::<f64>().sqrt();
    let total = (norm(m).powi(2) + norm(w).powi(2))
        .sqrt()
        .max(f64::MIN_POSITIVE);
    let fmt = |x: &[f64]| {
        x.iter()
            .map(|a| format!("{a:+.3}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if norm(m) < 0.05 * total {
        return format!(
            "translation along ({})",
            fmt(&w.iter().map(|a| a / norm(w)).collect::<Vec<_>>())
        );
    }
    let skew: Vec<f64> = (0..n * n)
        .map(|k| 0.5 * (m[k] - m[(k % n) * n + k / n]))
        .collect();
    let sym: Vec<f64> = (0..n * n)
        .map(|k| 0.5 * (m[k] + m[(k % n) * n + k / n]))
        .collect();
    let (ns, nk, nw) = (norm(&sym), norm(&skew), norm(w));
    if ns < 0.05 * total && nw < 0.05 * total {
        return if n == 2 {
            "rotation".into()
        } else {
            format!("rotation (skew M, |M| {nk:.3})")
        };
    }
    if nk < 0.05 * total && nw < 0.05 * total {
        let trace: f64 = (0..n).map(|i| m[i * n + i]).sum();
        if (ns - trace.abs() / (n as f64).sqrt()).abs() < 0.05 * total {
            return "scaling".into();
        }
        return "linear (symmetric M)".into();
    }
    format!("mixed (|sym M| {ns:.3}, |skew M| {nk:.3}, |w| {nw:.3})")
}
