//! Symmetry discovery: generators `ξ(q) = Σ_a c_a X_a(q)` over a basis of
//! vector fields on `Q` that leave a discrete Lagrangian invariant.
//!
//! Acting diagonally on `Q × Q`, the infinitesimal invariance of `Ld` reads
//! `s(q0, q1) = ξ(q0)·D1 Ld + ξ(q1)·D2 Ld = 0`. For a fixed `Ld`, `s` is
//! linear in the coefficients: `s = A c` with
//! `A[k, a] = X_a(q0_k)·D1 Ld + X_a(q1_k)·D2 Ld` over evaluation pairs `k`.
//! **Null-space discovery**: the best `K` generators are the right singular
//! vectors of `A` with the `K` smallest singular values — no initial guess,
//! orthonormal by construction. Rows are normalised by `h |det J|^{1/n}`, a
//! scale of `Ld` that is unchanged by gauge terms `G(q1) − G(q0)` and scales
//! like `Ld`, so the spectrum does not depend on `Ld → c·Ld`. The ratio of
//! the `(K+1)`-th to the `K`-th smallest singular value measures how well the
//! data identify the symmetry (the identifiability gap).
//!
//! Conserved quantity of a generator: `I(q_k, q_{k+1}) = −ξ(q_k)·D1 Ld(q_k, q_{k+1})`.

use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::dlnn::det_cofactor;
use crate::data::Dataset;
use crate::mechanics::{
    second_derivative_block, AffineGenerator, DiscreteLagrangian, GenericDiscreteLagrangian,
    PairDerivatives, VectorField,
};
use num_dual::HyperDual64;

/// The search space of generators: a basis of vector fields on `R^n`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SymmetryBasis {
    /// `ξ(q) = M q + w` (`n² + n` coefficients, `vec(M)` row-major then `w`): the paper's.
    #[default]
    Affine,
    /// `ξ(q) = w`.
    Translations,
    /// `ξ(q) = M q`.
    Linear,
    /// `ξ(q) = M q` with `M` skew (`(E_ij − E_ji)/√2`, `i < j`).
    Rotations,
    /// Every component a polynomial of degree ≤ `d` in `q`: the affine
    /// coefficients first (as [`SymmetryBasis::Affine`]), then for each
    /// degree `k = 2 … d` and each component `i` the monomials
    /// `q_{j1}⋯q_{jk}`, `j1 ≤ … ≤ jk` in lexicographic order.
    Polynomial(u8),
}

/// How [`SymmetryBasis::from_name`]'s forms read, for messages.
pub const BASIS_FORMS: &str = "affine, translations, linear, rotations or polynomial:D (D = 1…6)";

/// The monomials of degrees `2 ..= d` of `q` (in [`SymmetryBasis::Polynomial`]'s
/// order) into `out`.
fn higher_monomials(q: &[f64], d: u8, out: &mut Vec<f64>) {
    out.clear();
    // Each degree's monomials as (last index, value), grown from the previous degree's.
    let mut previous: Vec<(usize, f64)> = q.iter().copied().enumerate().collect();
    for _ in 2..=d {
        let mut next = Vec::with_capacity(previous.len() * q.len());
        for &(last, value) in &previous {
            for (j, x) in q.iter().enumerate().skip(last) {
                next.push((j, value * x));
            }
        }
        out.extend(next.iter().map(|m| m.1));
        previous = next;
    }
}

/// Number of monomials of degrees `2 ..= d` in `n` variables.
fn higher_count(n: usize, d: u8) -> usize {
    // C(n + d, d) − 1 − n, built degree by degree: C(n + k − 1, k).
    let mut total = 0;
    let mut of_degree = n; // degree 1
    for k in 2..=d as usize {
        of_degree = of_degree * (n + k - 1) / k;
        total += of_degree;
    }
    total
}

