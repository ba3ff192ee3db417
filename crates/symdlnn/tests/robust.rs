//! Hostile numbers and interrupted writes at the library level (issue 16):
//! Newton, the trainer's loss check and the symmetry solver fed NaN and ±inf
//! fail loudly; an interrupted model save leaves the old model or the new
//! one, never a mixture; figures are complete or absent.

use std::path::Path;

use symdlnn::data::{generate, Dataset};
use symdlnn::learn::model_dir::{self, SaveStage};
use symdlnn::learn::symmetry::{discover, SymmetryBasis};
use symdlnn::learn::{fit, trainer, FitOptions, LearnedLd, Parametrisation, Recipe, TrainConfig};
use symdlnn::mechanics::{
    Convergence, LagrangianDerivatives, SolverError, System, TimeGrid, VariationalIntegrator,
};
use symdlnn::nn::{Activation, Mlp};
use symdlnn::report::{Figure, Panel, Series};

const BAD: [f64; 3] = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY];

fn oscillator(steps: usize) -> Dataset {
    let system = System::from_name("oscillator").unwrap();
    let grid = TimeGrid {
        dt: 0.1,
        steps,
        fine: 1,
    };
    let ic = system.default_initial_condition();
    generate::dataset(&system, &[ic], grid, Convergence::default()).unwrap()
}

/// A learned `Ld` on raw inputs whose first weight is `w`.
fn ld_with_weight(w: f64) -> LearnedLd {
    let mlp = Mlp::new(2, &[4], Activation::Softplus, 0).unwrap();
    let mut params = mlp.params().to_vec();
    params[0] = w;
    let mlp = Mlp::from_params(2, &[4], Activation::Softplus, params).unwrap();
    LearnedLd::new(mlp, Parametrisation::raw(1, 0.1))
}

#[test]
fn newton_fails_on_nan_and_inf_never_converges_on_them() {
    for bad in BAD {
        // A network that evaluates to NaN/inf.
        let ld = ld_with_weight(bad);
        let mut it = VariationalIntegrator::new(&ld, Convergence::default());
        let r = it.rollout_positions(&[0.5], &[0.6], 5);
        assert!(r.is_err(), "{bad}: {r:?}");
        // A good network fed NaN/inf positions or momenta.
        let ld = ld_with_weight(0.0);
        let mut it = VariationalIntegrator::new(&ld, Convergence::default());
        for (q, p) in [([bad], [0.0]), ([0.0], [bad])] {
            let (mut delta, mut next) = ([0.1], [0.0]);
            let r = it.solve(&q, &p, &mut delta, &mut next, 0);
            assert!(r.is_err(), "{bad}: q {q:?} p {p:?}: {r:?}");
        }
        assert!(it.rollout_positions(&[0.0], &[bad], 3).is_err());
        // The inverse Legendre map of a true system.
        let system = System::from_name("oscillator").unwrap();
        assert!(system
            .velocity_from_momentum(&[0.0], &[bad], &[0.0])
            .is_err());
    }
    // A rollout whose size overflows is refused before it allocates.
    let ld = ld_with_weight(0.0);
    let mut it = VariationalIntegrator::new(&ld, Convergence::default());
    assert!(matches!(
        it.rollout_positions(&[0.0], &[0.1], usize::MAX),
        Err(SolverError::TooLarge(_))
    ));
}

#[test]
fn the_trainers_loss_check_fails_on_nan_and_inf() {
    let data = oscillator(12);
    let mut cfg = TrainConfig::new(Recipe::Robust, 3);
    cfg.hidden = vec![4];
    for bad in BAD {
        let fresh = cfg.fresh_network(&data).unwrap();
        let params = vec![bad; fresh.params().len()];
        let mlp = Mlp::from_params(fresh.input_dim(), &[4], fresh.activation(), params).unwrap();
        let result = trainer(&cfg, &data, Some((mlp, 1.0)))
            .and_then(|mut t| t.step().map(|_| ()).map_err(Into::into));
        let e = result.expect_err("a non-finite network must not train");
        assert!(!e.to_string().is_empty(), "{bad}");
    }
}

