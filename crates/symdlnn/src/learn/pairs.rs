//! `Ld`, `D1 Ld`, `D2 Ld` and `J` of a learned discrete Lagrangian at a batch
//! of pairs, and the way back: parameter gradients from cotangents of those.
//!
//! Each pair `(q_k, q_{k+1})` is evaluated once (twice with time-reversal
//! symmetrisation). `J` is computed at every pair or at every K-th pair
//! only; one engine call serves both kinds: the pairs with `J` take the
//! engine's first inputs (their normal rows, then their swapped rows), the
//! others follow (normal rows, then swapped rows).

use std::num::NonZeroUsize;

use super::invariant::dot;
use super::parametrisation::Parametrisation;
use crate::nn::{Engine, Jets, Mlp};

/// A batch of pairs and the engine that differentiates `Ld` at them.
pub struct PairBatch {
    param: Parametrisation,
    pairs: usize,
    /// `J` at pairs `0, K, 2K, …` (`K = every`; `None`: at no pair).
    every: Option<usize>,
    /// Engine input of each pair, and of its swapped copy.
    row: Vec<usize>,
    swapped_row: Vec<usize>,
    /// The kinetic prior's `J` at pairs without `J` (discarded).
    spare_jac: Vec<f64>,
    inputs: Vec<f64>,
    tangents: Vec<f64>,
    /// The input map's derivatives at each pair (`Parametrisation::input_derivatives`):
    /// `A_k, B_k` (`2n × d`), `C` (`n × m`), `M_kj` (`n × n × d`).
    cols: Vec<f64>,
    coef: Vec<f64>,
    mixed: Vec<f64>,
    /// The same at each reversed pair `(q1, q0)`, where they are not the
    /// pair's own ([`Parametrisation::reversal_shares_derivatives`]): the
    /// swapped rows' (time reversal).
    reversed: Option<(Vec<f64>, Vec<f64>, Vec<f64>)>,
    /// Scratch `A_k·(H t_α)` (`n × m`) and `∂²f/∂a_k∂b_j` (`n × n`) of a row.
    ah: Vec<f64>,
    block: Vec<f64>,
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
    /// `J = ∂(D1 Ld)/∂q1` at pairs `0, K, 2K, …` (entry `p/K`), row-major
    /// `n × n` each.
    pub jac: Vec<f64>,
    /// The engine's input gradient (`rows × d`; sized on first use).
    ubar: Vec<f64>,
    /// `q0` of each pair (`pairs × n`).
    q0s: Vec<f64>,
}

impl PairBatch {
    /// A batch for `pairs` pairs of dimension `param.n`, with `J` at every
    /// `jacobian_every`-th pair (`Some(NonZeroUsize::MIN)`: every pair; `None`: none, and
    /// `backprop` ignores `jbar`).
    pub fn new(
        mlp: &Mlp,
        param: Parametrisation,
        pairs: usize,
        threads: usize,
        jacobian_every: Option<NonZeroUsize>,
    ) -> Self {
        let (n, d, tm) = (param.n, param.input_dim(), param.tangent_count());
        let every = jacobian_every.map(NonZeroUsize::get);
        let jp = every.map_or(0, |k| pairs.div_ceil(k));
        let m = if every.is_some() { tm } else { 0 };
        let copies = if param.time_reversible { 2 } else { 1 };
        let (mut row, mut swapped_row) = (Vec::with_capacity(pairs), Vec::with_capacity(pairs));
        for p in 0..pairs {
            match jacobian_entry(every, p) {
                Some(a) => {
                    row.push(a);
                    swapped_row.push(jp + a);
                }
                None => {
                    // Pairs without `J` before p: p minus those with it.
                    let o = p - every.map_or(0, |k| p / k + 1);
                    row.push(copies * jp + o);
                    swapped_row.push(copies * jp + (pairs - jp) + o);
                }
            }
        }
        let rows = copies * pairs;
        let engine = Engine::with_tangent_batch(mlp, rows, copies * jp, m, threads);
        let mut tangents = param.tangents();
        tangents.truncate(m * d);
        Self {
            tangents,
            cols: vec![0.0; pairs * 2 * n * d],
            coef: vec![0.0; pairs * n * tm],
            mixed: vec![0.0; pairs * n * n * d],
            reversed: (param.time_reversible && !param.reversal_shares_derivatives()).then(|| {
                (
                    vec![0.0; pairs * 2 * n * d],
                    vec![0.0; pairs * n * tm],
                    vec![0.0; pairs * n * n * d],
                )
            }),
            ah: vec![0.0; n * tm],
            block: vec![0.0; n * n],
            param,
            pairs,
            every,
            row,
            swapped_row,
            spare_jac: vec![0.0; n * n],
            inputs: vec![0.0; rows * d],
            deltas: vec![0.0; pairs * n],
            engine,
            jets: Jets::with_tangent_batch(rows, copies * jp, d, m),
            cot: Jets::with_tangent_batch(rows, copies * jp, d, m),
            value: vec![0.0; pairs],
            d1: vec![0.0; pairs * n],
            d2: vec![0.0; pairs * n],
            jac: vec![0.0; jp * n * n],
            ubar: vec![],
            q0s: vec![0.0; pairs * n],
        }
    }

