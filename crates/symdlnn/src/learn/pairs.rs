//! `Ld`, `D1 Ld`, `D2 Ld` and `J` of a learned discrete Lagrangian at a batch
//! of pairs, and the way back: parameter gradients from cotangents of those.
//!
//! Each pair `(q_k, q_{k+1})` is evaluated once (twice with time-reversal
//! symmetrisation: the swapped rows follow the normal ones in the batch).

use super::parametrisation::Parametrisation;
use crate::nn::{Engine, Jets, Mlp};

/// A batch of pairs and the engine that differentiates `Ld` at them.
pub struct PairBatch {
    param: Parametrisation,
    pairs: usize,
    inputs: Vec<f64>,
    tangents: Vec<f64>,
    /// Columns of `P`: `pcols[k*d..(k+1)*d] = P e_k`.
    pcols: Vec<f64>,
    deltas: Vec<f64>,
    engine: Engine,
    jets: Jets,
    cot: Jets,
    /// `Ld` at each pair.
    pub value: Vec<f64>,
    /// `D1 Ld`, `pairs × n`.
    pub d1: Vec<f64>,
    /// `D2 Ld`, `pairs × n`.
    pub d2: Vec<f64>,
    /// `J = ∂(D1 Ld)/∂q1`, `pairs × n × n` row-major.
    pub jac: Vec<f64>,
}

impl PairBatch {
    /// A batch for `pairs` pairs of dimension `param.n`; without `jacobian`
    /// the engine computes no Hessian columns, `jac` is not meaningful and
    /// `backprop` ignores `jbar`.
    pub fn new(
        mlp: &Mlp,
        param: Parametrisation,
        pairs: usize,
        threads: usize,
        jacobian: bool,
    ) -> Self {
        let (n, d) = (param.n, param.input_dim());
        let m = if jacobian { n } else { 0 };
        let rows = if param.time_reversible {
            2 * pairs
        } else {
            pairs
        };
        let engine = Engine::new(mlp, rows, m, threads);
        let mut tangents = param.tangents();
        tangents.truncate(m * d);
        Self {
            tangents,
            pcols: param.columns(),
            param,
            pairs,
            inputs: vec![0.0; rows * d],
            deltas: vec![0.0; pairs * n],
            engine,
            jets: Jets::zeros(rows, d, m),
            cot: Jets::zeros(rows, d, m),
            value: vec![0.0; pairs],
            d1: vec![0.0; pairs * n],
            d2: vec![0.0; pairs * n],
            jac: vec![0.0; pairs * n * n],
        }
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.pairs
    }

    /// `true` when the batch has no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs == 0
    }

    /// The parametrisation.
    pub fn parametrisation(&self) -> &Parametrisation {
        &self.param
    }

    /// Set pair `p` to `(q0, q0 + δ)`.
    pub fn set_pair(&mut self, p: usize, q0: &[f64], delta: &[f64]) {
        let (n, d) = (self.param.n, self.param.input_dim());
        self.param
            .input(q0, delta, false, &mut self.inputs[p * d..(p + 1) * d]);
        if self.param.time_reversible {
            let r = self.pairs + p;
            self.param
                .input(q0, delta, true, &mut self.inputs[r * d..(r + 1) * d]);
        }
        self.deltas[p * n..(p + 1) * n].copy_from_slice(delta);
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// Evaluate `Ld`, `D1`, `D2`, `J` at every pair.
    pub fn evaluate(&mut self, mlp: &Mlp) {
        let (n, d) = (self.param.n, self.param.input_dim());
        self.engine
            .jets(mlp, &self.inputs, &self.tangents, &mut self.jets);
        let tr = self.param.time_reversible;
        let w = if tr { 0.5 } else { 1.0 };
        let s = self.param.output_scale * w;
        let col = |k: usize| &self.pcols[k * d..(k + 1) * d];
        for p in 0..self.pairs {
            let g = self.jets.grad(p);
            let mut value = s * self.jets.value[p];
            for k in 0..n {
                self.d1[p * n + k] = s * Self::dot(col(k), g);
                self.d2[p * n + k] = s * Self::dot(col(n + k), g);
                for j in 0..self.jets.tangents {
                    self.jac[(p * n + k) * n + j] = s * Self::dot(col(k), self.jets.hcol(j, p));
                }
            }
            if tr {
                let r = self.pairs + p;
                let g = self.jets.grad(r);
                value += s * self.jets.value[r];
                for k in 0..n {
                    // ∂/∂q0_k of f(P S x + c) is along P e_{n+k}, ∂/∂q1_k along P e_k.
                    self.d1[p * n + k] += s * Self::dot(col(n + k), g);
                    self.d2[p * n + k] += s * Self::dot(col(k), g);
                    if self.jets.tangents > 0 {
                        for j in 0..n {
                            self.jac[(p * n + k) * n + j] +=
                                s * Self::dot(col(j), self.jets.hcol(k, r));
                        }
                    }
                }
            }
            let (d1, d2) = (
                &mut self.d1[p * n..(p + 1) * n],
                &mut self.d2[p * n..(p + 1) * n],
            );
            let jac = &mut self.jac[p * n * n..(p + 1) * n * n];
            self.param
                .add_prior(&self.deltas[p * n..(p + 1) * n], &mut value, d1, d2, jac);
            self.value[p] = value;
        }
    }

    /// Add to `grad` the parameter gradient of `Σ_p D̄1_p·D1_p + D̄2_p·D2_p +
    /// J̄_p:J_p` at the last evaluation (`d1bar`, `d2bar` are `pairs × n`,
    /// `jbar` is `pairs × n × n`).
    pub fn backprop(
        &mut self,
        mlp: &Mlp,
        d1bar: &[f64],
        d2bar: &[f64],
        jbar: &[f64],
        grad: &mut [f64],
    ) {
        let (n, d) = (self.param.n, self.param.input_dim());
        let tr = self.param.time_reversible;
        let s = self.param.output_scale * if tr { 0.5 } else { 1.0 };
        self.cot.clear();
        for p in 0..self.pairs {
            for k in 0..2 * n {
                let c = s * if k < n {
                    d1bar[p * n + k]
                } else {
                    d2bar[p * n + k - n]
                };
                if c == 0.0 {
                    continue;
                }
                let pk = &self.pcols[k * d..(k + 1) * d];
                axpy(c, pk, self.cot.grad_mut(p));
                if tr {
                    // The swapped row sees slot k through P S e_k.
                    let ks = if k < n { k + n } else { k - n };
                    axpy(
                        c,
                        &self.pcols[ks * d..(ks + 1) * d],
                        self.cot.grad_mut(self.pairs + p),
                    );
                }
            }
            if self.cot.tangents == 0 {
                continue;
            }
            for i in 0..n {
                for j in 0..n {
                    let c = s * jbar[(p * n + i) * n + j];
                    if c == 0.0 {
                        continue;
                    }
                    axpy(c, &self.pcols[i * d..(i + 1) * d], self.cot.hcol_mut(j, p));
                    if tr {
                        axpy(
                            c,
                            &self.pcols[j * d..(j + 1) * d],
                            self.cot.hcol_mut(i, self.pairs + p),
                        );
                    }
                }
            }
        }
        self.engine.adjoint(mlp, &self.cot, grad);
    }
}

fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}
