//! Line charts as PNG and SVG, drawn with plotters and the bundled DejaVu
//! Sans (no system font is consulted).
//!
//! A [`Figure`] is a grid of [`Panel`]s; a panel holds [`Series`] that
//! switch from solid to dashed at a given point (recreation → prediction)
//! and an optional vertical marker (the end of the training span).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The bundled font (DejaVu Sans; licence in `assets/`).
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Why a figure could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    /// Plotters failed on a part of the figure (or on writing the file).
    // The backend's error is part of the message, not a separate cause, so
    // that a chain of causes prints it once.
    #[error("{path}: cannot draw {part}: {error}")]
    Draw {
        /// The figure's file.
        path: String,
        /// The part being drawn, e.g. `panel 'energy': axes`.
        part: String,
        /// The drawing backend's error.
        error: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The directory for the figures could not be created.
    #[error("{path}: cannot create the directory: {error}")]
    Directory {
        /// The directory.
        path: String,
        /// Why it could not be created.
        error: std::io::Error,
    },
    /// The bundled font could not be registered with plotters.
    #[error("the bundled font could not be loaded")]
    Font,
}

/// A drawing step that failed: the part of the figure and the backend's
/// error ([`Figure::write`] adds the file).
#[derive(Debug)]
struct DrawError {
    part: String,
    error: Box<dyn std::error::Error + Send + Sync>,
}

impl DrawError {
    /// This error in the figure written to `path`.
    fn at(self, path: &Path) -> FigureError {
        FigureError::Draw {
            path: path.display().to_string(),
            part: self.part,
            error: self.error,
        }
    }
}

/// The error of a failed drawing step on `part`.
fn failed<E: std::error::Error + Send + Sync + 'static>(
    part: String,
) -> impl FnOnce(E) -> DrawError {
    move |e| DrawError {
        part,
        error: Box::new(e),
    }
}

/// One line.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend entry (empty: none).
    pub label: String,
    /// Line colour.
    pub color: RGBColor,
    /// Abscissae.
    pub x: Vec<f64>,
    /// Ordinates, one per abscissa (non-finite points are skipped).
    pub y: Vec<f64>,
    /// Points from this index on are drawn dashed (`None`: all solid).
    pub dashed_from: Option<usize>,
    /// Line width in pixels.
    pub width: u32,
}

/// One chart.
#[derive(Clone, Debug, Default)]
pub struct Panel {
    /// Caption above the chart.
    pub title: String,
    /// Horizontal axis label.
    pub x_label: String,
    /// Vertical axis label.
    pub y_label: String,
    /// The lines, drawn in order.
    pub series: Vec<Series>,
    /// A vertical dotted line at this `x`.
    pub marker: Option<f64>,
    /// Same scale on both axes (configuration-space paths).
    pub equal_aspect: bool,
}

/// A grid of panels with a title.
#[derive(Clone, Debug)]
pub struct Figure {
    /// Title across the top.
    pub title: String,
    /// Panels per row.
    pub columns: usize,
    /// The panels, row by row.
    pub panels: Vec<Panel>,
}

/// Colours per method, the same in every figure.
pub mod palette {
    use plotters::style::RGBColor;
    /// The observed (true) trajectory: grey.
    pub const TRUTH: RGBColor = RGBColor(100, 100, 100);
    /// DLNN: blue.
    pub const DLNN: RGBColor = RGBColor(31, 119, 180);
    /// SymDLNN: green.
    pub const SYMDLNN: RGBColor = RGBColor(44, 160, 44);
    /// LNN: red.
    pub const LNN: RGBColor = RGBColor(214, 39, 40);
    /// Models trained with the paper's recipe, when recipes are compared: purple.
    pub const PAPER: RGBColor = RGBColor(148, 103, 189);
    /// SymDLNN-paper (the paper's symmetry solver): orange.
    pub const SYMDLNN_PAPER: RGBColor = RGBColor(255, 127, 14);
    /// SymDLNN with the symmetry built into `Ld`: teal.
    pub const SYMDLNN_BUILT_IN: RGBColor = RGBColor(23, 190, 207);
    /// Colours for further series (several generators, loss terms).
    pub const EXTRA: [RGBColor; 4] = [
        RGBColor(188, 189, 34),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
}

/// Width of a panel in pixels.
const PANEL_W: u32 = 560;
/// Height of a panel in pixels.
const PANEL_H: u32 = 400;
/// Height of the figure's title band in pixels.
const TITLE_H: u32 = 40;

/// Register the bundled font as `sans-serif` (once).
fn register_font() -> Result<(), FigureError> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok()
    });
    ok.then_some(()).ok_or(FigureError::Font)
}

