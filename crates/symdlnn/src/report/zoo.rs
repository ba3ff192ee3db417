//! The zoo benchmark's figure (one per system) and `report.md`: a table of
//! every system, method and trajectory count, the peer's column, and the
//! bars the defaults are held to.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use super::charts::{self, Curve};
use super::figures::{palette, FigureError};
use crate::eval::experiment::{ExperimentResult, ExperimentRun, Kind, Row, Settings};
use crate::eval::zoo::{recommendation, PeerResult};
use crate::mechanics::System;

/// Draw the system's figure from its one-trajectory run: truth, DLNN
/// (default and recommended) and the LNN from the training initial
/// condition, recreation solid and prediction dashed. Returns the PNG
/// path relative to `out`.
pub fn zoo_figure(run: &ExperimentRun, out: &Path) -> Result<Option<String>, FigureError> {
    let dir = out.join("figures");
    std::fs::create_dir_all(&dir).map_err(|error| FigureError::Directory {
        path: dir.display().to_string(),
        error,
    })?;
    let curves: Vec<Curve> = run
        .evaluations
        .iter()
        .filter(|e| e.trajectory == "train")
        .map(|e| Curve {
            label: e.method.clone(),
            color: match e.method.as_str() {
                "LNN" => palette::LNN,
                "DLNN (recommended)" => palette::SYMDLNN_BUILT_IN,
                _ => palette::DLNN,
            },
            eval: &e.evaluation,
        })
        .collect();
    let name = &run.result.experiment.name;
    let title = format!("{name}, training initial condition");
    let Some(fig) = charts::trajectories(&title, &curves, &run.coordinate_names) else {
        return Ok(None);
    };
    let stem = format!("{name}-trajectories");
    fig.write(&dir.join(&stem))?;
    Ok(Some(format!("figures/{stem}.png")))
}

/// A table number: two significant digits, `∞` for a non-finite one, `–`
/// for none.
fn sci(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.1e}"),
        Some(_) => "∞".into(),
        None => "–".into(),
    }
}

/// The row of `method` on initial condition `ic` of a result.
fn row<'a>(r: &'a ExperimentResult, method: &str, ic: &str) -> Option<&'a Row> {
    r.rows
        .iter()
        .find(|x| x.method == method && x.trajectory == ic)
}

/// `(recreation, prediction)` of a method on the training initial
/// condition; a rollout that stopped counts as infinite.
fn errors(r: &ExperimentResult, method: &str) -> Option<(f64, f64)> {
    let m = row(r, method, "train")?.metrics.as_ref()?;
    let inf = |x: Option<f64>| x.filter(|v| v.is_finite()).unwrap_or(f64::INFINITY);
    let failed = m.failure.is_some();
    let rec = inf(m.recreation.relative_rmse);
    let pred = if failed {
        f64::INFINITY
    } else {
        inf(m.prediction.relative_rmse)
    };
    let rec = if failed && m.recreation.points < m.train_steps + 1 {
        f64::INFINITY
    } else {
        rec
    };
    Some((rec, pred))
}

/// Where a rollout stopped, as `stop k/T` (points reached of the truth's),
/// or `–`.
fn stopped(r: &Row) -> String {
    match &r.metrics {
        Some(m) if m.failure.is_some() => format!(
            "stop {}/{}",
            m.recreation.points + m.prediction.points,
            m.total_steps + 1
        ),
        Some(_) => "–".into(),
        None => "training failed".into(),
    }
}