impl SymmetryBasis {
    /// Names accepted by [`SymmetryBasis::from_name`].
    pub const NAMES: [&'static str; 4] = ["affine", "translations", "linear", "rotations"];

    /// Parse a basis name: one of [`SymmetryBasis::NAMES`] or `polynomial:D`,
    /// `1 ≤ D ≤ 6`.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "affine" => Some(Self::Affine),
            "translations" => Some(Self::Translations),
            "linear" => Some(Self::Linear),
            "rotations" => Some(Self::Rotations),
            _ => match s.strip_prefix("polynomial:")?.parse() {
                Ok(d @ 1..=6) => Some(Self::Polynomial(d)),
                _ => None,
            },
        }
    }

    /// Number of basis fields in dimension `n`.
    pub fn len(self, n: usize) -> usize {
        match self {
            Self::Affine => n * n + n,
            Self::Translations => n,
            Self::Linear => n * n,
            Self::Rotations => n * n.saturating_sub(1) / 2,
            Self::Polynomial(d) => n * n + n + n * higher_count(n, d),
        }
    }

    /// The coefficients of the degree ≥ 2 part (empty unless polynomial).
    fn higher(self, n: usize, c: &[f64]) -> &[f64] {
        match self {
            Self::Polynomial(_) => &c[n * n + n..],
            _ => &[],
        }
    }

    /// The affine form `(M, w)` (row-major `M`) of the field with coefficients
    /// `c` (of a polynomial field: its degree ≤ 1 part).
    pub fn to_affine(self, n: usize, c: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (mut m, mut w) = (vec![0.0; n * n], vec![0.0; n]);
        match self {
            Self::Affine | Self::Polynomial(_) => {
                m.copy_from_slice(&c[..n * n]);
                w.copy_from_slice(&c[n * n..n * n + n]);
            }
            Self::Translations => w.copy_from_slice(c),
            Self::Linear => m.copy_from_slice(c),
            Self::Rotations => {
                let mut a = 0;
                for i in 0..n {
                    for j in i + 1..n {
                        m[i * n + j] += c[a] / std::f64::consts::SQRT_2;
                        m[j * n + i] -= c[a] / std::f64::consts::SQRT_2;
                        a += 1;
                    }
                }
            }
        }
        (m, w)
    }

    /// The field with coefficients `c` at `q`, `ξ_c(q) = Σ_a c_a X_a(q) =
    /// M(c) q + w(c)`, added into `out` (the adjoint of [`Self::contract`]).
    pub(crate) fn field(self, n: usize, c: &[f64], q: &[f64], out: &mut [f64]) {
        let (m, w) = self.to_affine(n, c);
        for i in 0..n {
            out[i] += w[i] + (0..n).map(|j| m[i * n + j] * q[j]).sum::<f64>();
        }
        if let Self::Polynomial(d @ 2..) = self {
            let mut mono = Vec::new();
            higher_monomials(q, d, &mut mono);
            for (i, ci) in self.higher(n, c).chunks_exact(mono.len()).enumerate() {
                out[i] += ci.iter().zip(&mono).map(|(a, b)| a * b).sum::<f64>();
            }
        }
    }

    /// The mean Gram matrix `Q_ab = mean_q X_a(q)·X_b(q)` (`len × len`,
    /// row-major) over the points `q` (`n` each): `cᵀQc = mean |ξ_c(q)|²`.
    pub(crate) fn gram(self, n: usize, points: &[f64]) -> Vec<f64> {
        let len = self.len(n);
        let mut q = vec![0.0; len * len];
        let mut x = vec![0.0; len * n];
        let mut e = vec![0.0; len];
        let count = (points.len() / n).max(1) as f64;
        for point in points.chunks_exact(n) {
            x.fill(0.0);
            for a in 0..len {
                e[a] = 1.0;
                self.field(n, &e, point, &mut x[a * n..(a + 1) * n]);
                e[a] = 0.0;
            }
            for a in 0..len {
                for b in 0..len {
                    let xa = &x[a * n..(a + 1) * n];
                    let xb = &x[b * n..(b + 1) * n];
                    q[a * len + b] += xa.iter().zip(xb).map(|(u, v)| u * v).sum::<f64>() / count;
                }
            }
        }
        q
    }

    /// `Σ_a u_a X_a(q)` contracted with `p`: row entries `X_a(q)·p` for every `a`.
    pub(crate) fn contract(self, n: usize, q: &[f64], p: &[f64], out: &mut [f64]) {
        match self {
            Self::Affine | Self::Polynomial(_) => {
                for i in 0..n {
                    for j in 0..n {
                        out[i * n + j] += p[i] * q[j];
                    }
                    out[n * n + i] += p[i];
                }
                if let Self::Polynomial(d @ 2..) = self {
                    let mut mono = Vec::new();
                    higher_monomials(q, d, &mut mono);
                    let rows = out[n * n + n..].chunks_exact_mut(mono.len());
                    for (row, pi) in rows.zip(p) {
                        row.iter_mut().zip(&mono).for_each(|(o, x)| *o += pi * x);
                    }
                }
            }
            Self::Translations => (0..n).for_each(|i| out[i] += p[i]),
            Self::Linear => {
                for i in 0..n {
                    for j in 0..n {
                        out[i * n + j] += p[i] * q[j];
                    }
                }
            }
            Self::Rotations => {
                let mut a = 0;
                for i in 0..n {
                    for j in i + 1..n {
                        out[a] += (p[i] * q[j] - p[j] * q[i]) / std::f64::consts::SQRT_2;
                        a += 1;
                    }
                }
            }
        }
    }
}

