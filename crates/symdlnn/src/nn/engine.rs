//! The batched derivative engine (the hot path).
//!
//! For a batch of inputs `u_b ∈ R^d` and `m` fixed tangent directions
//! `t_j ∈ R^d`, [`Engine::jets`] returns the value `f(u_b)`, the gradient
//! `g_b = ∇f(u_b)` and, at the first `B_t ≤ B` inputs (all by default), the
//! Hessian columns `H_b t_j`; [`Engine::adjoint`]
//! then returns the gradient with respect to every parameter of
//! `Σ_b f̄_b f(u_b) + ḡ_b·g_b + Σ_j H̄_bj·(H_b t_j)` for given cotangents.
//!
//! With `z_l = W_l h_{l−1} + b_l`, `h_l = σ(z_l)`, output `f = W_L h_{L−1} + b_L`:
//!
//! * forward: `z_l`, `σ, σ′, σ″, σ‴` at `z_l`;
//!   tangents `ż_l = W_l ḣ_{l−1}`, `ḣ_l = σ′ ⊙ ż_l`, `ḣ_0 = t_j`;
//! * reverse: `a_{L−1} = W_Lᵀ`, `u_l = σ′ ⊙ a_l`, `a_{l−1} = W_lᵀ u_l`, `g = a_0`;
//! * tangent reverse: `u̇_l = σ″ ⊙ ż_l ⊙ a_l + σ′ ⊙ ȧ_l`, `ȧ_{l−1} = W_lᵀ u̇_l`,
//!   `ȧ_{L−1} = 0`, `H t_j = ȧ_0`;
//! * adjoint: reverse mode through all of the above, first through the
//!   reverse sweep (`l = 1 … L−1`), then through the forward sweep
//!   (`l = L−1 … 1`); it needs `σ‴`.
//!
//! Layout: f64, row-major; the value rows and the `m` tangent blocks of a
//! layer are stacked (`b + m·b_t` rows, tangent-major) so that each layer is
//! one GEMM (faer, sequential): inputs with and without Hessian columns share
//! the GEMMs. The batch is split in chunks, one per thread (the process's
//! persistent workers, `nn::pool`), each with a contiguous run of the inputs
//! with tangents (first in its rows) and one of the others, its own
//! workspace and gradient buffer, summed at the end
//! in a fixed order (same thread count → bitwise-identical results). Nothing
//! is allocated after construction.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

use super::kernels;
use super::mlp::Mlp;
use super::pool::{run_parts, PartedSlice};

/// Value, gradient and Hessian columns of a batch (also used for their
/// cotangents).
#[derive(Clone, Debug, PartialEq)]
pub struct Jets {
    /// Batch size `B`.
    pub batch: usize,
    /// Input dimension `d`.
    pub dim: usize,
    /// Number of tangent directions `m`.
    pub tangents: usize,
    /// Number `B_t ≤ B` of inputs, the first ones, with Hessian columns.
    pub tangent_batch: usize,
    /// `f(u_b)`, length `B`.
    pub value: Vec<f64>,
    /// `∇f(u_b)`, row-major `B × d`.
    pub grad: Vec<f64>,
    /// `H_b t_j`, tangent-major `m × B_t × d`.
    pub hcol: Vec<f64>,
}

impl Jets {
    /// Zeroed jets with Hessian columns at every input.
    pub fn zeros(batch: usize, dim: usize, tangents: usize) -> Self {
        Self::with_tangent_batch(batch, batch, dim, tangents)
    }

    /// Zeroed jets with Hessian columns at the first `tangent_batch` inputs.
    pub fn with_tangent_batch(
        batch: usize,
        tangent_batch: usize,
        dim: usize,
        tangents: usize,
    ) -> Self {
        assert!(
            tangent_batch <= batch,
            "more inputs with tangents than inputs"
        );
        Self {
            batch,
            dim,
            tangents,
            tangent_batch,
            value: vec![0.0; batch],
            grad: vec![0.0; batch * dim],
            hcol: vec![0.0; tangents * tangent_batch * dim],
        }
    }

    /// `H_b t_j` as a slice of length `d` (`b < B_t`).
    pub fn hcol(&self, j: usize, b: usize) -> &[f64] {
        let off = (j * self.tangent_batch + b) * self.dim;
        &self.hcol[off..off + self.dim]
    }

    /// Mutable `H_b t_j`.
    pub fn hcol_mut(&mut self, j: usize, b: usize) -> &mut [f64] {
        let off = (j * self.tangent_batch + b) * self.dim;
        &mut self.hcol[off..off + self.dim]
    }

    /// `∇f(u_b)`.
    pub fn grad(&self, b: usize) -> &[f64] {
        &self.grad[b * self.dim..(b + 1) * self.dim]
    }

    /// Mutable `∇f(u_b)`.
    pub fn grad_mut(&mut self, b: usize) -> &mut [f64] {
        &mut self.grad[b * self.dim..(b + 1) * self.dim]
    }

