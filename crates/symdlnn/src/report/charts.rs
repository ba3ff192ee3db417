//! The figures of an experiment, from evaluations of several models on the
//! same observed trajectory (the paper's Figures 2–7):
//!
//! * [`trajectories`]: configuration-space paths and each coordinate over
//!   time — truth and every model, recreation solid, prediction dashed, a
//!   marker at the end of the training span;
//! * [`energy`]: `H_k − H_0` per model;
//! * [`invariants`]: `I_k − I_0` per model and generator;
//! * [`losses`]: training-loss curves per term (log scale), from each
//!   model's `history.csv`;
//! * [`denoised`]: a noise model's observations, denoised positions and
//!   (when known) the truth, and the residuals `y − q̂` over time.

use plotters::style::RGBColor;

use super::figures::{palette, Figure, Panel, Series};
use crate::eval::Evaluation;

/// One model's evaluation, as it is labelled and coloured in figures.
pub struct Curve<'a> {
    /// Legend entry.
    pub label: String,
    /// Line colour.
    pub color: RGBColor,
    /// The model's evaluation: its path, energy and conserved quantities.
    pub eval: &'a Evaluation,
}

/// `(x_k − x_0) / scale` (unscaled when the scale is not positive).
fn relative(x: &[f64], scale: f64) -> Vec<f64> {
    let s = if scale > 0.0 { scale } else { 1.0 };
    x.iter().map(|v| (v - x[0]) / s).collect()
}

/// `count` times `0, h, 2h, …`.
fn times(count: usize, h: f64) -> Vec<f64> {
    (0..count).map(|k| k as f64 * h).collect()
}

/// Coordinate `i` along a row-major path of dimension `n`.
fn coordinate(path: &[f64], n: usize, i: usize) -> Vec<f64> {
    path.iter().skip(i).step_by(n).copied().collect()
}

/// Configuration-space paths (first two coordinates, when `n ≥ 2`) and the
/// time series of every coordinate. `names` labels the coordinates.
pub fn trajectories(title: &str, curves: &[Curve], names: &[String]) -> Option<Figure> {
    let first = curves.first()?.eval;
    let (n, h) = (first.n, first.h);
    let split = first.metrics.train_steps + 1;
    let name = |i: usize| names.get(i).cloned().unwrap_or(format!("q{i}"));
    let mut panels = vec![];
    let series_for = |xs: &dyn Fn(&[f64]) -> Vec<f64>, ys: &dyn Fn(&[f64]) -> Vec<f64>| {
        let mut out = vec![Series {
            label: "truth".into(),
            color: palette::TRUTH,
            x: xs(&first.truth),
            y: ys(&first.truth),
            dashed_from: None,
            width: 5,
        }];
        out.extend(curves.iter().map(|c| Series {
            label: c.label.clone(),
            color: c.color,
            x: xs(&c.eval.path),
            y: ys(&c.eval.path),
            dashed_from: Some(split),
            width: 2,
        }));
        out
    };
    if n >= 2 {
        panels.push(Panel {
            title: "configuration space".into(),
            x_label: name(0),
            y_label: name(1),
            series: series_for(&|p| coordinate(p, n, 0), &|p| coordinate(p, n, 1)),
            marker: None,
            equal_aspect: true,
        });
    }
    for i in 0..n {
        panels.push(Panel {
            title: format!("{} over time", name(i)),
            x_label: "t".into(),
            y_label: name(i),
            series: series_for(&|p| times(p.len() / n, h), &|p| coordinate(p, n, i)),
            marker: Some((split - 1) as f64 * h),
            equal_aspect: false,
        });
    }
    Some(Figure {
        title: format!("{title}: paths (recreation solid, prediction dashed)"),
        columns: panels.len().min(3),
        panels,
    })
}

/// `H_k − H_0` of every model that has an energy.
pub fn energy(title: &str, curves: &[Curve]) -> Option<Figure> {
    let series: Vec<Series> = curves
        .iter()
        .filter_map(|c| {
            let e = c.eval.energy.as_ref()?;
            Some(Series {
                label: c.label.clone(),
                color: c.color,
                x: times(e.len(), c.eval.h),
                y: relative(e, c.eval.energy_scale),
                dashed_from: Some(c.eval.metrics.train_steps + 1),
                width: 2,
            })
        })
        .collect();
    let first = curves.first()?.eval;
    (!series.is_empty()).then(|| Figure {
        title: format!("{title}: energy"),
        columns: 1,
        panels: vec![Panel {
            title: "DLNN/SymDLNN: H_VBEA; LNN: true H".into(),
            x_label: "t".into(),
            y_label: "(H_k − H_0) / mean |q̇·p|".into(),
            series,
            marker: Some(first.metrics.train_steps as f64 * first.h),
            equal_aspect: false,
        }],
    })
}

/// `I_k − I_0` for each generator index, every model that tracks one.
pub fn invariants(title: &str, curves: &[Curve]) -> Option<Figure> {
    let first = curves.first()?.eval;
    let count = curves
        .iter()
        .map(|c| c.eval.invariants.len())
        .max()
        .unwrap_or(0);
    let panels: Vec<Panel> = (0..count)
        .map(|g| Panel {
            title: format!("conserved quantity {}", g + 1),
            x_label: "t".into(),
            y_label: "(I_k − I_0) / mean |p||ξ(q)|".into(),
            series: curves
                .iter()
                .filter_map(|c| {
                    let i = c.eval.invariants.get(g)?;
                    let generator = c.eval.metrics.generators.get(g)?;
                    let source = c.eval.metrics.generator_source.as_deref().unwrap_or("");
                    Some(Series {
                        label: format!("{} ({source}: {generator})", c.label),
                        color: c.color,
                        x: times(i.len(), c.eval.h),
                        y: relative(i, c.eval.invariant_scales.get(g).copied().unwrap_or(0.0)),
                        // Per point (N + 1 recreation points) or per pair (N).
                        dashed_from: Some(
                            c.eval.metrics.train_steps
                                + usize::from(i.len() == c.eval.path.len() / c.eval.n),
                        ),
                        width: 2,
                    })
                })
                .collect(),
            marker: Some(first.metrics.train_steps as f64 * first.h),
            equal_aspect: false,
        })
        .collect();
    (!panels.is_empty()).then(|| Figure {
        title: format!("{title}: conserved quantities"),
        columns: panels.len().min(3),
        panels,
    })
}