/// The form [`SymmetryBasis::from_name`] reads.
impl std::fmt::Display for SymmetryBasis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Affine => write!(f, "affine"),
            Self::Translations => write!(f, "translations"),
            Self::Linear => write!(f, "linear"),
            Self::Rotations => write!(f, "rotations"),
            Self::Polynomial(d) => write!(f, "polynomial:{d}"),
        }
    }
}

/// How generators are found after training.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscoverySolver {
    /// [`discover`]: `ξ·∇Ld = 0` at evaluation pairs (sensitive to the gauge
    /// freedom of a learned `Ld`).
    #[default]
    Nullspace,
    /// [`discover_variational`]: fields that solve the learned dynamics'
    /// linearised DEL equations at the training triples (gauge-invariant).
    Variational,
    /// The paper's: coefficients trained with the network by the symmetry
    /// term ([`crate::learn::shaping`]); reported by [`from_coefficients`].
    Paper,
}

/// Where the symmetry condition is imposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationPoints {
    /// Use the training pairs.
    pub train: bool,
    /// Number of extra pairs drawn in a box around the data (Remark 1).
    pub boxed: usize,
}

/// The form [`EvaluationPoints::parse`] reads.
impl std::fmt::Display for EvaluationPoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.train, self.boxed) {
            (true, 0) => write!(f, "train"),
            (true, n) => write!(f, "train+box:{n}"),
            (false, n) => write!(f, "box:{n}"),
        }
    }
}

impl EvaluationPoints {
    /// Parse `train`, `box:N` or `train+box:N`.
    pub fn parse(s: &str) -> Option<Self> {
        let mut e = Self {
            train: false,
            boxed: 0,
        };
        for part in s.split('+') {
            match part.strip_prefix("box:") {
                Some(n) => e.boxed = n.parse().ok()?,
                None if part == "train" => e.train = true,
                None => return None,
            }
        }
        (e.train || e.boxed > 0).then_some(e)
    }

    /// The pairs `(q0, q1)` (row-major, `2n` each): training pairs and/or
    /// `boxed` pairs with `q0` uniform in the data's bounding box (widened
    /// by 10 %) and `q1 − q0` uniform in the box of observed increments,
    /// from a ChaCha8 `seed`.
    pub fn pairs(&self, data: &Dataset, seed: u64) -> Vec<f64> {
        let n = data.n;
        let mut out = Vec::new();
        let (mut lo, mut hi) = (vec![f64::INFINITY; n], vec![f64::NEG_INFINITY; n]);
        let (mut dlo, mut dhi) = (vec![f64::INFINITY; n], vec![f64::NEG_INFINITY; n]);
        for tr in &data.trajectories {
            for k in 0..tr.len().saturating_sub(1) {
                let (a, b) = (tr.position(k), tr.position(k + 1));
                if self.train {
                    out.extend_from_slice(a);
                    out.extend_from_slice(b);
                }
                for i in 0..n {
                    lo[i] = lo[i].min(a[i]).min(b[i]);
                    hi[i] = hi[i].max(a[i]).max(b[i]);
                    dlo[i] = dlo[i].min(b[i] - a[i]);
                    dhi[i] = dhi[i].max(b[i] - a[i]);
                }
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(2);
        for _ in 0..self.boxed {
            let q0: Vec<f64> = (0..n)
                .map(|i| {
                    let pad = 0.1 * (hi[i] - lo[i]);
                    lo[i] - pad + (hi[i] - lo[i] + 2.0 * pad) * rng.random::<f64>()
                })
                .collect();
            let q1: Vec<f64> = (0..n)
                .map(|i| q0[i] + dlo[i] + (dhi[i] - dlo[i]) * rng.random::<f64>())
                .collect();
            out.extend_from_slice(&q0);
            out.extend_from_slice(&q1);
        }
        out
    }
}

/// One discovered generator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Generator {
    /// The basis its coefficients are in (models written before it was
    /// recorded: affine).
    #[serde(default)]
    pub basis: SymmetryBasis,
    /// Coefficients in the basis (unit norm).
    pub coefficients: Vec<f64>,
    /// Affine form: `M` row-major and `w` (of a polynomial field: its
    /// degree ≤ 1 part).
    #[serde(rename = "M")]
    pub m: Vec<f64>,
    pub w: Vec<f64>,
    /// What it looks like.
    pub description: String,
    /// Its singular value (normalised by the largest); for the paper's
    /// solver, its residual `‖A c‖ / σ_max` in the same normalisation.
    pub singular_value: f64,
}

impl Generator {
    /// The generator with basis coefficients `c` (unit norm), signed so that
    /// the largest coefficient is positive.
    fn signed(basis: SymmetryBasis, n: usize, mut c: Vec<f64>, singular_value: f64) -> Self {
        let big = c
            .iter()
            .copied()
            .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
        if big < 0.0 {
            c.iter_mut().for_each(|x| *x = -*x);
        }
        let (m, w) = basis.to_affine(n, &c);
        let mut description = describe(n, &m, &w);
        let higher = basis.higher(n, &c);
        let size = higher.iter().map(|x| x * x).sum::<f64>().sqrt();
        if size > 1e-3 {
            description =
                format!("nonlinear (|degree ≥ 2 part| {size:.3}; affine part: {description})");
        }
        Generator {
            basis,
            description,
            coefficients: c,
            m,
            w,
            singular_value,
        }
    }

