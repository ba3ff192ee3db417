//! One full DLNN training step (loss + gradient + Adam) on a 201-point 2-D
//! trajectory with the paper's 4-128-128-128-1 softplus network — the same
//! work as the JAX peer `benches/peer/jax_peer.sh` (DEL residual + degeneracy term at
//! every pair), the robust recipe's step (by default `J` at every 10th pair;
//! and at every pair), a SymDLNN step with the shaping term (training + 200
//! box pairs; also with `J` at every pair), the same with the paper's
//! trainable coefficients, and an LNN
//! step on the same data; the DLNN steps also on one thread, for the
//! parallel scaling; and the default step with an angle coordinate.
//!
//! `scale`: at the peer's 20 001 points (`jax_peer.sh shared 20001 20`), a
//! full-batch epoch (paper recipe: the peer's work; robust recipe), an epoch
//! of 512-pair minibatches, and one 512-pair minibatch step (its cost per
//! pair against the 200-pair `dlnn_step_robust_2threads`).

use criterion::{criterion_group, criterion_main, Criterion};

mod common;
use common::{peer_data, peer_data_points};
use symdlnn::learn::batches::Batches;
use symdlnn::learn::symmetry::{DiscoverySolver, EvaluationPoints, SymmetryBasis};
use symdlnn::learn::{
    dlnn_trainer, trainer, CoefficientConfig, JacobianStride, LnnConfig, LnnData, Recipe,
    ShapingConfig, SymmetryConfig, TrainConfig,
};

fn dlnn_step(c: &mut Criterion) {
    let data = peer_data();
    // The robust recipe's default evaluates J at every 10th of the 200
    // pairs; `all_jacobians` is J at every pair, the peer's work.
    for (name, recipe, threads, every) in [
        ("dlnn_step_paper_2threads", Recipe::Paper, 2, 1),
        ("dlnn_step_paper_1thread", Recipe::Paper, 1, 1),
        ("dlnn_step_robust_2threads", Recipe::Robust, 2, 0),
        ("dlnn_step_robust_1thread", Recipe::Robust, 1, 0),
        (
            "dlnn_step_robust_all_jacobians_2threads",
            Recipe::Robust,
            2,
            1,
        ),
        (
            "dlnn_step_robust_all_jacobians_1thread",
            Recipe::Robust,
            1,
            1,
        ),
    ] {
        let mut cfg = TrainConfig::new(recipe, 1_000_000);
        cfg.threads = threads;
        cfg.dlnn_mut().unwrap().loss.jacobian_every = JacobianStride::from(every);
        let mut t = dlnn_trainer(&cfg, &data).unwrap();
        c.bench_function(name, |b| b.iter(|| t.step().map(|_| ()).unwrap()));
    }
    // The default step training latent positions (`--noise 0.001`): the
    // engine's input adjoint and the misfit on top (goal ≤ 1.3× the step
    // without).
    let mut cfg = TrainConfig::new(Recipe::Robust, 1_000_000);
    cfg.dlnn_mut().unwrap().noise = symdlnn::data::NoiseSpec::Sigma(vec![1e-3]);
    let mut t = dlnn_trainer(&cfg, &data).unwrap();
    c.bench_function("dlnn_step_robust_noise_2threads", |b| {
        b.iter(|| t.step().map(|_| ()).unwrap())
    });
    // The default step with the second coordinate an angle (`--angles 1`):
    // one more input, four Hessian tangents instead of two at the J pairs.
    let mut cfg = TrainConfig::new(Recipe::Robust, 1_000_000);
    cfg.dlnn_mut().unwrap().angles = vec![1];
    let mut t = dlnn_trainer(&cfg, &data).unwrap();
    c.bench_function("dlnn_step_robust_angle_2threads", |b| {
        b.iter(|| t.step().map(|_| ()).unwrap())
    });
    // SymDLNN with the shaping term active (train + 200 box pairs).
    let sym = SymmetryConfig {
        generators: 1,
        basis: SymmetryBasis::Affine,
        points: EvaluationPoints {
            train: true,
            boxed: 200,
        },
        shaping: Some(ShapingConfig {
            weight: 1.0,
            warmup: 0,
        }),
        solver: DiscoverySolver::Variational,
        coefficients: None,
        build_in: false,
    };
    let mut cfg = TrainConfig::new(Recipe::Robust, 1_000_000)
        .with_symmetry(sym.clone())
        .unwrap();
    let mut t = trainer(&cfg, &data, None).unwrap();
    c.bench_function("symdlnn_shaping_step_robust_2threads", |b| {
        b.iter(|| t.step().map(|_| ()).unwrap())
    });
    // The same with `J` at every training pair, beside
    // `dlnn_step_robust_all_jacobians_2threads`: the box pairs' cost
    // relative to the step the peer does.
    cfg.dlnn_mut().unwrap().loss.jacobian_every = JacobianStride::ALL;
    let mut t = trainer(&cfg, &data, None).unwrap();
    c.bench_function("symdlnn_shaping_step_robust_all_jacobians_2threads", |b| {
        b.iter(|| t.step().map(|_| ()).unwrap())
    });
    cfg.dlnn_mut().unwrap().loss.jacobian_every = JacobianStride::Auto;
    // The paper's solver: the same pairs, its coefficients trained with the network.
    let paper = SymmetryConfig {
        solver: DiscoverySolver::Paper,
        coefficients: Some(CoefficientConfig {
            alpha: 1.0,
            beta: 1.0,
            init: CoefficientConfig::random(1, 6, 0),
            init_name: "random".into(),
        }),
        ..sym
    };
    let cfg = cfg.with_symmetry(paper).unwrap();
    let mut t = trainer(&cfg, &data, None).unwrap();
    c.bench_function("symdlnn_paper_solver_step_robust_2threads", |b| {
        b.iter(|| t.step().map(|_| ()).unwrap())
    });
    // The LNN baseline on the same data (199 interior samples, positions mode).
    let cfg = TrainConfig::lnn(
        LnnConfig {
            data: LnnData::Positions,
            system: None,
            standardise: true,
            kinetic_prior: true,
        },
        1_000_000,
    );
    let mut t = trainer(&cfg, &data, None).unwrap();
    c.bench_function("lnn_step_2threads", |b| {
        b.iter(|| t.step().map(|_| ()).unwrap())
    });
}

