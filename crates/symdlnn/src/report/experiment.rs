//! An experiment's figures and the run's `report.md`.

use std::fmt::Write;
use std::path::Path;

use super::charts::{self, Curve};
use super::figures::{palette, FigureError};
use crate::eval::experiment::{ExperimentResult, ExperimentRun, Profile, Row, Settings};
use crate::eval::scaling::{median_worst, ScalingRow};
use crate::eval::PhaseMetrics;

/// Draw an experiment's figures into `out/figures`: per initial condition
/// the trajectories, the energy and the conserved quantities, and the
/// training losses. Returns the PNG paths relative to `out`.
pub fn experiment_figures(run: &ExperimentRun, out: &Path) -> Result<Vec<String>, FigureError> {
    let name = &run.result.experiment.name;
    let dir = out.join("figures");
    std::fs::create_dir_all(&dir).map_err(|error| FigureError::Directory {
        path: dir.display().to_string(),
        error,
    })?;
    let recipes: std::collections::BTreeSet<&str> = run
        .evaluations
        .iter()
        .filter(|e| e.method != "LNN")
        .map(|e| e.recipe.as_str())
        .collect();
    let several = recipes.len() > 1;
    let label = |m: &str, r: &str| {
        if several && m != "LNN" {
            format!("{m} ({r})")
        } else {
            m.to_string()
        }
    };
    let color = |m: &str, r: &str| match (m, r) {
        ("LNN", _) => palette::LNN,
        (_, "paper") if several => palette::PAPER,
        ("SymDLNN", _) => palette::SYMDLNN,
        ("SymDLNN-paper", _) => palette::SYMDLNN_PAPER,
        ("SymDLNN (built in)", _) => palette::SYMDLNN_BUILT_IN,
        _ => palette::DLNN,
    };
    let mut written = vec![];
    for which in ["train", "test"] {
        let of_this = || {
            run.evaluations
                .iter()
                .filter(move |e| e.trajectory == which)
        };
        // One path per network: DLNN and SymDLNN rows share theirs.
        let networks: Vec<Curve> = of_this()
            .filter(|e| e.method != "SymDLNN")
            .map(|e| Curve {
                label: label(&e.method, &e.recipe),
                color: color(&e.method, &e.recipe),
                eval: &e.evaluation,
            })
            .collect();
        let every: Vec<Curve> = of_this()
            .map(|e| Curve {
                label: label(&e.method, &e.recipe),
                color: color(&e.method, &e.recipe),
                eval: &e.evaluation,
            })
            .collect();
        let title = format!("{name}, {which} initial condition");
        let figures = [
            (
                "trajectories",
                charts::trajectories(&title, &networks, &run.coordinate_names),
            ),
            ("energy", charts::energy(&title, &networks)),
            ("invariants", charts::invariants(&title, &every)),
        ];
        for (kind, fig) in figures {
            if let Some(fig) = fig {
                let stem = format!("{name}-{which}-{kind}");
                fig.write(&dir.join(&stem))?;
                written.push(format!("figures/{stem}.png"));
            }
        }
    }
    if let Some(fig) = charts::losses(name, &run.histories) {
        let stem = format!("{name}-losses");
        fig.write(&dir.join(&stem))?;
        written.push(format!("figures/{stem}.png"));
    }
    Ok(written)
}

/// A table number: scientific, `∞` for a non-finite one, `–` for none.
fn sci(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.2e}"),
        Some(_) => "∞".into(),
        None => "–".into(),
    }
}

/// A phase's relative symmetry drifts, one per generator.
fn drifts(p: &PhaseMetrics) -> String {
    if p.relative_symmetry_drift.is_empty() {
        return "–".into();
    }
    p.relative_symmetry_drift
        .iter()
        .map(|d| sci(*d))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// One row of an experiment's table.
fn table_row(r: &Row) -> String {
    let Some(m) = &r.metrics else {
        return format!(
            "| {} | {} | {} | training failed: {} | | | | | | |\n",
            r.method,
            r.recipe,
            r.trajectory,
            r.training_failure.as_deref().unwrap_or("?")
        );
    };
    let reached = if m.failure.is_some() {
        format!(
            "stopped at point {} of {}",
            m.recreation.points + m.prediction.points,
            m.total_steps + 1
        )
    } else {
        format!(
            "{} / {}",
            m.newton.max_iterations,
            sci(Some(m.newton.max_residual))
        )
    };
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        r.method,
        r.recipe,
        r.trajectory,
        sci(m.recreation.relative_rmse),
        sci(m.prediction.relative_rmse),
        sci(m.recreation.relative_energy_drift),
        sci(m.prediction.relative_energy_drift),
        drifts(&m.recreation),
        drifts(&m.prediction),
        reached,
    )
}

