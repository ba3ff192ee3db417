//! The variational integrator: Newton on the discrete Euler–Lagrange equations.
//!
//! From a position and a discrete momentum `(q_k, p_k)` one step solves
//! `F(x) = p_k + D1 Ld(q_k, x) = 0` for `x = q_{k+1}` by Newton with the
//! Jacobian `J = ∂(D1 Ld)/∂q1`, then sets `p_{k+1} = D2 Ld(q_k, q_{k+1})`.
//! Position stepping from `(q_{k−1}, q_k)` is the same with
//! `p_k = D2 Ld(q_{k−1}, q_k)` and the initial guess `2 q_k − q_{k−1}`
//! (its fixed point is the DEL `D2 Ld(q_{k−1}, q_k) + D1 Ld(q_k, q_{k+1}) = 0`).
//!
//! The unknown is the increment `δ = q_{k+1} − q_k`, not `q_{k+1}`: a
//! discrete Lagrangian that evaluates `(q_k, δ)` directly (see
//! [`DiscreteLagrangian::derivatives_at_increment`]) then never forms the
//! difference of two nearly equal positions, whose rounding error `ε|q|/h`
//! in the velocity would otherwise bound momentum conservation for small `h`.
//!
//! Newton stops when the residual `|F|∞` is below `residual_rtol` times the
//! size of its terms, `|p_k|∞ + |D1 Ld|∞ + ‖J‖∞|δ|∞` (the last is the size of
//! the velocity term inside `D1 Ld`, which matters when `p_k ≈ 0`); the default is a few tens of rounding
//! units, so a converged step conserves discrete Noether momenta close to rounding
//! level. When rounding keeps the residual from falling further
//! (it fails to halve in one update) the iterate is accepted if the residual
//! is below `stagnation_rtol`. Otherwise the step fails with an error naming
//! the step index, the residual and the iteration count: never a silent guess.

use super::discrete::{DiscreteLagrangian, PairDerivatives};
use super::lagrangian::solve_dense;
use super::SolverError;

/// Newton tolerances and iteration limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Convergence {
    /// Residual tolerance relative to `|p_k|∞ + |D1 Ld|∞ + ‖J‖∞|δ|∞`.
    pub residual_rtol: f64,
    /// Largest relative residual accepted once rounding stalls Newton.
    pub stagnation_rtol: f64,
    /// Maximum Newton iterations per step.
    pub max_iterations: usize,
}

impl Default for Convergence {
    fn default() -> Self {
        Self {
            residual_rtol: 1e-14,
            stagnation_rtol: 1e-10,
            max_iterations: 50,
        }
    }
}

/// Statistics of one converged Newton solve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NewtonStats {
    /// Newton updates taken.
    pub iterations: usize,
    /// Final residual `|F|∞`.
    pub residual: f64,
}

/// Statistics of a rollout.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RolloutStats {
    /// Number of DEL solves.
    pub steps: usize,
    /// Newton updates over all steps.
    pub total_iterations: usize,
    /// Largest number of updates in one step.
    pub max_iterations: usize,
    /// Largest final residual of any step.
    pub max_residual: f64,
}

impl RolloutStats {
    fn record(&mut self, s: NewtonStats) {
        self.steps += 1;
        self.total_iterations += s.iterations;
        self.max_iterations = self.max_iterations.max(s.iterations);
        self.max_residual = self.max_residual.max(s.residual);
    }
}

/// A trajectory of positions and discrete momenta, row-major `(T, n)`.
#[derive(Clone, Debug, PartialEq)]
pub struct PhasePath {
    /// Positions `q_k`, row-major `T × n`.
    pub q: Vec<f64>,
    /// Discrete momenta `p_k`, row-major `T × n`.
    pub p: Vec<f64>,
    /// Newton statistics over the rollout's steps.
    pub stats: RolloutStats,
}

use crate::sanity::{check_memory, inf_norm, nan_max};

/// Refuse a rollout of `points` points of dimension `n` (positions and
/// momenta) that overflows or exceeds the machine's memory.
fn check_rollout(points: Option<usize>, n: usize) -> Result<usize, SolverError> {
    let values = points.and_then(|p| p.checked_mul(n));
    check_memory(
        "the rollout",
        values.and_then(|v| v.checked_mul(2)),
        std::mem::size_of::<f64>(),
    )?;
    Ok(values.expect("checked above"))
}

