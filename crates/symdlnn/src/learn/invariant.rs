//! Symmetries built into `Ld`: translations and a rotation, as coordinates
//! of the pair that they leave unchanged.
//!
//! A group `G` acting on `Q` acts on pairs diagonally, `g·(q0, q1) = (g q0,
//! g q1)`. A learned `Ld` is invariant to rounding when the network sees
//! only invariants of the pair. With `q̄ = (q0 + q1)/2` and `v = (q1 − q0)/h`
//! the invariants used here are, for
//!
//! * translations along orthonormal `t_1 … t_T` (`ξ = t`): `q̄` projected
//!   on the complement of their span, and every component of `v`;
//! * a rotation in the plane of orthonormal `e1, e2` about a centre `c`
//!   (`ξ(q) = M (q − c)`, `M = e2 e1ᵀ − e1 e2ᵀ`): the radius
//!   `r = |x|` of the midpoint's plane part `x = (e1·(q̄ − c), e2·(q̄ − c))`
//!   and the plane part of `v` in the frame of `x`, `(x·v_p, x × v_p)/r` —
//!   the pair rotated so that its midpoint lies on `e1` (a canonicalisation);
//!
//! the remaining coordinates of `q̄` and `v` (an orthonormal basis of the
//! complement) unchanged. The translations must commute with the rotation
//! (they lie outside its plane). Every feature is even (positions) or odd
//! (velocities) under time reversal `(q0, q1) → (q1, q0)`, which keeps the
//! reversed pair's derivatives a sign change of the pair's own.
//!
//! Generators found by discovery are affine, `ξ(q) = M q + w`; [`BuiltIn::from_generators`]
//! projects them on these types (`M ≈ 0`: a translation; `M` skew of rank
//! 2: a rotation) and reports how far each was from its projection.

use serde::{Deserialize, Serialize};

use crate::mechanics::{AffineGenerator, Scalar};

/// A rotation in a plane about a centre.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlaneRotation {
    /// The plane's first unit vector (`n`).
    pub e1: Vec<f64>,
    /// Its second, orthogonal to the first (`n`); the rotation turns `e1` towards `e2`.
    pub e2: Vec<f64>,
    /// The centre `c` (`n`).
    pub centre: Vec<f64>,
}

/// The symmetries built into a learned `Ld`, and the basis of the
/// coordinates they leave alone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BuiltIn {
    /// Orthonormal translation directions (`n` each).
    pub translations: Vec<Vec<f64>>,
    /// A rotation (its plane orthogonal to the translations).
    pub rotation: Option<PlaneRotation>,
    /// Orthonormal basis of the complement of the translations and the
    /// rotation's plane (coordinate axes where possible).
    pub rest: Vec<Vec<f64>>,
    /// How far each generator it was built from was from its projection on
    /// a supported type (relative, in coefficient norm; 0 for declared ones).
    #[serde(default)]
    pub distances: Vec<f64>,
}

/// Why generators cannot be built in.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuiltInError {
    /// A generator of the wrong dimension.
    #[error("a built-in generator has {got} components, the data {n} coordinates")]
    Dimension {
        /// Components given.
        got: usize,
        /// The dimension.
        n: usize,
    },
    /// A zero or non-finite generator.
    #[error("a built-in generator is zero or not finite")]
    Degenerate,
    /// More than one rotation.
    #[error("only one rotation can be built in (so(3) and other non-commuting rotations are not supported)")]
    TwoRotations,
    /// A translation in the rotation's plane (they do not commute).
    #[error("a built-in translation has a component in the rotation's plane: they do not commute")]
    NotCommuting,
    /// Linearly dependent translations.
    #[error("the built-in translations are linearly dependent")]
    Dependent,
    /// A rotation in fewer than two dimensions.
    #[error("a rotation needs at least 2 coordinates")]
    TooSmall,
    /// A declared symmetry that does not parse.
    #[error("'{0}' is not rotation, rotation:cx,cy, translation:a,b,… or affine:M;w")]
    Parse(String),
    /// An angle coordinate that a built-in symmetry moves.
    #[error(
        "angle coordinate {0} is moved by a built-in symmetry: angles must be left alone by it"
    )]
    MovedAngle(usize),
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// `a` with its components along the orthonormal `basis` removed.
fn reject(a: &[f64], basis: &[Vec<f64>]) -> Vec<f64> {
    let mut r = a.to_vec();
    for b in basis {
        let c = dot(&r, b);
        r.iter_mut().zip(b).for_each(|(x, y)| *x -= c * y);
    }
    r
}