    /// Set everything to zero.
    pub fn clear(&mut self) {
        self.value.fill(0.0);
        self.grad.fill(0.0);
        self.hcol.fill(0.0);
    }
}

/// `C (m×n) ← / += A (m×k) · Bᵀ`, `B` is `n × k`.
fn mm_nt(c: &mut [f64], a: &[f64], b: &[f64], m: usize, n: usize, k: usize, acc: Accum) {
    let cm = MatMut::from_row_major_slice_mut(c, m, n);
    let am = MatRef::from_row_major_slice(a, m, k);
    let bm = MatRef::from_row_major_slice(b, n, k).transpose();
    matmul(cm, acc, am, bm, 1.0, Par::Seq);
}

/// `C (m×n) ← / += A (m×k) · B (k×n)`.
fn mm_nn(c: &mut [f64], a: &[f64], b: &[f64], m: usize, n: usize, k: usize, acc: Accum) {
    let cm = MatMut::from_row_major_slice_mut(c, m, n);
    let am = MatRef::from_row_major_slice(a, m, k);
    let bm = MatRef::from_row_major_slice(b, k, n);
    matmul(cm, acc, am, bm, 1.0, Par::Seq);
}

/// `C (m×n) += Aᵀ · B`, `A` is `k × m`, `B` is `k × n`.
fn mm_tn_add(c: &mut [f64], a: &[f64], b: &[f64], m: usize, n: usize, k: usize) {
    let cm = MatMut::from_row_major_slice_mut(c, m, n);
    let am = MatRef::from_row_major_slice(a, k, m).transpose();
    let bm = MatRef::from_row_major_slice(b, k, n);
    matmul(cm, Accum::Add, am, bm, 1.0, Par::Seq);
}

/// Per-thread state for one chunk of the batch: the inputs
/// `tstart .. tstart + tlen` (with tangents) then `ostart .. ostart + len − tlen`.
struct Workspace {
    tstart: usize,
    tlen: usize,
    ostart: usize,
    len: usize,
    /// `[h_l; ḣ_l]` for `l = 0 … L−1`, `rows × w_l`.
    hs: Vec<Vec<f64>>,
    /// `[z_l; ż_l]` (the GEMM output, before bias on value rows), `l = 1 … L−1`.
    zs: Vec<Vec<f64>>,
    /// `σ′, σ″` at `z_l`, `len × w_l`, and `σ‴` on the rows with tangents
    /// (`tlen × w_l`), `l = 1 … L−1`.
    s1: Vec<Vec<f64>>,
    s2: Vec<Vec<f64>>,
    s3: Vec<Vec<f64>>,
    /// `[a_l; ȧ_l]`, `l = 0 … L−2`.
    a: Vec<Vec<f64>>,
    /// `[u_l; u̇_l]`, `l = 1 … L−1`.
    u: Vec<Vec<f64>>,
    /// `[z̄_l; ż̄_l]`, `l = 1 … L−1`.
    zbar: Vec<Vec<f64>>,
    /// Scratch `rows × max width` buffers for the adjoint.
    s_a: Vec<f64>,
    s_b: Vec<f64>,
    s_c: Vec<f64>,
    /// Network values `f(u_b)` of this chunk.
    value: Vec<f64>,
    /// `a_{L−1} = W_L` broadcast to `len × w_{L−1}`.
    atop: Vec<f64>,
    /// Parameter gradient of this chunk.
    grad: Vec<f64>,
    /// Input gradient `ū_b = z̄_1,b W_1` of this chunk's inputs (`len × d`),
    /// when asked for.
    xbar: Vec<f64>,
}

/// The derivative engine for one network shape, batch size and tangent count.
pub struct Engine {
    widths: Vec<usize>,
    batch: usize,
    tangent_batch: usize,
    tangents: usize,
    work: Vec<Workspace>,
}

impl Engine {
    /// An engine for `mlp`'s shape, batches of `batch` inputs, `tangents`
    /// directions at every input, splitting the batch over `threads` threads.
    pub fn new(mlp: &Mlp, batch: usize, tangents: usize, threads: usize) -> Self {
        Self::with_tangent_batch(mlp, batch, batch, tangents, threads)
    }

