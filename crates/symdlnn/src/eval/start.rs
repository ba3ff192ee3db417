//! Where a rollout from observed positions starts.
//!
//! Two observed points `(y0, y1)` carry the noise into the starting
//! velocity (an error of about `√2·σ/Δt`). A model trained with noise knows
//! better: on its own training data it starts from its denoised positions
//! `(q̂0, q̂1)`; on other data it fits the start to the first
//! [`DEFAULT_FIT_START`] observations through its dynamics
//! ([`crate::mechanics::fit_start`]). A model trained without noise starts
//! from the two points unless asked to fit.

use crate::data::Dataset;
use crate::learn::model_dir::ModelFile;
use crate::mechanics::{fit_start, Convergence, DiscreteLagrangian, FittedStart, StartError};

/// Observations a noise-aware model fits its start to by default.
pub const DEFAULT_FIT_START: usize = 10;

/// How a rollout's start was chosen.
#[derive(Clone, Debug, PartialEq)]
pub enum StartChoice {
    /// The trajectory's first two observed points.
    TwoPoints,
    /// The model's denoised positions of its training trajectory.
    Denoised,
    /// Fitted to the first observations (`default`: chosen for a model
    /// trained with noise, not asked for).
    Fitted {
        /// The fit.
        fit: FittedStart,
        /// Whether the fit was the default rather than asked for.
        default: bool,
    },
}

impl StartChoice {
    /// One line saying what was done.
    pub fn describe(&self) -> String {
        match self {
            Self::TwoPoints => "start: the first two observed points".into(),
            Self::Denoised => {
                "start: the model's denoised positions (the data are its training data)".into()
            }
            Self::Fitted { fit, default } => format!(
                "start fitted to the first {} observations{}: RMS misfit {:.3e} → {:.3e}",
                fit.k,
                if *default {
                    " (the default for a model trained with noise)"
                } else {
                    ""
                },
                fit.rms_before,
                fit.rms_after
            ),
        }
    }
}

/// The start `(q0, q1)` of a rollout of `ld` (the model `model`, with its
/// denoised positions `denoised` if it has them) from trajectory `traj` of
/// `data` (checked to exist and to have ≥ 2 points), fitted to `fit` points
/// when given, else as the module header says.
pub fn observed_start<L: DiscreteLagrangian + ?Sized>(
    ld: &L,
    model: &ModelFile,
    denoised: Option<&Dataset>,
    data: &Dataset,
    traj: usize,
    fit: Option<usize>,
) -> Result<(Vec<f64>, Vec<f64>, StartChoice), StartError> {
    let tr = &data.trajectories[traj];
    let fitted = |k: usize, default: bool| -> Result<_, StartError> {
        let f = fit_start(ld, &tr.q, k, Convergence::default())?;
        Ok((
            f.q0.clone(),
            f.q1.clone(),
            StartChoice::Fitted { fit: f, default },
        ))
    };
    if let Some(k) = fit {
        return fitted(k, false);
    }
    let two = (
        tr.position(0).to_vec(),
        tr.position(1).to_vec(),
        StartChoice::TwoPoints,
    );
    if model.noise.is_none() {
        return Ok(two);
    }
    let own = model.data.content_hash.as_deref() == Some(&data.content_hash());
    if let Some(d) = denoised.filter(|d| own && d.trajectories.len() == data.trajectories.len()) {
        let t = &d.trajectories[traj];
        return Ok((
            t.position(0).to_vec(),
            t.position(1).to_vec(),
            StartChoice::Denoised,
        ));
    }
    if tr.len() < 3 {
        return Ok(two);
    }
    fitted(DEFAULT_FIT_START.min(tr.len()), true)
}
