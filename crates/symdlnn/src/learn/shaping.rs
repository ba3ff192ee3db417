//! The symmetry-shaping term of SymDLNN: while the network learns, push the
//! learned `Ld` towards having `K` generators in a basis of vector fields.
//!
//! For a fixed `Ld` the symmetry residual of a field `ξ = Σ_a c_a X_a` at a
//! pair is linear in `c`: `s = A c` with rows
//! `A_pa = X_a(q0_p)·D1 Ld_p + X_a(q1_p)·D2 Ld_p`. With the singular values
//! `σ_1 ≤ … ≤ σ_B` of `A` (over training and box pairs) the term is
//!
//! `λ · R`, `R = Σ_{j≤K} σ_j² / ‖A‖_F²` ∈ `[0, K/B]`,
//!
//! invariant under `Ld → c·Ld` and bounded (it cannot reward an exact but
//! wrong symmetry without limit, unlike `log σ²`). Its gradient with respect
//! to `A` is `2 A (V_K V_Kᵀ − R I) / ‖A‖_F²` (`V_K` the right singular
//! vectors of the `K` smallest), which the engine turns into parameter
//! gradients through the adjoints `D̄1_p = Σ_a Ā_pa X_a(q0_p)`,
//! `D̄2_p = Σ_a Ā_pa X_a(q1_p)` — the same route as the DEL residual's.
//!
//! **The paper's solver** ([`CoefficientConfig`]) instead trains the
//! coefficients `c_j` with the network:
//!
//! `T = Σ_j [ mean_p s_jp² / N_j + α (|c_j|² − 1)² ] + β Σ_{j<k} ⟨c_j, c_k⟩²`,
//! `s_j = A c_j`.
//!
//! With the paper's recipe `N_j = 1` (its raw form). With the robust recipe
//! `N_j = h² G² Ξ_j`, `G = exp(mean_p log|det J_p| / n)` (the barrier's
//! geometric mean, which scales like `Ld/h` and is blind to gauge terms
//! `Φ(q1) − Φ(q0)`) and `Ξ_j = c_jᵀ Q c_j`, `Q` the mean Gram matrix of the
//! basis fields at the evaluation points (`mean |ξ_j(q)|²`): the term is
//! unchanged by `Ld → c·Ld` and cannot be lowered by inflating the gradient
//! with a gauge term. The orthogonality term is squared: the
//! paper's unsquared `⟨c_j, c_k⟩` is minimised by antiparallel generators.

use nalgebra::{DMatrix, SymmetricEigen};

use super::config::{CoefficientConfig, ShapingConfig, SymmetryConfig};
use super::pairs::PairBatch;
use super::parametrisation::Parametrisation;
use super::symmetry::{DiscoverySolver, SymmetryBasis};
use crate::nn::Mlp;

/// Which symmetry term shapes the network.
enum Term {
    /// The null-space solver's `R = Σ_{j≤K} σ_j² / ‖A‖_F²`.
    Spectral,
    /// The paper's: trainable coefficients `c` (`K × len`).
    Coefficients {
        config: CoefficientConfig,
        c: Vec<f64>,
        /// `Q` of the evaluation points, computed at the first normalised
        /// evaluation (the points do not change during training).
        gram: Option<Vec<f64>>,
    },
}

/// The shaping term's value and its derivative with respect to the log
/// scale `mean log|det J|` it was normalised by (robust recipe).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShapingValue {
    /// The term `R` (before `λ`).
    pub value: f64,
    /// `∂R/∂(mean log|det J|)`.
    pub d_log_scale: f64,
}

/// Where [`Shaping::evaluate`] adds its (already `λ`-weighted) adjoints:
/// `D1`, `D2` of the training pairs, the network's gradient (box pairs), and
/// the coefficients' gradient (paper's solver).
pub struct ShapingAdjoints<'a> {
    /// Adjoint of `D1 Ld` at the training pairs.
    pub d1bar: &'a mut [f64],
    /// Adjoint of `D2 Ld` at the training pairs.
    pub d2bar: &'a mut [f64],
    /// The network parameters' gradient.
    pub network: &'a mut [f64],
    /// The coefficients' gradient (paper's solver).
    pub own: &'a mut [f64],
}

