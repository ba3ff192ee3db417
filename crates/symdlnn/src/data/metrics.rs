//! Numbers of a rollout against the truth, on row-major paths
//! (`path[k * n + i]` is coordinate `i` of point `k`).
//!
//! * RMSE over a span of points, `sqrt(mean_{k,i} (q̂_ki − q_ki)²)`, and
//!   relative to the truth's scale: its RMS deviation from its mean;
//! * drift `max_{k ∈ span} |x_k − x_0|` of a scalar series (energy,
//!   conserved quantity), always measured from the first point.

use std::ops::Range;

/// RMS deviation of a path from its mean position: the scale relative
/// errors are measured in. Zero for a path that does not move.
pub fn position_scale(n: usize, q: &[f64]) -> f64 {
    let len = q.len() / n;
    if len == 0 {
        return 0.0;
    }
    let mean: Vec<f64> = (0..n)
        .map(|i| q.iter().skip(i).step_by(n).sum::<f64>() / len as f64)
        .collect();
    let ss: f64 = q
        .iter()
        .enumerate()
        .map(|(k, x)| (x - mean[k % n]).powi(2))
        .sum();
    (ss / q.len() as f64).sqrt()
}

/// RMSE between two paths over the points `span` (both must cover it).
/// `None` for an empty span.
pub fn rmse(n: usize, a: &[f64], b: &[f64], span: Range<usize>) -> Option<f64> {
    if span.is_empty() {
        return None;
    }
    let r = span.start * n..span.end * n;
    let ss: f64 = a[r.clone()]
        .iter()
        .zip(&b[r.clone()])
        .map(|(x, y)| (x - y).powi(2))
        .sum();
    Some((ss / r.len() as f64).sqrt())
}

/// `max_{k ∈ span} |x_k − x_0|`; `None` for an empty span. A non-finite
/// value makes the drift infinite.
pub fn drift(x: &[f64], span: Range<usize>) -> Option<f64> {
    if span.is_empty() || x.is_empty() {
        return None;
    }
    Some(span.map(|k| (x[k] - x[0]).abs()).fold(0.0, |m: f64, d| {
        if d.is_finite() {
            m.max(d)
        } else {
            f64::INFINITY
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_shifted_by_a_constant_has_that_rmse() {
        let n = 2;
        let truth: Vec<f64> = (0..40).map(|k| (k as f64 * 0.3).sin()).collect();
        let shifted: Vec<f64> = truth.iter().map(|x| x + 0.125).collect();
        for span in [0..20, 3..11, 19..20] {
            let r = rmse(n, &shifted, &truth, span).unwrap();
            assert!((r - 0.125).abs() < 1e-15, "{r}");
        }
        assert_eq!(rmse(n, &shifted, &truth, 4..4), None);
        // Shifting one coordinate of two by c gives c/√2.
        let one: Vec<f64> = truth
            .iter()
            .enumerate()
            .map(|(k, x)| x + if k % 2 == 0 { 0.5 } else { 0.0 })
            .collect();
        let r = rmse(n, &one, &truth, 0..20).unwrap();
        assert!((r - 0.5 / 2f64.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn the_scale_of_a_circle_is_its_radius_over_root_two() {
        let n = 2;
        let m = 1000;
        let q: Vec<f64> = (0..m)
            .flat_map(|k| {
                let t = std::f64::consts::TAU * k as f64 / m as f64;
                [3.0 + 2.0 * t.cos(), -1.0 + 2.0 * t.sin()]
            })
            .collect();
        // Each coordinate has variance r²/2 about the centre.
        let s = position_scale(n, &q);
        assert!((s - 2.0 / 2f64.sqrt()).abs() < 1e-12, "{s}");
        assert_eq!(position_scale(n, &[1.0, 2.0, 1.0, 2.0]), 0.0);
    }

    #[test]
    fn drift_is_measured_from_the_first_point() {
        let x = [1.0, 1.5, 0.2, 1.1, 3.0];
        assert_eq!(drift(&x, 0..4), Some(0.8));
        assert_eq!(drift(&x, 3..5), Some(2.0));
        assert_eq!(drift(&x, 2..2), None);
        assert_eq!(drift(&[0.0, f64::NAN], 0..2), Some(f64::INFINITY));
    }
}