    /// Number of pairs with `J` (`0, K, 2K, …`).
    pub fn jacobian_pairs(&self) -> usize {
        self.jac.len() / (self.param.n * self.param.n).max(1)
    }

    /// The entry of pair `p` in `jac`, when `J` is computed there.
    fn jacobian_index(&self, p: usize) -> Option<usize> {
        jacobian_entry(self.every, p)
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
        let r = self.row[p];
        self.param
            .input(q0, delta, false, &mut self.inputs[r * d..(r + 1) * d]);
        if self.param.time_reversible {
            let r = self.swapped_row[p];
            self.param
                .input(q0, delta, true, &mut self.inputs[r * d..(r + 1) * d]);
        }
        let m = self.param.tangent_count();
        let (cols, coef, mixed) = (
            &mut self.cols[p * 2 * n * d..(p + 1) * 2 * n * d],
            &mut self.coef[p * n * m..(p + 1) * n * m],
            &mut self.mixed[p * n * n * d..(p + 1) * n * n * d],
        );
        self.param.input_derivatives(q0, delta, cols, coef, mixed);
        if let Some((rcols, rcoef, rmixed)) = self.reversed.as_mut() {
            reverse_derivatives(
                &self.param.reversal_parity(),
                n,
                (cols, mixed),
                (
                    &mut rcols[p * 2 * n * d..(p + 1) * 2 * n * d],
                    &mut rcoef[p * n * m..(p + 1) * n * m],
                    &mut rmixed[p * n * n * d..(p + 1) * n * n * d],
                ),
            );
        }
        self.deltas[p * n..(p + 1) * n].copy_from_slice(delta);
        self.q0s[p * n..(p + 1) * n].copy_from_slice(q0);
    }

    /// Evaluate `Ld`, `D1`, `D2` at every pair and `J` where it is computed
    /// (the chain rule of the module header of `parametrisation`).
    pub fn evaluate(&mut self, mlp: &Mlp) {
        let (n, d, m) = (
            self.param.n,
            self.param.input_dim(),
            self.param.tangent_count(),
        );
        self.engine
            .jets(mlp, &self.inputs, &self.tangents, &mut self.jets);
        let tr = self.param.time_reversible;
        let w = if tr { 0.5 } else { 1.0 };
        let s = self.param.output_scale * w;
        for p in 0..self.pairs {
            let jp = self.jacobian_index(p);
            let cols = &self.cols[p * 2 * n * d..(p + 1) * 2 * n * d];
            let coef = &self.coef[p * n * m..(p + 1) * n * m];
            let mixed = &self.mixed[p * n * n * d..(p + 1) * n * n * d];
            let a = |k: usize| &cols[k * d..(k + 1) * d];
            let b = |k: usize| &cols[(n + k) * d..(n + k + 1) * d];
            let (rcols, rcoef, rmixed) = swapped_derivatives(
                &self.reversed,
                (&self.cols, &self.coef, &self.mixed),
                (2 * n * d, n * m, n * n * d),
                p,
            );
            let ra = |k: usize| &rcols[k * d..(k + 1) * d];
            let rb = |k: usize| &rcols[(n + k) * d..(n + k + 1) * d];
            let jets = &self.jets;
            let (ah, block) = (&mut self.ah, &mut self.block);
            let r = self.row[p];
            let g = jets.grad(r);
            let mut value = s * jets.value[r];
            for k in 0..n {
                self.d1[p * n + k] = s * dot(a(k), g);
                self.d2[p * n + k] = s * dot(b(k), g);
            }
            if let Some(e) = jp {
                second_block(jets, r, cols, coef, mixed, ah, block);
                for (jk, x) in self.jac[e * n * n..(e + 1) * n * n].iter_mut().zip(&*block) {
                    *jk = s * x;
                }
            }
            if tr {
                // The swapped row has q0 in slot b and q1 in slot a, so its
                // block enters J transposed.
                let r = self.swapped_row[p];
                let g = jets.grad(r);
                value += s * jets.value[r];
                for k in 0..n {
                    self.d1[p * n + k] += s * dot(rb(k), g);
                    self.d2[p * n + k] += s * dot(ra(k), g);
                }
                if let Some(e) = jp {
                    second_block(jets, r, rcols, rcoef, rmixed, ah, block);
                    for k in 0..n {
                        for j in 0..n {
                            self.jac[(e * n + j) * n + k] += s * block[k * n + j];
                        }
                    }
                }
            }
            let (d1, d2) = (
                &mut self.d1[p * n..(p + 1) * n],
                &mut self.d2[p * n..(p + 1) * n],
            );
            let jac = match jp {
                Some(a) => &mut self.jac[a * n * n..(a + 1) * n * n],
                None => &mut self.spare_jac[..],
            };
            self.param
                .add_prior(&self.deltas[p * n..(p + 1) * n], &mut value, d1, d2, jac);
            self.value[p] = value;
        }
    }

