//! The interface between a loss and the trainer: an [`Objective`] evaluates
//! a loss of the network's parameters (and of parameters of its own) with
//! its gradient, and reports the value as a [`LossReport`].

use super::det::DetStats;
use crate::nn::Mlp;

/// A loss of the network parameters.
pub trait Objective {
    /// The loss at `mlp`; with `grad`, also add its gradient into it: the
    /// network's parameters first, then the objective's own
    /// ([`Objective::own_params`]).
    fn evaluate(&mut self, mlp: &Mlp, grad: Option<&mut [f64]>) -> LossReport;
    /// Parameters the objective trains beside the network's (the paper's
    /// symmetry coefficients); none by default.
    fn own_params(&self) -> &[f64] {
        &[]
    }
    /// Mutable [`Objective::own_params`].
    fn own_params_mut(&mut self) -> &mut [f64] {
        &mut []
    }
    /// Told the epoch before each training step (terms with a warm-up use
    /// it); `true` when the loss's definition changes at this epoch, so that
    /// losses from before are not comparable (the step guard forgets them).
    fn begin_epoch(&mut self, _epoch: usize) -> bool {
        false
    }
    /// Restrict the loss to a minibatch (`None`: every sample again). The
    /// default ignores it (an objective without minibatches; the
    /// configuration refuses minibatches for it).
    fn select(&mut self, _mlp: &Mlp, _batch: Option<&super::batches::Batch>) {}
}

/// A loss value, its named terms and `det J` diagnostics.
#[derive(Clone, Debug, PartialEq)]
pub struct LossReport {
    /// The loss that is minimised.
    pub total: f64,
    /// Its named terms (e.g. `del`, `logdet`, `symmetry`), in a fixed order.
    pub terms: Vec<(&'static str, f64)>,
    /// `det J` statistics of the evaluation (DLNN only).
    pub det: Option<DetStats>,
}

/// Test support: check an objective's gradient (network parameters, then
/// its own) against central finite differences at every `stride`-th
/// network parameter and every own parameter, with tolerance
/// `rtol · (|fd| + floor · max(|loss|, 1))`.
#[cfg(test)]
#[track_caller]
pub(crate) fn assert_gradient_matches_fd(
    obj: &mut impl Objective,
    mlp: &mut Mlp,
    stride: usize,
    rtol: f64,
    floor: f64,
    what: &str,
) {
    let net = mlp.params().len();
    let mut grad = vec![0.0; net + obj.own_params().len()];
    let base = obj.evaluate(mlp, Some(&mut grad)).total;
    assert!(base.is_finite(), "{what}: loss {base}");
    let check = |k: usize, adjoint: f64, lp: f64, lm: f64, eps: f64| {
        let fd = (lp - lm) / (2.0 * eps);
        let tol = rtol * (fd.abs() + floor * base.abs().max(1.0));
        assert!(
            (adjoint - fd).abs() <= tol,
            "{what} param {k}: adjoint {adjoint} vs FD {fd}"
        );
    };
    // Every `stride`-th network parameter, then every own parameter.
    fn param<'a>(obj: &'a mut impl Objective, mlp: &'a mut Mlp, k: usize) -> &'a mut f64 {
        let net = mlp.params().len();
        if k < net {
            &mut mlp.params_mut()[k]
        } else {
            &mut obj.own_params_mut()[k - net]
        }
    }
    for k in (0..net).step_by(stride).chain(net..grad.len()) {
        let x0 = *param(obj, mlp, k);
        let eps = 1e-6 * (1.0 + x0.abs());
        *param(obj, mlp, k) = x0 + eps;
        let lp = obj.evaluate(mlp, None).total;
        *param(obj, mlp, k) = x0 - eps;
        let lm = obj.evaluate(mlp, None).total;
        *param(obj, mlp, k) = x0;
        check(k, grad[k], lp, lm, eps);
    }
}