    /// As [`Engine::new`], with the Hessian columns at the first
    /// `tangent_batch` inputs only (the others get value and gradient).
    pub fn with_tangent_batch(
        mlp: &Mlp,
        batch: usize,
        tangent_batch: usize,
        tangents: usize,
        threads: usize,
    ) -> Self {
        assert!(
            tangent_batch <= batch,
            "more inputs with tangents than inputs"
        );
        let widths = mlp.widths().to_vec();
        let hidden = widths.len() - 2; // L − 1
        let threads = threads.clamp(1, batch.max(1));
        let maxw = *widths.iter().max().unwrap_or(&1);
        let nparams = mlp.params().len();
        let plain = batch - tangent_batch;
        let mut work = Vec::with_capacity(threads);
        for t in 0..threads {
            let tstart = tangent_batch * t / threads;
            let tlen = tangent_batch * (t + 1) / threads - tstart;
            let ostart = tangent_batch + plain * t / threads;
            let len = tlen + tangent_batch + plain * (t + 1) / threads - ostart;
            let rows = len + tangents * tlen;
            let per = |from: usize, to: usize, r: usize| -> Vec<Vec<f64>> {
                (from..=to).map(|l| vec![0.0; r * widths[l]]).collect()
            };
            work.push(Workspace {
                tstart,
                tlen,
                ostart,
                len,
                hs: per(0, hidden, rows),
                zs: per(1, hidden, rows),
                s1: per(1, hidden, len),
                s2: per(1, hidden, len),
                s3: per(1, hidden, tlen),
                a: per(0, hidden - 1, rows),
                u: per(1, hidden, rows),
                zbar: per(1, hidden, rows),
                s_a: vec![0.0; rows * maxw],
                s_b: vec![0.0; rows * maxw],
                s_c: vec![0.0; rows * maxw],
                value: vec![0.0; len],
                atop: vec![0.0; len * widths[hidden]],
                grad: vec![0.0; nparams],
                xbar: vec![0.0; len * widths[0]],
            });
        }
        Self {
            widths,
            batch,
            tangent_batch,
            tangents,
            work,
        }
    }

    /// Batch size the engine was built for.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Number of tangent directions.
    pub fn tangents(&self) -> usize {
        self.tangents
    }

    /// Value, gradient and Hessian columns along `tangents` (row-major
    /// `m × d`) at `inputs` (row-major `B × d`), into `out`.
    pub fn jets(&mut self, mlp: &Mlp, inputs: &[f64], tangents: &[f64], out: &mut Jets) {
        let d = self.widths[0];
        assert_eq!(
            mlp.widths(),
            &self.widths[..],
            "network shape differs from the engine's"
        );
        assert_eq!(inputs.len(), self.batch * d, "inputs must be B × d");
        assert_eq!(tangents.len(), self.tangents * d, "tangents must be m × d");
        assert_eq!(
            (out.batch, out.tangent_batch, out.tangents),
            (self.batch, self.tangent_batch, self.tangents),
            "jets shape differs from the engine's"
        );
        let m = self.tangents;
        run_chunks(&mut self.work, |w| {
            w.forward_reverse(mlp, inputs, tangents, m)
        });
        let tb = self.tangent_batch;
        for w in &self.work {
            for i in 0..w.len {
                let b = w.input(i);
                out.value[b] = w.value[i];
                out.grad[b * d..(b + 1) * d].copy_from_slice(&w.a[0][i * d..(i + 1) * d]);
            }
            for j in 0..m {
                for i in 0..w.tlen {
                    let r = w.len + j * w.tlen + i;
                    let o = (j * tb + w.tstart + i) * d;
                    out.hcol[o..o + d].copy_from_slice(&w.a[0][r * d..(r + 1) * d]);
                }
            }
        }
    }

    /// Gradient with respect to the parameters (added into `grad`, which has
    /// `mlp.params().len()` entries) of `Σ_b value̅_b f_b + grad̅_b·g_b +
    /// Σ_j hcol̅_bj·(H_b t_j)`, at the inputs of the last [`Engine::jets`].
    pub fn adjoint(&mut self, mlp: &Mlp, cotangents: &Jets, grad: &mut [f64]) {
        self.adjoint_with_inputs(mlp, cotangents, grad, None);
    }

    /// As [`Engine::adjoint`], and with `inputs_bar` (`B × d`) also the
    /// gradient of the same sum with respect to the inputs `u_b` (written,
    /// not added): `ū_b = z̄_{1,b} W_1`, since only the value rows' `z_1 =
    /// W_1 u + b_1` see the input (the tangent rows start from the fixed
    /// `t_j`).
    pub fn adjoint_with_inputs(
        &mut self,
        mlp: &Mlp,
        cotangents: &Jets,
        grad: &mut [f64],
        inputs_bar: Option<&mut [f64]>,
    ) {
        assert_eq!(grad.len(), mlp.params().len(), "gradient buffer size");
        assert_eq!(
            (
                cotangents.batch,
                cotangents.tangent_batch,
                cotangents.tangents
            ),
            (self.batch, self.tangent_batch, self.tangents),
            "cotangents' shape differs from the engine's"
        );
        let m = self.tangents;
        let want = inputs_bar.is_some();
        run_chunks(&mut self.work, |w| {
            w.adjoint(mlp, cotangents, m);
            if want {
                w.input_adjoint(mlp);
            }
        });
        if let Some(out) = inputs_bar {
            let d = mlp.widths()[0];
            assert_eq!(out.len(), self.batch * d, "input gradient buffer size");
            for w in &self.work {
                for i in 0..w.len {
                    let s = w.input(i);
                    out[s * d..(s + 1) * d].copy_from_slice(&w.xbar[i * d..(i + 1) * d]);
                }
            }
        }
        // The chunks' gradients summed in chunk order, the parameters split
        // over the same threads.
        let (len, parts) = (grad.len(), self.work.len());
        let out = PartedSlice::new(grad);
        let work = &self.work;
        run_parts(parts, &|i| {
            let r = len * i / parts..len * (i + 1) / parts;
            // SAFETY: the parts' ranges are disjoint.
            let g = unsafe { out.range(r.clone()) };
            for w in work {
                for (g, x) in g.iter_mut().zip(&w.grad[r.clone()]) {
                    *g += x;
                }
            }
        });
    }
}