/// An experiment's section of the report: its setting, table, notes,
/// learned generators and figures.
fn experiment_section(r: &ExperimentResult, seed: u64, s: &mut String) {
    let e = &r.experiment;
    let _ = writeln!(s, "## {}\n", e.name);
    let noise = e.noise.map_or("no noise".to_string(), |n| {
        format!("Gaussian position noise σ = {n}")
    });
    let _ = writeln!(
        s,
        "{} trajector{} of {} from train (q0; v0) = ({:?}; {:?}){}, Δt = {}, N = {} training steps, N_extra = {}, {}; {} epochs. Test (q0; v0) = ({:?}; {:?}). Run time {:.0} s.\n",
        e.trajectories,
        if e.trajectories == 1 { "y" } else { "ies" },
        e.system,
        e.train.0,
        e.train.1,
        if e.trajectories > 1 {
            format!(" and the documented box (seed {seed})")
        } else {
            String::new()
        },
        e.grid.dt,
        e.grid.steps,
        e.extra,
        noise,
        e.epochs,
        e.test.0,
        e.test.1,
        r.seconds
    );
    s.push_str("| method | recipe | IC | recreation rel. RMSE | prediction rel. RMSE | energy drift rec. (rel.) | energy drift pred. (rel.) | symmetry drift rec. (rel.) | symmetry drift pred. (rel.) | Newton max it. / residual |\n");
    s.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for row in &r.rows {
        s.push_str(&table_row(row));
    }
    s.push('\n');
    let notes: Vec<String> = r
        .rows
        .iter()
        .filter_map(|row| {
            let m = row.metrics.as_ref()?;
            let mut v: Vec<String> = m
                .failure
                .iter()
                .map(|f| format!("rollout stopped: {f}"))
                .collect();
            v.extend(m.notes.iter().cloned());
            (!v.is_empty()).then(|| {
                format!(
                    "- {} ({}, {}): {}",
                    row.method,
                    row.recipe,
                    row.trajectory,
                    v.join("; ")
                )
            })
        })
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(s, "{}\n", notes.join("\n"));
    }
    noise_notes(s, r);
    if !r.generators.is_empty() {
        let _ = writeln!(s, "True generator(s): {}.\n", r.true_generators.join(", "));
        for g in &r.generators {
            let _ = writeln!(
                s,
                "- {} ({}): learned {}; agreement {} (|cos| for one generator, principal angles in degrees for several); smallest singular values {}",
                g.method,
                g.recipe,
                g.generators.join("; "),
                g.agreement.iter().map(|a| format!("{a:.4}")).collect::<Vec<_>>().join(", "),
                g.spectrum.iter().take(3).map(|x| format!("{x:.2e}")).collect::<Vec<_>>().join(", "),
            );
        }
        s.push('\n');
    }
    budget_notes(s, r);
    scaling_section(s, r, seed);
    for f in &r.figures {
        let _ = writeln!(s, "![{f}]({f})\n");
    }
}

/// For each model stopped by its time budget before its epochs: its
/// measured cost per epoch and what the experiment's epochs would take.
fn budget_notes(s: &mut String, r: &ExperimentResult) {
    let e = &r.experiment;
    let lines: Vec<String> = (r.rows.iter())
        .filter(|row| row.trajectory == "train" && row.recipe.contains("budget"))
        .filter_map(|row| {
            let m = row.metrics.as_ref()?;
            let per_epoch = m.training_seconds / m.epochs.max(1) as f64;
            (m.epochs < e.epochs).then(|| {
                format!(
                    "- {} ({}): {} of {} epochs in {:.0} s, {:.3} s per epoch; all {} would take {:.1} h",
                    row.method,
                    row.recipe,
                    m.epochs,
                    e.epochs,
                    m.training_seconds,
                    per_epoch,
                    e.epochs,
                    per_epoch * e.epochs as f64 / 3600.0
                )
            })
        })
        .collect();
    if !lines.is_empty() {
        let _ = writeln!(
            s,
            "Stopped by the time budget (minibatches by `--batch-size auto`; every pair of an epoch is used once):\n{}\n",
            lines.join("\n")
        );
    }
}