#[test]
fn the_symmetry_solver_refuses_nan_and_inf_instead_of_looping() {
    for bad in BAD {
        let ld = ld_with_weight(bad);
        let pairs: Vec<f64> = (0..20)
            .flat_map(|k| [k as f64 * 0.1, k as f64 * 0.1 + 0.01])
            .collect();
        let r = discover(&ld, SymmetryBasis::Affine, 1, &pairs);
        assert!(r.is_err(), "{bad}");
        // Finite network, non-finite or huge pairs.
        let ld = ld_with_weight(0.0);
        let mut pairs = pairs.clone();
        pairs[3] = bad;
        assert!(discover(&ld, SymmetryBasis::Affine, 1, &pairs).is_err());
    }
    // Huge but finite: scaled, not looping.
    let ld = ld_with_weight(0.0);
    let pairs: Vec<f64> = (0..20)
        .flat_map(|k| [k as f64 * 1e200, k as f64 * 1e200 + 1e199])
        .collect();
    let _ = discover(&ld, SymmetryBasis::Affine, 1, &pairs);
}

fn train_seed(dir: &Path, seed: u64) -> (model_dir::ModelFile, Mlp) {
    let data = oscillator(12);
    let mut cfg = TrainConfig::new(Recipe::Robust, 2);
    cfg.hidden = vec![3];
    cfg.seed = seed;
    let opts = FitOptions {
        source: "test".into(),
        ..FitOptions::default()
    };
    fit(&cfg, &data, dir, &opts, &mut |_| {}).unwrap()
}

#[test]
fn an_interrupted_save_leaves_the_old_model_or_the_new_one() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (old_model, old_mlp) = train_seed(&d.join("old"), 1);
    let (new_model, new_mlp) = train_seed(&d.join("new"), 2);
    let old_history = std::fs::read(d.join("old/history.csv")).unwrap();
    let stages = [
        (Some(SaveStage::Pending), false),
        (Some(SaveStage::Committed), true),
        (Some(SaveStage::WeightsRenamed), true),
        (None, true),
    ];
    for (i, (stage, expect_new)) in stages.into_iter().enumerate() {
        let dir = d.join(format!("case{i}"));
        std::fs::create_dir(&dir).unwrap();
        for f in ["model.json", "weights.safetensors", "history.csv"] {
            std::fs::copy(d.join("old").join(f), dir.join(f)).unwrap();
        }
        let history = b"epoch\n".as_slice();
        model_dir::save_with(
            &dir,
            &new_model,
            &new_mlp,
            &[("history.csv", history)],
            stage,
        )
        .unwrap();
        let (model, mlp) = model_dir::load(&dir).unwrap();
        let is_old = model.seed == old_model.seed && mlp.params() == old_mlp.params();
        let is_new = model.seed == new_model.seed && mlp.params() == new_mlp.params();
        assert!(is_old || is_new, "{stage:?}: a mixture of the two models");
        assert_eq!(is_new, expect_new, "{stage:?}");
        if stage == Some(SaveStage::Pending) {
            assert_eq!(std::fs::read(dir.join("history.csv")).unwrap(), old_history);
        }
    }
    // Replaced weights under a hashed model.json are refused.
    let dir = d.join("case0");
    std::fs::copy(
        d.join("new/weights.safetensors"),
        dir.join("weights.safetensors"),
    )
    .unwrap();
    let _ = std::fs::remove_file(dir.join("weights.safetensors.new"));
    let e = model_dir::load(&dir).unwrap_err().to_string();
    assert!(e.contains("do not match model.json"), "{e}");
}

#[test]
fn a_figure_is_complete_or_absent() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let fig = Figure {
        title: "huge".into(),
        columns: 1,
        panels: vec![Panel {
            title: "p".into(),
            series: vec![Series {
                label: "a".into(),
                color: symdlnn::report::palette::DLNN,
                x: vec![0.0, 1.0, 2.0, 3.0],
                y: vec![0.0, 6e307, -1e308, 1.0],
                dashed_from: None,
                width: 1,
            }],
            ..Panel::default()
        }],
    };
    // Huge coordinates are left off the chart instead of hanging plotters.
    let written = fig.write(&d.join("ok")).unwrap();
    assert!(written.iter().all(|p| p.is_file()));
    // A PNG that cannot be put in place: neither file is left, nor a temporary.
    std::fs::create_dir_all(d.join("bad.png/x")).unwrap();
    assert!(fig.write(&d.join("bad")).is_err());
    assert!(!d.join("bad.svg").exists());
    let names: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with(".tmp")), "{names:?}");
}