/// `(a_l, ȧ_l)` of layer `l`: the broadcast output weights (and no tangent
/// part, `ȧ_{L−1} = 0`) at the top, the stored reverse sweep below.
fn reverse_state<'w>(
    atop: &'w [f64],
    a: &'w [Vec<f64>],
    l: usize,
    hidden: usize,
    bw: usize,
) -> (&'w [f64], Option<&'w [f64]>) {
    if l == hidden {
        (atop, None)
    } else {
        let (v, t) = a[l].split_at(bw);
        (v, Some(t))
    }
}

/// Run `f` on every workspace, the first on this thread, the others on the
/// process's worker threads (one workspace per thread).
fn run_chunks(work: &mut [Workspace], f: impl Fn(&mut Workspace) + Sync) {
    let count = work.len();
    let parts = PartedSlice::new(work);
    // SAFETY: part `i` alone takes workspace `i`.
    run_parts(count, &|i| f(&mut unsafe { parts.range(i..i + 1) }[0]));
}

impl Workspace {
    /// The batch index of local row `i < len`.
    fn input(&self, i: usize) -> usize {
        if i < self.tlen {
            self.tstart + i
        } else {
            self.ostart + i - self.tlen
        }
    }

    fn forward_reverse(&mut self, mlp: &Mlp, inputs: &[f64], tangents: &[f64], m: usize) {
        let widths = mlp.widths();
        let hidden = widths.len() - 2;
        let d = widths[0];
        let (b, bt) = (self.len, self.tlen);
        let rows = b + m * bt;
        if b == 0 {
            return;
        }
        let act = mlp.activation();
        // Layer 0: inputs and broadcast tangents.
        for i in 0..b {
            let s = self.input(i);
            self.hs[0][i * d..(i + 1) * d].copy_from_slice(&inputs[s * d..(s + 1) * d]);
        }
        let h0 = &mut self.hs[0];
        for j in 0..m {
            for i in 0..bt {
                let r = b + j * bt + i;
                h0[r * d..(r + 1) * d].copy_from_slice(&tangents[j * d..(j + 1) * d]);
            }
        }
        // Forward sweep.
        for l in 1..=hidden {
            let (wp, wl) = (widths[l - 1], widths[l]);
            let (hprev, hrest) = self.hs.split_at_mut(l);
            let z = &mut self.zs[l - 1];
            mm_nt(
                z,
                &hprev[l - 1],
                mlp.weight(l - 1),
                rows,
                wl,
                wp,
                Accum::Replace,
            );
            let h = &mut hrest[0];
            let (bw, tw) = (b * wl, bt * wl);
            let (zv, zt) = z.split_at_mut(bw);
            let (hv, ht) = h.split_at_mut(bw);
            let s1 = &mut self.s1[l - 1];
            kernels::activate(
                act,
                zv,
                mlp.bias(l - 1),
                hv,
                s1,
                &mut self.s2[l - 1],
                &mut self.s3[l - 1][..tw],
            );
            for j in 0..m {
                let blk = j * tw..(j + 1) * tw;
                kernels::mul(&mut ht[blk.clone()], &s1[..tw], &zt[blk]);
            }
        }
        // Output value; a_{L−1} = W_L broadcast over the rows.
        let wout = mlp.weight(hidden);
        let bout = mlp.bias(hidden)[0];
        let wh = widths[hidden];
        for i in 0..b {
            let hrow = &self.hs[hidden][i * wh..(i + 1) * wh];
            self.value[i] = bout + hrow.iter().zip(wout).map(|(x, y)| x * y).sum::<f64>();
            self.atop[i * wh..(i + 1) * wh].copy_from_slice(wout);
        }
        // Reverse sweep (input gradient and Hessian columns).
        for l in (1..=hidden).rev() {
            let (wp, wl) = (widths[l - 1], widths[l]);
            let (bw, tw) = (b * wl, bt * wl);
            let u = &mut self.u[l - 1];
            let (s1, s2) = (&self.s1[l - 1], &self.s2[l - 1]);
            let zt = &self.zs[l - 1][bw..];
            let (av, at) = reverse_state(&self.atop, &self.a, l, hidden, bw);
            let (uv, ut) = u.split_at_mut(bw);
            kernels::mul(uv, s1, av);
            for j in 0..m {
                let blk = j * tw..(j + 1) * tw;
                kernels::reverse_tangent(
                    &mut ut[blk.clone()],
                    &s1[..tw],
                    &s2[..tw],
                    &zt[blk.clone()],
                    &av[..tw],
                    at.map(|t| &t[blk]),
                );
            }
            mm_nn(
                &mut self.a[l - 1],
                u,
                mlp.weight(l - 1),
                rows,
                wp,
                wl,
                Accum::Replace,
            );
        }
    }

