//! What several integration tests share.

use std::path::Path;

use symdlnn::data::Dataset;
use symdlnn::learn::model_dir::ModelFile;
use symdlnn::learn::{fit, FitOptions, TrainConfig};
use symdlnn::nn::Mlp;

/// `config` trained on `data` twice: straight through into `dir/a`, and
/// into `dir/b` with a checkpoint every `every` epochs, after which
/// `interrupt(dir/b)` leaves what a crash would have left and the run is
/// resumed there. The straight run's result and the resumed one's.
pub fn straight_and_resumed(
    config: &TrainConfig,
    data: &Dataset,
    dir: &Path,
    every: usize,
    interrupt: impl FnOnce(&Path),
) -> [(ModelFile, Mlp); 2] {
    let (a, b) = (dir.join("a"), dir.join("b"));
    let opts = FitOptions {
        source: "test".into(),
        ..FitOptions::default()
    };
    let straight = fit(config, data, &a, &opts, &mut |_| {}).unwrap();
    let with_cp = FitOptions {
        checkpoint_every: Some(every),
        ..opts
    };
    fit(config, data, &b, &with_cp, &mut |_| {}).unwrap();
    interrupt(&b);
    let resume = FitOptions {
        resume: true,
        ..with_cp
    };
    let resumed = fit(config, data, &b, &resume, &mut |_| {}).unwrap();
    [straight, resumed]
}
