//! Comparing generators (agreement with known ones, principal angles) and the conserved quantity of a generator.

use nalgebra::DMatrix;

use super::Generator;
use crate::mechanics::{AffineGenerator, DiscreteLagrangian, PairDerivatives, VectorField};

/// Agreement of learned generators with known ones, in affine coefficients:
/// `|cos|` for one generator each, otherwise the principal angles (degrees,
/// ascending) between the spans.
pub fn agreement(learned: &[AffineGenerator], truth: &[AffineGenerator]) -> Vec<f64> {
    let coefficients = |g: &[AffineGenerator]| g.iter().map(|x| x.coefficients()).collect();
    principal(coefficients(learned), coefficients(truth))
}

/// [`agreement`] of discovered generators (any basis, compared in
/// [`Generator::canonical`] coordinates) with affine true ones.
pub fn agreement_of(learned: &[Generator], truth: &[AffineGenerator]) -> Vec<f64> {
    let learned: Vec<Vec<f64>> = learned.iter().map(Generator::canonical).collect();
    let len = learned.first().map_or(0, Vec::len);
    let truth = truth
        .iter()
        .map(|g| {
            let mut c = g.coefficients();
            c.resize(len.max(c.len()), 0.0);
            c
        })
        .collect();
    principal(learned, truth)
}

/// [`agreement`] of two sets of discovered generators (the same basis; for
/// instance two models' of one system).
pub fn agreement_between(a: &[Generator], b: &[Generator]) -> Vec<f64> {
    let canonical = |g: &[Generator]| g.iter().map(Generator::canonical).collect();
    principal(canonical(a), canonical(b))
}

/// `|cos|` of one vector against one, otherwise the principal angles
/// (degrees, ascending) between the spans of `learned` and `truth`.
fn principal(learned: Vec<Vec<f64>>, truth: Vec<Vec<f64>>) -> Vec<f64> {
    let orth = |cols: &[Vec<f64>]| -> DMatrix<f64> {
        let rows = cols.first().map_or(0, Vec::len);
        let m = DMatrix::from_fn(rows, cols.len(), |i, j| cols[j][i]);
        m.qr().q()
    };
    if learned.is_empty() || truth.is_empty() {
        return vec![];
    }
    let (a, b) = (orth(&learned), orth(&truth));
    let s = (a.transpose() * b).svd(false, false).singular_values;
    if learned.len() == 1 && truth.len() == 1 {
        return vec![s[0].min(1.0)];
    }
    let mut angles: Vec<f64> = s.iter().map(|c| c.min(1.0).acos().to_degrees()).collect();
    angles.sort_by(f64::total_cmp);
    angles
}

/// The conserved quantity `I = −ξ(q_k)·D1 Ld(q_k, q_{k+1})` along a path
/// (row-major positions), one value per pair.
pub fn conserved_quantity(ld: &dyn DiscreteLagrangian, g: &dyn VectorField, q: &[f64]) -> Vec<f64> {
    let n = ld.dim();
    let mut d = PairDerivatives::zeros(n);
    (0..q.len() / n - 1)
        .map(|k| {
            let (a, b) = (&q[k * n..(k + 1) * n], &q[(k + 1) * n..(k + 2) * n]);
            ld.derivatives(a, b, &mut d);
            -g.at(a).iter().zip(&d.d1).map(|(x, y)| x * y).sum::<f64>()
        })
        .collect()
}
