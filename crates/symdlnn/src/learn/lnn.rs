//! The LNN baseline (Cranmer et al. 2020): a continuous Lagrangian
//! `L_θ(q, q̇)` trained on accelerations.
//!
//! `q̈ = (∂²L/∂q̇²)⁻¹ (∇_q L − (∂²L/∂q̇∂q) q̇)` per sample (one formula with
//! the exact mechanics, [`LagrangianJet::acceleration`]), loss `mean|q̈ − q̈*|²`,
//! with the adjoint through the solve (`M` symmetric): `b̄ = M⁻¹ ā`,
//! `∇̄_q L = b̄`, `M̄ = −b̄ q̈ᵀ`, `(∂²L/∂q_j∂q̇_i)‾ = −b̄_i q̇_j`.
//! The engine's Hessian columns along the `q̇` half of the input give both
//! blocks. Inputs are standardised as the robust DLNN's (`((q − μ)/σ_q,
//! q̇/σ_v)`; raw with `standardise = false`, as the reference LNN), and a
//! kinetic prior `½|q̇|²` is added to `L` as in the robust DLNN recipe
//! (without it the network's random `∂²L/∂q̇²` gives huge accelerations at
//! initialisation, from which training does not recover).
//!
//! Data ([`LnnData`]): `positions` — `q̇`, `q̈` by central differences of
//! positions (the information DLNN gets; the default); `truth` — `q̇` from
//! the file's `v` columns and `q̈` from the true system (the LNN paper's
//! protocol); `reference` — the published SymDLNN code's protocol, which fed
//! `(q, p)` as `(q, q̇)` and took `q̈` from the true equations at those
//! states: kept only to explain the paper's LNN figure.
//!
//! Prediction: the midpoint discretisation `h L_θ((q0+q1)/2, (q1−q0)/h)` is
//! the robust DLNN parametrisation without prior, so the learned `L` is a
//! [`super::LearnedLd`] and the same variational integrator rolls it out.

use super::config::LnnData;
use super::objective::{LossReport, Objective};
use super::parametrisation::{InputMap, Parametrisation};
use crate::data::Dataset;
use crate::mechanics::{solve_dense, LagrangianDerivatives, LagrangianJet, System};
use crate::nn::{Engine, Jets, Mlp};

/// Training samples `(q, q̇, q̈*)`, row-major `N × n` each.
#[derive(Clone, Debug, PartialEq)]
pub struct LnnSamples {
    /// Dimension of `q`.
    pub n: usize,
    /// Positions, `N × n`.
    pub q: Vec<f64>,
    /// Velocities `q̇`, `N × n`.
    pub v: Vec<f64>,
    /// Target accelerations `q̈*`, `N × n`.
    pub a: Vec<f64>,
}

/// Why samples could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LnnError {
    #[error("--lnn-data {mode} needs the true system (--system)")]
    /// `truth` or `reference` data without `--system`.
    NeedsSystem {
        /// The data mode.
        mode: &'static str,
    },
    #[error("--lnn-data {mode} needs '{column}' columns in the data file")]
    /// Data without the columns a mode reads.
    NeedsColumns {
        /// The data mode.
        mode: &'static str,
        /// The missing column (`v` or `p`).
        column: &'static str,
    },
    #[error("the system has dimension {system}, the data {data}")]
    /// The system and the data differ in dimension.
    Dimension {
        /// The system's dimension.
        system: usize,
        /// The data's.
        data: usize,
    },
    #[error("the true acceleration is undefined at a sample: {0}")]
    /// The true system has no acceleration at a sample.
    Truth(String),
    #[error("an LNN needs a (q, q̇) input map (midpoint–velocity), not raw pairs")]
    /// A raw `(q0, q1)` input map.
    InputMap,
    #[error("the LNN baseline does not take angle coordinates")]
    /// A parametrisation with angle coordinates.
    Angles,
}

impl LnnSamples {
    /// Build samples from `data` in `mode` (`system` for `truth`/`reference`).
    pub fn new(data: &Dataset, mode: LnnData, system: Option<&System>) -> Result<Self, LnnError> {
        let n = data.n;
        let mut s = Self {
            n,
            q: vec![],
            v: vec![],
            a: vec![],
        };
        let h = data.dt;
        let name = match mode {
            LnnData::Positions => "positions",
            LnnData::Truth => "truth",
            LnnData::Reference => "reference",
        };
        if mode == LnnData::Positions {
            for tr in &data.trajectories {
                for k in 1..tr.len() - 1 {
                    let (a, b, c) = (tr.position(k - 1), tr.position(k), tr.position(k + 1));
                    s.q.extend_from_slice(b);
                    s.v.extend((0..n).map(|i| (c[i] - a[i]) / (2.0 * h)));
                    s.a.extend((0..n).map(|i| (c[i] - 2.0 * b[i] + a[i]) / (h * h)));
                }
            }
            return Ok(s);
        }
        let system = system.ok_or(LnnError::NeedsSystem { mode: name })?;
        if crate::mechanics::Lagrangian::dim(system) != n {
            return Err(LnnError::Dimension {
                system: crate::mechanics::Lagrangian::dim(system),
                data: n,
            });
        }
        for tr in &data.trajectories {
            let vel = match mode {
                LnnData::Truth => tr.v.as_ref().ok_or(LnnError::NeedsColumns {
                    mode: name,
                    column: "v",
                })?,
                _ => tr.p.as_ref().ok_or(LnnError::NeedsColumns {
                    mode: name,
                    column: "p",
                })?,
            };
            for k in 0..tr.len() {
                let (q, v) = (tr.position(k), &vel[k * n..(k + 1) * n]);
                let acc = system
                    .acceleration(q, v)
                    .map_err(|e| LnnError::Truth(e.to_string()))?;
                s.q.extend_from_slice(q);
                s.v.extend_from_slice(v);
                s.a.extend_from_slice(&acc);
            }
        }
        Ok(s)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.q.len() / self.n.max(1)
    }