    /// Add to `grad` the parameter gradient of `Σ_p D̄1_p·D1_p + D̄2_p·D2_p +
    /// J̄_p:J_p` at the last evaluation (`d1bar`, `d2bar` are `pairs × n`,
    /// `jbar` is laid out as `jac`; empty when there is no `J`).
    pub fn backprop(
        &mut self,
        mlp: &Mlp,
        d1bar: &[f64],
        d2bar: &[f64],
        jbar: &[f64],
        grad: &mut [f64],
    ) {
        self.seed_cotangents(d1bar, d2bar, jbar);
        self.engine.adjoint(mlp, &self.cot, grad);
    }

    /// As [`PairBatch::backprop`], and the gradient of the same sum with
    /// respect to each pair's positions into `positions_bar` (`pairs × 2n`:
    /// `q̄0` then `q̄1`; written, not added): `q̄0 = Aᵀū`, `q̄1 = Bᵀū` from
    /// the engine's input adjoint `ū` (the swapped row sees `q0` through
    /// `B`'s slot), plus the kinetic prior's `δ̄ = c ⊙ (D̄2 − D̄1)`, plus for
    /// a nonlinear map the terms in its own derivatives ([`super::curvature`];
    /// such a map needs a tangent per input, which the invariant map has and
    /// angles in the standardised map do not).
    pub fn backprop_with_positions(
        &mut self,
        mlp: &Mlp,
        (d1bar, d2bar, jbar): (&[f64], &[f64], &[f64]),
        grad: &mut [f64],
        positions_bar: &mut [f64],
    ) {
        assert!(
            self.param.is_affine() || self.param.tangent_count() == self.param.input_dim(),
            "position gradients need an affine map or a tangent per input"
        );
        let (n, d) = (self.param.n, self.param.input_dim());
        self.seed_cotangents(d1bar, d2bar, jbar);
        let mut ubar = std::mem::take(&mut self.ubar);
        ubar.resize(self.inputs.len(), 0.0);
        self.engine
            .adjoint_with_inputs(mlp, &self.cot, grad, Some(&mut ubar));
        let tr = self.param.time_reversible;
        for p in 0..self.pairs {
            let cols = &self.cols[p * 2 * n * d..(p + 1) * 2 * n * d];
            let (rcols, _, _) = swapped_derivatives(
                &self.reversed,
                (&self.cols, &self.coef, &self.mixed),
                (2 * n * d, n * self.param.tangent_count(), n * n * d),
                p,
            );
            let (r, rs) = (self.row[p], self.swapped_row[p]);
            let u = &ubar[r * d..(r + 1) * d];
            let out = &mut positions_bar[p * 2 * n..(p + 1) * 2 * n];
            for (k, o) in out.iter_mut().enumerate() {
                *o = dot(&cols[k * d..(k + 1) * d], u);
                if tr {
                    let us = &ubar[rs * d..(rs + 1) * d];
                    let ks = (k + n) % (2 * n);
                    *o += dot(&rcols[ks * d..(ks + 1) * d], us);
                }
            }
            for (i, c) in self.param.kinetic_prior.iter().enumerate() {
                let dbar = c * (d2bar[p * n + i] - d1bar[p * n + i]);
                out[i] -= dbar;
                out[n + i] += dbar;
            }
            if !self.param.is_affine() {
                self.add_curvature(p, (d1bar, d2bar, jbar), out);
            }
        }
        self.ubar = ubar;
    }