    /// As an [`AffineGenerator`] (normalised in affine coefficients; of a
    /// polynomial field, its degree ≤ 1 part).
    pub fn affine(&self) -> AffineGenerator {
        AffineGenerator::new(&self.description, self.m.clone(), self.w.clone())
    }

    /// Coordinates shared by every basis: `(vec(M), w)`, then the
    /// polynomial basis's degree ≥ 2 coefficients. [`agreement_of`] compares
    /// generators in them.
    pub fn canonical(&self) -> Vec<f64> {
        let n = self.w.len();
        let higher = self.basis.higher(n, &self.coefficients);
        self.m
            .iter()
            .chain(&self.w)
            .chain(higher)
            .copied()
            .collect()
    }
}

impl VectorField for Generator {
    fn at(&self, q: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; q.len()];
        self.basis.field(q.len(), &self.coefficients, q, &mut out);
        out
    }
}

/// Discovered (or, with the paper's solver, trained) generators.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Symmetries {
    pub basis: SymmetryBasis,
    pub generators: Vec<Generator>,
    /// All singular values of the normalised `A`, ascending, divided by the largest.
    pub spectrum: Vec<f64>,
    /// `σ_{K+1} / σ_K` (∞ when `σ_K = 0`; absent when `K` is the whole basis).
    pub gap: Option<f64>,
    /// Number of evaluation pairs.
    pub pairs: usize,
}

impl Symmetries {
    /// Whether the stored generators fit dimension `n` (a model file read
    /// from disk is checked before use): coefficients of their basis's
    /// length, `M` of `n²` and `w` of `n` entries.
    pub fn check(&self, n: usize) -> Result<(), String> {
        for (j, g) in self.generators.iter().enumerate() {
            let len = g.basis.len(n);
            if g.coefficients.len() != len || g.m.len() != n * n || g.w.len() != n {
                return Err(format!(
                    "generator {j} has {} coefficients, {} entries of M and {} of w; the {} basis in dimension {n} has {len}, {}, {n}",
                    g.coefficients.len(),
                    g.m.len(),
                    g.w.len(),
                    g.basis,
                    n * n
                ));
            }
        }
        Ok(())
    }
}

