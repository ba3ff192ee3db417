//! The zoo benchmark (`symdlnn benchmark`): every shipped system, on one
//! trajectory and on eight, with DLNN at its default settings, DLNN with
//! the settings the guide recommends for the system's coordinates, and the
//! LNN; each evaluated on the training initial condition (recreation over
//! `N`, prediction over `N_extra = N / 2`) and on the system's test
//! initial condition. An outside peer (PySINDy, `benches/peer/sindy.py`)
//! runs on the same files when it is installed.

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::experiment::{
    self, Experiment, ExperimentError, ExperimentRun, Kind, Progress, Settings,
};
use crate::learn::invariant::{BuiltIn, SpaceRotation, SymmetrySpec};
use crate::learn::{BuiltInConfig, LnnConfig, LnnData, Recipe, TrainConfig};
use crate::mechanics::{AffineGenerator, Lagrangian, System};

/// The benchmark's training settings: 2 × 64 softplus networks (the quick
/// profile's), on one trajectory the `train` default's
/// [`DEFAULT_STEPS`](crate::learn::DEFAULT_STEPS) full-batch epochs and
/// 600 on eight, seed 0 — chosen so that the whole zoo fits in about
/// 20 minutes on the 2-core machine.
pub fn settings() -> Settings {
    Settings {
        hidden: vec![64, 64],
        epochs_single: crate::learn::DEFAULT_STEPS,
        epochs_multi: 600,
        multi_trajectories: 8,
        recipes: vec![Recipe::Robust],
        seed: 0,
        multi_time_budget: None,
    }
}

/// The benchmark's experiments for the systems `names` (in that order):
/// per system one trajectory and `s.multi_trajectories`, from the
/// system's training initial condition (and its box), on its default
/// grid, `N_extra = N / 2`, tested from its test initial condition.
pub fn catalogue(
    s: &Settings,
    names: &[&str],
) -> Result<Vec<Experiment>, crate::mechanics::UnknownSystem> {
    let mut all = vec![];
    for name in names {
        let system = System::from_name(name)?;
        let grid = system.default_grid();
        for (kind, trajectories, epochs) in [
            (Kind::Single, 1, s.epochs_single),
            (Kind::Multi, s.multi_trajectories, s.epochs_multi),
        ] {
            all.push(Experiment {
                name: format!(
                    "{name}-{}",
                    if kind == Kind::Single {
                        "single"
                    } else {
                        "multi"
                    }
                ),
                system: name.to_string(),
                kind,
                train: system.default_initial_condition(),
                test: system.test_initial_condition(),
                grid,
                extra: grid.steps / 2,
                noise: None,
                trajectories,
                epochs,
                methods: Default::default(),
            });
        }
    }
    Ok(all)
}

/// What the guide recommends for a system's coordinates, as flags and as
/// a configuration change: `--time-reversible` when `L` is even in `q̇`,
/// `--angles` for its angle coordinates, and its known symmetries built in
/// (`--symmetry …`; the largest leading set of generators that can be
/// built in together).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The `train` flags, e.g. `--time-reversible --angles 1 --symmetry translation:1,0`.
    pub flags: String,
    /// `--time-reversible`.
    pub time_reversible: bool,
    /// `--angles`.
    pub angles: Vec<usize>,
    /// Labels of the generators built in.
    pub built_in: Vec<String>,
}

/// The recommendation for `system` and the built-in symmetry it names.
pub fn recommendation(system: &System) -> (Recommendation, Option<BuiltIn>) {
    let n = system.dim();
    let angles = system.recommended_angles();
    let generators = system.symmetries();
    let mut built = None;
    for k in (1..=generators.len()).rev() {
        if let Ok(b) = BuiltIn::from_generators(n, &generators[..k]) {
            if b.check_angles(&angles).is_ok() {
                built = Some((k, b));
                break;
            }
        }
    }
    let time_reversible = system.time_reversible();
    let mut flags = vec![];
    if time_reversible {
        flags.push("--time-reversible".to_string());
    }
    if !angles.is_empty() {
        let a: Vec<String> = angles.iter().map(|i| i.to_string()).collect();
        flags.push(format!("--angles {}", a.join(",")));
    }
    let mut labels = vec![];
    if let Some((k, b)) = &built {
        for g in &generators[..*k] {
            labels.push(g.label.clone());
            // so(3)'s three rotations are one flag.
            if b.so3.is_none() || g.m.iter().all(|m| *m == 0.0) {
                flags.push(symmetry_flag(g));
            }
        }
        if let Some(s) = &b.so3 {
            flags.push(so3_flag(s, &generators[..*k]));
        }
    }
    (
        Recommendation {
            flags: flags.join(" "),
            time_reversible,
            angles,
            built_in: labels,
        },
        built.map(|(_, b)| b),
    )
}

/// `v` rounded to 6 decimals, for readable flags.
fn rounded(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| (x * 1e6).round() / 1e6).collect()
}

