//! Symmetries built into `Ld`: translations and a rotation in a plane or
//! the rotations `SO(3)` of a 3-D subspace, as coordinates of the pair that
//! they leave unchanged.
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
//! * all rotations of the 3-D subspace of orthonormal `e1, e2, e3` about a
//!   centre `c` (`so(3)`, three generators): with `x` the midpoint's and
//!   `u` the velocity's part in that subspace (`x_a = e_a·(q̄ − c)`,
//!   `u_a = e_a·v`), the radius `r = |x|` and the speed squared `|u|²`
//!   (positions: even under time reversal) and the radial velocity `x·u/r`
//!   (a velocity: odd). These determine the pair's orbit (the transverse
//!   speed is `|x × u|/r = √(|u|² − (x·u/r)²)`, and `(x, u)` is fixed up to
//!   a rotation by `|x|`, `|u|` and the angle between them). Why `|u|²`
//!   rather than the transverse speed itself: the transverse speed is
//!   neither smooth where `x ∥ u` (a radial pair, where it is `0` and
//!   behaves like `|·|`) nor signed (a rotation by `π` about `x` flips
//!   `x × u`), so only an even function of it can enter `Ld` smoothly; its
//!   square `|u|² − (x·u)²/r²` is smooth but for `1/r²` at the centre,
//!   while `|u|²` is a polynomial, smooth everywhere, and carries the same
//!   information given `r` and `x·u/r` (the choices were compared on
//!   `kepler3d`: `docs/measurements.md` §8). The network therefore sees one
//!   more position and two fewer velocities than coordinates moved;
//!
//! the remaining coordinates of `q̄` and `v` (an orthonormal basis of the
//! complement) unchanged. The translations must commute with the rotations
//! (they lie outside the rotated plane or subspace). Every feature is even
//! (positions) or odd (velocities) under time reversal `(q0, q1) → (q1,
//! q0)`, which keeps the reversed pair's derivatives a sign change of the
//! pair's own: the reversed pair's features are `(pos, −vel)`.
//!
//! Generators found by discovery are affine, `ξ(q) = M q + w`; [`BuiltIn::from_generators`]
//! projects them on these types (`M ≈ 0`: a translation; `M` skew of rank
//! 2: a rotation; three rotations whose skew parts span `so(3)` of one 3-D
//! subspace: `SO(3)`) and reports how far each was from its projection.

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

/// All rotations of a 3-D subspace about a centre (`SO(3)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpaceRotation {
    /// The subspace's orthonormal frame `e1, e2, e3` (`n` each).
    pub frame: [Vec<f64>; 3],
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
    /// The rotations of a 3-D subspace (orthogonal to the translations; not
    /// with [`BuiltIn::rotation`]). Absent in models written before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub so3: Option<Box<SpaceRotation>>,
    /// Orthonormal basis of the complement of the translations and the
    /// rotated plane or subspace (coordinate axes where possible).
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
    /// Rotations that are neither one plane rotation nor a basis of `so(3)`
    /// of one 3-D subspace.
    #[error("only one rotation can be built in, or three whose generators span so(3) of one 3-D subspace (--symmetry so3); got {0}")]
    TwoRotations(usize),
    /// Three rotations that do not span `so(3)` of one 3-D subspace.
    #[error("the three built-in rotations do not span so(3) of one 3-D subspace ({0})")]
    NotSo3(String),
    /// A translation in the rotated plane or subspace (they do not commute).
    #[error("a built-in translation has a component in the rotated plane or subspace: they do not commute")]
    NotCommuting,
    /// Linearly dependent translations.
    #[error("the built-in translations are linearly dependent")]
    Dependent,
    /// A rotation in fewer than two dimensions.
    #[error("a rotation needs at least 2 coordinates")]
    TooSmall,
    /// `so(3)` in fewer than three dimensions.
    #[error("so(3) needs at least 3 coordinates")]
    So3TooSmall,
    /// A plane rotation and `so(3)` together.
    #[error("a plane rotation and so(3) cannot be built in together")]
    RotationAndSo3,
    /// A declared symmetry that does not parse.
    #[error(
        "'{0}' is not rotation, rotation:cx,cy, so3, so3:cx,cy,cz, translation:a,b,… or affine:M;w"
    )]
    Parse(String),
    /// An angle coordinate that a built-in symmetry moves.
    #[error(
        "angle coordinate {0} is moved by a built-in symmetry: angles must be left alone by it"
    )]
    MovedAngle(usize),
}