/// Why discovery failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SymmetryError {
    #[error("asked for {k} generators but the {basis} basis has {len} fields in dimension {n}")]
    TooMany {
        k: usize,
        len: usize,
        basis: SymmetryBasis,
        n: usize,
    },
    #[error("need at least as many evaluation pairs ({pairs}) as basis fields ({len})")]
    TooFewPairs { pairs: usize, len: usize },
    #[error("the singular value decomposition failed")]
    Svd,
    #[error("the paper's solver trains coefficients with one network: it has no joint form over several models")]
    NoJointForm,
}

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
fn check_sizes(basis: SymmetryBasis, k: usize, n: usize, rows: usize) -> Result<(), SymmetryError> {
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
fn normalised_rows(
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

/// The `k` smallest right singular vectors of `a` as generators in `basis`;
/// singular values are reported relative to `scale` (default: the largest),
/// which is returned beside them.
fn null_space(
    a: DMatrix<f64>,
    scale: Option<f64>,
    basis: SymmetryBasis,
    n: usize,
    k: usize,
    rows: usize,
) -> Result<(Symmetries, f64), SymmetryError> {
    let len = basis.len(n);
    let svd = a.svd(false, true);
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
    (a, middle.singular_values().max())
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

/// A readable name for the affine field `M q + w`.
pub fn describe(n: usize, m: &[f64], w: &[f64]) -> String {
    let norm = |x: &[f64]| x.iter().map(|a| a * a).sum::<f64>().sqrt();
    let total = (norm(m).powi(2) + norm(w).powi(2))
        .sqrt()
        .max(f64::MIN_POSITIVE);
    let fmt = |x: &[f64]| {
        x.iter()
            .map(|a| format!("{a:+.3}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if norm(m) < 0.05 * total {
        return format!(
            "translation along ({})",
            fmt(&w.iter().map(|a| a / norm(w)).collect::<Vec<_>>())
        );
    }
    let skew: Vec<f64> = (0..n * n)
        .map(|k| 0.5 * (m[k] - m[(k % n) * n + k / n]))
        .collect();
    let sym: Vec<f64> = (0..n * n)
        .map(|k| 0.5 * (m[k] + m[(k % n) * n + k / n]))
        .collect();
    let (ns, nk, nw) = (norm(&sym), norm(&skew), norm(w));
    if ns < 0.05 * total && nw < 0.05 * total {
        return if n == 2 {
            "rotation".into()
        } else {
            format!("rotation (skew M, |M| {nk:.3})")
        };
    }
    if nk < 0.05 * total && nw < 0.05 * total {
        let trace: f64 = (0..n).map(|i| m[i * n + i]).sum();
        if (ns - trace.abs() / (n as f64).sqrt()).abs() < 0.05 * total {
            return "scaling".into();
        }
        return "linear (symmetric M)".into();
    }
    format!("mixed (|sym M| {ns:.3}, |skew M| {nk:.3}, |w| {nw:.3})")
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn binomial(n: usize, k: usize) -> usize {
        (0..k).fold(1, |acc, i| acc * (n - i) / (i + 1))
    }

    #[test]
    fn polynomial_monomials_are_counted_and_ordered_as_documented() {
        for n in 1..=4 {
            for d in 2..=5u8 {
                let q: Vec<f64> = (0..n).map(|i| 1.0 + i as f64).collect();
                let mut mono = Vec::new();
                higher_monomials(&q, d, &mut mono);
                let expected = binomial(n + d as usize, d as usize) - 1 - n;
                assert_eq!(mono.len(), expected, "n {n} d {d}");
                assert_eq!(higher_count(n, d), expected, "n {n} d {d}");
            }
        }
        // n = 2, d = 3: q0², q0q1, q1², q0³, q0²q1, q0q1², q1³.
        let mut mono = Vec::new();
        higher_monomials(&[2.0, 3.0], 3, &mut mono);
        assert_eq!(mono, [4.0, 6.0, 9.0, 8.0, 12.0, 18.0, 27.0]);
        // The field of one coefficient: component 1, monomial q0·q1.
        let basis = SymmetryBasis::Polynomial(2);
        let mut c = vec![0.0; basis.len(2)];
        c[6 + 3 + 1] = 1.0;
        let mut xi = [0.0; 2];
        basis.field(2, &c, &[2.0, 3.0], &mut xi);
        assert_eq!(xi, [0.0, 6.0]);
    }

    /// Joint discovery over several `Ld`s: with one it is that `Ld`'s
    /// discovery; with several its generator minimises the stacked residual
    /// `Σ_i ‖Â_i c‖²` (each model's matrix scaled to unit norm) over unit
    /// `c`, so no model's own generator does better on the stack. Here the
    /// exact cart–pendulum and Kepler `Ld`s, which share no symmetry.
    #[test]
    fn joint_discovery_is_single_discovery_for_one_model_and_minimises_the_stack() {
        use crate::data::generate;
        use crate::mechanics::{Convergence, Midpoint, System};
        let (kepler, cart) = (
            System::from_name("kepler").unwrap(),
            System::from_name("cartpend").unwrap(),
        );
        let ics = vec![kepler.default_initial_condition()];
        let data = generate::dataset(&kepler, &ics, kepler.default_grid(), Convergence::default())
            .unwrap();
        let lds = [
            Midpoint::new(&kepler, data.dt),
            Midpoint::new(&cart, data.dt),
        ];
        let pairs = EvaluationPoints::parse("train+box:40")
            .unwrap()
            .pairs(&data, 0);
        let basis = SymmetryBasis::Affine;
        let close = |a: &Symmetries, b: &Symmetries| {
            let c = a.generators[0]
                .coefficients
                .iter()
                .zip(&b.generators[0].coefficients);
            let s = a.spectrum.iter().zip(&b.spectrum);
            c.chain(s).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
        };
        for ld in &lds {
            let one = discover(ld, basis, 1, &pairs).unwrap();
            let found =
                discover_jointly(&[ld], DiscoverySolver::Nullspace, basis, 1, &data, &pairs)
                    .unwrap();
            assert_eq!(found.alone, std::slice::from_ref(&one));
            let gap = close(&one, &found.joint);
            assert!(gap < 1e-12, "null space: {gap}");
            let one = discover_variational(ld, basis, 1, &data).unwrap();
            let found =
                discover_jointly(&[ld], DiscoverySolver::Variational, basis, 1, &data, &pairs)
                    .unwrap();
            assert_eq!(found.alone, std::slice::from_ref(&one));
            let gap = close(&one, &found.joint);
            assert!(gap < 1e-12, "variational: {gap}");
        }
        let both: Vec<&Midpoint<&System>> = lds.iter().collect();
        let found =
            discover_jointly(&both, DiscoverySolver::Nullspace, basis, 1, &data, &pairs).unwrap();
        let blocks: Vec<DMatrix<f64>> = lds
            .iter()
            .map(|ld| {
                let a = normalised_rows(ld, basis, &pairs);
                let f = a.norm();
                a / f
            })
            .collect();
        let stacked = |c: &[f64]| -> f64 {
            let c = nalgebra::DVector::from_column_slice(c);
            blocks.iter().map(|b| (b * &c).norm_squared()).sum()
        };
        let best = stacked(&found.joint.generators[0].coefficients);
        for (ld, alone) in lds.iter().zip(&found.alone) {
            let own = discover(ld, basis, 1, &pairs).unwrap();
            assert_eq!(*alone, own);
            let theirs = stacked(&own.generators[0].coefficients);
            assert!(best <= theirs * (1.0 + 1e-12), "{best} > {theirs}");
        }
        assert_eq!(
            discover_jointly(&both, DiscoverySolver::Paper, basis, 1, &data, &pairs),
            Err(SymmetryError::NoJointForm)
        );
    }

    /// `contract` is the adjoint of `field`: `Σ_a c_a (X_a(q)·p) = ξ_c(q)·p`,
    /// in every basis; the degree-1 polynomial basis is the affine one.
    #[test]
    fn contract_is_the_adjoint_of_field_in_every_basis() {
        let n = 3;
        let q = [0.7, -1.3, 0.4];
        let p = [1.1, 0.2, -0.9];
        for basis in [
            SymmetryBasis::Affine,
            SymmetryBasis::Translations,
            SymmetryBasis::Linear,
            SymmetryBasis::Rotations,
            SymmetryBasis::Polynomial(1),
            SymmetryBasis::Polynomial(2),
            SymmetryBasis::Polynomial(4),
        ] {
            let len = basis.len(n);
            let c: Vec<f64> = (0..len).map(|a| ((a * 7 + 3) as f64).sin()).collect();
            let mut row = vec![0.0; len];
            basis.contract(n, &q, &p, &mut row);
            let lhs: f64 = c.iter().zip(&row).map(|(a, b)| a * b).sum();
            let mut xi = vec![0.0; n];
            basis.field(n, &c, &q, &mut xi);
            let rhs: f64 = xi.iter().zip(&p).map(|(a, b)| a * b).sum();
            assert!(
                (lhs - rhs).abs() <= 64.0 * f64::EPSILON * (1.0 + rhs.abs()),
                "{basis}: {lhs} vs {rhs}"
            );
        }
        let (affine, linear1) = (SymmetryBasis::Affine, SymmetryBasis::Polynomial(1));
        assert_eq!(affine.len(n), linear1.len(n));
        let c: Vec<f64> = (0..affine.len(n)).map(|a| a as f64 - 4.0).collect();
        let (mut x, mut y) = (vec![0.0; n], vec![0.0; n]);
        affine.field(n, &c, &q, &mut x);
        linear1.field(n, &c, &q, &mut y);
        assert_eq!(x, y);
    }
}
