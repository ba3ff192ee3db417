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

mod basis;
mod compare;
mod generator;
mod nullspace;
mod points;
mod variational;

pub use basis::{SymmetryBasis, BASIS_FORMS};
pub use compare::{agreement, agreement_between, agreement_of, conserved_quantity};
pub use generator::{describe, Generator, Symmetries};
pub use nullspace::{discover, from_coefficients};
pub use points::{DiscoverySolver, EvaluationPoints};
pub use variational::{discover_jointly, discover_variational, JointSymmetries};

/// Why discovery failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SymmetryError {
    /// A basis or evaluation-point form that does not parse.
    #[error("{0}")]
    Parse(String),
    #[error("asked for {k} generators but the {basis} basis has {len} fields in dimension {n}")]
    /// More generators than basis fields.
    TooMany {
        /// Generators asked for.
        k: usize,
        /// Basis size.
        len: usize,
        /// The basis.
        basis: SymmetryBasis,
        /// The dimension.
        n: usize,
    },
    #[error("need at least as many evaluation pairs ({pairs}) as basis fields ({len})")]
    /// Fewer equations than basis fields.
    TooFewPairs {
        /// Evaluation pairs (or equations).
        pairs: usize,
        /// Basis size.
        len: usize,
    },
    #[error("the symmetry matrix holds NaN or ±inf (the model or the data hold non-finite or huge values)")]
    /// The symmetry matrix is not finite.
    NonFinite,
    #[error("the singular value decomposition failed")]
    /// The SVD did not converge (or met non-finite numbers).
    Svd,
    #[error("the paper's solver trains coefficients with one network: it has no joint form over several models")]
    /// The paper's solver asked for a joint discovery.
    NoJointForm,
    /// A stored generator whose sizes do not fit its basis and dimension.
    #[error("generator {generator} has {} coefficients, {} entries of M and {} of w; the {basis} basis in dimension {n} has {}, {}, {n}", sizes[0], sizes[1], sizes[2], basis.len(*n), n * n)]
    Stored {
        /// The generator's index.
        generator: usize,
        /// Its coefficients', `M`'s and `w`'s lengths.
        sizes: [usize; 3],
        /// Its basis.
        basis: SymmetryBasis,
        /// The model's dimension.
        n: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::basis::{higher_count, higher_monomials};
    use super::nullspace::normalised_rows;
    use super::*;
    use nalgebra::DMatrix;

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
            SymmetryBasis::Euclidean,
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
