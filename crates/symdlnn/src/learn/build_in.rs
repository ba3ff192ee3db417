//! SymDLNN with the discovered symmetry built in: a DLNN is trained and its
//! generators discovered (stage 1); when the data identify them, an `Ld`
//! invariant under them by construction is trained (stage 2).
//!
//! **Identified** here means reproducible from the data: the generators
//! discovered on the first and on the second half of every trajectory agree
//! (every principal cosine between the two spans ≥ [`IDENTIFIED_COSINE`]),
//! either as discovered or once each half's rotation centre is refitted to
//! that half's data ([`Identification`]). A generator that one half of the
//! data does not imply is an accident of the network, not a symmetry the
//! data show.
//!
//! A discovered rotation's centre is then refined from the data
//! ([`super::centre`]): the learned `Ld` places it by extrapolation, the
//! data's angular momentum by conservation. The second comparison of the
//! halves is that refinement applied to each half: when both halves'
//! generators are rotations whose momentum their data conserve, a centre
//! that the network placed differently on each (one arc hardly constrains
//! it) no longer counts against a plane they agree on.

use super::centre::{fit_centre, CentreFit};
use super::config::{BuiltInConfig, ConfigError, Method, SymmetryConfig, TrainConfig};
use super::error::FitError;
use super::invariant::BuiltIn;
use super::symmetry::{agreement, agreement_between, DiscoverySolver, Symmetries, SymmetryError};
use crate::data::{Dataset, Trajectory};
use crate::mechanics::{AffineGenerator, GenericDiscreteLagrangian};

/// The least principal cosine between the two halves' generators for them
/// to count as identified.
pub const IDENTIFIED_COSINE: f64 = 0.99;

/// What stage 2 builds in: the discovered `generators`, projected onto the
/// nearest supported symmetry, a rotation's centre refined from the
/// `data`'s angular momentum where it is conserved ([`super::centre`]);
/// and a sentence saying what the refinement did.
pub fn symmetry_of(
    generators: &[AffineGenerator],
    data: &Dataset,
) -> Result<(BuiltIn, String), FitError> {
    let mut built = BuiltIn::from_generators(data.n, generators)
        .map_err(|e| FitError::BuiltIn(e.to_string()))?;
    let note = match refit_centre(&mut built, data) {
        None => String::new(),
        Some(fit) if !fit.conserved() => {
            let r = fit.residual;
            format!("; the discovered centre kept (no centre conserves the data's angular momentum: relative residual {r:.2e})")
        }
        Some(fit) => {
            let (moved, r) = (fit.moved, fit.residual);
            format!("; its centre refined by the data's angular momentum (moved {moved:.2e}, conserved to {r:.2e} relative)")
        }
    };
    Ok((built, note))
}

/// Fit `built`'s rotation centre to `data` ([`fit_centre`]) and move it
/// there when the data conserve the momentum about it; `None` without a
/// rotation.
fn refit_centre(built: &mut BuiltIn, data: &Dataset) -> Option<CentreFit> {
    let fit = fit_centre(built, data)?;
    if fit.conserved() {
        if let Some(r) = &mut built.rotation {
            r.centre = fit.centre.clone();
        } else if let Some(s) = &mut built.so3 {
            s.centre = fit.centre.clone();
        }
    }
    Some(fit)
}

/// The configuration of stage 2: `config`'s DLNN settings with `symmetry`
/// built in (`source` says where it came from), trained as a DLNN; its
/// model is then recorded as `config`'s method.
pub fn stage_two(
    config: &TrainConfig,
    symmetry: BuiltIn,
    source: String,
) -> Result<TrainConfig, FitError> {
    let dlnn = config.dlnn().ok_or(ConfigError::SymmetryNeedsDlnn)?;
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

/// How well the two halves of the data agree on the generators discovered
/// on each: the least principal cosine between the two sets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Identification {
    /// As discovered.
    pub discovered: f64,
    /// Projected on built-in symmetries, each half's rotation centre refitted
    /// to that half's data ([`super::centre`]); `None` unless both halves'
    /// generators project on a rotation (or `so(3)`) whose momentum their
    /// data conserve and their linear parts `M` agree as discovered (to
    /// [`IDENTIFIED_COSINE`]). The data, not the network, then decide the
    /// centre, which one arc leaves to the network's extrapolation; the
    /// network must still decide the rest of the generator.
    pub refitted: Option<f64>,
}

impl Identification {
    /// The better of the two agreements (NaN when neither is a number).
    pub fn cosine(&self) -> f64 {
        self.refitted
            .map_or(self.discovered, |r| r.max(self.discovered))
    }

    /// Whether [`Identification::cosine`] reaches [`IDENTIFIED_COSINE`].
    pub fn identified(&self) -> bool {
        self.cosine() >= IDENTIFIED_COSINE
    }
}

impl std::fmt::Display for Identification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.4} as discovered", self.discovered)?;
        if let Some(r) = self.refitted {
            write!(f, ", {r:.4} with each half's centre refitted to its data")?;
        }
        Ok(())
    }
}

