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

/// What an experiment's progress does to `bar` (experiment `i` of
/// `count`): a stage replaces its message on a terminal and is a line on
/// standard error otherwise; an epoch moves it.
pub fn experiment(
    bar: &indicatif::ProgressBar,
    i: usize,
    count: usize,
) -> impl FnMut(symdlnn::eval::experiment::Progress) + '_ {
    use symdlnn::eval::experiment::Progress;
    let interactive = crate::args::interactive();
    move |p| match p {
        Progress::Stage { experiment, stage } => {
            let line = format!("[{}/{count}] {experiment}: {stage}", i + 1);
            if interactive {
                bar.set_position(0);
                bar.set_message(line);
            } else {
                eprintln!("{line}");
            }
        }
        Progress::Epoch { epoch, .. } => bar.set_position(epoch as u64),
    }
}
