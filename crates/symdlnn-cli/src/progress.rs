//! Progress bars: drawn on a terminal, hidden otherwise.

/// A bar of `len` steps counting `unit`, hidden when standard error is not a terminal.
pub fn bar(len: u64, unit: &str) -> indicatif::ProgressBar {
    if !crate::args::interactive() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    let template = format!("{{bar:30}} {{pos}}/{{len}} {unit} {{elapsed}} {{msg}}");
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}
