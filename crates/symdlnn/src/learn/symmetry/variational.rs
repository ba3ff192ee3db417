//! Variational discovery (fields solving the learned dynamics' linearised DEL equations) and joint discovery over several models.

use nalgebra::DMatrix;
use num_dual::HyperDual64;

use super::nullspace::{check_sizes, normalised_rows, null_space};
use super::{DiscoverySolver, Symmetries, SymmetryBasis, SymmetryError};
use crate::data::Dataset;
use crate::mechanics::{second_derivative_block, GenericDiscreteLagrangian};

/// Discovery from the learned *dynamics* rather than the learned `Ld`: the
/// fields `ξ` that map discrete solutions to solutions to first order, i.e.
/// solve the linearised discrete Euler–Lagrange equations along the data,
///
/// `D21 Ld(q_{k−1}, q_k) ξ(q_{k−1}) + (D22 Ld(q_{k−1}, q_k) + D11 Ld(q_k, q_{k+1})) ξ(q_k)
///  + D12 Ld(q_k, q_{k+1}) ξ(q_{k+1}) = 0`
///
/// at every training triple. Unlike `ξ·∇Ld = 0` this is unchanged by a
/// gauge term `Φ(q1) − Φ(q0)` (its second derivatives cancel in
/// `D22 + D11` and vanish in `D12`), which a network is free to learn and
/// which hides an `Ld`'s symmetry from [`discover`]. Every true symmetry of
/// an exact `Ld` solves it (differentiate `D2 Ld(g q_{k−1}, g q_k) +
/// D1 Ld(g q_k, g q_{k+1}) = 0` in the group parameter). Each triple's `n`
/// rows are divided by `‖D12 Ld(q_k, q_{k+1})‖_F` (gauge-invariant; makes
/// the matrix invariant under `Ld → c·Ld`). Second derivatives by
/// hyper-duals on the generic evaluation of `Ld`. The spectrum is relative
/// to the largest singular value of the middle term `(D22 + D11) ξ(q_k)`
/// alone (the scale of the equations; the full matrix can vanish).
///
/// It finds symmetries of the equations of motion, which can be more than
/// the Lagrangian's (for a free particle every affine map is one).
pub fn discover_variational<G: GenericDiscreteLagrangian>(
    ld: &G,
    basis: SymmetryBasis,
    k: usize,
    data: &Dataset,
) -> Result<Symmetries, SymmetryError> {
    let n = ld.dim();
    check_sizes(basis, k, n, triple_count(data) * n)?;
    let (a, reference) = variational_rows(ld, basis, data);
    let rows = a.nrows();
    null_space(a, Some(reference), basis, n, k, rows).map(|f| f.0)
}

/// Training triples along `data`.
fn triple_count(data: &Dataset) -> usize {
    data.trajectories
        .iter()
        .map(|t| t.len().saturating_sub(2))
        .sum()
}

/// The rows of [`discover_variational`] and the scale its spectrum is
/// relative to (the largest singular value of the middle term).
fn variational_rows<G: GenericDiscreteLagrangian>(
    ld: &G,
    basis: SymmetryBasis,
    data: &Dataset,
) -> (DMatrix<f64>, f64) {
    let n = ld.dim();
    let len = basis.len(n);
    let triples = triple_count(data);
    // The basis field X_a at q.
    let apply = |a: usize, q: &[f64]| -> Vec<f64> {
        let mut e = vec![0.0; len];
        e[a] = 1.0;
        let mut x = vec![0.0; n];
        basis.field(n, &e, q, &mut x);
        x
    };
    let hessian = |q0: &[f64], q1: &[f64]| -> Vec<f64> {
        let x: Vec<f64> = q0.iter().chain(q1).copied().collect();
        let f = |x: &[HyperDual64]| {
            let delta: Vec<HyperDual64> = (0..n).map(|i| x[n + i] - x[i]).collect();
            ld.value_at_increment(&x[..n], &delta)
        };
        let mut g = vec![0.0; 2 * n];
        let mut h = vec![0.0; 4 * n * n];
        second_derivative_block(f, &x, 0..2 * n, 0..2 * n, &mut g, &mut h);
        h
    };
    let m2 = 2 * n;
    let mut a = DMatrix::<f64>::zeros(triples * n, len);
    // The middle term alone: the scale singular values are reported in.
    let mut middle = DMatrix::<f64>::zeros(triples * n, len);
    let mut r = 0;
    for tr in &data.trajectories {
        if tr.len() < 3 {
            continue;
        }
        let mut left = hessian(tr.position(0), tr.position(1));
        for k in 1..tr.len() - 1 {
            let right = hessian(tr.position(k), tr.position(k + 1));
            let (qa, qb, qc) = (tr.position(k - 1), tr.position(k), tr.position(k + 1));
            // left: pair (q_{k−1}, q_k); right: pair (q_k, q_{k+1}).
            let d21 = |i: usize, j: usize| left[(n + i) * m2 + j];
            let d22 = |i: usize, j: usize| left[(n + i) * m2 + n + j];
            let d11 = |i: usize, j: usize| right[i * m2 + j];
            let d12 = |i: usize, j: usize| right[i * m2 + n + j];
            let scale = (0..n)
                .flat_map(|i| (0..n).map(move |j| (i, j)))
                .map(|(i, j)| d12(i, j).powi(2))
                .sum::<f64>()
                .sqrt();
            let scale = if scale > 0.0 && scale.is_finite() {
                scale
            } else {
                1.0
            };
            for c in 0..len {
                let (xa, xb, xc) = (apply(c, qa), apply(c, qb), apply(c, qc));
                for i in 0..n {
                    let v: f64 = (0..n)
                        .map(|j| {
                            d21(i, j) * xa[j] + (d22(i, j) + d11(i, j)) * xb[j] + d12(i, j) * xc[j]
                        })
                        .sum();
                    a[(r + i, c)] = v / scale;
                    let mid: f64 = (0..n).map(|j| (d22(i, j) + d11(i, j)) * xb[j]).sum();
                    middle[(r + i, c)] = mid / scale;
                }
            }
            r += n;
            left = right;
        }
    }
    let scale =
        super::nullspace::checked_svd(middle).map_or(f64::NAN, |svd| svd.singular_values.max());
    (a, scale)
}

