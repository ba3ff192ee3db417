//! SymDLNN with the discovered symmetry built in: a DLNN is trained and its
//! generators discovered (stage 1); when the data identify them, an `Ld`
//! invariant under them by construction is trained (stage 2).
//!
//! **Identified** here means reproducible from the data: the generators
//! discovered on the first and on the second half of every trajectory agree
//! (every principal cosine between the two spans ≥ [`IDENTIFIED_COSINE`]).
//! A generator that one half of the data does not imply is an accident of
//! the network, not a symmetry the data show.

use super::config::{BuiltInConfig, ConfigError, Method, SymmetryConfig, TrainConfig};
use super::error::FitError;
use super::invariant::BuiltIn;
use super::symmetry::{agreement_between, DiscoverySolver, Symmetries, SymmetryError};
use crate::data::{Dataset, Trajectory};
use crate::mechanics::{AffineGenerator, GenericDiscreteLagrangian};

/// The least principal cosine between the two halves' generators for them
/// to count as identified.
pub const IDENTIFIED_COSINE: f64 = 0.99;

/// The configuration of stage 2: `config`'s DLNN settings with
/// `generators` built in (`source` says where they came from), trained as
/// a DLNN; its model is then recorded as `config`'s method.
pub fn stage_two(
    config: &TrainConfig,
    generators: &[AffineGenerator],
    source: String,
    n: usize,
) -> Result<TrainConfig, FitError> {
    let dlnn = config.dlnn().ok_or(ConfigError::SymmetryNeedsDlnn)?;
    let symmetry =
        BuiltIn::from_generators(n, generators).map_err(|e| FitError::BuiltIn(e.to_string()))?;
    let mut built = dlnn.clone();
    built.built_in = Some(BuiltInConfig { symmetry, source });
    Ok(TrainConfig {
        method: Method::Dlnn(built),
        ..config.clone()
    })
}

/// Stage 1 of `config`: the same SymDLNN without building in.
pub fn stage_one(config: &TrainConfig) -> TrainConfig {
    let mut c = config.clone();
    if let Method::SymDlnn { symmetry, .. } = &mut c.method {
        symmetry.build_in = false;
    }
    c
}

/// The generators of a learned `ld` by `sym`'s solver and search space, on
/// `data` (the variational solver's triples; the null space's evaluation
/// pairs, box pairs drawn from ChaCha8 `seed`). The paper's solver trained
/// its `coefficients` (`K × len`) with the network; they are reported here
/// against the evaluation pairs. (`symdlnn discover` reruns the first two
/// on saved models through [`super::symmetry::discover_jointly`].)
pub fn discover_with<G: GenericDiscreteLagrangian>(
    ld: &G,
    sym: &SymmetryConfig,
    data: &Dataset,
    seed: u64,
    coefficients: &[f64],
) -> Result<Symmetries, SymmetryError> {
    use super::symmetry::{discover, discover_variational, from_coefficients};
    match sym.solver {
        DiscoverySolver::Nullspace => {
            discover(ld, sym.basis, sym.generators, &sym.points.pairs(data, seed))
        }
        DiscoverySolver::Variational => discover_variational(ld, sym.basis, sym.generators, data),
        DiscoverySolver::Paper => {
            from_coefficients(ld, sym.basis, coefficients, &sym.points.pairs(data, seed))
        }
    }
}

/// The least principal cosine between the generators `sym`'s solver finds
/// on the first and on the second half of every trajectory of `data`.
pub fn identification<G: GenericDiscreteLagrangian>(
    ld: &G,
    sym: &SymmetryConfig,
    data: &Dataset,
    seed: u64,
) -> Result<f64, FitError> {
    let halves = halves(data);
    let found: Vec<Symmetries> = (halves.iter())
        .map(|h| discover_with(ld, sym, h, seed, &[]))
        .collect::<Result<_, _>>()?;
    let agreement = agreement_between(&found[0].generators, &found[1].generators);
    Ok(if sym.generators == 1 {
        agreement.first().copied().unwrap_or(f64::NAN)
    } else {
        // Principal angles (degrees, ascending): the largest decides.
        let worst = agreement.last().copied().unwrap_or(f64::NAN);
        worst.to_radians().cos()
    })
}

/// The first and second halves of every trajectory (sharing the middle point).
fn halves(data: &Dataset) -> [Dataset; 2] {
    let part = |first: bool| Dataset {
        n: data.n,
        dt: data.dt,
        trajectories: (data.trajectories.iter())
            .map(|t| {
                let mid = t.len() / 2;
                let (a, b) = if first { (0, mid + 1) } else { (mid, t.len()) };
                Trajectory::from_positions(
                    data.n,
                    t.t[a],
                    data.dt,
                    t.q[a * data.n..b * data.n].to_vec(),
                )
            })
            .collect(),
    };
    [part(true), part(false)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::generate;
    use crate::learn::symmetry::EvaluationPoints;
    use crate::learn::{LearnedLd, Parametrisation};
    use crate::mechanics::{Convergence, Midpoint, System};
    use crate::nn::{Activation, Mlp};

    #[test]
    fn an_exact_symmetry_is_identified_and_a_random_networks_is_not() {
        let kepler = System::from_name("kepler").unwrap();
        let (q0, v0) = kepler.default_initial_condition();
        let mut grid = kepler.default_grid();
        grid.steps = 50;
        let tr = generate::trajectory(&kepler, &q0, &v0, grid, Convergence::default()).unwrap();
        let data = Dataset {
            n: 2,
            dt: grid.dt,
            trajectories: vec![Trajectory::from_positions(2, 0.0, grid.dt, tr.q.clone())],
        };
        let sym = SymmetryConfig {
            generators: 1,
            basis: crate::learn::symmetry::SymmetryBasis::Affine,
            points: EvaluationPoints {
                train: true,
                boxed: 200,
            },
            shaping: None,
            solver: DiscoverySolver::Variational,
            coefficients: None,
            build_in: true,
        };
        let exact = Midpoint::new(&kepler, grid.dt);
        let cosine = identification(&exact, &sym, &data, 0).unwrap();
        // Measured 0.9999986 (one arc: the variational equations nearly admit
        // the curve's own Jacobi fields).
        assert!(cosine > 0.9999, "exact Kepler Ld: halves agree to {cosine}");
        // An untrained network has no symmetry: what each half finds differs.
        let q: Vec<f64> = tr.q.clone();
        let param = Parametrisation::midpoint_velocity(2, grid.dt, &q, &q, true, false);
        let mlp = Mlp::new(param.input_dim(), &[16, 16], Activation::Softplus, 1).unwrap();
        let random = LearnedLd::new(mlp, param);
        let cosine = identification(&random, &sym, &data, 0).unwrap();
        assert!(
            cosine < IDENTIFIED_COSINE,
            "random network: halves agree to {cosine}"
        );
    }
}
