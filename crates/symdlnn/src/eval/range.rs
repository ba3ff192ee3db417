//! Whether a rollout left the range of positions a model was trained on:
//! a learned `Ld` is only known there, and a coordinate that keeps growing
//! (a cyclic angle, a drifting centre of mass) leaves it. The warning
//! names the coordinate and the switch that removes the dependence.

use crate::learn::model_dir::ModelFile;

/// Notes for each coordinate whose rollout `q` (row-major, `n` per point)
/// leaves the training range `[min, max]` stored with the model by more
/// than a tenth of its width: which coordinate, at which point, and the
/// switch that would help (`--angles` when the coordinate is not already
/// an angle, or a built-in translation). Empty for models trained before
/// ranges were stored, or while the rollout stays inside.
pub fn range_notes(model: &ModelFile, q: &[f64]) -> Vec<String> {
    let (lo, hi) = (&model.data.q_min, &model.data.q_max);
    let n = model.n;
    if lo.len() != n || hi.len() != n || n == 0 {
        return vec![];
    }
    let angles = model.training.method.angles();
    let built_in = model.training.dlnn().and_then(|d| d.built_in.as_ref());
    let mut notes = vec![];
    for i in 0..n {
        // An angle is seen as (cos, sin), a coordinate moved by a built-in
        // symmetry only through invariants: no range to leave.
        if angles.contains(&i) || built_in.is_some_and(|b| b.symmetry.rest_axis(i).is_none()) {
            continue;
        }
        let margin = 0.1 * (hi[i] - lo[i]).max(1e-12);
        let outside = q
            .iter()
            .skip(i)
            .step_by(n)
            .position(|x| !(lo[i] - margin..=hi[i] + margin).contains(x));
        if let Some(k) = outside {
            let hint = if built_in.is_some() {
                "a built-in symmetry that moves it (--symmetry translation:…) or more data covering it"
            } else {
                "--angles if it is an angle, or a built-in translation (--symmetry translation:…) if L does not depend on it"
            };
            notes.push(format!(
                "the rollout leaves the training range of coordinate {i} ([{:.3}, {:.3}]) at point {k}: the learned Ld is extrapolated there; consider {hint}",
                lo[i], hi[i]
            ));
        }
    }
    notes
}
