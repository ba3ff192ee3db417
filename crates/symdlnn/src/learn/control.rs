//! How a run uses its data and its time: minibatches, a held-out
//! validation set, which model is kept, early stopping and a time budget
//! (issue 19). Checked by [`super::TrainConfig::validate`]; carried out by
//! [`super::fit`] with [`super::batches`] and [`super::validation`].

use std::fmt;
use std::num::NonZeroUsize;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A minibatch, validation or time-budget setting that is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ControlError(pub String);

/// Training pairs per optimiser step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BatchSize {
    /// Full batch up to [`BatchSize::AUTO_FULL_MAX`] training pairs, above
    /// it minibatches of [`BatchSize::AUTO_BATCH`] pairs (chosen by
    /// measurement: `docs/measurements.md` §9).
    #[default]
    Auto,
    /// Every pair in every step (one step per epoch).
    Full,
    /// Minibatches of at most this many pairs.
    #[serde(untagged)]
    Pairs(NonZeroUsize),
}

impl BatchSize {
    /// Above this many training pairs `auto` trains on minibatches.
    pub const AUTO_FULL_MAX: usize = 2048;
    /// The minibatch of `auto` above [`BatchSize::AUTO_FULL_MAX`] pairs.
    pub const AUTO_BATCH: usize = 512;
    /// The smallest minibatch (a batch holds whole windows of triples).
    pub const MIN: usize = 8;

    /// The minibatch size on `pairs` training pairs; `None`: full batch
    /// (also when the batch would hold every pair).
    pub fn resolve(self, pairs: usize) -> Option<usize> {
        let b = match self {
            Self::Full => return None,
            Self::Auto if pairs <= Self::AUTO_FULL_MAX => return None,
            Self::Auto => Self::AUTO_BATCH,
            Self::Pairs(b) => b.get(),
        };
        (b < pairs).then_some(b)
    }

    /// Optimiser steps in one epoch over `pairs` training pairs (1 for a
    /// full batch).
    pub fn steps_per_epoch(self, pairs: usize) -> usize {
        self.resolve(pairs).map_or(1, |b| pairs.div_ceil(b))
    }
}

/// Optimiser steps of a run whose epochs are not given (`train` without
/// `--epochs`, the Python estimators' `epochs=None`): the robust recipe
/// keeps improving well past 3 000 steps on every zoo system
/// (`docs/measurements.md` §11).
pub const DEFAULT_STEPS: usize = 20_000;

/// The epochs of a run whose epochs are not given: [`DEFAULT_STEPS`]
/// optimiser steps on `pairs` training pairs with minibatches `batch`
/// (20 000 epochs with a full batch; fewer, each of several steps, with
/// minibatches), at least one.
pub fn default_epochs(pairs: usize, batch: BatchSize) -> usize {
    DEFAULT_STEPS.div_ceil(batch.steps_per_epoch(pairs)).max(1)
}

impl FromStr for BatchSize {
    type Err = ControlError;
    /// `auto`, `full` or a number of pairs.
    fn from_str(s: &str) -> Result<Self, ControlError> {
        match s.trim() {
            "auto" => Ok(Self::Auto),
            "full" => Ok(Self::Full),
            b => b
                .parse::<NonZeroUsize>()
                .map(Self::Pairs)
                .map_err(|_| ControlError(format!("'{s}' is not auto, full or a count ≥ 1"))),
        }
    }
}

impl fmt::Display for BatchSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Full => f.write_str("full"),
            Self::Pairs(b) => write!(f, "{b}"),
        }
    }
}

/// Which model a run with validation leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Keep {
    /// The model of the validation with the lowest score.
    #[default]
    Best,
    /// The model at the end of training.
    Last,
}

/// How a run uses its data and time. The default: `auto` batches, no
/// validation, no budget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainControl {
    /// Pairs per step.
    #[serde(default)]
    pub batch_size: BatchSize,
    /// Fraction of the trajectories held out for validation (seeded).
    #[serde(default)]
    pub validation: Option<f64>,
    /// Validate every this many epochs (and after the last).
    #[serde(default = "default_every")]
    pub validate_every: usize,
    /// Which model is kept when validating.
    #[serde(default)]
    pub keep: Keep,
    /// Stop after this many validations without improvement.
    #[serde(default)]
    pub patience: Option<usize>,
    /// Train for at most this many seconds (the schedule is spread over
    /// the epochs that fit, from the measured epoch time).
    #[serde(default)]
    pub time_budget: Option<f64>,
    /// Minibatches, robust recipe: the barrier's threshold from a running
    /// median over batches instead of each batch's own median.
    #[serde(default)]
    pub running_threshold: bool,
}

fn default_every() -> usize {
    TrainControl::DEFAULT_VALIDATE_EVERY
}

impl Default for TrainControl {
    fn default() -> Self {
        Self {
            batch_size: BatchSize::Auto,
            validation: None,
            validate_every: Self::DEFAULT_VALIDATE_EVERY,
            keep: Keep::Best,
            patience: None,
            time_budget: None,
            running_threshold: false,
        }
    }
}