/// What [`discover_jointly`] finds.
#[derive(Clone, Debug, PartialEq)]
pub struct JointSymmetries {
    /// The generators shared by all the models.
    pub joint: Symmetries,
    /// Each model's own, as [`discover`] or [`discover_variational`] finds
    /// them (the same bits), in the models' order.
    pub alone: Vec<Symmetries>,
}

/// Generators shared by several learned `Ld`s of one system — networks
/// trained from different seeds: each model's matrix of `solver`
/// ([`discover`]'s rows at `pairs`, or [`discover_variational`]'s on
/// `data`) divided by its own scale (its Frobenius norm; the variational
/// reference) so that every model weighs the same, stacked, and the null
/// space of the stack taken. A direction that one network makes small by
/// accident is not small for the others; a true symmetry is small for all.
/// Each model's own generators come from the same matrices. With one model
/// the joint generators are that model's (to rounding). The paper's solver
/// trains coefficients with one network and has no joint form.
pub fn discover_jointly<G: GenericDiscreteLagrangian>(
    lds: &[&G],
    solver: DiscoverySolver,
    basis: SymmetryBasis,
    k: usize,
    data: &Dataset,
    pairs: &[f64],
) -> Result<JointSymmetries, SymmetryError> {
    let n = lds.first().map_or(data.n, |ld| ld.dim());
    let len = basis.len(n);
    // Each model's matrix, the scale its spectrum is reported in (as its
    // single discovery does) and the weight it is divided by in the stack.
    let matrices: Vec<(DMatrix<f64>, Option<f64>, f64)> = match solver {
        DiscoverySolver::Nullspace => {
            check_sizes(basis, k, n, pairs.len() / (2 * n))?;
            (lds.iter())
                .map(|ld| {
                    let a = normalised_rows(*ld, basis, pairs);
                    let weight = a.norm();
                    (a, None, weight)
                })
                .collect()
        }
        DiscoverySolver::Variational => {
            check_sizes(basis, k, n, triple_count(data) * n)?;
            (lds.iter())
                .map(|ld| {
                    let (a, reference) = variational_rows(*ld, basis, data);
                    (a, Some(reference), reference)
                })
                .collect()
        }
        DiscoverySolver::Paper => return Err(SymmetryError::NoJointForm),
    };
    let rows: usize = matrices.iter().map(|m| m.0.nrows()).sum();
    let mut stack = DMatrix::<f64>::zeros(rows, len);
    let mut alone = Vec::with_capacity(matrices.len());
    let mut r = 0;
    for (a, scale, weight) in matrices {
        let mut block = stack.rows_mut(r, a.nrows());
        block.copy_from(&a);
        if weight > 0.0 && weight.is_finite() {
            block /= weight;
        }
        r += a.nrows();
        let own_rows = a.nrows();
        alone.push(null_space(a, scale, basis, n, k, own_rows)?.0);
    }
    let scale = (solver == DiscoverySolver::Variational).then_some(1.0);
    let joint = null_space(stack, scale, basis, n, k, rows)?.0;
    Ok(JointSymmetries { joint, alone })
}