impl Figure {
    /// Write `<stem>.png` and `<stem>.svg`; returns both paths.
    pub fn write(&self, stem: &Path) -> Result<[PathBuf; 2], FigureError> {
        register_font()?;
        let rows = self.panels.len().div_ceil(self.columns.max(1)).max(1);
        let cols = self.columns.clamp(1, self.panels.len().max(1)) as u32;
        // Wide enough for the title (≈ 12 px a character at 24 px).
        let title_w = 12 * self.title.chars().count() as u32 + 40;
        let size = (
            (cols * PANEL_W).max(title_w),
            rows as u32 * PANEL_H + TITLE_H,
        );
        let png = stem.with_extension("png");
        let svg = stem.with_extension("svg");
        // Drawn to temporary files renamed into place: a figure is complete
        // or absent (the extension stays last: plotters picks the encoder by it).
        let tmp = |p: &Path| {
            let name = p
                .file_name()
                .map_or("figure".into(), |n| n.to_string_lossy());
            p.with_file_name(format!(".tmp{}.{name}", std::process::id()))
        };
        let (png_tmp, svg_tmp) = (tmp(&png), tmp(&svg));
        let result = (|| -> Result<(), FigureError> {
            {
                let root = BitMapBackend::new(&png_tmp, size).into_drawing_area();
                self.draw(&root).map_err(|e| e.at(&png))?;
                (root.present())
                    .map_err(failed("the file".into()))
                    .map_err(|e| e.at(&png))?;
            }
            {
                let root = SVGBackend::new(&svg_tmp, size).into_drawing_area();
                self.draw(&root).map_err(|e| e.at(&svg))?;
                (root.present())
                    .map_err(failed("the file".into()))
                    .map_err(|e| e.at(&svg))?;
            }
            for (from, to) in [(&png_tmp, &png), (&svg_tmp, &svg)] {
                std::fs::rename(from, to)
                    .map_err(failed("the file".into()))
                    .map_err(|e| e.at(to))?;
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&png_tmp);
            let _ = std::fs::remove_file(&svg_tmp);
        }
        result.map(|()| [png, svg])
    }

    /// Draw the title and every panel on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(failed("the background".into()))?;
        let (top, body) = root.split_vertically(TITLE_H);
        (top.titled(&self.title, ("sans-serif", 24))).map_err(failed("the title".into()))?;
        let rows = self.panels.len().div_ceil(self.columns.max(1)).max(1);
        let cols = self.columns.clamp(1, self.panels.len().max(1));
        for (area, panel) in body.split_evenly((rows, cols)).iter().zip(&self.panels) {
            draw_panel(area, panel)?;
        }
        Ok(())
    }
}

/// Values beyond this magnitude are left off a chart, like NaN (plotters'
/// tick search does not return on ranges near the largest float).
pub const AXIS_LIMIT: f64 = 1e100;

/// Whether a value is drawn: finite and within [`AXIS_LIMIT`].
fn drawable(v: f64) -> bool {
    v.is_finite() && v.abs() <= AXIS_LIMIT
}

/// Drawable data bounds with a margin; a flat range is widened.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| drawable(*v))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    let span = hi - lo;
    let pad = if span > 1e-12 * (1.0 + lo.abs().max(hi.abs())) {
        0.05 * span
    } else {
        1e-3 * (1.0 + lo.abs())
    };
    (lo - pad, hi + pad)
}

/// Draw one panel: axes, marker, series and legend.
fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &Panel) -> Result<(), DrawError>
where
    DB::ErrorType: 'static,
{
    let part = |what: &str| format!("panel '{}': {what}", p.title);
    let (x0, x1, y0, y1) = panel_bounds(p);
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, ("sans-serif", 18))
        .margin(8)
        .x_label_area_size(38)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(failed(part("the chart")))?;
    chart
        .configure_mesh()
        .x_desc(&p.x_label)
        .y_desc(&p.y_label)
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(215, 215, 215))
        .x_labels(6)
        .y_labels(6)
        .y_label_formatter(&|v| format_tick(*v, y1 - y0))
        .x_label_formatter(&|v| format_tick(*v, x1 - x0))
        .draw()
        .map_err(failed(part("the axes")))?;
    if let Some(m) = p.marker {
        chart
            .draw_series(DashedLineSeries::new(
                [(m, y0), (m, y1)],
                3,
                4,
                RGBColor(120, 120, 120).stroke_width(1),
            ))
            .map_err(failed(part("the marker")))?;
    }
    for series in &p.series {
        draw_series(&mut chart, series)
            .map_err(failed(part(&format!("series '{}'", series.label))))?;
    }
    if p.series.iter().any(|s| !s.label.is_empty()) {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .label_font(("sans-serif", 13))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(failed(part("the legend")))?;
    }
    Ok(())
}