/// The benchmark's `report.md`: the bars, then per system its table and
/// figure. `peers` maps experiment names to the peer's numbers;
/// `peer_note` says how the peer ran or why it did not.
pub fn zoo_markdown(
    settings: &Settings,
    results: &[ExperimentResult],
    peers: &BTreeMap<String, PeerResult>,
    peer_note: &str,
    seconds: f64,
    command: &str,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# symdlnn benchmark — the zoo\n");
    let _ = writeln!(
        s,
        "symdlnn {}; `{command}`; networks {:?} softplus (robust recipe); {} epochs on one trajectory, {} on {}; seed {}; total run time {:.0} s. {peer_note}\n",
        env!("CARGO_PKG_VERSION"),
        settings.hidden,
        settings.epochs_single,
        settings.epochs_multi,
        settings.multi_trajectories,
        settings.seed,
        seconds
    );
    s.push_str(HOW_TO_READ);
    bars(results, peers, &mut s);
    s.push_str("## Results\n\n| system | traj. | method | settings | recreation | prediction | test IC | Newton | train s |\n|---|---|---|---|---|---|---|---|---|\n");
    for r in results {
        let e = &r.experiment;
        for method in ["DLNN", "DLNN (recommended)", "LNN"] {
            let Some(train) = row(r, method, "train") else {
                continue;
            };
            let test = row(r, method, "test");
            let m = train.metrics.as_ref();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                e.system,
                e.trajectories,
                method,
                settings_of(&e.system, method),
                sci(m.and_then(|m| m.recreation.relative_rmse)),
                sci(m.and_then(|m| m.prediction.relative_rmse)),
                sci(test
                    .and_then(|t| t.metrics.as_ref())
                    .and_then(|m| m.recreation.relative_rmse)),
                [Some(train), test]
                    .iter()
                    .flatten()
                    .map(|x| stopped(x))
                    .collect::<Vec<_>>()
                    .join(" / "),
                m.map_or("–".into(), |m| format!("{:.0}", m.training_seconds)),
            );
        }
        if let Some(p) = peers.get(&e.name) {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} |",
                e.system,
                e.trajectories,
                p.method,
                p.model.replace('|', "/"),
                sci(p.recreation),
                sci(p.prediction),
                sci(p.test),
                p.failure.as_deref().unwrap_or("–").replace('|', "/"),
                p.seconds
            );
        }
    }
    s.push('\n');
    let notes: Vec<String> = results
        .iter()
        .flat_map(|r| {
            r.rows.iter().filter_map(move |row| {
                let m = row.metrics.as_ref()?;
                let mut v: Vec<String> = m
                    .failure
                    .iter()
                    .map(|f| format!("rollout stopped: {f}"))
                    .collect();
                v.extend(m.notes.iter().cloned());
                (!v.is_empty()).then(|| {
                    format!(
                        "- {} {} ({} IC): {}",
                        r.experiment.name,
                        row.method,
                        row.trajectory,
                        v.join("; ")
                    )
                })
            })
        })
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(s, "### Notes\n\n{}\n", notes.join("\n"));
    }
    s.push_str("## Figures\n\n");
    for r in results {
        for f in &r.figures {
            let _ = writeln!(s, "![{f}]({f})\n");
        }
    }
    s
}