impl TrainControl {
    /// Validation every this many epochs by default.
    pub const DEFAULT_VALIDATE_EVERY: usize = 10;

    /// What a model file written before these settings existed did: full
    /// batch, no validation.
    pub fn legacy() -> Self {
        Self {
            batch_size: BatchSize::Full,
            ..Self::default()
        }
    }

    /// `true` for [`TrainControl::legacy`] (not written to `model.json`).
    pub fn is_legacy(&self) -> bool {
        *self == Self::legacy()
    }

    /// The pure checks of the settings (the split itself is checked against
    /// the data by [`super::validation::split`]).
    pub fn check(&self, trajectories: usize) -> Result<(), ControlError> {
        if let BatchSize::Pairs(b) = self.batch_size {
            if b.get() < BatchSize::MIN {
                return Err(ControlError(format!(
                    "--batch-size {b}: a minibatch needs at least {} pairs",
                    BatchSize::MIN
                )));
            }
        }
        if let Some(f) = self.validation {
            if !(f.is_finite() && f > 0.0 && f < 1.0) {
                return Err(ControlError(format!(
                    "--validation {f}: the held-out fraction must be in (0, 1)"
                )));
            }
            if trajectories < 2 {
                return Err(ControlError(format!(
                    "--validation holds out whole trajectories: the data have {trajectories}, it needs at least 2"
                )));
            }
        }
        if self.validate_every == 0 {
            return Err(ControlError("--validate-every must be ≥ 1".into()));
        }
        if self.patience.is_some() && self.validation.is_none() {
            return Err(ControlError(
                "--patience needs --validation (it counts validations without improvement)".into(),
            ));
        }
        if self.patience == Some(0) {
            return Err(ControlError("--patience must be ≥ 1".into()));
        }
        if let Some(t) = self.time_budget {
            if !(t.is_finite() && t > 0.0) {
                return Err(ControlError(format!(
                    "--time-budget {t} s: must be a positive time"
                )));
            }
        }
        Ok(())
    }
}

/// A duration such as `90`, `90s`, `10m`, `1.5h` in seconds.
pub fn parse_duration(s: &str) -> Result<f64, ControlError> {
    let s = s.trim();
    let (num, unit) = match s
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_ascii_digit() || *c == '.')
    {
        Some((i, _)) => s.split_at(i + 1),
        None => (s, ""),
    };
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        u => {
            return Err(ControlError(format!(
                "'{s}': unknown time unit '{u}' (use s, m or h)"
            )))
        }
    };
    let x: f64 = num
        .parse()
        .map_err(|_| ControlError(format!("'{s}' is not a duration such as 90s, 10m, 1h")))?;
    if !(x.is_finite() && x > 0.0) {
        return Err(ControlError(format!("'{s}': a duration must be > 0")));
    }
    Ok(x * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_batch_sizes_parse() {
        assert_eq!(parse_duration("10m").unwrap(), 600.0);
        assert_eq!(parse_duration("90").unwrap(), 90.0);
        assert_eq!(parse_duration("1.5h").unwrap(), 5400.0);
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("-3s").is_err());
        assert_eq!("full".parse::<BatchSize>().unwrap(), BatchSize::Full);
        assert_eq!("256".parse::<BatchSize>().unwrap().resolve(1000), Some(256));
        assert_eq!("256".parse::<BatchSize>().unwrap().resolve(256), None);
        assert_eq!(BatchSize::Auto.resolve(BatchSize::AUTO_FULL_MAX), None);
        assert_eq!(default_epochs(200, BatchSize::Auto), DEFAULT_STEPS);
        assert_eq!(default_epochs(20_000, BatchSize::Full), DEFAULT_STEPS);
        // 20 000 pairs in minibatches of 512: 40 steps an epoch.
        assert_eq!(BatchSize::Auto.steps_per_epoch(20_000), 40);
        assert_eq!(default_epochs(20_000, BatchSize::Auto), 500);
        assert_eq!(default_epochs(usize::MAX, BatchSize::Auto), 1);
        // The LNN trains full batch: its default counts full-batch epochs.
        use crate::learn::MethodKind;
        assert_eq!(
            MethodKind::Dlnn.default_epochs(20_000, BatchSize::Auto),
            500
        );
        assert_eq!(
            MethodKind::Lnn.default_epochs(20_000, BatchSize::Auto),
            DEFAULT_STEPS
        );
        assert_eq!(
            BatchSize::Auto.resolve(BatchSize::AUTO_FULL_MAX + 1),
            Some(BatchSize::AUTO_BATCH)
        );
        let json = serde_json::to_string(&TrainControl {
            batch_size: "300".parse().unwrap(),
            ..TrainControl::default()
        })
        .unwrap();
        let back: TrainControl = serde_json::from_str(&json).unwrap();
        assert_eq!(back.batch_size.to_string(), "300");
    }
}