impl BuiltIn {
    /// Translations along `translations` (any non-zero vectors; they are
    /// orthonormalised) and an optional rotation, in dimension `n`.
    pub fn new(
        n: usize,
        translations: &[Vec<f64>],
        rotation: Option<PlaneRotation>,
    ) -> Result<Self, BuiltInError> {
        let mut plane = vec![];
        if let Some(r) = &rotation {
            if n < 2 {
                return Err(BuiltInError::TooSmall);
            }
            for v in [&r.e1, &r.e2, &r.centre] {
                if v.len() != n {
                    return Err(BuiltInError::Dimension { got: v.len(), n });
                }
            }
            plane = vec![r.e1.clone(), r.e2.clone()];
        }
        let mut ortho: Vec<Vec<f64>> = vec![];
        for t in translations {
            if t.len() != n {
                return Err(BuiltInError::Dimension { got: t.len(), n });
            }
            let size = norm(t);
            if !(size.is_finite() && size > 0.0) {
                return Err(BuiltInError::Degenerate);
            }
            if norm(&reject(t, &plane)) < (1.0 - 1e-9) * size {
                return Err(BuiltInError::NotCommuting);
            }
            let r = reject(t, &ortho);
            let left = norm(&r);
            if left < 1e-9 * size {
                return Err(BuiltInError::Dependent);
            }
            ortho.push(r.iter().map(|x| x / left).collect());
        }
        let mut used: Vec<Vec<f64>> = ortho.iter().chain(&plane).cloned().collect();
        let mut rest = vec![];
        for i in 0..n {
            let axis: Vec<f64> = (0..n).map(|k| if k == i { 1.0 } else { 0.0 }).collect();
            let r = reject(&axis, &used);
            let left = norm(&r);
            if left > 1e-6 {
                let unit: Vec<f64> = r.iter().map(|x| x / left).collect();
                used.push(unit.clone());
                rest.push(unit);
            }
        }
        Ok(Self {
            translations: ortho,
            rotation,
            rest,
            distances: vec![],
        })
    }

    /// Built from affine generators `ξ(q) = M q + w` (for instance
    /// discovered ones): each projected on a translation (`M ≈ 0`) or a
    /// rotation about a centre (`M` skew of rank 2, `w = −M c`), with its
    /// relative distance from the projection in [`BuiltIn::distances`].
    pub fn from_generators(n: usize, generators: &[AffineGenerator]) -> Result<Self, BuiltInError> {
        let mut translations = vec![];
        let mut rotation = None;
        let mut distances = vec![];
        for g in generators {
            if g.m.len() != n * n || g.w.len() != n {
                return Err(BuiltInError::Dimension { got: g.w.len(), n });
            }
            let size = norm(&g.m).hypot(norm(&g.w));
            if !(size.is_finite() && size > 0.0) {
                return Err(BuiltInError::Degenerate);
            }
            if norm(&g.m) <= 0.5 * size {
                // Nearest translation: drop M.
                distances.push(norm(&g.m) / size);
                translations.push(g.w.clone());
            } else {
                if rotation.is_some() {
                    return Err(BuiltInError::TwoRotations);
                }
                let (r, distance) = nearest_rotation(n, &g.m, &g.w)?;
                distances.push(distance / size);
                rotation = Some(r);
            }
        }
        let mut b = Self::new(n, &translations, rotation)?;
        b.distances = distances;
        Ok(b)
    }

