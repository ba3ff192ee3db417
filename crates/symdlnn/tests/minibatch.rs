//! Issue 19: minibatches, validation by trajectory, the kept model, the
//! time budget and trajectories of different lengths.

mod common;

use symdlnn::data::{generate, Dataset, Trajectory};
use symdlnn::eval::metrics::{position_scale, rmse};
use symdlnn::learn::batches::Batches;
use symdlnn::learn::validation::{best_index, split, Keeper, ValidationScore};
use symdlnn::learn::{
    dlnn_trainer, fit, model_dir, BatchSize, FitOptions, LearnedLd, Recipe, TrainConfig,
};
use symdlnn::mechanics::{Convergence, System, VariationalIntegrator};

/// `m` trajectories of `system` from its box, cut to the given lengths
/// (cycled).
fn data(system: &str, m: usize, lengths: &[usize]) -> Dataset {
    let s = System::from_name(system).unwrap();
    let mut grid = s.default_grid();
    grid.steps = *lengths.iter().max().unwrap();
    let ics = generate::sample_initial_conditions(&s.initial_box(), m, 5);
    let mut d = generate::dataset(&s, &ics, grid, Convergence::default()).unwrap();
    let n = d.n;
    for (k, t) in d.trajectories.iter_mut().enumerate() {
        let len = lengths[k % lengths.len()];
        *t = Trajectory::from_positions(n, 0.0, d.dt, t.q[..len * n].to_vec());
    }
    d
}

fn lengths(d: &Dataset) -> Vec<usize> {
    d.trajectories.iter().map(|t| t.len()).collect()
}

fn small(epochs: usize, threads: usize) -> TrainConfig {
    TrainConfig {
        hidden: vec![24, 24],
        threads,
        ..TrainConfig::new(Recipe::Robust, epochs)
    }
}

#[test]
fn one_batch_of_every_pair_is_the_full_batch_step_bit_for_bit() {
    let d = data("kepler", 3, &[30, 17, 24]);
    for threads in [1, 2] {
        let config = small(3, threads);
        let mut full = dlnn_trainer(&config, &d).unwrap();
        let mut mini = dlnn_trainer(&config, &d).unwrap();
        let plan = Batches::new(&lengths(&d), d.pairs(), config.seed);
        for epoch in 0..3 {
            let batches = plan.epoch(epoch);
            assert_eq!(batches.len(), 1, "B = pairs: one batch");
            let a = full.step().unwrap().clone();
            let b = mini.minibatch_epoch(&batches).unwrap().clone();
            assert_eq!(a.report.total.to_bits(), b.report.total.to_bits());
            assert_eq!(a.lr.to_bits(), b.lr.to_bits());
        }
        let bits = |t: &[f64]| t.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(full.mlp.params()), bits(mini.mlp.params()));
    }
}