/// Newton solver for the DEL of one discrete Lagrangian, with its buffers.
pub struct VariationalIntegrator<'a, Ld: DiscreteLagrangian + ?Sized> {
    ld: &'a Ld,
    convergence: Convergence,
    d: PairDerivatives,
}

impl<'a, Ld: DiscreteLagrangian + ?Sized> VariationalIntegrator<'a, Ld> {
    /// An integrator for `ld` with the Newton settings `convergence`; its
    /// buffers are sized for `ld.dim()`.
    pub fn new(ld: &'a Ld, convergence: Convergence) -> Self {
        let d = PairDerivatives::zeros(ld.dim());
        Self { ld, convergence, d }
    }

    fn check_dim(&self, x: &[f64]) -> Result<(), SolverError> {
        if x.len() == self.ld.dim() {
            Ok(())
        } else {
            Err(SolverError::Dimension {
                expected: self.ld.dim(),
                found: x.len(),
            })
        }
    }

    /// Solve `p + D1 Ld(q, q + δ) = 0` for the increment `δ` from the guess
    /// in `delta`; on success `delta` holds the solution and `p_next` the next
    /// momentum `D2 Ld(q, q + δ)`. `step` is the index reported in errors.
    pub fn solve(
        &mut self,
        q: &[f64],
        p: &[f64],
        delta: &mut [f64],
        p_next: &mut [f64],
        step: usize,
    ) -> Result<NewtonStats, SolverError> {
        self.check_dim(q)?;
        self.check_dim(p)?;
        self.check_dim(delta)?;
        let n = q.len();
        let c = &self.convergence;
        let mut f = vec![0.0; n];
        let mut previous = f64::INFINITY;
        for it in 0..=c.max_iterations {
            self.ld.derivatives_at_increment(q, delta, &mut self.d);
            for i in 0..n {
                f[i] = p[i] + self.d.d1[i];
            }
            let residual = inf_norm(&f);
            if !residual.is_finite() {
                return Err(SolverError::NotConverged {
                    step,
                    residual,
                    iterations: it,
                });
            }
            let jnorm = self
                .d
                .jac
                .chunks(n)
                .map(|r| r.iter().map(|a| a.abs()).sum::<f64>());
            let scale =
                inf_norm(p) + inf_norm(&self.d.d1) + jnorm.fold(0.0, nan_max) * inf_norm(delta);
            // NaN anywhere (the Jacobian, the momentum) is a failure, never
            // convergence.
            if !scale.is_finite() || delta.iter().any(|x| !x.is_finite()) {
                return Err(SolverError::NotConverged {
                    step,
                    residual: f64::NAN,
                    iterations: it,
                });
            }
            let stalled = residual > 0.5 * previous && residual <= c.stagnation_rtol * scale;
            if residual <= c.residual_rtol * scale || stalled {
                let finite = q.iter().zip(delta.iter()).all(|(a, d)| (a + d).is_finite())
                    && self.d.d2.iter().all(|x| x.is_finite());
                if !finite {
                    return Err(SolverError::Overflow { step });
                }
                p_next.copy_from_slice(&self.d.d2);
                return Ok(NewtonStats {
                    iterations: it,
                    residual,
                });
            }
            if it == c.max_iterations {
                return Err(SolverError::NotConverged {
                    step,
                    residual,
                    iterations: it,
                });
            }
            let dx =
                solve_dense(n, &self.d.jac, &f).ok_or(SolverError::SingularJacobian { step })?;
            for (x, d) in delta.iter_mut().zip(&dx) {
                *x -= d;
            }
            previous = residual;
        }
        unreachable!("the loop returns at it == max_iterations")
    }

    /// `steps` position–momentum steps from `(q0, p0)`, keeping every
    /// `keep_every`-th point (and the first): the ground-truth protocol.
    pub fn rollout_momentum(
        &mut self,
        q0: &[f64],
        p0: &[f64],
        steps: usize,
        keep_every: usize,
    ) -> Result<PhasePath, SolverError> {
        match self.rollout_momentum_until_failure(q0, p0, steps, keep_every)? {
            (path, None) => Ok(path),
            (_, Some(e)) => Err(e),
        }
    }

