//! Search spaces: bases of vector fields on `R^n` in which generators are sought.

use serde::{Deserialize, Serialize};

use super::SymmetryError;

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
    /// `ξ(q) = M q + w` with `M` skew: rotations about any centre and
    /// translations (the Euclidean group's algebra; the rotations'
    /// coefficients first, then `w`).
    Euclidean,
    /// Every component a polynomial of degree ≤ `d` in `q`: the affine
    /// coefficients first (as [`SymmetryBasis::Affine`]), then for each
    /// degree `k = 2 … d` and each component `i` the monomials
    /// `q_{j1}⋯q_{jk}`, `j1 ≤ … ≤ jk` in lexicographic order.
    Polynomial(u8),
}

/// How [`SymmetryBasis::from_name`]'s forms read, for messages.
pub const BASIS_FORMS: &str =
    "affine, translations, linear, rotations, euclidean or polynomial:D (D = 1…6)";

/// The monomials of degrees `2 ..= d` of `q` (in [`SymmetryBasis::Polynomial`]'s
/// order) into `out`.
pub(super) fn higher_monomials(q: &[f64], d: u8, out: &mut Vec<f64>) {
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
pub(super) fn higher_count(n: usize, d: u8) -> usize {
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
    pub const NAMES: [&'static str; 5] =
        ["affine", "translations", "linear", "rotations", "euclidean"];

    /// Parse a basis name: one of [`SymmetryBasis::NAMES`] or `polynomial:D`,
    /// `1 ≤ D ≤ 6`.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "affine" => Some(Self::Affine),
            "translations" => Some(Self::Translations),
            "linear" => Some(Self::Linear),
            "rotations" => Some(Self::Rotations),
            "euclidean" => Some(Self::Euclidean),
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
            Self::Euclidean => n * n.saturating_sub(1) / 2 + n,
            Self::Polynomial(d) => n * n + n + n * higher_count(n, d),
        }
    }

    /// The coefficients of the degree ≥ 2 part (empty unless polynomial).
    pub(super) fn higher(self, n: usize, c: &[f64]) -> &[f64] {
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
            Self::Rotations | Self::Euclidean => {
                let mut a = 0;
                for i in 0..n {
                    for j in i + 1..n {
                        m[i * n + j] += c[a] / std::f64::consts::SQRT_2;
                        m[j * n + i] -= c[a] / std::f64::consts::SQRT_2;
                        a += 1;
                    }
                }
                if self == Self::Euclidean {
                    w.copy_from_slice(&c[a..a + n]);
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
            Self::Rotations | Self::Euclidean => {
                let mut a = 0;
                for i in 0..n {
                    for j in i + 1..n {
                        out[a] += (p[i] * q[j] - p[j] * q[i]) / std::f64::consts::SQRT_2;
                        a += 1;
                    }
                }
                if self == Self::Euclidean {
                    (0..n).for_each(|i| out[a + i] += p[i]);
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
            Self::Euclidean => write!(f, "euclidean"),
            Self::Polynomial(d) => write!(f, "polynomial:{d}"),
        }
    }
}

impl std::str::FromStr for SymmetryBasis {
    type Err = SymmetryError;
    /// [`SymmetryBasis::from_name`], with a message naming the forms.
    fn from_str(s: &str) -> Result<Self, SymmetryError> {
        Self::from_name(s)
            .ok_or_else(|| SymmetryError::Parse(format!("unknown basis '{s}' ({BASIS_FORMS})")))
    }
}