    /// This chunk's parameter gradient (into `self.grad`) for the cotangents
    /// `cot`: the adjoint of the reverse sweep, then of the output layer, then
    /// of the forward sweep.
    fn adjoint(&mut self, mlp: &Mlp, cot: &Jets, m: usize) {
        self.grad.fill(0.0);
        if self.len == 0 {
            return;
        }
        self.seed_adjoint(mlp, cot, m);
        self.adjoint_reverse_sweep(mlp, m);
        self.adjoint_output(mlp, cot, m);
        self.adjoint_forward_sweep(mlp, m);
    }

    /// `ū_b = z̄_{1,b} W_1` into `xbar`, after [`Workspace::adjoint`].
    fn input_adjoint(&mut self, mlp: &Mlp) {
        let (d, w1) = (mlp.widths()[0], mlp.widths()[1]);
        let b = self.len;
        if b == 0 {
            return;
        }
        mm_nn(
            &mut self.xbar[..b * d],
            &self.zbar[0][..b * w1],
            mlp.weight(0),
            b,
            d,
            w1,
            Accum::Replace,
        );
    }

    /// `ā_0 = [ḡ; H̄_j]` into `s_a`: this chunk's rows of the gradient and
    /// Hessian-column cotangents.
    fn seed_adjoint(&mut self, mlp: &Mlp, cot: &Jets, m: usize) {
        let d = mlp.widths()[0];
        let (b, bt) = (self.len, self.tlen);
        for i in 0..b {
            let s = self.input(i);
            self.s_a[i * d..(i + 1) * d].copy_from_slice(&cot.grad[s * d..(s + 1) * d]);
        }
        let abar = &mut self.s_a;
        for j in 0..m {
            for i in 0..bt {
                let r = b + j * bt + i;
                let o = (j * cot.tangent_batch + self.tstart + i) * d;
                abar[r * d..(r + 1) * d].copy_from_slice(&cot.hcol[o..o + d]);
            }
        }
    }

    /// Adjoint of the reverse sweep, `l = 1 … L−1`: weight gradients of the
    /// `a_{l−1} = W_lᵀ u_l` products into `grad`, `z̄_l` (its reverse-sweep
    /// part) into `zbar`, and `ā_{L−1}` left in `s_a`.
    fn adjoint_reverse_sweep(&mut self, mlp: &Mlp, m: usize) {
        let widths = mlp.widths();
        let hidden = widths.len() - 2;
        let (b, bt) = (self.len, self.tlen);
        let rows = b + m * bt;
        for l in 1..=hidden {
            let (wp, wl) = (widths[l - 1], widths[l]);
            let (bw, tw) = (b * wl, bt * wl);
            let off_w = mlp.offset(l - 1);
            let ubar = &mut self.s_b[..rows * wl];
            mm_nt(
                ubar,
                &self.s_a[..rows * wp],
                mlp.weight(l - 1),
                rows,
                wl,
                wp,
                Accum::Replace,
            );
            mm_tn_add(
                &mut self.grad[off_w..off_w + wl * wp],
                &self.u[l - 1],
                &self.s_a[..rows * wp],
                wl,
                wp,
                rows,
            );
            let s = (
                &self.s1[l - 1][..],
                &self.s2[l - 1][..],
                &self.s3[l - 1][..],
            );
            let zt = &self.zs[l - 1][bw..];
            let (av, at) = reverse_state(&self.atop, &self.a, l, hidden, bw);
            let (zbv, zbt) = self.zbar[l - 1].split_at_mut(bw);
            let (nv, nt) = self.s_c[..rows * wl].split_at_mut(bw);
            let (ubv, ubt) = ubar.split_at(bw);
            kernels::adjoint_reverse_value(nv, zbv, s.0, s.1, ubv, av);
            for j in 0..m {
                let blk = j * tw..(j + 1) * tw;
                kernels::adjoint_reverse_tangent(
                    &mut nv[..tw],
                    &mut zbv[..tw],
                    &mut nt[blk.clone()],
                    &mut zbt[blk.clone()],
                    (&s.0[..tw], &s.1[..tw], &s.2[..tw]),
                    &ubt[blk.clone()],
                    &zt[blk.clone()],
                    &av[..tw],
                    at.map(|t| &t[blk]),
                );
            }
            std::mem::swap(&mut self.s_a, &mut self.s_c);
        }
    }