/// The bars' section: each bar with the systems that pass and fail it.
fn bars(results: &[ExperimentResult], peers: &BTreeMap<String, PeerResult>, s: &mut String) {
    s.push_str("## Bars\n\n");
    let singles = results.iter().filter(|r| r.experiment.kind == Kind::Single);
    // 1. Default settings, one trajectory, non-chaotic: recreation ≤ 1e-3, no Newton failure in N.
    let (mut pass, mut fail) = (vec![], vec![]);
    for r in singles.clone() {
        let Ok(system) = System::from_name(&r.experiment.system) else {
            continue;
        };
        if system.chaotic() {
            continue;
        }
        match errors(r, "DLNN") {
            Some((rec, _)) if rec <= 1e-3 => {
                pass.push(format!("{} {}", r.experiment.system, sci(Some(rec))))
            }
            Some((rec, _)) => fail.push(format!("{} {}", r.experiment.system, sci(Some(rec)))),
            None => fail.push(format!("{} (no model)", r.experiment.system)),
        }
    }
    let _ = writeln!(
        s,
        "1. **Default DLNN, one trajectory, non-chaotic systems: recreation ≤ 1e-3 without a Newton failure** — {} of {}. Pass: {}. Fail: {}.",
        pass.len(),
        pass.len() + fail.len(),
        list(&pass),
        list(&fail)
    );
    // 2. DLNN prediction ≤ LNN's, one trajectory and eight.
    let (mut pass, mut fail) = (vec![], vec![]);
    for r in results {
        if let (Some((_, d)), Some((_, l))) = (errors(r, "DLNN"), errors(r, "LNN")) {
            let text = format!("{} {} vs {}", r.experiment.name, sci(Some(d)), sci(Some(l)));
            if d <= l {
                pass.push(text)
            } else {
                fail.push(text)
            }
        }
    }
    let total = pass.len() + fail.len();
    let _ = writeln!(
        s,
        "2. **Default DLNN's prediction ≤ the LNN's on ≥ 80 %** — {} of {} ({:.0} %). Behind: {}.",
        pass.len(),
        total,
        100.0 * pass.len() as f64 / total.max(1) as f64,
        list(&fail)
    );
    // 3. Against the peer on non-polynomial systems (one trajectory), prediction.
    let (mut ahead, mut behind) = (vec![], vec![]);
    for r in singles.clone() {
        let Ok(system) = System::from_name(&r.experiment.system) else {
            continue;
        };
        let (Some((_, d)), Some(p)) = (errors(r, "DLNN"), peers.get(&r.experiment.name)) else {
            continue;
        };
        if system.polynomial_dynamics() {
            continue;
        }
        let pp = p
            .prediction
            .filter(|x| x.is_finite())
            .unwrap_or(f64::INFINITY);
        let text = format!(
            "{} {} vs {}",
            r.experiment.system,
            sci(Some(d)),
            sci(Some(pp))
        );
        if d <= pp {
            ahead.push(text)
        } else {
            behind.push(text)
        }
    }
    if ahead.is_empty() && behind.is_empty() {
        s.push_str("3. **DLNN ahead of PySINDy on ≥ 2/3 of the non-polynomial systems (prediction, one trajectory)** — not measured: no peer results.\n");
    } else {
        let _ = writeln!(
            s,
            "3. **DLNN ahead of PySINDy on ≥ 2/3 of the non-polynomial systems (prediction, one trajectory)** — {} of {}. Ahead: {}. Behind: {}.",
            ahead.len(),
            ahead.len() + behind.len(),
            list(&ahead),
            list(&behind)
        );
    }
    s.push('\n');
    s.push_str("Recommended settings per system (`train` flags): ");
    let mut seen = std::collections::BTreeSet::new();
    let recs: Vec<String> = results
        .iter()
        .filter(|r| seen.insert(r.experiment.system.clone()))
        .filter_map(|r| {
            let system = System::from_name(&r.experiment.system).ok()?;
            let (rec, _) = recommendation(&system);
            Some(format!("{} `{}`", r.experiment.system, rec.flags))
        })
        .collect();
    let _ = writeln!(s, "{}.\n", recs.join("; "));
}

/// The settings column: `default`, the recommended flags, or `positions`.
fn settings_of(system: &str, method: &str) -> String {
    match method {
        "DLNN (recommended)" => System::from_name(system)
            .map(|s| format!("`{}`", recommendation(&s).0.flags))
            .unwrap_or_default(),
        "LNN" => "positions".into(),
        _ => "default".into(),
    }
}

/// Items joined, or `none`.
fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

const HOW_TO_READ: &str = "\
## How to read this report

* Every system of `symdlnn systems`, one trajectory (`single`) and eight from its box (`multi`, the first from the training initial condition). `N_extra = N / 2`.
* **DLNN**: `train` defaults (robust recipe) at the benchmark's width and epochs. **DLNN (recommended)**: the guide's switches for the system's coordinates (`--time-reversible` when `L` is even in `q̇`, `--angles` for angle coordinates, the known symmetry built in with `--symmetry`), shown in the settings column. **LNN**: the baseline on the same positions.
* recreation: rel. RMSE over points `2..=N` from the training initial condition; prediction: over the `N_extra` points after; test IC: rel. RMSE over points `2..=N` of the rollout from the system's test initial condition (inside the box). Relative to the truth's RMS deviation from its mean. Newton: where a rollout stopped (training IC / test IC), `–` when it did not.
* Hénon–Heiles is chaotic at its training energy: its prediction error is bounded by Lyapunov growth, not by learning; it is left out of bar 1.
* The peer (PySINDy, `benches/peer/sindy.py`) fits `q̈ = Θ(q, q̇) ξ` on finite-difference velocities and accelerations of the same training file, polynomial (degree ≤ 3) and trigonometric libraries, the sparsity threshold chosen by the fit to the training trajectory, and integrates from the same positions (its starting velocity by a second-order one-sided difference of the first three points).

";