    /// The nonlinear map's own terms of pair `p`'s position gradient
    /// ([`super::curvature`]), both rows with time reversal.
    fn add_curvature(
        &self,
        p: usize,
        (d1bar, d2bar, jbar): (&[f64], &[f64], &[f64]),
        out: &mut [f64],
    ) {
        let (n, d) = (self.param.n, self.param.input_dim());
        let tr = self.param.time_reversible;
        let s = self.param.output_scale * if tr { 0.5 } else { 1.0 };
        let q0 = &self.q0s[p * n..(p + 1) * n];
        let y: Vec<f64> = (q0.iter().copied())
            .chain((0..n).map(|i| q0[i] + self.deltas[p * n + i]))
            .collect();
        let v: Vec<f64> = (d1bar[p * n..(p + 1) * n].iter())
            .chain(&d2bar[p * n..(p + 1) * n])
            .map(|x| s * x)
            .collect();
        let e = self.jacobian_index(p);
        let w: Option<Vec<f64>> = e.map(|e| {
            jbar[e * n * n..(e + 1) * n * n]
                .iter()
                .map(|x| s * x)
                .collect()
        });
        let mut h = vec![0.0; d * d];
        let rows = [(self.row[p], false), (self.swapped_row[p], true)];
        for &(r, swapped) in rows.iter().take(if tr { 2 } else { 1 }) {
            if e.is_some() {
                for a in 0..d {
                    h[a * d..(a + 1) * d].copy_from_slice(self.jets.hcol(a, r));
                }
            }
            let row = super::curvature::RowJets {
                swapped,
                g: self.jets.grad(r),
                h: e.map(|_| &h[..]),
            };
            super::curvature::add_map_curvature(&self.param, &y, &row, &v, w.as_deref(), out);
        }
    }

    /// The engine's cotangents of `Σ_p D̄1_p·D1_p + D̄2_p·D2_p + J̄_p:J_p`.
    fn seed_cotangents(&mut self, d1bar: &[f64], d2bar: &[f64], jbar: &[f64]) {
        let (n, d, m) = (
            self.param.n,
            self.param.input_dim(),
            self.param.tangent_count(),
        );
        let tr = self.param.time_reversible;
        let s = self.param.output_scale * if tr { 0.5 } else { 1.0 };
        self.cot.clear();
        for p in 0..self.pairs {
            let jp = self.jacobian_index(p);
            let cols = &self.cols[p * 2 * n * d..(p + 1) * 2 * n * d];
            let coef = &self.coef[p * n * m..(p + 1) * n * m];
            let mixed = &self.mixed[p * n * n * d..(p + 1) * n * n * d];
            let col = |k: usize| &cols[k * d..(k + 1) * d];
            let (rcols, rcoef, rmixed) = swapped_derivatives(
                &self.reversed,
                (&self.cols, &self.coef, &self.mixed),
                (2 * n * d, n * m, n * n * d),
                p,
            );
            let rcol = |k: usize| &rcols[k * d..(k + 1) * d];
            let (r, rs) = (self.row[p], self.swapped_row[p]);
            for k in 0..2 * n {
                let c = s * if k < n {
                    d1bar[p * n + k]
                } else {
                    d2bar[p * n + k - n]
                };
                if c == 0.0 {
                    continue;
                }
                axpy(c, col(k), self.cot.grad_mut(r));
                if tr {
                    // The swapped row sees q0 through slot b, q1 through a.
                    axpy(c, rcol((k + n) % (2 * n)), self.cot.grad_mut(rs));
                }
            }
            let Some(e) = jp else {
                continue;
            };
            let jb = |k: usize, j: usize| s * jbar[(e * n + k) * n + j];
            for k in 0..n {
                for j in 0..n {
                    // The swapped row's block enters J transposed.
                    let (c, cs) = (jb(k, j), jb(j, k));
                    if c != 0.0 && (k == j || mixed_nonzero(mixed, n, d, k, j)) {
                        let mkj = &mixed[(k * n + j) * d..(k * n + j + 1) * d];
                        axpy(c, mkj, self.cot.grad_mut(r));
                    }
                    if tr && cs != 0.0 && (k == j || mixed_nonzero(rmixed, n, d, k, j)) {
                        let mkj = &rmixed[(k * n + j) * d..(k * n + j + 1) * d];
                        axpy(cs, mkj, self.cot.grad_mut(rs));
                    }
                }
                for al in 0..m {
                    // J_kj holds A_k·H t_α with weight C_jα (normal row) and
                    // A_j·H' t_α with weight C_kα (swapped row).
                    let c: f64 = (0..n).map(|j| jb(k, j) * coef[j * m + al]).sum();
                    if c != 0.0 {
                        axpy(c, col(k), self.cot.hcol_mut(al, r));
                    }
                    if tr {
                        let c: f64 = (0..n).map(|j| jb(j, k) * rcoef[j * m + al]).sum();
                        if c != 0.0 {
                            axpy(c, rcol(k), self.cot.hcol_mut(al, rs));
                        }
                    }
                }
            }
        }
    }
}