#[test]
fn shuffling_is_fixed_by_the_seed_and_not_by_the_thread_count() {
    let d = data("kepler", 4, &[40, 25]);
    let train = |seed: u64, threads: usize| {
        let config = TrainConfig {
            seed,
            ..small(3, threads)
        };
        let plan = Batches::new(&lengths(&d), 32, seed);
        let mut t = dlnn_trainer(&config, &d).unwrap();
        let mut batches = Vec::new();
        for epoch in 0..3 {
            batches.push(plan.epoch(epoch));
            t.minibatch_epoch(&batches[epoch]).unwrap();
        }
        (batches, t.mlp.params().to_vec())
    };
    let (b1, p1) = train(0, 1);
    let (b1again, p1again) = train(0, 1);
    let (b2, p2) = train(0, 2);
    let (b_other, p_other) = train(1, 1);
    assert!(b1[0].len() > 4, "{} batches", b1[0].len());
    // Same seed and threads: the same batches and the same bits.
    assert_eq!(b1, b1again);
    assert_eq!(
        p1.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        p1again.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    // Another thread count: the same batches; the model differs only by
    // summation order.
    assert_eq!(b1, b2);
    let diff = p1
        .iter()
        .zip(&p2)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(diff < 1e-9, "threads changed the model by {diff}");
    // Another seed: other batches (and another initialisation).
    assert_ne!(b1, b_other);
    assert_ne!(p1, p_other);
}

#[test]
fn validation_holds_out_whole_trajectories_never_seen_in_a_batch() {
    let d = data("kepler", 10, &[30, 21, 12]);
    let (train, held, idx) = split(&d, 0.3, 7).unwrap();
    assert_eq!(idx.len(), 3);
    assert_eq!(held.trajectories.len(), 3);
    assert_eq!(train.trajectories.len(), 7);
    assert_eq!(split(&d, 0.3, 7).unwrap().2, idx, "seeded");
    assert_ne!(
        split(&d, 0.3, 8).unwrap().2,
        idx,
        "another seed, another split"
    );
    // Every held-out pair (q_k, q_{k+1}), and where each training pair is.
    let n = d.n;
    let key = |a: &[f64], b: &[f64]| a.iter().chain(b).map(|x| x.to_bits()).collect::<Vec<_>>();
    let held_pairs: std::collections::HashSet<Vec<u64>> = held
        .trajectories
        .iter()
        .flat_map(|t| (0..t.len() - 1).map(move |k| key(t.position(k), t.position(k + 1))))
        .collect();
    let mut train_pairs = Vec::new();
    for t in &train.trajectories {
        for k in 0..t.len() - 1 {
            train_pairs.push(key(t.position(k), t.position(k + 1)));
        }
    }
    assert_eq!(train_pairs.len(), train.pairs());
    let plan = Batches::new(&lengths(&train), 24, 7);
    let mut seen = 0;
    for epoch in 0..5 {
        for b in plan.epoch(epoch) {
            for &p in &b.pairs {
                assert!(
                    !held_pairs.contains(&train_pairs[p]),
                    "held-out pair in a batch"
                );
                seen += 1;
            }
        }
    }
    assert!(seen >= 5 * train.pairs());
    let _ = n;
}

#[test]
fn the_kept_model_is_the_one_with_the_lowest_validation_score() {
    // The held-out loss chooses; the rollout and residual are only logged.
    let s = |loss: f64, rollout: f64| ValidationScore {
        loss,
        del: loss.exp(),
        rollout,
    };
    // A crafted history: improves, gets worse, a NaN, a new best whose
    // rollout is worse than an earlier one's, a tie (not an improvement),
    // then worse again.
    let history = [
        s(-10.0, 0.5),
        s(-12.0, 0.2),
        s(-11.0, 0.03),
        s(f64::NAN, 0.01),
        s(-13.5, 0.3),
        s(-13.5, 0.1),
        s(-12.5, f64::INFINITY),
    ];
    assert_eq!(best_index(&history), Some(4));
    let mlp = symdlnn::nn::Mlp::new(2, &[3], symdlnn::nn::Activation::Tanh, 0).unwrap();
    let mut keeper = Keeper::default();
    let improved: Vec<bool> = history
        .iter()
        .enumerate()
        .map(|(k, sc)| keeper.offer(10 * (k + 1), *sc, &mlp, &[]))
        .collect();
    assert_eq!(improved, [true, true, false, false, true, false, false]);
    let (epoch, score, _, _) = keeper.best.as_ref().unwrap();
    assert_eq!(*epoch, 50);
    assert_eq!(score.loss, -13.5);
    assert_eq!(score.rollout, 0.3);
    // Two validations since the best: a patience of 2 has run out.
    assert_eq!(keeper.since, 2);
    assert_eq!(best_index(&[s(f64::NAN, 0.1)]), None);
}

#[test]
fn a_five_second_budget_stops_within_one_step_and_leaves_a_complete_model() {
    let d = data("kepler", 40, &[200]);
    let config = TrainConfig {
        hidden: vec![64, 64],
        control: symdlnn::learn::TrainControl {
            batch_size: BatchSize::Pairs(256.try_into().unwrap()),
            time_budget: Some(5.0),
            ..Default::default()
        },
        ..TrainConfig::new(Recipe::Robust, 1_000_000)
    };
    let dir = tempfile::tempdir().unwrap();
    let mut steps = 0;
    let mut last_lr = 0.0;
    let mut on = |r: &symdlnn::learn::EpochRecord| {
        steps += r.steps;
        last_lr = r.lr;
    };
    let (model, _) = fit(&config, &d, dir.path(), &FitOptions::default(), &mut on).unwrap();
    let step = model.training_seconds / steps as f64;
    // The deadline is checked before every step: the overshoot is the step
    // in progress (bounded here by twice the mean step) and the epoch's
    // bookkeeping.
    assert!(
        model.training_seconds <= 5.0 + 2.0 * step + 0.05,
        "{} s for a 5 s budget ({steps} steps of {step:.4} s)",
        model.training_seconds
    );
    assert!(
        model.training_seconds >= 4.5,
        "{} s",
        model.training_seconds
    );
    assert!(model.epochs_done < 1_000_000);
    // The schedule was spread over the budget: the cosine reached its end.
    assert!(last_lr < 3e-4, "last rate {last_lr}");
    // A complete model directory that loads and predicts.
    let (loaded, mlp) = model_dir::load(dir.path()).unwrap();
    assert_eq!(loaded.epochs_done, model.epochs_done);
    let ld = LearnedLd::new(mlp, loaded.parametrisation);
    let t = &d.trajectories[0];
    let path = VariationalIntegrator::new(&ld, Convergence::default())
        .rollout_positions(t.position(0), t.position(1), 20)
        .unwrap();
    assert!(path.q.iter().all(|x| x.is_finite()));
}

#[test]
fn trajectories_of_different_lengths_train_and_each_is_predicted() {
    let d = data("oscillator", 4, &[60, 23, 110, 41]);
    assert_eq!(lengths(&d), [60, 23, 110, 41]);
    // Pairs and residuals never straddle two trajectories.
    let starts: Vec<usize> = lengths(&d)
        .iter()
        .scan(0, |p, l| {
            let s = *p;
            *p += l - 1;
            Some(s)
        })
        .collect();
    let traj_of = |p: usize| starts.iter().rposition(|&s| s <= p).unwrap();
    let plan = Batches::new(&lengths(&d), 40, 3);
    for epoch in 0..4 {
        for b in plan.epoch(epoch) {
            for &t in &b.triples {
                // Triple t of the data: its pairs are (l, l + 1), l the
                // t-th pair that has a successor in its trajectory.
                let mut k = t;
                let mut l = 0;
                for (i, len) in lengths(&d).iter().enumerate() {
                    if k < len - 2 {
                        l = starts[i] + k;
                        break;
                    }
                    k -= len - 2;
                }
                assert!(b.pairs.binary_search(&l).is_ok());
                assert!(b.pairs.binary_search(&(l + 1)).is_ok());
                assert_eq!(
                    traj_of(l),
                    traj_of(l + 1),
                    "a triple straddles trajectories"
                );
            }
        }
    }
    let config = TrainConfig {
        hidden: vec![32, 32],
        control: symdlnn::learn::TrainControl {
            batch_size: BatchSize::Pairs(96.try_into().unwrap()),
            ..Default::default()
        },
        ..TrainConfig::new(Recipe::Robust, 400)
    };
    let dir = tempfile::tempdir().unwrap();
    let (model, mlp) = fit(&config, &d, dir.path(), &FitOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(model.data.trajectories, 4);
    let ld = LearnedLd::new(mlp, model.parametrisation);
    for t in &d.trajectories {
        let steps = t.len() - 2;
        let path = VariationalIntegrator::new(&ld, Convergence::default())
            .rollout_positions(t.position(0), t.position(1), steps)
            .unwrap();
        let e = rmse(t.n, &path.q, &t.q, 2..t.len()).unwrap() / position_scale(t.n, &t.q);
        // Full batch, same settings: 0.017, 0.040, 0.117, 0.019.
        assert!(e < 0.15, "trajectory of {} points: rel. RMSE {e}", t.len());
    }
}

#[test]
fn a_running_barrier_threshold_changes_nothing_while_no_det_is_near_degenerate() {
    let d = data("kepler", 4, &[40, 25]);
    let run = |running: bool| {
        let mut config = small(4, 1);
        config.control.running_threshold = running;
        let plan = Batches::new(&lengths(&d), 32, 0);
        let mut t = dlnn_trainer(&config, &d).unwrap();
        let mut loss = 0.0;
        for epoch in 0..4 {
            loss = t.minibatch_epoch(&plan.epoch(epoch)).unwrap().report.total;
        }
        (loss, t.mlp.params().to_vec())
    };
    let (a, pa) = run(false);
    let (b, pb) = run(true);
    assert!(a.is_finite() && b.is_finite(), "{a} {b}");
    // The threshold (1e-6 × a median |det J|) only acts on a pair whose
    // |det J| falls below it; no pair does here, so the two runs agree to
    // the bit: the running statistic changes nothing else.
    assert_eq!(pa, pb);
}

/// A checkpoint keeps the best model by validation so far: a run with
/// validation, `--keep best` and `--patience` interrupted at a checkpoint
/// and resumed ends with the uninterrupted run's kept model, epoch and
/// stopping point, bit for bit.
#[test]
fn a_resumed_run_keeps_the_best_model_from_before_its_checkpoint() {
    let d = data("kepler", 6, &[30]);
    let mut config = small(60, 2);
    // A constant, large step: the held-out loss is best at epoch 30 and
    // not again (measured), before the checkpoint at 40.
    config.schedule = "constant"
        .parse::<symdlnn::learn::ScheduleSpec>()
        .unwrap()
        .schedule(0.2, 60);
    config.control.validation = Some(0.34);
    config.control.validate_every = 5;
    config.control.patience = Some(6);
    let dir = tempfile::tempdir().unwrap();
    let mut kept_at_checkpoint = 0;
    let [(model_a, mlp_a), (model_b, mlp_b)] =
        common::straight_and_resumed(&config, &d, dir.path(), 40, |b| {
            std::fs::remove_file(b.join("model.json")).unwrap();
            std::fs::remove_file(b.join("weights.safetensors")).unwrap();
            let cp = model_dir::load_checkpoint(b).unwrap();
            kept_at_checkpoint = cp
                .best
                .as_ref()
                .expect("a validated run keeps its best")
                .epoch;
            assert!(kept_at_checkpoint < cp.model.epochs_done);
        });
    assert_eq!(mlp_b.params(), mlp_a.params());
    assert_eq!(model_b.epochs_done, model_a.epochs_done);
    let kept = |m: &model_dir::ModelFile| m.final_losses.get("kept_epoch").copied();
    assert_eq!(kept(&model_b), kept(&model_a));
    assert_eq!(
        kept(&model_a),
        Some(kept_at_checkpoint as f64),
        "the best came before the checkpoint"
    );
}

/// A resumed time-budgeted run has only the budget's rest: the checkpoint's
/// training time counts (before, a resumed run got the whole budget again).
#[test]
fn a_resumed_budgeted_run_has_only_the_rest_of_its_budget() {
    let d = data("kepler", 2, &[30]);
    let mut config = small(1_000_000, 1);
    config.control.time_budget = Some(1.0);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m");
    let opts = FitOptions {
        source: "test".into(),
        checkpoint_every: Some(1),
        ..FitOptions::default()
    };
    fit(&config, &d, &out, &opts, &mut |_| {}).unwrap();
    std::fs::remove_file(out.join("model.json")).unwrap();
    let cp = model_dir::load_checkpoint(&out).unwrap();
    // The last checkpoint is within a few epochs of the budget's end.
    assert!(
        cp.model.training_seconds > 0.7,
        "{}",
        cp.model.training_seconds
    );
    let resume = FitOptions {
        resume: true,
        ..opts
    };
    let mut epochs = 0;
    let (model, _) = fit(&config, &d, &out, &resume, &mut |_| epochs += 1).unwrap();
    // The rest (≤ 0.3 s) and a step, not another second (measured 0.99 s
    // of training for a 0.5 s budget before).
    assert!(model.training_seconds < 1.3, "{}", model.training_seconds);
    assert!(epochs >= 1);
}