/// Rows of `A` and the shaping term's value and adjoints.
pub struct Shaping {
    basis: SymmetryBasis,
    k: usize,
    config: ShapingConfig,
    term: Term,
    n: usize,
    h: f64,
    /// Extra (box) pairs, evaluated by their own batch (no Jacobian).
    boxed: Option<PairBatch>,
    /// `(q0, q1)` of the box pairs, `2n` each.
    box_pairs: Vec<f64>,
    /// Adjoints for the box pairs.
    d1bar: Vec<f64>,
    d2bar: Vec<f64>,
}

/// `R = Σ_{j≤k} σ_j² / ‖A‖_F²` of the `rows × len` row-major `A` and, when
/// asked, `dR/dA` (same layout). `None` when `A` is zero or not finite.
pub fn shaping_ratio(a: &[f64], len: usize, k: usize, grad: bool) -> Option<(f64, Vec<f64>)> {
    let rows = a.len() / len;
    let m = DMatrix::from_row_slice(rows, len, a);
    let f: f64 = a.iter().map(|x| x * x).sum();
    if !(f.is_finite() && f > 0.0) {
        return None;
    }
    let ata = m.transpose() * &m;
    let eig = SymmetricEigen::new(ata);
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|&i, &j| eig.eigenvalues[i].total_cmp(&eig.eigenvalues[j]));
    let smallest = &order[..k.min(len)];
    let s: f64 = smallest.iter().map(|&i| eig.eigenvalues[i].max(0.0)).sum();
    let r = s / f;
    if !grad {
        return Some((r, vec![]));
    }
    // P = V_K V_Kᵀ − R I; dR/dA = 2 A P / F.
    let mut p = DMatrix::<f64>::identity(len, len) * (-r);
    for &i in smallest {
        let v = eig.eigenvectors.column(i);
        p += v * v.transpose();
    }
    let g = (&m * p) * (2.0 / f);
    let mut out = vec![0.0; rows * len];
    for i in 0..rows {
        for j in 0..len {
            out[i * len + j] = g[(i, j)];
        }
    }
    Some((r, out))
}

impl Shaping {
    /// The term of `sym` (its `K` generators in its basis) with weight and
    /// warm-up `config`, on the training pairs (their derivatives come from
    /// the DLNN batch) plus `box_pairs` (`2n` each): the paper's trainable
    /// term when `sym` uses the paper's solver (from `sym.coefficients`,
    /// which must then hold `K × len` values), otherwise the spectral one.
    pub fn new(
        mlp: &Mlp,
        param: &Parametrisation,
        sym: &SymmetryConfig,
        config: ShapingConfig,
        box_pairs: Vec<f64>,
        threads: usize,
    ) -> Self {
        let (basis, k) = (sym.basis, sym.generators);
        let coefficients = match sym.solver {
            DiscoverySolver::Paper => sym.coefficients.clone(),
            _ => None,
        };
        let n = param.n;
        let count = box_pairs.len() / (2 * n);
        let boxed = (count > 0).then(|| {
            let mut b = PairBatch::new(mlp, param.clone(), count, threads, None);
            for (p, row) in box_pairs.chunks_exact(2 * n).enumerate() {
                let delta: Vec<f64> = (0..n).map(|i| row[n + i] - row[i]).collect();
                b.set_pair(p, &row[..n], &delta);
            }
            b
        });
        let term = match coefficients {
            None => Term::Spectral,
            Some(config) => Term::Coefficients {
                c: config.init.clone(),
                config,
                gram: None,
            },
        };
        Self {
            basis,
            k,
            config,
            term,
            n,
            h: param.h,
            boxed,
            box_pairs,
            d1bar: vec![0.0; count * n],
            d2bar: vec![0.0; count * n],
        }
    }

    /// Whether the term trains at `epoch`.
    pub fn active(&self, epoch: usize) -> bool {
        epoch >= self.config.warmup
    }

    /// The weight `λ`.
    pub fn weight(&self) -> f64 {
        self.config.weight
    }

    /// The trained coefficients (`K × len`) of the paper's solver; empty for
    /// the spectral term.
    pub fn coefficients(&self) -> &[f64] {
        match &self.term {
            Term::Spectral => &[],
            Term::Coefficients { c, .. } => c,
        }
    }