    /// The output layer: `W_L`'s and `b_L`'s gradients from `ā_{L−1}` (the
    /// cotangent of `a_{L−1} = W_Lᵀ`) and the value path, then
    /// `h̄_{L−1}` into `s_a` (`f̄ W_L` on value rows, 0 on tangent rows).
    fn adjoint_output(&mut self, mlp: &Mlp, cot: &Jets, m: usize) {
        let widths = mlp.widths();
        let hidden = widths.len() - 2;
        let (b, bt) = (self.len, self.tlen);
        let rows = b + m * bt;
        let wh = widths[hidden];
        let wout = mlp.weight(hidden);
        let off_out = mlp.offset(hidden);
        let mut bout_bar = 0.0;
        for i in 0..b {
            let fbar = cot.value[self.input(i)];
            bout_bar += fbar;
            for o in 0..wh {
                self.grad[off_out + o] += self.s_a[i * wh + o] + fbar * self.hs[hidden][i * wh + o];
            }
        }
        self.grad[off_out + wh] += bout_bar;
        // h̄_{L−1} = f̄ W_L on value rows, 0 on tangent rows.
        self.s_a[b * wh..rows * wh].fill(0.0);
        for i in 0..b {
            let fbar = cot.value[self.input(i)];
            for (h, w) in self.s_a[i * wh..(i + 1) * wh].iter_mut().zip(wout) {
                *h = fbar * w;
            }
        }
    }