    /// `true` without samples.
    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// The parametrisation: standardised (or raw) `(q, q̇)` inputs; as a
    /// discrete Lagrangian, output scale `h`, and with `kinetic_prior` the
    /// term `½|q̇|²` added to `L` (`|q1 − q0|²/(2h)` in `Ld`).
    pub fn parametrisation(
        &self,
        h: f64,
        standardise: bool,
        kinetic_prior: bool,
    ) -> Parametrisation {
        let mut p =
            Parametrisation::midpoint_velocity(self.n, h, &self.q, &self.v, kinetic_prior, false);
        if !standardise {
            p.input_map = InputMap::MidpointVelocity {
                mu_q: vec![0.0; self.n],
                sd_q: vec![1.0; self.n],
                sd_v: vec![1.0; self.n],
                angles: vec![],
            };
        }
        p
    }
}

/// The LNN objective.
pub struct Lnn {
    samples: LnnSamples,
    param: Parametrisation,
    sd_q: Vec<f64>,
    sd_v: Vec<f64>,
    inputs: Vec<f64>,
    tangents: Vec<f64>,
    engine: Engine,
    jets: Jets,
    cot: Jets,
}

impl Lnn {
    /// The objective on `samples` with network `mlp`'s shape; `param` must
    /// be a (q, q̇) map such as [`LnnSamples::parametrisation`] gives.
    pub fn new(
        mlp: &Mlp,
        samples: LnnSamples,
        param: Parametrisation,
        threads: usize,
    ) -> Result<Self, LnnError> {
        let (n, b) = (samples.n, samples.len());
        let d = 2 * n;
        let InputMap::MidpointVelocity {
            mu_q,
            sd_q,
            sd_v,
            angles,
        } = param.input_map.clone()
        else {
            return Err(LnnError::InputMap);
        };
        if !angles.is_empty() {
            return Err(LnnError::Angles);
        }
        let mut inputs = vec![0.0; b * d];
        for k in 0..b {
            for i in 0..n {
                inputs[k * d + i] = (samples.q[k * n + i] - mu_q[i]) / sd_q[i];
                inputs[k * d + n + i] = samples.v[k * n + i] / sd_v[i];
            }
        }
        let mut tangents = vec![0.0; n * d];
        for j in 0..n {
            tangents[j * d + n + j] = 1.0 / sd_v[j];
        }
        Ok(Self {
            engine: Engine::new(mlp, b, n, threads),
            jets: Jets::zeros(b, d, n),
            cot: Jets::zeros(b, d, n),
            samples,
            param,
            sd_q,
            sd_v,
            inputs,
            tangents,
        })
    }

    /// The parametrisation of the learned `L` as a discrete Lagrangian.
    pub fn parametrisation(&self) -> &Parametrisation {
        &self.param
    }

    /// `L`'s derivatives at sample `k` from the last jets.
    fn jet(&self, k: usize) -> LagrangianJet {
        let n = self.samples.n;
        let g = self.jets.grad(k);
        let v = &self.samples.v[k * n..(k + 1) * n];
        let mut jet = LagrangianJet {
            value: self.jets.value[k],
            dq: (0..n).map(|i| g[i] / self.sd_q[i]).collect(),
            dv: (0..n).map(|i| g[n + i] / self.sd_v[i]).collect(),
            vv: vec![0.0; n * n],
            qv: vec![0.0; n * n],
        };
        // The kinetic prior Σ_i c_i h q̇_i²/2 of the discrete parametrisation
        // (c_i = 1/h): ½|q̇|² in L. It has no parameters.
        let h = self.param.h;
        for (i, c) in self.param.kinetic_prior.iter().enumerate() {
            jet.value += 0.5 * c * h * v[i] * v[i];
            jet.dv[i] += c * h * v[i];
        }
        for j in 0..n {
            let hc = self.jets.hcol(j, k);
            for i in 0..n {
                jet.vv[i * n + j] = hc[n + i] / self.sd_v[i];
                jet.qv[i * n + j] = hc[i] / self.sd_q[i];
            }
        }
        for (i, c) in self.param.kinetic_prior.iter().enumerate() {
            jet.vv[i * n + i] += c * h;
        }
        jet
    }
}