    /// The generators built in, as affine fields (unit norm).
    pub fn generators(&self) -> Vec<AffineGenerator> {
        let n =
            self.rest.len() + self.translations.len() + 2 * usize::from(self.rotation.is_some());
        let mut out: Vec<AffineGenerator> = (self.translations.iter())
            .map(|t| AffineGenerator::new("translation", vec![0.0; n * n], t.clone()))
            .collect();
        if let Some(r) = &self.rotation {
            let mut m = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    m[i * n + j] = r.e2[i] * r.e1[j] - r.e1[i] * r.e2[j];
                }
            }
            let w: Vec<f64> = (0..n)
                .map(|i| -dot(&m[i * n..(i + 1) * n], &r.centre))
                .collect();
            out.push(AffineGenerator::new("rotation", m, w));
        }
        out
    }

    /// Number of position features: the radius (with a rotation) and the
    /// remaining coordinates.
    pub fn position_count(&self) -> usize {
        usize::from(self.rotation.is_some()) + self.rest.len()
    }

    /// The index in [`BuiltIn::rest`] of coordinate axis `i`, if it is one of them exactly.
    pub fn rest_axis(&self, i: usize) -> Option<usize> {
        let n = self.rest.first().map_or(0, Vec::len);
        self.rest
            .iter()
            .position(|r| (0..n).all(|k| if k == i { r[k] == 1.0 } else { r[k] == 0.0 }))
    }

    /// Angle coordinates must be left alone: each an axis of [`BuiltIn::rest`].
    pub fn check_angles(&self, angles: &[usize]) -> Result<(), BuiltInError> {
        match angles.iter().find(|&&i| self.rest_axis(i).is_none()) {
            Some(&i) => Err(BuiltInError::MovedAngle(i)),
            None => Ok(()),
        }
    }

    /// The invariant features of the pair `(q̄, v)` before standardisation:
    /// `pos` ([`BuiltIn::position_count`]: radius, then the remaining
    /// coordinates of `q̄`) and `vel` (`n`: the plane part of `v` in the
    /// midpoint's frame, its translation components, its remaining ones).
    pub fn features<D: Scalar>(&self, qbar: &[D], v: &[D], pos: &mut [D], vel: &mut [D]) {
        let proj =
            |a: &[f64], x: &[D]| -> D { a.iter().zip(x).fold(D::zero(), |s, (c, y)| s + *y * *c) };
        let (mut p, mut k) = (0, 0);
        if let Some(r) = &self.rotation {
            let c1 = dot(&r.e1, &r.centre);
            let c2 = dot(&r.e2, &r.centre);
            let (x1, x2) = (proj(&r.e1, qbar) - c1, proj(&r.e2, qbar) - c2);
            let rad = (x1 * x1 + x2 * x2).sqrt();
            let (v1, v2) = (proj(&r.e1, v), proj(&r.e2, v));
            pos[0] = rad;
            vel[0] = (x1 * v1 + x2 * v2) / rad;
            vel[1] = (x1 * v2 - x2 * v1) / rad;
            (p, k) = (1, 2);
        }
        for t in &self.translations {
            vel[k] = proj(t, v);
            k += 1;
        }
        for b in &self.rest {
            pos[p] = proj(b, qbar);
            vel[k] = proj(b, v);
            p += 1;
            k += 1;
        }
    }
}

/// The rotation nearest the affine field `M q + w`: the dominant plane of
/// the skew part of `M`, the centre `c` in that plane with `−M c` closest
/// to `w`; and the distance `‖(M, w) − (M', w')‖` of the field from it
/// (both scaled to the same rotation rate).
fn nearest_rotation(n: usize, m: &[f64], w: &[f64]) -> Result<(PlaneRotation, f64), BuiltInError> {
    if n < 2 {
        return Err(BuiltInError::TooSmall);
    }
    let skew = nalgebra::DMatrix::from_fn(n, n, |i, j| 0.5 * (m[i * n + j] - m[j * n + i]));
    // A skew matrix's singular values come in pairs σ, σ with singular
    // vectors spanning its invariant planes; the largest pair is the plane.
    let svd = skew.clone().svd(true, true);
    let (Some(u), Some(_)) = (svd.u.as_ref(), svd.v_t.as_ref()) else {
        return Err(BuiltInError::Degenerate);
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| svd.singular_values[b].total_cmp(&svd.singular_values[a]));
    let sigma = svd.singular_values[order[0]];
    if !(sigma.is_finite() && sigma > 0.0) {
        return Err(BuiltInError::Degenerate);
    }
    let a: Vec<f64> = u.column(order[0]).iter().copied().collect();
    // The skew matrix maps a to σ·b with b ⟂ a in the plane.
    let sa: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| skew[(i, j)] * a[j]).sum::<f64>())
        .collect();
    let b: Vec<f64> = sa.iter().map(|x| x / sigma).collect();
    // ξ = σ (b aᵀ − a bᵀ)(q − c): rotation from a towards b at rate σ.
    let rot = |i: usize, j: usize| sigma * (b[i] * a[j] - a[i] * b[j]);
    // Centre in the plane: c = α a + β b with −M' c ≈ w: M' a = σ b, M' b = −σ a,
    // so −M' c = −σ α b + σ β a.
    let (alpha, beta) = (-dot(w, &b) / sigma, dot(w, &a) / sigma);
    let centre: Vec<f64> = (0..n).map(|i| alpha * a[i] + beta * b[i]).collect();
    let mut d2 = 0.0;
    for i in 0..n {
        for j in 0..n {
            d2 += (m[i * n + j] - rot(i, j)).powi(2);
        }
        let wi: f64 = -(0..n).map(|j| rot(i, j) * centre[j]).sum::<f64>();
        d2 += (w[i] - wi).powi(2);
    }
    Ok((
        PlaneRotation {
            e1: a,
            e2: b,
            centre,
        },
        d2.sqrt(),
    ))
}