fn scale(c: &mut Criterion) {
    let data = peer_data_points(20_001);
    for recipe in [Recipe::Paper, Recipe::Robust] {
        let mut cfg = TrainConfig::new(recipe, 1_000_000);
        cfg.threads = 2;
        let mut t = dlnn_trainer(&cfg, &data).unwrap();
        let name = format!("dlnn_epoch_{recipe:?}_20000pairs_full_2threads").to_lowercase();
        c.bench_function(&name, |b| b.iter(|| t.step().map(|_| ()).unwrap()));
    }
    let cfg = TrainConfig {
        threads: 2,
        ..TrainConfig::new(Recipe::Robust, 1_000_000)
    };
    let plan = Batches::new(&[data.trajectories[0].len()], 512, 0);
    let mut t = dlnn_trainer(&cfg, &data).unwrap();
    let mut epoch = 0;
    c.bench_function("dlnn_epoch_robust_20000pairs_b512_2threads", |b| {
        b.iter(|| {
            let batches = plan.epoch(epoch);
            epoch += 1;
            t.minibatch_epoch(&batches).map(|_| ()).unwrap()
        })
    });
    let batches = plan.epoch(0);
    let mut k = 0;
    c.bench_function("dlnn_step_robust_b512_2threads", |b| {
        b.iter(|| {
            // Batches of the same size (the last one of an epoch is shorter).
            let i = k % (batches.len() - 1);
            k += 1;
            t.minibatch_epoch(&batches[i..=i]).map(|_| ()).unwrap()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = dlnn_step
}
criterion_group! {
    name = at_scale;
    config = Criterion::default().sample_size(10);
    targets = scale
}
criterion_main!(benches, at_scale);