/// The study of 1, 8 and all trajectories, when the experiment ran one.
fn scaling_section(s: &mut String, r: &ExperimentResult, seed: u64) {
    if r.scaling.is_empty() {
        return;
    }
    let e = &r.experiment;
    let mut sizes: Vec<usize> = r.scaling.iter().map(|x| x.trajectories).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut sizes: Vec<String> = sizes.iter().map(usize::to_string).collect();
    let last = sizes.pop().unwrap_or_default();
    let sizes = if sizes.is_empty() {
        last
    } else {
        format!("{} and {last}", sizes.join(", "))
    };
    let _ = writeln!(
        s,
        "### More data: {} trajectories\n\nEach robust configuration trained on the first M trajectories of the data (the first from the training initial condition). Recreation: every trajectory given to the model, held-out ones included, over N = {} steps. Fresh: {} initial conditions from the box (seed {}) over N steps. Test: the test initial condition's recreation / prediction. Agreement: the discovered generator's with the truth (the built-in rows declare theirs). Time to 2×: seconds until the held-out mean DEL residual was within 2× of its final value.\n",
        sizes,
        e.grid.steps,
        crate::eval::scaling::FRESH,
        seed + 1000,
    );
    s.push_str("| method | M | trained on | epochs | train s | recreation median / worst | fresh median / worst | test rec. / pred. | agreement | time to 2× (s) |\n");
    s.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for row in &r.scaling {
        s.push_str(&scaling_row(row));
    }
    s.push('\n');
}

/// One size's row of the study.
fn scaling_row(row: &ScalingRow) -> String {
    if let Some(f) = &row.training_failure {
        let m = row.trajectories;
        return format!(
            "| {} | {m} | training failed: {f} | | | | | | | |\n",
            row.method
        );
    }
    let pair = |v: &[Option<f64>]| match median_worst(v) {
        Some((m, w)) => format!("{} / {}", sci(Some(m)), sci(Some(w))),
        None => "–".into(),
    };
    let agreement: Vec<String> = row.agreement.iter().map(|a| format!("{a:.4}")).collect();
    format!(
        "| {} | {} | {} | {} | {:.0} | {} | {} | {} / {} | {} | {} |\n",
        row.method,
        row.trajectories,
        row.trained_on,
        row.epochs,
        row.train_seconds,
        pair(&row.recreation),
        pair(&row.fresh),
        sci(row.test.0),
        sci(row.test.1),
        if agreement.is_empty() {
            "–".into()
        } else {
            agreement.join(", ")
        },
        row.seconds_to_2x.map_or("–".into(), |t| format!("{t:.0}")),
    )
}

/// The noise models' estimated σ and observation residuals (their
/// training-trajectory rows), one line each.
fn noise_notes(s: &mut String, r: &ExperimentResult) {
    let lines: Vec<String> = (r.rows.iter())
        .filter(|row| row.trajectory == "train")
        .filter_map(|row| {
            let n = row.metrics.as_ref()?.noise.as_ref()?;
            Some(format!("- {}: {}", row.method, n.lines().join("; ")))
        })
        .collect();
    if !lines.is_empty() {
        let _ = writeln!(s, "{}\n", lines.join("\n"));
    }
}

/// The run's `report.md`.
pub fn markdown(
    profile: Profile,
    settings: &Settings,
    results: &[ExperimentResult],
    seconds: f64,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# symdlnn reproduce — profile `{}`\n",
        match profile {
            Profile::Quick => "quick",
            Profile::Paper => "paper",
        }
    );
    let _ = writeln!(
        s,
        "symdlnn {}; networks {:?} softplus; recipes {}; seed {}; total run time {:.0} s.\n",
        env!("CARGO_PKG_VERSION"),
        settings.hidden,
        settings
            .recipes
            .iter()
            .map(|r| format!("{r:?}").to_lowercase())
            .collect::<Vec<_>>()
            .join(", "),
        settings.seed,
        seconds
    );
    s.push_str(HOW_TO_READ);
    for r in results {
        experiment_section(r, settings.seed, &mut s);
    }
    s.push_str(PROTOCOL_NOTES);
    s
}

/// The report's explanation of its columns and methods.
const HOW_TO_READ: &str = "\
## How to read this report