/// How the generators `sym`'s solver finds on the first and on the second
/// half of every trajectory of `data` agree ([`Identification`]).
pub fn identification<G: GenericDiscreteLagrangian>(
    ld: &G,
    sym: &SymmetryConfig,
    data: &Dataset,
    seed: u64,
) -> Result<Identification, FitError> {
    let halves = halves(data);
    let found: Vec<Symmetries> = (halves.iter())
        .map(|h| discover_with(ld, sym, h, seed, &[]))
        .collect::<Result<_, _>>()?;
    let least = |agreement: Vec<f64>| {
        if sym.generators == 1 {
            agreement.first().copied().unwrap_or(f64::NAN)
        } else {
            // Principal angles (degrees, ascending): the largest decides.
            let worst = agreement.last().copied().unwrap_or(f64::NAN);
            worst.to_radians().cos()
        }
    };
    let affine = |s: &Symmetries, linear: bool| -> Vec<AffineGenerator> {
        let mut a: Vec<_> = s.generators.iter().map(|g| g.affine()).collect();
        if linear {
            a.iter_mut().for_each(|g| g.w.fill(0.0));
        }
        a
    };
    let linear = least(agreement(
        &affine(&found[0], true),
        &affine(&found[1], true),
    ));
    let refit = |(half, s): (&Dataset, &Symmetries)| {
        let mut built = BuiltIn::from_generators(data.n, &affine(s, false)).ok()?;
        refit_centre(&mut built, half).filter(CentreFit::conserved)?;
        Some(built.generators())
    };
    let refitted: Option<Vec<Vec<AffineGenerator>>> = (linear >= IDENTIFIED_COSINE)
        .then(|| halves.iter().zip(&found).map(refit).collect())
        .flatten();
    Ok(Identification {
        discovered: least(agreement_between(
            &found[0].generators,
            &found[1].generators,
        )),
        refitted: refitted.map(|r| least(agreement(&r[0], &r[1]))),
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

    /// Positions of `system` from one initial condition over `steps` steps.
    fn arc(system: &str, q0: &[f64], v0: &[f64], steps: usize) -> Dataset {
        let s = System::from_name(system).unwrap();
        let mut grid = s.default_grid();
        grid.steps = steps;
        let tr = generate::trajectory(&s, q0, v0, grid, Convergence::default()).unwrap();
        Dataset {
            n: 2,
            dt: grid.dt,
            trajectories: vec![Trajectory::from_positions(2, 0.0, grid.dt, tr.q)],
        }
    }

    #[test]
    fn a_discovered_rotations_centre_comes_from_the_data_when_they_conserve_its_momentum() {
        // A rotation about (0.06, −0.05), as discovery placed it from one arc.
        let (c1, c2) = (0.06, -0.05);
        let off = AffineGenerator::new("rotation", vec![0.0, -1.0, 1.0, 0.0], vec![c2, -c1]);
        let kepler = arc("kepler", &[1.0, 0.0], &[0.0, 0.6], 50);
        let (built, note) = symmetry_of(std::slice::from_ref(&off), &kepler).unwrap();
        let centre = &built.rotation.as_ref().unwrap().centre;
        assert!(centre[0].hypot(centre[1]) < 1e-3, "centre {centre:?}");
        assert!(note.contains("centre refined"), "{note}");
        // The cart–pendulum conserves no angular momentum: the centre stays.
        let cart = arc("cartpend", &[0.1, 0.5], &[0.3, 0.0], 200);
        let (built, note) = symmetry_of(&[off], &cart).unwrap();
        let centre = &built.rotation.as_ref().unwrap().centre;
        assert!((centre[0] - c1).abs() < 1e-12 && (centre[1] - c2).abs() < 1e-12);
        assert!(note.contains("discovered centre kept"), "{note}");
    }

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
        let found = identification(&exact, &sym, &data, 0).unwrap();
        // Measured 0.9999986 (one arc: the variational equations nearly admit
        // the curve's own Jacobi fields).
        assert!(found.discovered > 0.9999, "exact Kepler Ld: halves {found}");
        assert!(found.refitted.is_some_and(|r| r > 0.9999), "{found}");
        // Untrained networks have no symmetry: what each half finds differs,
        // also once a rotation's centre is refitted to the data (which do
        // conserve the angular momentum): the linear parts must agree first.
        // Measured: as discovered 0.11–0.99 over these seeds; without that
        // condition seeds 3 and 11 agreed to 1.0000 refitted.
        let q: Vec<f64> = tr.q.clone();
        let param = Parametrisation::midpoint_velocity(2, grid.dt, &q, &q, true, false);
        for seed in 1..14 {
            let mlp = Mlp::new(param.input_dim(), &[16, 16], Activation::Softplus, seed).unwrap();
            let random = LearnedLd::new(mlp, param.clone());
            let found = identification(&random, &sym, &data, 0).unwrap();
            assert!(!found.identified(), "random network {seed}: halves {found}");
        }
    }
}