    /// Mutable [`Shaping::coefficients`].
    pub fn coefficients_mut(&mut self) -> &mut [f64] {
        match &mut self.term {
            Term::Spectral => &mut [],
            Term::Coefficients { c, .. } => c,
        }
    }

    /// The term over the training pairs (`train_pairs` as `(q0, δ)` rows of
    /// `2n`, with their `D1`, `D2`) and the box pairs (evaluated here).
    /// `log_scale` is `mean log|det J|` over the training pairs when the term
    /// is to be normalised by it (the paper's solver with the robust recipe).
    /// With `adjoints`, add `λ ×` the derivatives with respect to the training
    /// pairs' `D1`, `D2` and the coefficients into them, and back-propagate
    /// the box pairs' part into the network's gradient.
    pub fn evaluate(
        &mut self,
        mlp: &Mlp,
        train_pairs: &[f64],
        d1: &[f64],
        d2: &[f64],
        log_scale: Option<f64>,
        adjoints: Option<ShapingAdjoints>,
    ) -> ShapingValue {
        let n = self.n;
        let len = self.basis.len(n);
        let train = train_pairs.len() / (2 * n);
        if let Some(b) = self.boxed.as_mut() {
            b.evaluate(mlp);
        }
        let boxed = self.box_pairs.len() / (2 * n);
        // Every evaluation pair as (q0, q1), and the rows of A.
        let mut points = Vec::with_capacity((train + boxed) * 2 * n);
        for row in train_pairs.chunks_exact(2 * n) {
            points.extend_from_slice(&row[..n]);
            points.extend((0..n).map(|i| row[i] + row[n + i]));
        }
        points.extend_from_slice(&self.box_pairs);
        let mut a = vec![0.0; (train + boxed) * len];
        for (p, pair) in points.chunks_exact(2 * n).enumerate() {
            let (d1p, d2p) = if p < train {
                (&d1[p * n..(p + 1) * n], &d2[p * n..(p + 1) * n])
            } else {
                let b = self.boxed.as_ref().expect("box pairs have a batch");
                let q = p - train;
                (&b.d1[q * n..(q + 1) * n], &b.d2[q * n..(q + 1) * n])
            };
            let out = &mut a[p * len..(p + 1) * len];
            self.basis.contract(n, &pair[..n], d1p, out);
            self.basis.contract(n, &pair[n..], d2p, out);
        }
        let want_grad = adjoints.is_some();
        let (value, mut da, dc, d_log_scale) = match &mut self.term {
            Term::Spectral => match shaping_ratio(&a, len, self.k, want_grad) {
                Some((r, da)) => (r, da, vec![], 0.0),
                None => (f64::NAN, vec![0.0; a.len()], vec![], 0.0),
            },
            Term::Coefficients { config, c, gram } => {
                let scale = log_scale.map(|l| self.h * self.h * (2.0 * l / n as f64).exp());
                if scale.is_some() && gram.is_none() {
                    *gram = Some(self.basis.gram(n, &points));
                }
                let gram = scale.and(gram.as_deref());
                let t = coefficient_term(&a, len, c, config, scale, gram);
                // d/d(log N_j) = −ℓ_j and log N_j = (2/n)·log_scale + const.
                let d_log = 2.0 / n as f64 * t.d_log_norm;
                (t.value, t.da, t.dc, d_log)
            }
        };
        if let Some(adj) = adjoints {
            let w = self.config.weight;
            for (o, g) in adj.own.iter_mut().zip(&dc) {
                *o += w * g;
            }
            self.d1bar.fill(0.0);
            self.d2bar.fill(0.0);
            da.iter_mut().for_each(|x| *x *= w);
            for (p, (pair, cp)) in points
                .chunks_exact(2 * n)
                .zip(da.chunks_exact(len))
                .enumerate()
            {
                let (b1, b2) = if p < train {
                    (
                        &mut adj.d1bar[p * n..(p + 1) * n],
                        &mut adj.d2bar[p * n..(p + 1) * n],
                    )
                } else {
                    let q = p - train;
                    (
                        &mut self.d1bar[q * n..(q + 1) * n],
                        &mut self.d2bar[q * n..(q + 1) * n],
                    )
                };
                self.basis.field(n, cp, &pair[..n], b1);
                self.basis.field(n, cp, &pair[n..], b2);
            }
            if let Some(b) = self.boxed.as_mut() {
                b.backprop(mlp, &self.d1bar, &self.d2bar, &[], adj.network);
            }
        }
        ShapingValue { value, d_log_scale }
    }
}