* Every model is rolled out from the first two points of the observed (noise-free) trajectory for `N + N_extra` steps by the same variational integrator; points `0..=N` are the *recreation* (its RMSE over points `2..=N`: the first two are the start), later ones the *prediction* (solid and dashed in the figures, a dotted line at `N`). `IC train` is the training initial condition, `IC test` the paper's test initial condition.
* Relative RMSE: RMSE of the positions over the span divided by the truth's RMS deviation from its mean.
* Energy drift `max_k |H_k − H_0|` over the span, relative to the mean `|q̇·p|` along the path. DLNN/SymDLNN: `H_VBEA` of the learned `Ld` (variational backward error analysis) at the consistent velocities; LNN: the true `H` at central-difference velocities of its path.
* Symmetry drift `max_k |I_k − I_0|` of `I_k = ξ(q_k)·∂L/∂q̇(q_k, q̇_k)` with the true `L` at central-difference velocities of each path (the same, gauge-free measure for every method; its floor is the O(h²) error of the differences), relative to the mean `|p||ξ(q)|`: the true generator for DLNN and LNN, the learned generator for SymDLNN.
* **Known coordinates.** With the robust recipe every DLNN and SymDLNN model is trained as a user who knows these systems would train it: time-reversible (`--time-reversible`: `L` is even in `q̇`) and, for the cart–pendulum, with φ an angle (`--angles 1`); the paper's recipe (paper profile) stays as published. The noise models (noisy experiments) are time-reversible; φ is an angle only in the built-in noise model (noise needs it).
* **SymDLNN here is DLNN training followed by symmetry discovery on the trained model** (the variational solver: fields that solve the learned dynamics' linearised DEL equations; the optional shaping term is off): the DLNN and SymDLNN rows share one network and one path; they differ in the generator whose quantity they track. The learned `Ld`'s own Noether quantity inherits its gauge freedom and need not be conserved even when the generator is right, which is why the drift uses the true momentum.
* **SymDLNN-paper is the paper's own method**: a separate network trained with the paper's symmetry term, its coefficients trained with the network (`train --sym-solver paper`) from the paper's initial guess (cart–pendulum `M = [[0.1, 0.1], [0.1, 0.1]]`, `w = (1.5, 0.5)`: |cos| 0.941 with the truth; Kepler `M = [[0.1, 0.807], [−0.607, 0.1]]`, `w = (0.1, 0.1)`: |cos| 0.972), the term on after the paper's 5 000 epochs or 30 % of the epochs, whichever is fewer; with the robust recipe the term is normalised so that it shares that recipe's invariances. Its agreement says where training took the generator from that guess — prior knowledge the other methods do not get.
* **SymDLNN (built in)** is a DLNN with the system's known symmetry built into `Ld` by construction (its network sees only invariants of the pair: `train --symmetry rotation` or `--symmetry translation:1,0`), time-reversible, and with the cart–pendulum's φ an angle (`--angles 1`): what a user who knows the system's symmetry and coordinates would train. Its rows against the DLNN rows show what building the symmetry in changes; its conserved quantities are the true ones.
* The LNN is trained on the same positions (velocities and accelerations by finite differences) and simulated with the midpoint discretisation of its learned `L`.
* **Noisy data.** The rows without \"noise model\" train on the noisy positions as they are (the behaviour before `--noise`, kept beside the new rows for one release). **DLNN (noise model)** is `train --noise auto --time-reversible`: σ estimated from the data, latent (denoised) positions trained with the network; **DLNN (noise model, built in)** adds the system's symmetry as in SymDLNN (built in). A noise model's rollout from the training initial condition starts from its own denoised first two positions (what `predict` does on its training data); every other rollout starts from the noise-free truth's first two points, which favours the rows without a noise model. Each noisy experiment lists the σ its noise models estimated and their observation residuals.

";

/// Where the run's protocol differs from the reference implementation's.
const PROTOCOL_NOTES: &str = "\
## Differences from the reference implementation's protocol

* Noise: Gaussian on the positions with σ = 0.001 as in the reference's code (its paper's text says σ² = 0.001).
* The reference trained its LNN on `(q, p)` taken as `(q, q̇)` (for Kepler `p = 100 q̇`); here the LNN sees the same positions as DLNN (`positions` mode). `symdlnn train --method lnn --lnn-data reference` reproduces the reference's protocol.
* Ground truth is the midpoint variational integrator in position–momentum form with a fine step (Δt/100), as in the reference; several trajectories start from a documented box of initial conditions (ChaCha8, the run's seed), the first at the single-trajectory initial condition.
* `robust` is this project's default recipe (standardised midpoint–velocity inputs, kinetic prior, scale-invariant loss, cosine schedule); `paper` is the paper's loss and constant learning rate. The paper's recipe can collapse to a degenerate `Ld`; such runs are shown as they are.
";