/// `block[k·n + j] = ∂²f/∂a_k∂b_j = A_k·(Σ_α C_jα H t_α) + δ_kj ∇f·M_k` of
/// the row at engine input `r`, from its input-map derivatives (`cols`,
/// `coef`, `mixed`, one pair's) and scratch `ah` (`A_k·H t_α`, `n × m`).
fn second_block(
    jets: &Jets,
    r: usize,
    cols: &[f64],
    coef: &[f64],
    mixed: &[f64],
    ah: &mut [f64],
    block: &mut [f64],
) {
    let d = jets.dim;
    let n = cols.len() / (2 * d);
    let m = coef.len() / n;
    for k in 0..n {
        for al in 0..m {
            ah[k * m + al] = dot(&cols[k * d..(k + 1) * d], jets.hcol(al, r));
        }
    }
    for k in 0..n {
        for j in 0..n {
            let h: f64 = (0..m).map(|al| coef[j * m + al] * ah[k * m + al]).sum();
            let mkj = &mixed[(k * n + j) * d..(k * n + j + 1) * d];
            block[k * n + j] = if k == j || mkj.iter().any(|x| *x != 0.0) {
                h + dot(jets.grad(r), mkj)
            } else {
                h
            };
        }
    }
}

/// Pair `p`'s swapped-row derivatives `(cols, coef, mixed)` (sizes
/// `2n·d`, `n·m`, `n²·d` per pair): the reversed pair's when stored, else
/// the pair's own (`own`).
fn swapped_derivatives<'a>(
    reversed: &'a Option<(Vec<f64>, Vec<f64>, Vec<f64>)>,
    own: (&'a [f64], &'a [f64], &'a [f64]),
    sizes: (usize, usize, usize),
    p: usize,
) -> (&'a [f64], &'a [f64], &'a [f64]) {
    let (cols, coef, mixed) = match reversed {
        Some((c, k, x)) => (&c[..], &k[..], &x[..]),
        None => own,
    };
    let (c, k, x) = sizes;
    (
        &cols[p * c..(p + 1) * c],
        &coef[p * k..(p + 1) * k],
        &mixed[p * x..(p + 1) * x],
    )
}

/// The reversed pair's derivatives from the pair's own and the parity `S`
/// of the map (`u(q1, q0) = S u(q0, q1)`): `A' = S B`, `B' = S A`,
/// `C' = S A` (the tangents are the unit inputs) and `M'_kj = S M_jk`.
fn reverse_derivatives(
    parity: &[f64],
    n: usize,
    (cols, mixed): (&[f64], &[f64]),
    (rcols, rcoef, rmixed): (&mut [f64], &mut [f64], &mut [f64]),
) {
    let d = parity.len();
    for k in 0..n {
        for e in 0..d {
            let (a, b) = (cols[k * d + e], cols[(n + k) * d + e]);
            rcols[k * d + e] = parity[e] * b;
            rcols[(n + k) * d + e] = parity[e] * a;
            rcoef[k * d + e] = parity[e] * a;
            for j in 0..n {
                rmixed[(k * n + j) * d + e] = parity[e] * mixed[(j * n + k) * d + e];
            }
        }
    }
}

/// Whether `M_kj` (of an `n × n × d` mixed tensor) has a non-zero entry.
fn mixed_nonzero(mixed: &[f64], n: usize, d: usize, k: usize, j: usize) -> bool {
    mixed[(k * n + j) * d..(k * n + j + 1) * d]
        .iter()
        .any(|x| *x != 0.0)
}

/// The entry of pair `p` in `jac` with `J` at every `every`-th pair.
fn jacobian_entry(every: Option<usize>, p: usize) -> Option<usize> {
    every.and_then(|k| p.is_multiple_of(k).then_some(p / k))
}

fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}