impl Objective for Lnn {
    fn evaluate(&mut self, mlp: &Mlp, grad: Option<&mut [f64]>) -> LossReport {
        let n = self.samples.n;
        let b = self.samples.len();
        self.engine
            .jets(mlp, &self.inputs, &self.tangents, &mut self.jets);
        let mut loss = 0.0;
        let mut singular = 0usize;
        let mut per_sample = Vec::with_capacity(b);
        for k in 0..b {
            let jet = self.jet(k);
            let v = &self.samples.v[k * n..(k + 1) * n];
            match jet.acceleration(v) {
                Ok(a) => {
                    let r: Vec<f64> = (0..n).map(|i| a[i] - self.samples.a[k * n + i]).collect();
                    loss += r.iter().map(|x| x * x).sum::<f64>();
                    per_sample.push(Some((jet, a, r)));
                }
                Err(_) => {
                    singular += 1;
                    per_sample.push(None);
                }
            }
        }
        loss /= b.max(1) as f64;
        if singular > 0 {
            return LossReport {
                total: f64::NAN,
                terms: vec![
                    ("acceleration_mse", f64::NAN),
                    ("singular_mass_matrices", singular as f64),
                ],
                det: None,
            };
        }
        if let Some(grad) = grad {
            self.cot.clear();
            for (k, s) in per_sample.iter().enumerate() {
                let (jet, a, r) = s.as_ref().expect("no singular sample");
                let abar: Vec<f64> = r.iter().map(|x| 2.0 * x / b as f64).collect();
                let Some(bbar) = solve_dense(n, &jet.vv, &abar) else {
                    continue;
                };
                let v = &self.samples.v[k * n..(k + 1) * n];
                let gq = self.cot.grad_mut(k);
                for i in 0..n {
                    gq[i] = bbar[i] / self.sd_q[i];
                }
                for j in 0..n {
                    let hc = self.cot.hcol_mut(j, k);
                    for i in 0..n {
                        // vv[i][j] = hc[n+i]/sd_v[i]:  M̄_ij = −b̄_i a_j.
                        hc[n + i] = -bbar[i] * a[j] / self.sd_v[i];
                        // qv[i][j] = hc[i]/sd_q[i]: the rhs uses qv[i][j] v_i in row j,
                        // so (qv_ij)‾ = −b̄_j v_i.
                        hc[i] = -bbar[j] * v[i] / self.sd_q[i];
                    }
                }
            }
            self.engine.adjoint(mlp, &self.cot, grad);
        }
        LossReport {
            total: loss,
            terms: vec![("acceleration_mse", loss)],
            det: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Trajectory;
    use crate::nn::Activation;

    #[test]
    fn lnn_loss_gradient_agrees_with_finite_differences() {
        for n in [1, 2] {
            let t = 12;
            let q: Vec<f64> = (0..t * n)
                .map(|k| ((k / n) as f64 * 0.4 + (k % n) as f64).sin())
                .collect();
            let data = Dataset {
                n,
                dt: 0.1,
                trajectories: vec![Trajectory::from_positions(n, 0.0, 0.1, q)],
            };
            let samples = LnnSamples::new(&data, LnnData::Positions, None).unwrap();
            let param = samples.parametrisation(0.1, true, n == 2);
            let mut mlp = Mlp::new(2 * n, &[8, 8], Activation::Softplus, 5).unwrap();
            let mut obj = Lnn::new(&mlp, samples, param, 2).unwrap();
            assert!(obj.evaluate(&mlp, None).total > 0.0);
            let what = format!("n={n}");
            crate::learn::objective::assert_gradient_matches_fd(
                &mut obj, &mut mlp, 2, 1e-5, 1e-4, &what,
            );
        }
    }

    #[test]
    fn truth_and_reference_samples_use_the_true_equations() {
        let s = System::from_name("kepler").unwrap();
        let (q0, v0) = s.default_initial_condition();
        let grid = crate::mechanics::TimeGrid {
            dt: 0.1,
            steps: 5,
            fine: 10,
        };
        let data = crate::data::generate::dataset(
            &s,
            &[(q0, v0)],
            grid,
            crate::mechanics::Convergence::default(),
        )
        .unwrap();
        let truth = LnnSamples::new(&data, LnnData::Truth, Some(&s)).unwrap();
        let gm = 6.673e-26 * 6e24;
        for k in 0..truth.len() {
            let q = &truth.q[2 * k..2 * k + 2];
            let r3 = (q[0] * q[0] + q[1] * q[1]).powf(1.5);
            for (i, qi) in q.iter().enumerate() {
                assert!((truth.a[2 * k + i] + gm * qi / r3).abs() < 1e-12);
            }
        }
        // The reference protocol feeds p = 100 q̇ as the velocity.
        let reference = LnnSamples::new(&data, LnnData::Reference, Some(&s)).unwrap();
        assert!((reference.v[1] - 100.0 * truth.v[1]).abs() < 1e-9);
        assert_eq!(
            LnnSamples::new(&data, LnnData::Truth, None)
                .unwrap_err()
                .to_string(),
            "--lnn-data truth needs the true system (--system)"
        );
    }
}