/// A symmetry declared by the user (`train --symmetry`), in the forms
/// `rotation` (about the origin in the plane of the first two
/// coordinates), `rotation:cx,cy` (about a centre), `translation:a,b,…`
/// and `affine:M;w` (`M` row-major `n × n`, comma-separated).
#[derive(Clone, Debug, PartialEq)]
pub enum SymmetrySpec {
    /// A rotation in the plane of coordinates 0 and 1 about `(cx, cy)`.
    Rotation {
        /// The centre in that plane.
        centre: [f64; 2],
    },
    /// A translation along a direction.
    Translation(Vec<f64>),
    /// The affine field `M q + w`, projected on a supported type.
    Affine {
        /// `M`, row-major.
        m: Vec<f64>,
        /// `w`.
        w: Vec<f64>,
    },
}

impl SymmetrySpec {
    /// The forms [`SymmetrySpec::from_str`] reads, for messages.
    pub const FORMS: &'static str = "rotation, rotation:cx,cy, translation:a,b,… or affine:M;w";

    /// The affine generator `M q + w` of this symmetry in dimension `n`.
    pub fn generator(&self, n: usize) -> Result<AffineGenerator, BuiltInError> {
        let fit = |v: &[f64]| {
            if v.len() == n {
                Ok(v.to_vec())
            } else {
                Err(BuiltInError::Dimension { got: v.len(), n })
            }
        };
        Ok(match self {
            Self::Rotation { centre } => {
                if n < 2 {
                    return Err(BuiltInError::TooSmall);
                }
                let mut m = vec![0.0; n * n];
                m[n] = 1.0; // M e0 = e1
                m[1] = -1.0; // M e1 = −e0
                let mut w = vec![0.0; n];
                w[0] = centre[1];
                w[1] = -centre[0];
                AffineGenerator::new("rotation", m, w)
            }
            Self::Translation(t) => AffineGenerator::new("translation", vec![0.0; n * n], fit(t)?),
            Self::Affine { m, w } => {
                if m.len() != n * n {
                    return Err(BuiltInError::Dimension {
                        got: m.len(),
                        n: n * n,
                    });
                }
                AffineGenerator::new("affine", m.clone(), fit(w)?)
            }
        })
    }
}

impl std::str::FromStr for SymmetrySpec {
    type Err = BuiltInError;
    fn from_str(s: &str) -> Result<Self, BuiltInError> {
        let numbers = |list: &str| -> Result<Vec<f64>, BuiltInError> {
            list.split(',')
                .map(|x| x.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
                .collect::<Option<Vec<f64>>>()
                .ok_or_else(|| BuiltInError::Parse(s.to_string()))
        };
        if s == "rotation" {
            return Ok(Self::Rotation { centre: [0.0; 2] });
        }
        if let Some(c) = s.strip_prefix("rotation:") {
            return match numbers(c)?[..] {
                [cx, cy] => Ok(Self::Rotation { centre: [cx, cy] }),
                _ => Err(BuiltInError::Parse(s.to_string())),
            };
        }
        if let Some(t) = s.strip_prefix("translation:") {
            return Ok(Self::Translation(numbers(t)?));
        }
        if let Some((m, w)) = s.strip_prefix("affine:").and_then(|a| a.split_once(';')) {
            return Ok(Self::Affine {
                m: numbers(m)?,
                w: numbers(w)?,
            });
        }
        Err(BuiltInError::Parse(s.to_string()))
    }
}