/// The `--symmetry` flag of a generator: `rotation` or `translation:w`.
fn symmetry_flag(g: &AffineGenerator) -> String {
    let spec = if g.m.iter().all(|m| *m == 0.0) {
        SymmetrySpec::Translation(rounded(&g.w))
    } else {
        SymmetrySpec::Rotation { centre: [0.0; 2] }
    };
    format!("--symmetry {spec}")
}

/// The `--symmetry` flag of `so(3)`: `so3` or `so3:cx,cy,cz` when it
/// rotates coordinates 0, 1, 2, otherwise `affine:M;w` for each rotation
/// among `generators`.
fn so3_flag(s: &SpaceRotation, generators: &[AffineGenerator]) -> String {
    let first_three = s
        .frame
        .iter()
        .all(|e| e[3..].iter().all(|x| x.abs() < 1e-12));
    if first_three && s.centre[3..].iter().all(|x| x.abs() < 1e-12) {
        let c = rounded(&s.centre[..3]);
        let spec = SymmetrySpec::So3 {
            centre: [c[0], c[1], c[2]],
        };
        return format!("--symmetry {spec}");
    }
    let affine: Vec<String> = generators
        .iter()
        .filter(|g| g.m.iter().any(|m| *m != 0.0))
        .map(|g| {
            let spec = SymmetrySpec::Affine {
                m: rounded(&g.m),
                w: rounded(&g.w),
            };
            format!("--symmetry '{spec}'")
        })
        .collect();
    affine.join(" ")
}

/// The benchmark's trainings for `exp`: DLNN with default settings, DLNN
/// with the [`recommendation`], and the LNN (positions, standardised,
/// kinetic prior) — all with `s.hidden`, `exp.epochs` and `s.seed`.
pub fn train_configs(
    exp: &Experiment,
    s: &Settings,
    system: &System,
    threads: usize,
) -> Vec<(&'static str, String, TrainConfig)> {
    let base = TrainConfig {
        hidden: s.hidden.clone(),
        seed: s.seed,
        threads,
        ..TrainConfig::new(Recipe::Robust, exp.epochs)
    };
    let (rec, built) = recommendation(system);
    let mut recommended = base.clone();
    if let Some(d) = recommended.dlnn_mut() {
        d.time_reversible = rec.time_reversible;
        d.angles = rec.angles.clone();
        d.built_in = built.map(|symmetry| BuiltInConfig {
            symmetry,
            source: "declared (the system's known symmetry)".into(),
        });
    }
    let lnn = TrainConfig {
        hidden: s.hidden.clone(),
        seed: s.seed,
        threads,
        ..TrainConfig::lnn(
            LnnConfig {
                data: LnnData::Positions,
                system: None,
                standardise: true,
                kinetic_prior: true,
            },
            exp.epochs,
        )
    };
    vec![
        ("dlnn", "default".into(), base),
        ("dlnn-recommended", "recommended".into(), recommended),
        ("lnn", "positions".into(), lnn),
    ]
}

/// Generate, train and evaluate one of the benchmark's experiments into
/// `out` (as [`experiment::run`] does for the paper's).
pub fn run(
    exp: &Experiment,
    s: &Settings,
    threads: usize,
    out: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<ExperimentRun, ExperimentError> {
    let start = Instant::now();
    let system = System::from_name(&exp.system).map_err(|source| ExperimentError::System {
        experiment: exp.name.clone(),
        source,
    })?;
    progress(Progress::Stage {
        experiment: &exp.name,
        stage: "generating data".into(),
    });
    let configs = train_configs(exp, s, &system, threads);
    experiment::run_configs(exp, s, &system, &configs, out, progress, start)
}

/// The outside peer's numbers on one experiment (what
/// `benches/peer/sindy.py` writes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerResult {
    /// The peer, e.g. `PySINDy 2.1.0`.
    pub method: String,
    /// Recreation rel. RMSE on the training initial condition (points `2..=N`).
    pub recreation: Option<f64>,
    /// Prediction rel. RMSE (points after `N`).
    pub prediction: Option<f64>,
    /// Rollout rel. RMSE from the test initial condition over points `2..=N`.
    pub test: Option<f64>,
    /// The model found (library, threshold, number of terms).
    #[serde(default)]
    pub model: String,
    /// Why a number is missing (the integration blew up, …).
    #[serde(default)]
    pub failure: Option<String>,
    /// Fit time in seconds.
    #[serde(default)]
    pub seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kepler3d_is_recommended_with_so3_built_in() {
        let (rec, built) = recommendation(&System::from_name("kepler3d").unwrap());
        assert_eq!(rec.flags, "--time-reversible --symmetry so3");
        assert_eq!(rec.built_in.len(), 3);
        let b = built.unwrap();
        assert!(b.so3.is_some() && b.rotation.is_none());
        // kepler keeps its single rotation.
        let (rec, _) = recommendation(&System::from_name("kepler").unwrap());
        assert_eq!(rec.flags, "--time-reversible --symmetry rotation");
    }
}