/// Training-loss curves from `history.csv` texts, per model: `log10` of the
/// columns that stay positive (the total loss when it does, the DEL residual,
/// the symmetry terms) in one panel, signed columns (e.g. the `log|det|`
/// term) on a linear scale in another.
pub fn losses(title: &str, histories: &[(String, String)]) -> Option<Figure> {
    let mut panels = vec![];
    for (label, text) in histories {
        let mut lines = text.lines();
        let Some(head) = lines.next() else { continue };
        let head: Vec<&str> = head.split(',').collect();
        let rows: Vec<Vec<f64>> = lines
            .map(|l| {
                l.split(',')
                    .map(|x| x.parse().unwrap_or(f64::NAN))
                    .collect()
            })
            .collect();
        let skip = [
            "epoch",
            "lr",
            "min_abs_hdet",
            "median_abs_hdet",
            "sign_changes",
        ];
        let epochs: Vec<f64> = rows.iter().map(|r| r[0]).collect();
        let column = |j: usize| -> Vec<f64> {
            rows.iter()
                .map(|r| r.get(j).copied().unwrap_or(f64::NAN))
                .collect()
        };
        let (mut positive, mut signed) = (vec![], vec![]);
        for (c, (j, name)) in head
            .iter()
            .enumerate()
            .filter(|(_, h)| !skip.contains(h))
            .enumerate()
        {
            let y = column(j);
            let color = if c == 0 {
                palette::TRUTH
            } else {
                palette::EXTRA[(c - 1) % palette::EXTRA.len()]
            };
            let all_positive = y.iter().filter(|v| v.is_finite()).all(|v| *v > 0.0);
            let series = |y: Vec<f64>| Series {
                label: name.to_string(),
                color,
                x: epochs.clone(),
                y,
                dashed_from: None,
                width: 2,
            };
            if all_positive {
                positive.push(series(y.iter().map(|v| v.log10()).collect()));
            } else {
                signed.push(series(y));
            }
        }
        for (series, scale) in [(positive, "log10 loss"), (signed, "loss term")] {
            if !series.is_empty() {
                panels.push(Panel {
                    title: format!("{label}: {scale}"),
                    x_label: "epoch".into(),
                    y_label: scale.into(),
                    series,
                    marker: None,
                    equal_aspect: false,
                });
            }
        }
    }
    (!panels.is_empty()).then(|| Figure {
        title: format!("{title}: training losses"),
        columns: panels.len().min(3),
        panels,
    })
}

/// The observations `y` (thin), a noise model's denoised positions `q̂`
/// and the truth when given (each row-major, dimension `n`, step `h`; the
/// truth cut to the observations' length), per coordinate over time, and
/// the residuals `y − q̂` (what a correct fit leaves: white noise of size σ).
pub fn denoised(
    title: &str,
    (n, h): (usize, f64),
    observed: &[f64],
    denoised: &[f64],
    truth: Option<&[f64]>,
    names: &[String],
) -> Option<Figure> {
    if n == 0 || observed.len() != denoised.len() || observed.is_empty() {
        return None;
    }
    let count = observed.len() / n;
    let t = times(count, h);
    let name = |i: usize| names.get(i).cloned().unwrap_or(format!("q{i}"));
    let line = |label: &str, color: RGBColor, y: Vec<f64>, width: u32| Series {
        label: label.into(),
        color,
        x: t.clone(),
        y,
        dashed_from: None,
        width,
    };
    let mut panels = vec![];
    for i in 0..n {
        let mut series = vec![];
        if let Some(tr) = truth.filter(|tr| tr.len() >= observed.len()) {
            series.push(line(
                "truth",
                palette::TRUTH,
                coordinate(&tr[..observed.len()], n, i),
                5,
            ));
        }
        series.push(line(
            "observed",
            palette::EXTRA[3],
            coordinate(observed, n, i),
            1,
        ));
        series.push(line(
            "denoised",
            palette::DLNN,
            coordinate(denoised, n, i),
            2,
        ));
        panels.push(Panel {
            title: format!("{} over time", name(i)),
            x_label: "t".into(),
            y_label: name(i),
            series,
            marker: None,
            equal_aspect: false,
        });
    }
    let residual: Vec<f64> = observed.iter().zip(denoised).map(|(y, q)| y - q).collect();
    panels.push(Panel {
        title: "observation residuals y − q̂".into(),
        x_label: "t".into(),
        y_label: "y − q̂".into(),
        series: (0..n)
            .map(|i| {
                let color = palette::EXTRA[i % palette::EXTRA.len()];
                line(&name(i), color, coordinate(&residual, n, i), 1)
            })
            .collect(),
        marker: None,
        equal_aspect: false,
    });
    Some(Figure {
        title: format!("{title}: observations and denoised positions"),
        columns: panels.len().min(3),
        panels,
    })
}