/// `a · b`.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `|a|`.
pub(crate) fn norm(a: &[f64]) -> f64 {
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
        Self::build(n, translations, rotation, None)
    }

    /// Translations along `translations` and the rotations `so3` of a 3-D
    /// subspace (its frame orthonormal), in dimension `n`.
    pub fn with_so3(
        n: usize,
        translations: &[Vec<f64>],
        so3: SpaceRotation,
    ) -> Result<Self, BuiltInError> {
        Self::build(n, translations, None, Some(so3))
    }

    fn build(
        n: usize,
        translations: &[Vec<f64>],
        rotation: Option<PlaneRotation>,
        so3: Option<SpaceRotation>,
    ) -> Result<Self, BuiltInError> {
        let mut moved = vec![];
        if let Some(r) = &rotation {
            if n < 2 {
                return Err(BuiltInError::TooSmall);
            }
            for v in [&r.e1, &r.e2, &r.centre] {
                if v.len() != n {
                    return Err(BuiltInError::Dimension { got: v.len(), n });
                }
            }
            moved = vec![r.e1.clone(), r.e2.clone()];
        }
        if let Some(s) = &so3 {
            if rotation.is_some() {
                return Err(BuiltInError::RotationAndSo3);
            }
            if n < 3 {
                return Err(BuiltInError::So3TooSmall);
            }
            for v in s.frame.iter().chain([&s.centre]) {
                if v.len() != n {
                    return Err(BuiltInError::Dimension { got: v.len(), n });
                }
            }
            for (a, ea) in s.frame.iter().enumerate() {
                for (b, eb) in s.frame.iter().enumerate() {
                    let want = if a == b { 1.0 } else { 0.0 };
                    let off = (dot(ea, eb) - want).abs();
                    if off.is_nan() || off > 1e-9 {
                        return Err(BuiltInError::NotSo3("its frame is not orthonormal".into()));
                    }
                }
            }
            moved = s.frame.to_vec();
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
            if norm(&reject(t, &moved)) < (1.0 - 1e-9) * size {
                return Err(BuiltInError::NotCommuting);
            }
            let r = reject(t, &ortho);
            let left = norm(&r);
            if left < 1e-9 * size {
                return Err(BuiltInError::Dependent);
            }
            ortho.push(r.iter().map(|x| x / left).collect());
        }
        let mut used: Vec<Vec<f64>> = ortho.iter().chain(&moved).cloned().collect();
        let rest = complete(n, &mut used);
        Ok(Self {
            translations: ortho,
            rotation,
            so3: so3.map(Box::new),
            rest,
            distances: vec![],
        })
    }

    /// Built from affine generators `ξ(q) = M q + w` (for instance
    /// discovered ones): each projected on a translation (`M ≈ 0`) or a
    /// rotation about a centre (`M` skew of rank 2, `w = −M c`), or three
    /// rotations together on `so(3)` of the 3-D subspace their skew parts
    /// span (about the centre that fits all three `w = −M c` best), with
    /// each one's relative distance from its projection in
    /// [`BuiltIn::distances`] (in the order given).
    pub fn from_generators(n: usize, generators: &[AffineGenerator]) -> Result<Self, BuiltInError> {
        let nearest: Vec<(AffineGenerator, bool)> =
            generators.iter().map(|g| (g.clone(), false)).collect();
        Self::from_projected(n, &nearest)
    }

    /// The symmetries `specs` declare (`train --symmetry`, the estimators'
    /// `symmetry=`) and generators found by discovery, built in together.
    /// A declared rotation or `so3` is a rotation however far its centre
    /// (its `M` may be small next to `w = −M c`); `affine:` specs and the
    /// `discovered` generators are projected as by
    /// [`BuiltIn::from_generators`].
    pub fn from_declared(
        n: usize,
        specs: &[SymmetrySpec],
        discovered: &[AffineGenerator],
    ) -> Result<Self, BuiltInError> {
        let mut all = vec![];
        for spec in specs {
            let rotation = matches!(
                spec,
                SymmetrySpec::Rotation { .. } | SymmetrySpec::So3 { .. }
            );
            all.extend(spec.generators(n)?.into_iter().map(|g| (g, rotation)));
        }
        all.extend(discovered.iter().map(|g| (g.clone(), false)));
        Self::from_projected(n, &all)
    }

    /// [`BuiltIn::from_generators`] with some generators (`true`) taken as
    /// rotations whatever the size of their `M`.
    fn from_projected(
        n: usize,
        generators: &[(AffineGenerator, bool)],
    ) -> Result<Self, BuiltInError> {
        let mut translations = vec![];
        let mut rotations = vec![];
        let mut distances = vec![0.0; generators.len()];
        for (k, (g, rotation)) in generators.iter().enumerate() {
            if g.m.len() != n * n || g.w.len() != n {
                return Err(BuiltInError::Dimension { got: g.w.len(), n });
            }
            let size = norm(&g.m).hypot(norm(&g.w));
            if !(size.is_finite() && size > 0.0) {
                return Err(BuiltInError::Degenerate);
            }
            if !rotation && norm(&g.m) <= 0.5 * size {
                // Nearest translation: drop M.
                distances[k] = norm(&g.m) / size;
                translations.push(g.w.clone());
            } else {
                rotations.push((k, g, size));
            }
        }
        let mut b = match rotations[..] {
            [] => Self::new(n, &translations, None)?,
            [(k, g, size)] => {
                let (r, distance) = nearest_rotation(n, &g.m, &g.w)?;
                distances[k] = distance / size;
                Self::new(n, &translations, Some(r))?
            }
            [_, _, _] => {
                let gens: Vec<&AffineGenerator> = rotations.iter().map(|r| r.1).collect();
                let (s, d) = nearest_so3(n, &gens)?;
                for ((k, _, size), d) in rotations.iter().zip(d) {
                    distances[*k] = d / size;
                }
                Self::with_so3(n, &translations, s)?
            }
            _ => return Err(BuiltInError::TwoRotations(rotations.len())),
        };
        b.distances = distances;
        Ok(b)
    }

    /// The dimension `n` of the coordinates.
    pub fn dim(&self) -> usize {
        self.rest.len()
            + self.translations.len()
            + 2 * usize::from(self.rotation.is_some())
            + 3 * usize::from(self.so3.is_some())
    }

    /// The generators built in, as affine fields (unit rate): translations,
    /// then the plane rotation (turning `e1` towards `e2`), or the rotations
    /// of `so(3)` about `e1`, `e2`, `e3` (turning `e2` towards `e3`, `e3`
    /// towards `e1`, `e1` towards `e2`).
    pub fn generators(&self) -> Vec<AffineGenerator> {
        let n = self.dim();
        let mut out: Vec<AffineGenerator> = (self.translations.iter())
            .map(|t| AffineGenerator::new("translation", vec![0.0; n * n], t.clone()))
            .collect();
        // `ξ(q) = (b aᵀ − a bᵀ)(q − c)`: turning `a` towards `b` about `c`.
        let rotation = |label: &str, a: &[f64], b: &[f64], centre: &[f64]| {
            let mut m = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    m[i * n + j] = b[i] * a[j] - a[i] * b[j];
                }
            }
            let w: Vec<f64> = (0..n)
                .map(|i| -dot(&m[i * n..(i + 1) * n], centre))
                .collect();
            AffineGenerator::new(label, m, w)
        };
        if let Some(r) = &self.rotation {
            out.push(rotation("rotation", &r.e1, &r.e2, &r.centre));
        }
        if let Some(s) = &self.so3 {
            let [e1, e2, e3] = &s.frame;
            // "about q<i>" when the axis is coordinate axis i, else "about e<a>".
            let about = |a: usize| {
                let e = &s.frame[a];
                match (0..n).find(|&i| e[i] == 1.0 && norm(e) == 1.0) {
                    Some(i) => format!("rotation about q{i}"),
                    None => format!("rotation about e{}", a + 1),
                }
            };
            out.push(rotation(&about(0), e2, e3, &s.centre));
            out.push(rotation(&about(1), e3, e1, &s.centre));
            out.push(rotation(&about(2), e1, e2, &s.centre));
        }
        out
    }

    /// The position features before the remaining coordinates: the radius
    /// (a plane rotation) or the radius and the speed squared (`so(3)`).
    fn leading_positions(&self) -> usize {
        usize::from(self.rotation.is_some()) + 2 * usize::from(self.so3.is_some())
    }

    /// Number of position features (even under time reversal):
    /// [`BuiltIn::features`]' leading ones and the remaining coordinates.
    pub fn position_count(&self) -> usize {
        self.leading_positions() + self.rest.len()
    }

    /// Number of velocity features (odd under time reversal): two for a
    /// plane rotation, one for `so(3)`, one per translation and remaining
    /// coordinate.
    pub fn velocity_count(&self) -> usize {
        2 * usize::from(self.rotation.is_some())
            + usize::from(self.so3.is_some())
            + self.translations.len()
            + self.rest.len()
    }

    /// The index in [`BuiltIn::rest`] of coordinate axis `i`, if it is one of them exactly.
    pub fn rest_axis(&self, i: usize) -> Option<usize> {
        let n = self.rest.first().map_or(0, Vec::len);
        self.rest
            .iter()
            .position(|r| (0..n).all(|k| if k == i { r[k] == 1.0 } else { r[k] == 0.0 }))
    }

    /// The position feature of angle coordinate `i` (an axis of
    /// [`BuiltIn::rest`], [`BuiltIn::check_angles`]).
    pub fn angle_slot(&self, i: usize) -> usize {
        self.leading_positions() + self.rest_axis(i).unwrap_or(0)
    }

    /// Angle coordinates must be left alone: each an axis of [`BuiltIn::rest`].
    pub fn check_angles(&self, angles: &[usize]) -> Result<(), BuiltInError> {
        match angles.iter().find(|&&i| self.rest_axis(i).is_none()) {
            Some(&i) => Err(BuiltInError::MovedAngle(i)),
            None => Ok(()),
        }
    }

    /// The invariant features of the pair `(q̄, v)` before standardisation:
    /// `pos` ([`BuiltIn::position_count`]: the radius — and for `so(3)` the
    /// speed squared in the subspace — then the remaining coordinates of
    /// `q̄`) and `vel` ([`BuiltIn::velocity_count`]: the plane part of `v` in
    /// the midpoint's frame or the radial velocity, its translation
    /// components, its remaining ones).
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
        if let Some(s) = &self.so3 {
            let (mut xx, mut xu, mut uu) = (D::zero(), D::zero(), D::zero());
            for e in &s.frame {
                let x = proj(e, qbar) - dot(e, &s.centre);
                let u = proj(e, v);
                xx += x * x;
                xu += x * u;
                uu += u * u;
            }
            let rad = xx.sqrt();
            pos[0] = rad;
            pos[1] = uu;
            vel[0] = xu / rad;
            (p, k) = (2, 1);
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

/// Complete the orthonormal `used` to a basis of `R^n` with the coordinate
/// axes, in order, projected off it (those with a part left); the added
/// vectors (also pushed onto `used`).
fn complete(n: usize, used: &mut Vec<Vec<f64>>) -> Vec<Vec<f64>> {
    let mut added = vec![];
    for i in 0..n {
        let axis: Vec<f64> = (0..n).map(|k| if k == i { 1.0 } else { 0.0 }).collect();
        let r = reject(&axis, used);
        let left = norm(&r);
        if left > 1e-6 {
            let unit: Vec<f64> = r.iter().map(|x| x / left).collect();
            used.push(unit.clone());
            added.push(unit);
        }
        if used.len() == n {
            break;
        }
    }
    added
}

/// The `so(3)` nearest three affine fields `M_k q + w_k`: the 3-D subspace
/// `V` that their skew parts `S_k` span (the dominant left singular
/// subspace of `[S_1 S_2 S_3]`), a frame of it (the coordinate axes
/// projected on it, in order, where possible), the centre `c ∈ V` whose
/// `−M'_k c` fit the `w_k` best (least squares), and each field's distance
/// `‖(M_k, w_k) − (M'_k, −M'_k c)‖` from its projection `M'_k = P S_k P`
/// (`P` the projector on `V`). Refused when the skew parts do not span a
/// 3-D subspace or do not span all of `so(V)`.
fn nearest_so3(
    n: usize,
    gens: &[&AffineGenerator],
) -> Result<(SpaceRotation, Vec<f64>), BuiltInError> {
    use nalgebra::{DMatrix, DVector, Matrix3, Vector3};
    if n < 3 {
        return Err(BuiltInError::So3TooSmall);
    }
    let skew: Vec<DMatrix<f64>> = gens
        .iter()
        .map(|g| DMatrix::from_fn(n, n, |i, j| 0.5 * (g.m[i * n + j] - g.m[j * n + i])))
        .collect();
    let stacked = DMatrix::from_fn(n, 3 * n, |i, c| skew[c / n][(i, c % n)]);
    let svd = stacked.svd(true, false);
    let Some(u) = svd.u.as_ref() else {
        return Err(BuiltInError::Degenerate);
    };
    let mut order: Vec<usize> = (0..svd.singular_values.len()).collect();
    order.sort_by(|&a, &b| svd.singular_values[b].total_cmp(&svd.singular_values[a]));
    let sv = |k: usize| order.get(k).map_or(0.0, |&i| svd.singular_values[i]);
    if !(sv(0).is_finite() && sv(2) > 0.0) {
        return Err(BuiltInError::Degenerate);
    }
    if sv(3) > 0.5 * sv(2) {
        return Err(BuiltInError::NotSo3(format!(
            "their skew parts span more than three dimensions: singular values {:.3e}, {:.3e}, {:.3e}, {:.3e}",
            sv(0),
            sv(1),
            sv(2),
            sv(3)
        )));
    }
    let basis: Vec<Vec<f64>> = order[..3]
        .iter()
        .map(|&i| u.column(i).iter().copied().collect())
        .collect();
    // A frame of V: the coordinate axes projected on it, orthonormalised.
    let mut frame: Vec<Vec<f64>> = vec![];
    for i in 0..n {
        let axis: Vec<f64> = basis.iter().map(|b| b[i]).collect();
        let mut e: Vec<f64> = (0..n)
            .map(|k| basis.iter().zip(&axis).map(|(b, a)| a * b[k]).sum())
            .collect();
        e = reject(&e, &frame);
        let left = norm(&e);
        if left > 1e-6 {
            frame.push(e.iter().map(|x| x / left).collect());
        }
        if frame.len() == 3 {
            break;
        }
    }
    if frame.len() < 3 {
        return Err(BuiltInError::Degenerate);
    }
    let e = DMatrix::from_fn(n, 3, |i, a| frame[a][i]);
    // Each generator in the frame: A_k = skew(Eᵀ S_k E), the axis a_k of A_k y = a_k × y.
    let a: Vec<Matrix3<f64>> = skew
        .iter()
        .map(|s| {
            let f = e.transpose() * s * &e;
            Matrix3::from_fn(|i, j| 0.5 * (f[(i, j)] - f[(j, i)]))
        })
        .collect();
    let axes = Matrix3::from_fn(|i, k| match i {
        0 => a[k][(2, 1)],
        1 => a[k][(0, 2)],
        _ => a[k][(1, 0)],
    });
    let ax = axes.singular_values();
    let (lo, hi) = (ax.min(), ax.max());
    if lo.is_nan() || lo <= 1e-3 * hi {
        return Err(BuiltInError::NotSo3(format!(
            "their rotation axes in the subspace are dependent (singular values {:.3e} … {:.3e})",
            hi, lo
        )));
    }
    // Centre y (frame coordinates): A_k y ≈ −Eᵀ w_k for every k.
    let lhs = DMatrix::from_fn(9, 3, |r, c| a[r / 3][(r % 3, c)]);
    let rhs = DVector::from_fn(9, |r, _| {
        -(0..n)
            .map(|i| e[(i, r % 3)] * gens[r / 3].w[i])
            .sum::<f64>()
    });
    let y = lhs
        .svd(true, true)
        .solve(&rhs, 1e-12)
        .map_err(|_| BuiltInError::Degenerate)?;
    let y = Vector3::new(y[0], y[1], y[2]);
    let centre: Vec<f64> = (0..n)
        .map(|i| (0..3).map(|c| e[(i, c)] * y[c]).sum())
        .collect();
    let distances = gens
        .iter()
        .zip(&a)
        .map(|(g, ak)| {
            let m = &e * ak * e.transpose();
            let w = -(&e * (ak * y));
            let mut d2 = 0.0;
            for i in 0..n {
                for j in 0..n {
                    d2 += (g.m[i * n + j] - m[(i, j)]).powi(2);
                }
                d2 += (g.w[i] - w[i]).powi(2);
            }
            d2.sqrt()
        })
        .collect();
    let [e1, e2, e3]: [Vec<f64>; 3] = frame.try_into().map_err(|_| BuiltInError::Degenerate)?;
    Ok((
        SpaceRotation {
            frame: [e1, e2, e3],
            centre,
        },
        distances,
    ))
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
    let e2 = if positively_oriented(&a, &b) {
        b
    } else {
        b.iter().map(|x| -x).collect()
    };
    Ok((PlaneRotation { e1: a, e2, centre }, d2.sqrt()))
}

/// Whether the plane `(a, b)` has the canonical orientation: its bivector
/// `a ∧ b`'s largest component (`a_i b_j − a_j b_i`, `i < j`) positive. A
/// generator's sign is arbitrary (discovery finds `±ξ`); the invariant
/// map's angular velocity is not, so every rotation of one plane is built
/// in with this orientation: the same symmetry gives the same model (the
/// plane of coordinates 0 and 1 turning 0 towards 1, as `rotation`
/// declares it).
fn positively_oriented(a: &[f64], b: &[f64]) -> bool {
    let mut best = 0.0_f64;
    for i in 0..a.len() {
        for j in i + 1..a.len() {
            let c = a[i] * b[j] - a[j] * b[i];
            if c.abs() > best.abs() {
                best = c;
            }
        }
    }
    best >= 0.0
}

/// A symmetry declared by the user (`train --symmetry`), in the forms
/// `rotation` (about the origin in the plane of the first two
/// coordinates), `rotation:cx,cy` (about a centre), `so3` (all rotations
/// of the first three coordinates about the origin), `so3:cx,cy,cz` (about
/// a centre), `translation:a,b,…` and `affine:M;w` (`M` row-major `n × n`,
/// comma-separated).
#[derive(Clone, Debug, PartialEq)]
pub enum SymmetrySpec {
    /// A rotation in the plane of coordinates 0 and 1 about `(cx, cy)`.
    Rotation {
        /// The centre in that plane.
        centre: [f64; 2],
    },
    /// All rotations of coordinates 0, 1, 2 about `(cx, cy, cz)`: three
    /// generators, about the three axes.
    So3 {
        /// The centre in those coordinates.
        centre: [f64; 3],
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
    pub const FORMS: &'static str =
        "rotation, rotation:cx,cy, so3, so3:cx,cy,cz, translation:a,b,… or affine:M;w";

    /// The affine generators `M q + w` of this symmetry in dimension `n`:
    /// one, or three for `so3` (about coordinate axes 0, 1, 2 in turn).
    pub fn generators(&self, n: usize) -> Result<Vec<AffineGenerator>, BuiltInError> {
        let fit = |v: &[f64]| {
            if v.len() == n {
                Ok(v.to_vec())
            } else {
                Err(BuiltInError::Dimension { got: v.len(), n })
            }
        };
        // The rotation turning axis i towards axis j about `centre` (`n`).
        let rotation = |label: &str, i: usize, j: usize, centre: &[f64]| {
            let mut m = vec![0.0; n * n];
            m[j * n + i] = 1.0; // M e_i = e_j
            m[i * n + j] = -1.0; // M e_j = −e_i
            let w: Vec<f64> = (0..n)
                .map(|r| -dot(&m[r * n..(r + 1) * n], centre))
                .collect();
            AffineGenerator::new(label, m, w)
        };
        let centre_of =
            |c: &[f64]| -> Vec<f64> { (0..n).map(|i| c.get(i).copied().unwrap_or(0.0)).collect() };
        Ok(match self {
            Self::Rotation { centre } => {
                if n < 2 {
                    return Err(BuiltInError::TooSmall);
                }
                vec![rotation("rotation", 0, 1, &centre_of(centre))]
            }
            Self::So3 { centre } => {
                if n < 3 {
                    return Err(BuiltInError::So3TooSmall);
                }
                let c = centre_of(centre);
                vec![
                    rotation("rotation about q0", 1, 2, &c),
                    rotation("rotation about q1", 2, 0, &c),
                    rotation("rotation about q2", 0, 1, &c),
                ]
            }
            Self::Translation(t) => {
                vec![AffineGenerator::new(
                    "translation",
                    vec![0.0; n * n],
                    fit(t)?,
                )]
            }
            Self::Affine { m, w } => {
                if m.len() != n * n {
                    return Err(BuiltInError::Dimension {
                        got: m.len(),
                        n: n * n,
                    });
                }
                vec![AffineGenerator::new("affine", m.clone(), fit(w)?)]
            }
        })
    }
}

/// The form [`SymmetrySpec::from_str`] reads back (`rotation` and `so3`
/// without a centre at the origin; numbers in their shortest exact form).
impl std::fmt::Display for SymmetrySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |v: &[f64]| v.iter().map(f64::to_string).collect::<Vec<_>>().join(",");
        let at = |c: &[f64]| match c.iter().all(|x| *x == 0.0) {
            true => String::new(),
            false => format!(":{}", list(c)),
        };
        match self {
            Self::Rotation { centre } => write!(f, "rotation{}", at(centre)),
            Self::So3 { centre } => write!(f, "so3{}", at(centre)),
            Self::Translation(t) => write!(f, "translation:{}", list(t)),
            Self::Affine { m, w } => write!(f, "affine:{};{}", list(m), list(w)),
        }
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
        if s == "so3" {
            return Ok(Self::So3 { centre: [0.0; 3] });
        }
        if let Some(c) = s.strip_prefix("so3:") {
            return match numbers(c)?[..] {
                [cx, cy, cz] => Ok(Self::So3 {
                    centre: [cx, cy, cz],
                }),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanics::System;
    use rand::{Rng, SeedableRng};

    /// `R = exp(θ [a]×)` (Rodrigues) for a unit axis `a`, row-major 3 × 3.
    fn rodrigues(a: [f64; 3], theta: f64) -> [[f64; 3]; 3] {
        let (s, c) = theta.sin_cos();
        let k = [[0.0, -a[2], a[1]], [a[2], 0.0, -a[0]], [-a[1], a[0], 0.0]];
        let mut r = [[0.0; 3]; 3];
        for i in 0..3 {
            for j in 0..3 {
                let kk: f64 = (0..3).map(|l| k[i][l] * k[l][j]).sum();
                r[i][j] = f64::from(i == j) + s * k[i][j] + (1.0 - c) * kk;
            }
        }
        r
    }

    fn random_rotation(rng: &mut impl Rng) -> [[f64; 3]; 3] {
        let a: [f64; 3] = std::array::from_fn(|_| rng.random_range(-1.0..1.0));
        let len = norm(&a);
        rodrigues(a.map(|x| x / len), rng.random_range(-3.0..3.0))
    }

    /// `q` with its part in the frame rotated by `r` about the centre.
    fn rotate(s: &SpaceRotation, r: &[[f64; 3]; 3], q: &[f64], about_centre: bool) -> Vec<f64> {
        let c = if about_centre {
            s.centre.clone()
        } else {
            vec![0.0; q.len()]
        };
        let x: Vec<f64> = s.frame.iter().map(|e| dot(e, q) - dot(e, &c)).collect();
        let mut out = q.to_vec();
        for a in 0..3 {
            let moved: f64 = (0..3).map(|b| r[a][b] * x[b]).sum();
            for (o, e) in out.iter_mut().zip(&s.frame[a]) {
                *o += (moved - x[a]) * e;
            }
        }
        out
    }

    fn spec(n: usize, specs: &[&str]) -> Vec<AffineGenerator> {
        specs
            .iter()
            .flat_map(|s| s.parse::<SymmetrySpec>().unwrap().generators(n).unwrap())
            .collect()
    }

    /// A declared rotation about a far centre has `|M|` small next to
    /// `w = −M c`: projected like a discovered generator it is taken for a
    /// translation; declared, it is the rotation about that centre (and
    /// `so3` likewise).
    #[test]
    fn declared_rotations_about_far_centres_stay_rotations() {
        let spec: SymmetrySpec = "rotation:3,0".parse().unwrap();
        let g = spec.generators(2).unwrap();
        let projected = BuiltIn::from_generators(2, &g).unwrap();
        assert!(projected.rotation.is_none() && projected.translations.len() == 1);
        let declared = BuiltIn::from_declared(2, &[spec], &[]).unwrap();
        let r = declared.rotation.as_ref().expect("a rotation");
        assert!(declared.translations.is_empty());
        assert!(
            (r.centre[0] - 3.0).abs() < 1e-12 && r.centre[1].abs() < 1e-12,
            "{r:?}"
        );
        assert!(
            declared.distances.iter().all(|d| *d < 1e-12),
            "{:?}",
            declared.distances
        );
        let so3: SymmetrySpec = "so3:3,0,0".parse().unwrap();
        let b = BuiltIn::from_declared(4, &[so3], &[]).unwrap();
        let s = b.so3.as_ref().expect("so(3)");
        let want = [3.0, 0.0, 0.0, 0.0];
        assert!(
            s.centre
                .iter()
                .zip(want)
                .all(|(c, w)| (c - w).abs() < 1e-12),
            "{s:?}"
        );
        assert_eq!(b.rest.len(), 1);
    }

    /// Discovery finds `±ξ`: both signs build in the same map (the plane
    /// canonically oriented), in a plane of `R³` about a centre; and the
    /// declared `rotation` has that orientation already.
    #[test]
    fn a_rotation_and_its_negative_build_in_the_same_map() {
        let (a, b) = ([0.6, 0.8, 0.0], [0.0, 0.0, 1.0]);
        let c = [0.3, -0.2, 0.5];
        let mut m = vec![0.0; 9];
        for i in 0..3 {
            for j in 0..3 {
                m[i * 3 + j] = b[i] * a[j] - a[i] * b[j] + 1e-3 * (i as f64 - j as f64).sin();
            }
        }
        let w: Vec<f64> = (0..3).map(|i| -dot(&m[i * 3..i * 3 + 3], &c)).collect();
        let plus = AffineGenerator::new("r", m.clone(), w.clone());
        let minus = AffineGenerator::new(
            "r",
            m.iter().map(|x| -x).collect(),
            w.iter().map(|x| -x).collect(),
        );
        let (p, q) = (
            BuiltIn::from_generators(3, &[plus]).unwrap(),
            BuiltIn::from_generators(3, &[minus]).unwrap(),
        );
        let (np, nv) = (p.position_count(), p.velocity_count());
        let (mut fp, mut vp) = (vec![0.0; np], vec![0.0; nv]);
        let (mut fq, mut vq) = (fp.clone(), vp.clone());
        for k in 0..5 {
            let t = k as f64;
            let qbar = [t.sin(), 0.3 * t, t.cos() - 0.5];
            let v = [0.2 - t, (2.0 * t).cos(), 0.1 * t];
            p.features(&qbar, &v, &mut fp, &mut vp);
            q.features(&qbar, &v, &mut fq, &mut vq);
            for (x, y) in fp.iter().chain(&vp).zip(fq.iter().chain(&vq)) {
                assert!((x - y).abs() <= 1e-13 * x.abs().max(1.0), "{x} vs {y}");
            }
        }
        let declared = BuiltIn::from_declared(2, &["rotation".parse().unwrap()], &[]).unwrap();
        let r = declared.rotation.unwrap();
        assert!(r.e1[0] * r.e2[1] - r.e1[1] * r.e2[0] > 0.999);
    }

    #[test]
    fn a_spec_reads_back_what_it_writes() {
        for text in [
            "rotation",
            "rotation:0.5,-0.25",
            "so3",
            "so3:3,0,0.1",
            "translation:0.5773502691896258,1,0",
            "affine:0,-1,1,0;0.1,-0.0000003",
        ] {
            let spec: SymmetrySpec = text.parse().unwrap();
            assert_eq!(spec.to_string(), text);
            assert_eq!(spec.to_string().parse::<SymmetrySpec>().unwrap(), spec);
        }
    }

    #[test]
    fn kepler3d_generators_build_in_so3_exactly() {
        let s = System::from_name("kepler3d").unwrap();
        let b = BuiltIn::from_generators(3, &s.symmetries()).unwrap();
        let so3 = b.so3.as_ref().expect("so(3)");
        assert!(b.rotation.is_none() && b.rest.is_empty() && b.translations.is_empty());
        assert_eq!((b.position_count(), b.velocity_count(), b.dim()), (2, 1, 3));
        for (a, e) in so3.frame.iter().enumerate() {
            let axis: Vec<f64> = (0..3).map(|i| f64::from(i == a)).collect();
            assert_eq!(e, &axis, "frame {:?}", so3.frame);
        }
        assert_eq!(so3.centre, vec![0.0; 3]);
        assert_eq!(b.distances.len(), 3);
        assert!(b.distances.iter().all(|d| *d < 1e-14), "{:?}", b.distances);
        // The three built-in generators: about q0, q1, q2, unit norm, and
        // the declared `so3` spec builds the same.
        let gens = b.generators();
        let labels: Vec<&str> = gens.iter().map(|g| g.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "rotation about q0",
                "rotation about q1",
                "rotation about q2"
            ]
        );
        for (g, want) in gens.iter().zip(spec(3, &["so3"])) {
            assert_eq!(g.m, want.m);
            assert!(g.w.iter().all(|w| *w == 0.0));
            assert!((norm(&g.m).hypot(norm(&g.w)) - 1.0).abs() < 1e-15);
        }
        assert_eq!(BuiltIn::from_generators(3, &spec(3, &["so3"])).unwrap(), b);
    }

    #[test]
    fn so3_of_a_tilted_subspace_about_a_centre_is_recovered() {
        // n = 5: a random 3-D subspace, a centre in it, three random
        // combinations of its rotations (scaled), a commuting translation.
        let n = 5;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut basis: Vec<Vec<f64>> = vec![];
        while basis.len() < 3 {
            let v: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
            let r = reject(&v, &basis);
            let l = norm(&r);
            basis.push(r.iter().map(|x| x / l).collect());
        }
        let y = [0.4, -0.7, 0.2];
        let c: Vec<f64> = (0..n)
            .map(|i| (0..3).map(|a| y[a] * basis[a][i]).sum())
            .collect();
        let rot = |a: &[f64], b: &[f64]| -> Vec<f64> {
            (0..n * n)
                .map(|k| b[k / n] * a[k % n] - a[k / n] * b[k % n])
                .collect()
        };
        let units = [
            rot(&basis[1], &basis[2]),
            rot(&basis[2], &basis[0]),
            rot(&basis[0], &basis[1]),
        ];
        let gens: Vec<AffineGenerator> = (0..3)
            .map(|_| {
                let mix: [f64; 3] = std::array::from_fn(|_| rng.random_range(-2.0..2.0));
                let m: Vec<f64> = (0..n * n)
                    .map(|k| (0..3).map(|a| mix[a] * units[a][k]).sum())
                    .collect();
                let w: Vec<f64> = (0..n).map(|i| -dot(&m[i * n..(i + 1) * n], &c)).collect();
                AffineGenerator::new("g", m, w)
            })
            .collect();
        let t = reject(&[1.0, 0.5, -0.3, 0.2, 0.9], &basis);
        let mut all = vec![AffineGenerator::new("t", vec![0.0; n * n], t.clone())];
        all.extend(gens);
        let b = BuiltIn::from_generators(n, &all).unwrap();
        let s = b.so3.as_ref().unwrap();
        assert_eq!((b.translations.len(), b.rest.len()), (1, 1));
        assert!(b.distances.iter().all(|d| *d < 1e-12), "{:?}", b.distances);
        for i in 0..n {
            assert!(
                (s.centre[i] - c[i]).abs() < 1e-12,
                "{:?} vs {c:?}",
                s.centre
            );
        }
        // The frame spans the subspace.
        for e in &s.frame {
            assert!(norm(&reject(e, &basis)) < 1e-12);
        }
        // Each built-in generator is a combination of the given ones' span.
        let unit: Vec<Vec<f64>> = (units.iter())
            .map(|u| u.iter().map(|x| x / 2f64.sqrt()).collect())
            .collect();
        for g in b.generators().iter().skip(1) {
            assert!(norm(&reject(&g.m, &unit)) < 1e-12);
        }
        // A generator off so(3) (its M perturbed) is reported at its distance.
        let mut off = all.clone();
        off[1].m[0] += 0.01;
        let d = BuiltIn::from_generators(n, &off).unwrap().distances[1];
        let size = norm(&off[1].m).hypot(norm(&off[1].w));
        // Its perturbation is symmetric, all of it off so(3).
        assert!((d * size - 0.01).abs() < 1e-12, "{d}");
    }

    #[test]
    fn rotations_that_are_not_one_so3_are_refused() {
        let s = System::from_name("kepler3d").unwrap();
        let k3 = s.symmetries();
        let refused = |n: usize, gens: &[AffineGenerator]| BuiltIn::from_generators(n, gens);
        // Two of so(3)'s three, or four rotations.
        assert_eq!(refused(3, &k3[..2]), Err(BuiltInError::TwoRotations(2)));
        let mut four = k3.clone();
        four.push(k3[0].clone());
        assert_eq!(refused(3, &four), Err(BuiltInError::TwoRotations(4)));
        // Rotations in the planes (0,1), (2,3), (1,2): no 3-D subspace.
        let mixed = spec(4, &["affine:0,-1,0,0,1,0,0,0,0,0,0,-1,0,0,1,0;0,0,0,0"])
            .into_iter()
            .chain(spec(4, &["rotation"]))
            .chain(spec(
                4,
                &["affine:0,0,0,0,0,0,-1,0,0,1,0,0,0,0,0,0;0,0,0,0"],
            ))
            .collect::<Vec<_>>();
        let mut planes = spec(4, &["rotation"]);
        planes.push(AffineGenerator::new(
            "34",
            (0..16)
                .map(|k| match k {
                    11 => -1.0,
                    14 => 1.0,
                    _ => 0.0,
                })
                .collect(),
            vec![0.0; 4],
        ));
        planes.push(spec(4, &["so3"])[0].clone());
        for gens in [&mixed, &planes] {
            match refused(4, gens) {
                Err(BuiltInError::NotSo3(why)) => assert!(why.contains("more than three"), "{why}"),
                other => panic!("{other:?}"),
            }
        }
        // Three rotations of one subspace that miss a direction of so(3).
        let twice = [k3[0].clone(), k3[1].clone(), {
            let mut g = k3[0].clone();
            g.m.iter_mut().for_each(|m| *m *= 2.0);
            g
        }];
        match refused(3, &twice) {
            Err(BuiltInError::NotSo3(why)) => assert!(why.contains("dependent"), "{why}"),
            other => panic!("{other:?}"),
        }
        // A translation inside the rotated subspace does not commute.
        let with_t: Vec<AffineGenerator> = spec(4, &["so3", "translation:0,1,0,0"]);
        assert_eq!(refused(4, &with_t), Err(BuiltInError::NotCommuting));
        assert_eq!(
            "so3".parse::<SymmetrySpec>().unwrap().generators(2),
            Err(BuiltInError::So3TooSmall)
        );
        for bad in ["so3:1,2", "so3:", "so3:1,2,x"] {
            let e = bad.parse::<SymmetrySpec>().unwrap_err();
            assert!(e.to_string().contains(SymmetrySpec::FORMS), "{e}");
        }
        assert_eq!(
            "so3:1,-2,0.5".parse::<SymmetrySpec>(),
            Ok(SymmetrySpec::So3 {
                centre: [1.0, -2.0, 0.5]
            })
        );
    }

    #[test]
    fn so3_features_are_invariant_and_have_a_time_reversal_parity() {
        let n = 4;
        let b = BuiltIn::from_generators(n, &spec(n, &["so3:0.3,-0.2,0.5"])).unwrap();
        let s = b.so3.clone().unwrap();
        let (p, k) = (b.position_count(), b.velocity_count());
        assert_eq!((p, k), (3, 2));
        let feats = |q: &[f64], v: &[f64]| {
            let (mut pos, mut vel) = (vec![0.0; p], vec![0.0; k]);
            b.features(q, v, &mut pos, &mut vel);
            (pos, vel)
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for _ in 0..50 {
            let q: Vec<f64> = (0..n).map(|_| rng.random_range(-2.0..2.0)).collect();
            let v: Vec<f64> = (0..n).map(|_| rng.random_range(-2.0..2.0)).collect();
            let r = random_rotation(&mut rng);
            let (f0, g0) = feats(&q, &v);
            let (f1, g1) = feats(&rotate(&s, &r, &q, true), &rotate(&s, &r, &v, false));
            for (a, b) in f0.iter().chain(&g0).zip(f1.iter().chain(&g1)) {
                assert!((a - b).abs() <= 1e-13 * (1.0 + a.abs()), "{a} vs {b}");
            }
            // The reversed pair: v → −v gives (pos, −vel).
            let back: Vec<f64> = v.iter().map(|x| -x).collect();
            let (f2, g2) = feats(&q, &back);
            assert_eq!(f2, f0);
            assert!(g2.iter().zip(&g0).all(|(a, b)| *a == -b));
            // The radius and the speed squared in the subspace.
            let x: Vec<f64> = (0..3).map(|i| q[i] - [0.3, -0.2, 0.5][i]).collect();
            assert!((f0[0] - norm(&x)).abs() < 1e-14 * f0[0]);
            let u2: f64 = v[..3].iter().map(|a| a * a).sum();
            assert!((f0[1] - u2).abs() < 1e-14 * u2);
            assert!((g0[0] - dot(&x, &v[..3]) / norm(&x)).abs() < 1e-13);
        }
    }

    #[test]
    fn models_written_before_so3_load() {
        let b = BuiltIn::from_generators(2, &spec(2, &["rotation"])).unwrap();
        let mut json = serde_json::to_value(&b).unwrap();
        assert!(json.get("so3").is_none(), "{json}");
        json.as_object_mut().unwrap().remove("distances");
        let back: BuiltIn = serde_json::from_value(json).unwrap();
        assert_eq!(back.so3, None);
        let s = BuiltIn::from_generators(3, &spec(3, &["so3:0.3,-0.2,0.1"])).unwrap();
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<BuiltIn>(&text).unwrap(), s);
    }
}