    /// As [`Self::rollout_momentum`], but a failed Newton solve ends the
    /// rollout: the points kept so far come back with the error.
    pub fn rollout_momentum_until_failure(
        &mut self,
        q0: &[f64],
        p0: &[f64],
        steps: usize,
        keep_every: usize,
    ) -> Result<(PhasePath, Option<SolverError>), SolverError> {
        self.check_dim(q0)?;
        self.check_dim(p0)?;
        let keep_every = keep_every.max(1);
        let n = q0.len();
        let kept = check_rollout((steps / keep_every).checked_add(1), n)?;
        let mut out_q = Vec::with_capacity(kept);
        let mut out_p = Vec::with_capacity(kept);
        out_q.extend_from_slice(q0);
        out_p.extend_from_slice(p0);
        let (mut q, mut p) = (q0.to_vec(), p0.to_vec());
        let (mut delta, mut p_next) = (vec![0.0; n], vec![0.0; n]);
        let mut stats = RolloutStats::default();
        let mut failure = None;
        for k in 0..steps {
            // The previous increment is the guess (`2 q_k − q_{k−1}`).
            match self.solve(&q, &p, &mut delta, &mut p_next, k) {
                Ok(s) => stats.record(s),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
            for (a, d) in q.iter_mut().zip(&delta) {
                *a += d;
            }
            p.copy_from_slice(&p_next);
            if (k + 1) % keep_every == 0 {
                out_q.extend_from_slice(&q);
                out_p.extend_from_slice(&p);
            }
        }
        Ok((
            PhasePath {
                q: out_q,
                p: out_p,
                stats,
            },
            failure,
        ))
    }

    /// `steps` position steps from `(q0, q1)`: returns `q_0 … q_{steps+1}`
    /// and the discrete momenta `p_k = D2 Ld(q_{k−1}, q_k)` for `k ≥ 1`
    /// (`p_0 = −D1 Ld(q_0, q_1)`).
    pub fn rollout_positions(
        &mut self,
        q0: &[f64],
        q1: &[f64],
        steps: usize,
    ) -> Result<PhasePath, SolverError> {
        match self.rollout_positions_until_failure(q0, q1, steps)? {
            (path, None) => Ok(path),
            (_, Some(e)) => Err(e),
        }
    }

    /// As [`Self::rollout_positions`], but a failed Newton solve ends the
    /// rollout instead of discarding it: the points computed so far come back
    /// with the error (for reports that show where a model's rollout broke
    /// down). Bad dimensions are still an error.
    pub fn rollout_positions_until_failure(
        &mut self,
        q0: &[f64],
        q1: &[f64],
        steps: usize,
    ) -> Result<(PhasePath, Option<SolverError>), SolverError> {
        self.check_dim(q0)?;
        self.check_dim(q1)?;
        let n = q0.len();
        let kept = check_rollout(steps.checked_add(2), n)?;
        self.ld.derivatives(q0, q1, &mut self.d);
        let p0: Vec<f64> = self.d.d1.iter().map(|a| -a).collect();
        let mut p = self.d.d2.clone();
        let mut out_q = Vec::with_capacity(kept);
        out_q.extend_from_slice(q0);
        out_q.extend_from_slice(q1);
        let mut out_p = Vec::with_capacity(kept);
        out_p.extend_from_slice(&p0);
        out_p.extend_from_slice(&p);
        let mut q = q1.to_vec();
        let mut delta: Vec<f64> = q0.iter().zip(q1).map(|(a, b)| b - a).collect();
        let mut p_next = vec![0.0; n];
        let mut stats = RolloutStats::default();
        let mut failure = None;
        for k in 0..steps {
            match self.solve(&q, &p, &mut delta, &mut p_next, k + 1) {
                Ok(s) => stats.record(s),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
            for (a, d) in q.iter_mut().zip(&delta) {
                *a += d;
            }
            p.copy_from_slice(&p_next);
            out_q.extend_from_slice(&q);
            out_p.extend_from_slice(&p);
        }
        Ok((
            PhasePath {
                q: out_q,
                p: out_p,
                stats,
            },
            failure,
        ))
    }
}