    /// Adjoint of the forward sweep, `l = L−1 … 1`: completes `z̄_l` from
    /// `h̄_l` (in `s_a`), adds the gradients of `W_l` and `b_l`, and carries
    /// `h̄_{l−1} = z̄_l W_l` down.
    fn adjoint_forward_sweep(&mut self, mlp: &Mlp, m: usize) {
        let widths = mlp.widths();
        let hidden = widths.len() - 2;
        let (b, bt) = (self.len, self.tlen);
        let rows = b + m * bt;
        for l in (1..=hidden).rev() {
            let (wp, wl) = (widths[l - 1], widths[l]);
            let (bw, tw) = (b * wl, bt * wl);
            let (s1, s2) = (&self.s1[l - 1], &self.s2[l - 1]);
            let zt = &self.zs[l - 1][bw..];
            let zbar = &mut self.zbar[l - 1];
            let (zbv, zbt) = zbar.split_at_mut(bw);
            let (hbv, hbt) = self.s_a[..rows * wl].split_at(bw);
            kernels::adjoint_forward_value(zbv, s1, hbv);
            for j in 0..m {
                let blk = j * tw..(j + 1) * tw;
                kernels::adjoint_forward_tangent(
                    &mut zbv[..tw],
                    &mut zbt[blk.clone()],
                    &s1[..tw],
                    &s2[..tw],
                    &zt[blk.clone()],
                    &hbt[blk],
                );
            }
            let off_w = mlp.offset(l - 1);
            mm_tn_add(
                &mut self.grad[off_w..off_w + wl * wp],
                zbar,
                &self.hs[l - 1],
                wl,
                wp,
                rows,
            );
            let gb = &mut self.grad[off_w + wl * wp..off_w + wl * wp + wl];
            for row in zbar[..bw].chunks_exact(wl) {
                for (g, z) in gb.iter_mut().zip(row) {
                    *g += z;
                }
            }
            if l > 1 {
                mm_nn(
                    &mut self.s_c[..rows * wp],
                    zbar,
                    mlp.weight(l - 1),
                    rows,
                    wp,
                    wl,
                    Accum::Replace,
                );
                std::mem::swap(&mut self.s_a, &mut self.s_c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Activation;
    use num_dual::HyperDual64;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random(rng: &mut ChaCha8Rng, k: usize) -> Vec<f64> {
        (0..k).map(|_| rng.random::<f64>() * 2.0 - 1.0).collect()
    }

    /// `(f, ∂f/∂u_i, e_iᵀ H t)` by one hyper-dual evaluation.
    fn oracle(mlp: &Mlp, u: &[f64], i: usize, t: &[f64]) -> (f64, f64, f64) {
        let x: Vec<HyperDual64> = u
            .iter()
            .enumerate()
            .map(|(k, &v)| HyperDual64::new(v, (k == i) as u8 as f64, t[k], 0.0))
            .collect();
        let y = mlp.eval(&x);
        (y.re, y.eps1, y.eps1eps2)
    }

    #[test]
    fn jets_agree_with_num_dual_for_every_activation() {
        for act in Activation::ALL {
            for (n, threads) in [(1, 1), (2, 2), (3, 2)] {
                let d = 2 * n;
                let mut rng = ChaCha8Rng::seed_from_u64(n as u64);
                let mlp = Mlp::new(d, &[16, 12, 8], act, 7).unwrap();
                let batch = 5;
                let inputs = random(&mut rng, batch * d);
                let tangents = random(&mut rng, n * d);
                let mut engine = Engine::new(&mlp, batch, n, threads);
                let mut jets = Jets::zeros(batch, d, n);
                engine.jets(&mlp, &inputs, &tangents, &mut jets);
                for b in 0..batch {
                    let u = &inputs[b * d..(b + 1) * d];
                    for j in 0..n {
                        for i in 0..d {
                            let (f, g, h) = oracle(&mlp, u, i, &tangents[j * d..(j + 1) * d]);
                            let close = |a: f64, e: f64| (a - e).abs() <= 1e-12 * (1.0 + e.abs());
                            assert!(close(jets.value[b], f), "{act:?} value");
                            assert!(
                                close(jets.grad(b)[i], g),
                                "{act:?} n={n} grad {} vs {g}",
                                jets.grad(b)[i]
                            );
                            assert!(
                                close(jets.hcol(j, b)[i], h),
                                "{act:?} n={n} H {} vs {h}",
                                jets.hcol(j, b)[i]
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn adjoint_agrees_with_finite_differences_for_every_activation() {
        for act in Activation::ALL {
            // m tangent directions at the first tb of 4 inputs; m = 0 is the
            // value-and-gradient-only engine.
            for (n, threads, m, tb) in [
                (1, 2, 1, 4),
                (2, 1, 2, 4),
                (3, 2, 3, 4),
                (2, 2, 0, 0),
                (2, 2, 2, 3),
                (1, 2, 1, 1),
            ] {
                let d = 2 * n;
                let mut rng = ChaCha8Rng::seed_from_u64(10 + n as u64);
                let mut mlp = Mlp::new(d, &[10, 9, 7], act, 3).unwrap();
                let batch = 4;
                let inputs = random(&mut rng, batch * d);
                let tangents = random(&mut rng, m * d);
                let mut cot = Jets::with_tangent_batch(batch, tb, d, m);
                cot.value = random(&mut rng, batch);
                cot.grad = random(&mut rng, batch * d);
                cot.hcol = random(&mut rng, m * tb * d);
                let mut engine = Engine::with_tangent_batch(&mlp, batch, tb, m, threads);
                let mut jets = Jets::with_tangent_batch(batch, tb, d, m);
                let mut loss = |mlp: &Mlp, engine: &mut Engine| {
                    engine.jets(mlp, &inputs, &tangents, &mut jets);
                    let dot =
                        |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
                    dot(&jets.value, &cot.value)
                        + dot(&jets.grad, &cot.grad)
                        + dot(&jets.hcol, &cot.hcol)
                };
                loss(&mlp, &mut engine);
                let mut grad = vec![0.0; mlp.params().len()];
                engine.adjoint(&mlp, &cot, &mut grad);
                // Every parameter of every layer.
                for (k, &adjoint) in grad.iter().enumerate() {
                    let eps = 1e-5;
                    let x0 = mlp.params()[k];
                    mlp.params_mut()[k] = x0 + eps;
                    let lp = loss(&mlp, &mut engine);
                    mlp.params_mut()[k] = x0 - eps;
                    let lm = loss(&mlp, &mut engine);
                    mlp.params_mut()[k] = x0;
                    let fd = (lp - lm) / (2.0 * eps);
                    assert!(
                        (adjoint - fd).abs() <= 1e-6 * (1.0 + fd.abs()),
                        "{act:?} n={n} param {k}: adjoint {adjoint} vs FD {fd}"
                    );
                }
            }
        }
    }

    /// The input gradient of `Σ f̄ f + ḡ·g + H̄:(H t)` against central
    /// differences in every input, with and without tangent rows.
    #[test]
    fn input_adjoint_agrees_with_finite_differences_for_every_activation() {
        for act in Activation::ALL {
            for (n, threads, m, tb) in [(1, 2, 1, 4), (2, 1, 2, 3), (2, 2, 0, 0), (3, 2, 3, 4)] {
                let d = 2 * n;
                let mut rng = ChaCha8Rng::seed_from_u64(20 + n as u64);
                let mlp = Mlp::new(d, &[10, 9, 7], act, 4).unwrap();
                let batch = 4;
                let mut inputs = random(&mut rng, batch * d);
                let tangents = random(&mut rng, m * d);
                let mut cot = Jets::with_tangent_batch(batch, tb, d, m);
                cot.value = random(&mut rng, batch);
                cot.grad = random(&mut rng, batch * d);
                cot.hcol = random(&mut rng, m * tb * d);
                let mut engine = Engine::with_tangent_batch(&mlp, batch, tb, m, threads);
                let mut jets = Jets::with_tangent_batch(batch, tb, d, m);
                let mut loss = |inputs: &[f64], engine: &mut Engine| {
                    engine.jets(&mlp, inputs, &tangents, &mut jets);
                    let dot =
                        |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
                    dot(&jets.value, &cot.value)
                        + dot(&jets.grad, &cot.grad)
                        + dot(&jets.hcol, &cot.hcol)
                };
                loss(&inputs, &mut engine);
                let mut grad = vec![0.0; mlp.params().len()];
                let mut ubar = vec![f64::NAN; batch * d];
                engine.adjoint_with_inputs(&mlp, &cot, &mut grad, Some(&mut ubar));
                for k in 0..batch * d {
                    let (eps, x0) = (1e-5, inputs[k]);
                    inputs[k] = x0 + eps;
                    let lp = loss(&inputs, &mut engine);
                    inputs[k] = x0 - eps;
                    let lm = loss(&inputs, &mut engine);
                    inputs[k] = x0;
                    let fd = (lp - lm) / (2.0 * eps);
                    assert!(
                        (ubar[k] - fd).abs() <= 1e-6 * (1.0 + fd.abs()),
                        "{act:?} n={n} m={m} input {k}: adjoint {} vs FD {fd}",
                        ubar[k]
                    );
                }
            }
        }
    }

    #[test]
    fn hessian_columns_at_a_subset_agree_with_the_full_engine() {
        let mlp = Mlp::new(4, &[24, 16], Activation::Softplus, 2).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let (batch, tb, m) = (11, 4, 2);
        let inputs = random(&mut rng, batch * 4);
        let tangents = random(&mut rng, m * 4);
        let mut full_cot = Jets::zeros(batch, 4, m);
        full_cot.value = random(&mut rng, batch);
        full_cot.grad = random(&mut rng, batch * 4);
        let mut part_cot = Jets::with_tangent_batch(batch, tb, 4, m);
        part_cot.value = full_cot.value.clone();
        part_cot.grad = full_cot.grad.clone();
        for j in 0..m {
            for b in 0..tb {
                let h = random(&mut rng, 4);
                full_cot.hcol_mut(j, b).copy_from_slice(&h);
                part_cot.hcol_mut(j, b).copy_from_slice(&h);
            }
        }
        let (mut full, mut part) = (
            Engine::new(&mlp, batch, m, 2),
            Engine::with_tangent_batch(&mlp, batch, tb, m, 3),
        );
        let (mut fj, mut pj) = (
            Jets::zeros(batch, 4, m),
            Jets::with_tangent_batch(batch, tb, 4, m),
        );
        full.jets(&mlp, &inputs, &tangents, &mut fj);
        part.jets(&mlp, &inputs, &tangents, &mut pj);
        assert_eq!(fj.value, pj.value, "values are per input: identical");
        assert_eq!(fj.grad, pj.grad, "gradients are per input: identical");
        for j in 0..m {
            for b in 0..tb {
                assert_eq!(fj.hcol(j, b), pj.hcol(j, b), "H t_{j} at {b}");
            }
        }
        let mut gf = vec![0.0; mlp.params().len()];
        let mut gp = gf.clone();
        full.adjoint(&mlp, &full_cot, &mut gf);
        part.adjoint(&mlp, &part_cot, &mut gp);
        let scale = gf.iter().map(|x| x.abs()).fold(0.0, f64::max);
        for (a, b) in gf.iter().zip(&gp) {
            // Chunks differ, so do summation orders.
            assert!((a - b).abs() <= 1e-13 * scale * batch as f64, "{a} vs {b}");
        }
    }

    #[test]
    fn results_do_not_depend_on_the_thread_split_beyond_summation_order() {
        let mlp = Mlp::new(4, &[32, 32], Activation::Softplus, 1).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (batch, m) = (37, 2);
        let inputs = random(&mut rng, batch * 4);
        let tangents = random(&mut rng, m * 4);
        let mut cot = Jets::zeros(batch, 4, m);
        cot.grad = random(&mut rng, batch * 4);
        cot.hcol = random(&mut rng, m * batch * 4);
        let run = |threads| {
            let mut e = Engine::new(&mlp, batch, m, threads);
            let mut j = Jets::zeros(batch, 4, m);
            e.jets(&mlp, &inputs, &tangents, &mut j);
            let mut g = vec![0.0; mlp.params().len()];
            e.adjoint(&mlp, &cot, &mut g);
            (j, g)
        };
        let (j1, g1) = run(1);
        let (j2, g2) = run(2);
        assert_eq!(j1, j2, "jets are computed per sample: identical");
        let scale = g1.iter().map(|x| x.abs()).fold(0.0, f64::max);
        let diff = g1
            .iter()
            .zip(&g2)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(diff <= 1e-13 * scale * batch as f64, "{diff:e}");
        assert_eq!(run(2).1, g2, "same thread count: bitwise identical");
    }
}
