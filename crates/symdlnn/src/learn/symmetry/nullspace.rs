//! Null-space discovery (`ξ·∇Ld = 0` at evaluation pairs) and the report of the paper's trained coefficients.

use nalgebra::DMatrix;

use super::{Generator, Symmetries, SymmetryBasis, SymmetryError};
use crate::learn::det::det_cofactor;
use crate::mechanics::{DiscreteLagrangian, PairDerivatives};

/// Null-space discovery of `k` generators of `ld` in `basis`, imposed at `pairs`.
pub fn discover(
    ld: &dyn DiscreteLagrangian,
    basis: SymmetryBasis,
    k: usize,
    pairs: &[f64],
) -> Result<Symmetries, SymmetryError> {
    let n = ld.dim();
    let rows = pairs.len() / (2 * n);
    check_sizes(basis, k, n, rows)?;
    null_space(normalised_rows(ld, basis, pairs), None, basis, n, k, rows).map(|f| f.0)
}

/// The conditions of every solver: `1 ≤ k ≤` the basis size, and at least
/// as many equations (`rows`) as basis fields.
pub(super) fn check_sizes(
    basis: SymmetryBasis,
    k: usize,
    n: usize,
    rows: usize,
) -> Result<(), SymmetryError> {
    let len = basis.len(n);
    if k == 0 || k > len {
        return Err(SymmetryError::TooMany { k, len, basis, n });
    }
    if rows < len {
        return Err(SymmetryError::TooFewPairs { pairs: rows, len });
    }
    Ok(())
}

/// `A` of [`discover`] at `pairs`, each row divided by `h |det J|^{1/n}`.
pub(super) fn normalised_rows(
    ld: &dyn DiscreteLagrangian,
    basis: SymmetryBasis,
    pairs: &[f64],
) -> DMatrix<f64> {
    let n = ld.dim();
    let len = basis.len(n);
    let rows = pairs.len() / (2 * n);
    let mut a = DMatrix::<f64>::zeros(rows, len);
    let mut d = PairDerivatives::zeros(n);
    let mut row = vec![0.0; len];
    let mut cof = vec![0.0; n * n];
    let h = ld.step_size();
    for r in 0..rows {
        let (q0, q1) = pairs[r * 2 * n..(r + 1) * 2 * n].split_at(n);
        ld.derivatives(q0, q1, &mut d);
        row.fill(0.0);
        basis.contract(n, q0, &d.d1, &mut row);
        basis.contract(n, q1, &d.d2, &mut row);
        let det = det_cofactor(n, &d.jac, &mut cof);
        let scale = h * det.abs().powf(1.0 / n as f64);
        let scale = if scale > 0.0 && scale.is_finite() {
            scale
        } else {
            1.0
        };
        for (c, x) in row.iter().enumerate() {
            a[(r, c)] = x / scale;
        }
    }
    a
}

/// The generators the paper's solver trained (`K × len` coefficients),
/// reported like [`discover`]'s: each normalised to unit norm with the
/// largest coefficient positive, its "singular value" the residual
/// `‖A c‖ / σ_max` of [`discover`]'s normalised `A` at `pairs`, and the
/// spectrum of that `A` (what the data could identify).
pub fn from_coefficients(
    ld: &dyn DiscreteLagrangian,
    basis: SymmetryBasis,
    coefficients: &[f64],
    pairs: &[f64],
) -> Result<Symmetries, SymmetryError> {
    let n = ld.dim();
    let len = basis.len(n);
    let k = coefficients.len() / len;
    let rows = pairs.len() / (2 * n);
    if rows < len {
        return Err(SymmetryError::TooFewPairs { pairs: rows, len });
    }
    let a = normalised_rows(ld, basis, pairs);
    // Each generator at unit norm, with its residual ‖A c‖.
    let trained: Vec<(Vec<f64>, f64)> = coefficients
        .chunks_exact(len)
        .map(|cj| {
            let norm = cj
                .iter()
                .map(|x| x * x)
                .sum::<f64>()
                .sqrt()
                .max(f64::MIN_POSITIVE);
            let c: Vec<f64> = cj.iter().map(|x| x / norm).collect();
            let r = (&a * DMatrix::from_column_slice(len, 1, &c)).norm();
            (c, r)
        })
        .collect();
    let (found, smax) = null_space(a, None, basis, n, k.clamp(1, len), rows)?;
    let generators = trained
        .into_iter()
        .map(|(c, r)| Generator::signed(basis, n, c, r / smax))
        .collect();
    Ok(Symmetries {
        generators,
        ..found
    })
}

/// The SVD of `a` (right singular vectors only), refusing a matrix with NaN
/// or ±inf and bounding the iterations (nalgebra's SVD loops forever on
/// non-finite input); the matrix is scaled to a largest entry of 1 first so
/// that huge finite entries cannot overflow inside it.
pub(crate) fn checked_svd(
    mut a: DMatrix<f64>,
) -> Result<nalgebra::SVD<f64, nalgebra::Dyn, nalgebra::Dyn>, SymmetryError> {
    let amax = crate::sanity::inf_norm(a.as_slice());
    if !amax.is_finite() {
        return Err(SymmetryError::NonFinite);
    }
    if amax > 0.0 {
        a /= amax;
    }
    let mut svd = a
        .try_svd(false, true, f64::EPSILON, 10_000)
        .ok_or(SymmetryError::Svd)?;
    if amax > 0.0 {
        svd.singular_values *= amax;
    }
    if svd.singular_values.iter().any(|s| !s.is_finite()) {
        return Err(SymmetryError::NonFinite);
    }
    Ok(svd)
}

/// The `k` smallest right singular vectors of `a` as generators in `basis`;
/// singular values are reported relative to `scale` (default: the largest),
/// which is returned beside them.
pub(super) fn null_space(
    a: DMatrix<f64>,
    scale: Option<f64>,
    basis: SymmetryBasis,
    n: usize,
    k: usize,
    rows: usize,
) -> Result<(Symmetries, f64), SymmetryError> {
    let len = basis.len(n);
    if scale.is_some_and(|s| !s.is_finite()) {
        return Err(SymmetryError::NonFinite);
    }
    let svd = checked_svd(a)?;
    let v_t = svd.v_t.ok_or(SymmetryError::Svd)?;
    let mut order: Vec<usize> = (0..svd.singular_values.len()).collect();
    order.sort_by(|&i, &j| svd.singular_values[i].total_cmp(&svd.singular_values[j]));
    let smax = scale
        .unwrap_or_else(|| order.last().map_or(1.0, |&i| svd.singular_values[i]))
        .max(f64::MIN_POSITIVE);
    let spectrum: Vec<f64> = order
        .iter()
        .map(|&i| svd.singular_values[i] / smax)
        .collect();
    let generators = order[..k]
        .iter()
        .map(|&i| {
            let c = v_t.row(i).iter().copied().collect();
            Generator::signed(basis, n, c, svd.singular_values[i] / smax)
        })
        .collect();
    let gap = (k < len).then(|| {
        let (sk, sk1) = (spectrum[k - 1], spectrum[k]);
        if sk > 0.0 {
            sk1 / sk
        } else {
            f64::INFINITY
        }
    });
    let found = Symmetries {
        basis,
        generators,
        spectrum,
        gap,
        pairs: rows,
    };
    Ok((found, smax))
}