/// A panel's axis ranges `(x0, x1, y0, y1)`: the data's bounds, widened to
/// the marker and, for an equal-aspect panel, to equal scales.
fn panel_bounds(p: &Panel) -> (f64, f64, f64, f64) {
    let (mut x0, mut x1) = bounds(p.series.iter().flat_map(|s| s.x.iter().copied()));
    let (mut y0, mut y1) = bounds(p.series.iter().flat_map(|s| s.y.iter().copied()));
    if let Some(m) = p.marker.filter(|m| drawable(*m)) {
        x0 = x0.min(m);
        x1 = x1.max(m);
    }
    if p.equal_aspect {
        // Pixels per unit equal on both axes (plot area ≈ 440 × 300).
        let (w, h) = (x1 - x0, y1 - y0);
        let ratio = 440.0 / 300.0;
        if w / h < ratio {
            let extra = (h * ratio - w) / 2.0;
            x0 -= extra;
            x1 += extra;
        } else {
            let extra = (w / ratio - h) / 2.0;
            y0 -= extra;
            y1 += extra;
        }
    }
    (x0, x1, y0, y1)
}

/// The chart of one panel.
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draw one series (its finite points): solid up to `dashed_from`, dashed
/// after, with its legend entry.
fn draw_series<DB: DrawingBackend>(
    chart: &mut Chart<DB>,
    series: &Series,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let pts: Vec<(f64, f64)> = series
        .x
        .iter()
        .zip(&series.y)
        .map(|(a, b)| (*a, *b))
        .filter(|(a, b)| drawable(*a) && drawable(*b))
        .collect();
    if pts.is_empty() {
        return Ok(());
    }
    let style = series.color.stroke_width(series.width);
    let split = series.dashed_from.unwrap_or(pts.len()).min(pts.len());
    let solid = &pts[..split.max(1).min(pts.len())];
    let anno = chart.draw_series(LineSeries::new(solid.iter().copied(), style))?;
    let color = series.color;
    anno.label(series.label.clone())
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
    if split < pts.len() {
        chart.draw_series(DashedLineSeries::new(
            pts[split.saturating_sub(1)..].iter().copied(),
            6,
            4,
            style,
        ))?;
    }
    Ok(())
}

/// Short tick labels: plain for moderate magnitudes, scientific otherwise;
/// a value within rounding of zero on an axis of extent `range` is `0`.
fn format_tick(v: f64, range: f64) -> String {
    let a = v.abs();
    if a <= 1e-9 * range.abs() {
        "0".into()
    } else if (1e-2..1e4).contains(&a) {
        let s = format!("{v:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        format!("{v:.1e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_figure_is_written_as_png_and_svg_with_the_bundled_font() {
        let dir = tempfile::tempdir().unwrap();
        let x: Vec<f64> = (0..50).map(|k| k as f64 * 0.1).collect();
        let fig = Figure {
            title: "test figure".into(),
            columns: 2,
            panels: vec![
                Panel {
                    title: "sin".into(),
                    x_label: "t".into(),
                    y_label: "q".into(),
                    series: vec![Series {
                        label: "truth".into(),
                        color: palette::TRUTH,
                        x: x.clone(),
                        y: x.iter().map(|t| t.sin()).collect(),
                        dashed_from: Some(30),
                        width: 2,
                    }],
                    marker: Some(3.0),
                    equal_aspect: false,
                },
                Panel {
                    title: "flat".into(),
                    series: vec![Series {
                        label: "zero".into(),
                        color: palette::DLNN,
                        x: x.clone(),
                        y: vec![0.0; 50],
                        dashed_from: None,
                        width: 2,
                    }],
                    equal_aspect: true,
                    ..Panel::default()
                },
            ],
        };
        let [png, svg] = fig.write(&dir.path().join("fig")).unwrap();
        let png = std::fs::read(png).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let svg = std::fs::read_to_string(svg).unwrap();
        assert!(svg.contains("<svg") && svg.contains("test figure"));
        assert_eq!(format_tick(0.25, 1.0), "0.25");
        assert_eq!(format_tick(2.0e-5, 1e-4), "2.0e-5");
        assert_eq!(format_tick(-5.6e-17, 1.0), "0");
    }
}
