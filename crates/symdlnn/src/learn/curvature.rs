//! Position gradients through a nonlinear input map: the part the engine's
//! input adjoint does not see.
//!
//! One engine row computes `F(y) = f(u(y))` at `y = (q0, q1)` (the swapped
//! row `u(q1, q0)`), and the loss sees it through the functional
//!
//! `Ψ(y) = Σ_c v_c ∂_c F + Σ_kj W_kj ∂_{q0_k} ∂_{q1_j} F`
//!
//! (`v = s·(D̄1, D̄2)`, `W = s·J̄`, `s` the output scale). With `g = ∇f`,
//! `H = ∇²f` at `u(y)`, the engine's input adjoint `ū` (of the cotangents
//! `ḡ = Σ v_c ∂_c u + Σ W_kj ∂_{q0_k}∂_{q1_j} u`, `H̄` from `W`) gives
//! `(∂_i u)·ū`, every term in which `f` is differentiated once more. The
//! rest, in which the map is:
//!
//! `R_i = Σ_c v_c ∂_i∂_c Φ + Σ_kj W_kj [ (∂_i∂_{q0_k} u)·H ∂_{q1_j} u +
//! (H ∂_{q0_k} u)·∂_i∂_{q1_j} u + ∂_i ∂_{q0_k} ∂_{q1_j} Φ ]`,
//!
//! with `Φ(y) = g·u(y)` (`g` held fixed), comes from hyper-dual and
//! hyper-hyper-dual evaluations of the map (a few dozen per pair, each a few
//! hundred flops). `H` is the full Hessian: maps with this term have a
//! tangent per input ([`Parametrisation::tangent_count`]).

use num_dual::{HyperDual64, HyperHyperDual64};

use super::invariant::dot;
use super::parametrisation::Parametrisation;

/// One engine row's map: which row, and the network's `g` (and `H`,
/// row-major `d × d`, at rows with `J`) there.
pub(crate) struct RowJets<'a> {
    /// The swapped row (`u(q1, q0)`).
    pub swapped: bool,
    /// `∇f` at the row.
    pub g: &'a [f64],
    /// `∇²f` at the row, when it has Hessian columns.
    pub h: Option<&'a [f64]>,
}

/// Add `R` (above) of one row at `y = (q0, q1)` into `out` (`2n`), for the
/// cotangents `v` (`2n`) and, at rows with `J`, `w` (`n × n`).
pub(crate) fn add_map_curvature(
    param: &Parametrisation,
    y: &[f64],
    row: &RowJets,
    v: &[f64],
    w: Option<&[f64]>,
    out: &mut [f64],
) {
    let n = param.n;
    let m = 2 * n;
    for (i, o) in out.iter_mut().enumerate().take(m) {
        // Σ_c v_c ∂_i∂_c Φ: eps1 along v, eps2 along e_i.
        let x: Vec<HyperDual64> = (0..m)
            .map(|c| HyperDual64::new(y[c], v[c], f64::from(c == i), 0.0))
            .collect();
        *o += phi(param, &x, row).eps1eps2;
    }
    let (Some(w), Some(h)) = (w, row.h) else {
        return;
    };
    let d = param.input_dim();
    let (first, second) = map_derivatives(param, y, row.swapped);
    // H ∂_c u for every slot c.
    let hd: Vec<Vec<f64>> = first
        .iter()
        .map(|du| (0..d).map(|a| dot(&h[a * d..(a + 1) * d], du)).collect())
        .collect();
    for (i, o) in out.iter_mut().enumerate().take(m) {
        let mut r = 0.0;
        for k in 0..n {
            for j in 0..n {
                let wkj = w[k * n + j];
                if wkj != 0.0 {
                    r += wkj
                        * (dot(&second[i * m + k], &hd[n + j])
                            + dot(&hd[k], &second[i * m + n + j]));
                }
            }
            // Σ_j W_kj ∂_i∂_{q0_k}∂_{q1_j} Φ: eps3 along W's row k.
            let x: Vec<HyperHyperDual64> = (0..m)
                .map(|c| {
                    let e3 = if c >= n { w[k * n + c - n] } else { 0.0 };
                    HyperHyperDual64::new(
                        y[c],
                        f64::from(c == i),
                        f64::from(c == k),
                        e3,
                        0.0,
                        0.0,
                        0.0,
                        0.0,
                    )
                })
                .collect();
            r += phi(param, &x, row).eps1eps2eps3;
        }
        *o += r;
    }
}

/// `Φ = g·u(y)` of the row, at any scalar type.
fn phi<D: crate::mechanics::Scalar>(param: &Parametrisation, y: &[D], row: &RowJets) -> D {
    let n = param.n;
    let delta: Vec<D> = (0..n).map(|i| y[n + i] - y[i]).collect();
    let mut u = vec![D::zero(); param.input_dim()];
    param.input(&y[..n], &delta, row.swapped, &mut u);
    u.iter()
        .zip(row.g)
        .fold(D::zero(), |acc, (&a, &b)| acc + a * b)
}

/// `∂_c u` (`2n` vectors of `d`) and `∂_i∂_c u` (`(2n)²`, row-major) of the
/// row's map at `y`.
fn map_derivatives(
    param: &Parametrisation,
    y: &[f64],
    swapped: bool,
) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let (n, d) = (param.n, param.input_dim());
    let m = 2 * n;
    let mut first = vec![vec![0.0; d]; m];
    let mut second = vec![vec![0.0; d]; m * m];
    let mut u = vec![HyperDual64::from(0.0); d];
    for i in 0..m {
        for c in i..m {
            let x: Vec<HyperDual64> = (0..m)
                .map(|k| HyperDual64::new(y[k], f64::from(k == i), f64::from(k == c), 0.0))
                .collect();
            let delta: Vec<HyperDual64> = (0..n).map(|k| x[n + k] - x[k]).collect();
            param.input(&x[..n], &delta, swapped, &mut u);
            for a in 0..d {
                second[i * m + c][a] = u[a].eps1eps2;
                second[c * m + i][a] = u[a].eps1eps2;
                if c == i {
                    first[i][a] = u[a].eps1;
                }
            }
        }
    }
    (first, second)
}
