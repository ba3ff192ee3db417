//! Figures and tables of evaluations: the paper's Figures 2–7 and the
//! numbers behind them.

pub mod charts;
pub mod experiment;
pub mod figures;
pub mod zoo;

use std::path::{Path, PathBuf};

pub use charts::Curve;
pub use experiment::{experiment_figures, markdown};
pub use figures::{palette, Figure, FigureError, Panel, Series};

/// The colour of a method in every figure.
pub fn method_color(method: &str) -> plotters::style::RGBColor {
    match method {
        "dlnn" => palette::DLNN,
        "symdlnn" => palette::SYMDLNN,
        "lnn" => palette::LNN,
        _ => palette::PAPER,
    }
}

/// Write an experiment's figures into `dir` as `<prefix>trajectories`,
/// `<prefix>energy`, `<prefix>invariants` and `<prefix>losses` (PNG and SVG;
/// a figure with nothing to show is skipped). Returns the PNG paths.
pub fn write_figures(
    dir: &Path,
    prefix: &str,
    title: &str,
    curves: &[Curve],
    histories: &[(String, String)],
    coordinate_names: &[String],
) -> Result<Vec<PathBuf>, FigureError> {
    let figures = [
        (
            "trajectories",
            charts::trajectories(title, curves, coordinate_names),
        ),
        ("energy", charts::energy(title, curves)),
        ("invariants", charts::invariants(title, curves)),
        ("losses", charts::losses(title, histories)),
    ];
    let mut written = vec![];
    for (name, figure) in figures {
        if let Some(f) = figure {
            let [png, _svg] = f.write(&dir.join(format!("{prefix}{name}")))?;
            written.push(png);
        }
    }
    Ok(written)
}