/// The paper's term `T` and its derivatives with respect to `A`
/// (`rows × len`), the coefficients and the normalisation.
struct CoefficientValue {
    value: f64,
    da: Vec<f64>,
    dc: Vec<f64>,
    /// `dT/d log N` for a common factor of every `N_j`.
    d_log_norm: f64,
}

/// `T` of the module header for coefficients `c` (`K × len`); `scale` is
/// `h² G²` and `gram` is `Q` (`len × len`) for the normalised form, both
/// `None` for the raw one.
fn coefficient_term(
    a: &[f64],
    len: usize,
    c: &[f64],
    config: &CoefficientConfig,
    scale: Option<f64>,
    gram: Option<&[f64]>,
) -> CoefficientValue {
    let rows = (a.len() / len).max(1);
    let k = c.len() / len;
    let mut out = CoefficientValue {
        value: 0.0,
        da: vec![0.0; a.len()],
        dc: vec![0.0; c.len()],
        d_log_norm: 0.0,
    };
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>();
    for j in 0..k {
        let cj = &c[j * len..(j + 1) * len];
        let s: Vec<f64> = a.chunks_exact(len).map(|row| dot(row, cj)).collect();
        let mean_s2 = dot(&s, &s) / rows as f64;
        // ℓ_j = mean s² / N_j, N_j = scale · cᵀQc (or 1).
        let (norm, qc) = match (scale, gram) {
            (Some(g), Some(q)) => {
                let qc: Vec<f64> = q.chunks_exact(len).map(|row| dot(row, cj)).collect();
                (g * dot(cj, &qc), qc)
            }
            _ => (1.0, vec![]),
        };
        let l = mean_s2 / norm;
        out.value += l;
        // dℓ/dA = 2 s c_jᵀ / (P N_j); dℓ/dc_j = 2 Aᵀs / (P N_j) − 2 ℓ Q c_j / cᵀQc.
        let f = 2.0 / (rows as f64 * norm);
        for (p, row) in a.chunks_exact(len).enumerate() {
            for b in 0..len {
                out.da[p * len + b] += f * s[p] * cj[b];
                out.dc[j * len + b] += f * s[p] * row[b];
            }
        }
        let dcj = &mut out.dc[j * len..(j + 1) * len];
        if let Some(g) = scale {
            let cqc = norm / g;
            for (o, x) in dcj.iter_mut().zip(&qc) {
                *o -= 2.0 * l * x / cqc;
            }
            out.d_log_norm -= l;
        }
        let nrm = dot(cj, cj) - 1.0;
        out.value += config.alpha * nrm * nrm;
        for (o, x) in dcj.iter_mut().zip(cj) {
            *o += 4.0 * config.alpha * nrm * x;
        }
        for i in j + 1..k {
            let ci = &c[i * len..(i + 1) * len];
            let d = dot(cj, ci);
            out.value += config.beta * d * d;
            for b in 0..len {
                out.dc[j * len + b] += 2.0 * config.beta * d * ci[b];
                out.dc[i * len + b] += 2.0 * config.beta * d * cj[b];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_and_its_gradient_agree_with_finite_differences() {
        let (rows, len) = (9, 4);
        let a: Vec<f64> = (0..rows * len)
            .map(|k| ((k * 7 + 3) as f64 * 0.37).sin() + 0.1 * (k % 3) as f64)
            .collect();
        for k in [1, 2] {
            let (r, g) = shaping_ratio(&a, len, k, true).unwrap();
            assert!(r > 0.0 && r <= k as f64 / len as f64 + 1e-15);
            for idx in [0, 5, 17, 35] {
                let e = 1e-6;
                let (mut p, mut m) = (a.clone(), a.clone());
                p[idx] += e;
                m[idx] -= e;
                let fd = (shaping_ratio(&p, len, k, false).unwrap().0
                    - shaping_ratio(&m, len, k, false).unwrap().0)
                    / (2.0 * e);
                assert!(
                    (g[idx] - fd).abs() < 1e-7 * (1.0 + fd.abs()),
                    "k {k} idx {idx}: {} vs {fd}",
                    g[idx]
                );
            }
        }
        // Invariant under scaling A (Ld → c·Ld).
        let scaled: Vec<f64> = a.iter().map(|x| -3.5 * x).collect();
        let (r1, r2) = (
            shaping_ratio(&a, len, 1, false).unwrap().0,
            shaping_ratio(&scaled, len, 1, false).unwrap().0,
        );
        assert!((r1 - r2).abs() < 1e-12 * r1, "{r1} vs {r2}");
        assert_eq!(shaping_ratio(&[0.0; 8], 4, 1, false), None);
    }

    /// On the exact midpoint `Ld` of Kepler, Adam on the coefficients alone
    /// (the network frozen) drives the paper's term, raw and normalised, to
    /// the true rotation from a random start: its minimiser is the symmetry.
    #[test]
    fn the_coefficient_term_is_minimised_by_the_true_symmetry() {
        use crate::data::generate;
        use crate::learn::symmetry::{agreement, EvaluationPoints};
        use crate::mechanics::{
            AffineGenerator, Convergence, DiscreteLagrangian, Midpoint, PairDerivatives, System,
        };
        let s = System::from_name("kepler").unwrap();
        let ics = vec![s.default_initial_condition()];
        let d = generate::dataset(&s, &ics, s.default_grid(), Convergence::default()).unwrap();
        let ld = Midpoint::new(&s, d.dt);
        let (n, basis) = (2, SymmetryBasis::Affine);
        let len = basis.len(n);
        let points = EvaluationPoints::parse("train+box:50")
            .unwrap()
            .pairs(&d, 0);
        let mut a = vec![0.0; points.len() / (2 * n) * len];
        let mut der = PairDerivatives::zeros(n);
        let mut log_det = 0.0;
        for (p, pair) in points.chunks_exact(2 * n).enumerate() {
            ld.derivatives(&pair[..n], &pair[n..], &mut der);
            log_det += crate::learn::det::det_cofactor(n, &der.jac, &mut [0.0; 4])
                .abs()
                .ln();
            let row = &mut a[p * len..(p + 1) * len];
            basis.contract(n, &pair[..n], &der.d1, row);
            basis.contract(n, &pair[n..], &der.d2, row);
        }
        let config = CoefficientConfig {
            alpha: 1.0,
            beta: 1.0,
            init: CoefficientConfig::random(1, len, 7),
            init_name: "random".into(),
        };
        let gram = basis.gram(n, &points);
        // h² G² with G the geometric mean of |det J|^{1/n}, as in training.
        let rows = (points.len() / (2 * n)) as f64;
        let scale = d.dt * d.dt * (2.0 * log_det / (n as f64 * rows)).exp();
        // The raw form scaled so that its residual and norm terms are comparable.
        let f: f64 = a.iter().map(|x| x * x).sum::<f64>() / (a.len() / len) as f64;
        let raw: Vec<f64> = a.iter().map(|x| x / f.sqrt()).collect();
        for (what, a, scale, gram) in [
            ("raw", &raw, None, None),
            ("normalised", &a, Some(scale), Some(&gram[..])),
        ] {
            let mut c = config.init.clone();
            let start = coefficient_term(a, len, &c, &config, scale, gram).value;
            let mut adam = crate::nn::Adam::new(len);
            for _ in 0..3000 {
                let t = coefficient_term(a, len, &c, &config, scale, gram);
                adam.step(&mut c, &t.dc, 1e-2);
            }
            let end = coefficient_term(a, len, &c, &config, scale, gram).value;
            let (m, w) = basis.to_affine(n, &c);
            let found = AffineGenerator::new("found", m, w);
            let agree = agreement(&[found], &s.symmetries())[0];
            assert!(end < 1e-3 * start, "{what}: term {start:e} → {end:e}");
            assert!(agree > 0.9999, "{what}: agreement {agree}");
            let norm = c.iter().map(|x| x * x).sum::<f64>().sqrt();
            assert!((norm - 1.0).abs() < 1e-3, "{what}: |c| = {norm}");
        }
    }
}
