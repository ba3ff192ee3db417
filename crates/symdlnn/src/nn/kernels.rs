//! Element-wise kernels of the engine, written as plain slice loops that the
//! compiler vectorises, compiled twice: for the baseline target and for
//! AVX2 + FMA, chosen at run time (the binary stays portable).
//!
//! The softplus and SiLU jets use [`exp_neg`] and [`ln_1p_unit`], branch-free
//! polynomial versions of `exp` on `(−∞, 0]` and `ln(1+e)` on `[0, 1]`
//! accurate to a few ulps, so that whole rows vectorise instead of calling
//! libm per element.

use super::activation::Activation;

/// `exp(x)` for `x ≤ 0` (inputs below −708 give `exp(−708) ≈ 3e−308`
/// instead of a subnormal or zero). Cody–Waite reduction `x = k ln2 + r`,
/// `|r| ≤ ln2/2`, Taylor polynomial of degree 13 (truncation < 5e−18)
/// evaluated by Estrin's scheme: four levels of products instead of
/// Horner's thirteen, so the vectorised loops are not bound by one long
/// dependency chain. Products and sums are fused explicitly (`mul_add`: one
/// rounding, the hardware's FMA in the AVX2 build, libm's correctly rounded
/// `fma` in the baseline build, so both give the same bits).
#[inline(always)]
pub fn exp_neg(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000); // fdlibm's ln2_hi
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76); // fdlibm's ln2_lo
    const SHIFT: f64 = 6_755_399_441_055_744.0; // 1.5 · 2^52: round to nearest

    // 1/k! for k = 2 … 13.
    const C: [f64; 12] = [
        0.5,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5_040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
        1.0 / 6_227_020_800.0,
    ];
    let x = x.max(-708.0);
    let t = x.mul_add(LOG2E, SHIFT);
    let k = t - SHIFT;
    let r = k.mul_add(-LN2_LO, k.mul_add(-LN2_HI, x));
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let low = C[1].mul_add(r, C[0]).mul_add(r2, 1.0 + r); // degrees 0–3
    let mid = C[5].mul_add(r, C[4]).mul_add(r2, C[3].mul_add(r, C[2])); // 4–7
    let high = C[9].mul_add(r, C[8]).mul_add(r2, C[7].mul_add(r, C[6])); // 8–11
    let top = C[11].mul_add(r, C[10]); // 12–13
    let p = top.mul_add(r4, high).mul_add(r8, mid.mul_add(r4, low));
    // 2^k from the integer in the low bits of t.
    let ki = (t.to_bits() as i64).wrapping_sub(SHIFT.to_bits() as i64);
    let scale = f64::from_bits(((ki + 1023) as u64) << 52);
    p * scale
}

/// `ln(1 + e)` for `e ∈ [0, 1]`: `2 atanh(u)` with `u = e/(2+e)`, or
/// `ln 2 + 2 atanh((e−1)/(e+3))` above `√2 − 1`, so `|u| ≤ 0.172`; odd
/// series to `u²³` (truncation < 1e−18), by Estrin's scheme in `u²`.
#[inline(always)]
pub fn ln_1p_unit(e: f64) -> f64 {
    let big = e > std::f64::consts::SQRT_2 - 1.0;
    let num = if big { e - 1.0 } else { e };
    let den = if big { e + 3.0 } else { e + 2.0 };
    let add = if big { std::f64::consts::LN_2 } else { 0.0 };
    let u = num / den;
    let t = u * u;
    let t2 = t * t;
    let t4 = t2 * t2;
    let t8 = t4 * t4;
    // 1/(2j+1) for j = 0 … 11.
    let d = |j: usize| 1.0 / (2 * j + 1) as f64;
    let q0 = d(3).mul_add(t, d(2)).mul_add(t2, d(1).mul_add(t, d(0)));
    let q1 = d(7).mul_add(t, d(6)).mul_add(t2, d(5).mul_add(t, d(4)));
    let q2 = d(11).mul_add(t, d(10)).mul_add(t2, d(9).mul_add(t, d(8)));
    let p = q2.mul_add(t8, q1.mul_add(t4, q0));
    (2.0 * u).mul_add(p, add)
}

/// Softplus jet from [`exp_neg`] and [`ln_1p_unit`].
#[inline(always)]
pub fn softplus_jet(x: f64) -> [f64; 4] {
    let e = exp_neg(-x.abs());
    let value = x.max(0.0) + ln_1p_unit(e);
    let inv = 1.0 / (1.0 + e);
    let s = if x >= 0.0 { inv } else { e * inv };
    let ds = s * (1.0 - s);
    [value, s, ds, ds * (1.0 - 2.0 * s)]
}

/// SiLU jet from [`exp_neg`].
#[inline(always)]
pub fn silu_jet(x: f64) -> [f64; 4] {
    let e = exp_neg(-x.abs());
    let inv = 1.0 / (1.0 + e);
    let s = if x >= 0.0 { inv } else { e * inv };
    let s1 = s * (1.0 - s);
    let s2 = s1 * (1.0 - 2.0 * s);
    let s3 = s1 * (1.0 - 6.0 * s + 6.0 * s * s);
    [x * s, s + x * s1, 2.0 * s1 + x * s2, 3.0 * s2 + x * s3]
}

/// Define `pub fn $name(args)` that runs an AVX2+FMA build of `$body` when
/// the CPU has it, and the baseline build otherwise.
macro_rules! multiversion {
    ($(#[$m:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$m])*
        #[allow(clippy::too_many_arguments)]
        pub fn $name($($arg: $ty),*) {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn fast($($arg: $ty),*) { body($($arg),*) }
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU supports the enabled features (checked above).
                    return unsafe { fast($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

multiversion! {
    /// Value rows of a layer: with `x = z + b` (per column), `h = σ(x)`,
    /// `s1, s2 = σ′, σ″(x)`, all `rows × w` with `w = bias.len()`, and
    /// `s3 = σ‴(x)` for the first `s3.len() / w` rows only (the rows with
    /// tangents: only their adjoint needs `σ‴`).
    pub fn activate(act: Activation, z: &[f64], bias: &[f64], h: &mut [f64], s1: &mut [f64], s2: &mut [f64], s3: &mut [f64]) {
        /// One row; `THIRD`: with `σ‴` (a constant, so each variant is
        /// its own branch-free loop).
        #[inline(always)]
        fn row<const THIRD: bool>(jet: &impl Fn(f64) -> [f64; 4], z: &[f64], bias: &[f64], h: &mut [f64], s1: &mut [f64], s2: &mut [f64], s3: &mut [f64]) {
            let w = bias.len();
            let (z, h, s1, s2) = (&z[..w], &mut h[..w], &mut s1[..w], &mut s2[..w]);
            let s3 = &mut s3[..if THIRD { w } else { 0 }];
            for o in 0..w {
                let j = jet(z[o] + bias[o]);
                h[o] = j[0];
                s1[o] = j[1];
                s2[o] = j[2];
                if THIRD {
                    s3[o] = j[3];
                }
            }
        }
        #[inline(always)]
        fn rows(jet: impl Fn(f64) -> [f64; 4], z: &[f64], bias: &[f64], h: &mut [f64], s1: &mut [f64], s2: &mut [f64], s3: &mut [f64]) {
            let w = bias.len();
            let third = s3.len();
            let (z3, z) = z.split_at(third);
            let (h3, h) = h.split_at_mut(third);
            let (s13, s1) = s1.split_at_mut(third);
            let (s23, s2) = s2.split_at_mut(third);
            let with = z3.chunks_exact(w).zip(h3.chunks_exact_mut(w)).zip(s13.chunks_exact_mut(w)).zip(s23.chunks_exact_mut(w)).zip(s3.chunks_exact_mut(w));
            for ((((z, h), s1), s2), s3) in with {
                row::<true>(&jet, z, bias, h, s1, s2, s3);
            }
            let without = z.chunks_exact(w).zip(h.chunks_exact_mut(w)).zip(s1.chunks_exact_mut(w)).zip(s2.chunks_exact_mut(w));
            for (((z, h), s1), s2) in without {
                row::<false>(&jet, z, bias, h, s1, s2, &mut []);
            }
        }
        match act {
            Activation::Softplus => rows(softplus_jet, z, bias, h, s1, s2, s3),
            Activation::Silu => rows(silu_jet, z, bias, h, s1, s2, s3),
            other => rows(|x| other.jet(x), z, bias, h, s1, s2, s3),
        }
    }
}

multiversion! {
    /// `out = a ⊙ b`.
    pub fn mul(out: &mut [f64], a: &[f64], b: &[f64]) {
        for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
            *o = x * y;
        }
    }
}

multiversion! {
    /// Tangent rows of the reverse sweep: `u̇ = σ″ ⊙ ż ⊙ a + σ′ ⊙ ȧ`
    /// (`ȧ` absent at the top layer, where it is zero).
    pub fn reverse_tangent(u: &mut [f64], s1: &[f64], s2: &[f64], z: &[f64], a: &[f64], adot: Option<&[f64]>) {
        match adot {
            Some(ad) => {
                for (((((u, s1), s2), z), a), ad) in u.iter_mut().zip(s1).zip(s2).zip(z).zip(a).zip(ad) {
                    *u = s2 * z * a + s1 * ad;
                }
            }
            None => {
                for (((u, s2), z), a) in u.iter_mut().zip(s2).zip(z).zip(a) {
                    *u = s2 * z * a;
                }
            }
        }
    }
}

multiversion! {
    /// Adjoint of the reverse sweep, value rows: `ā = σ′ ⊙ ū`, `z̄ = σ″ ⊙ ū ⊙ a`.
    pub fn adjoint_reverse_value(abar: &mut [f64], zbar: &mut [f64], s1: &[f64], s2: &[f64], ubar: &[f64], a: &[f64]) {
        for (((((ab, zb), s1), s2), ub), a) in abar.iter_mut().zip(zbar.iter_mut()).zip(s1).zip(s2).zip(ubar).zip(a) {
            *ab = s1 * ub;
            *zb = s2 * ub * a;
        }
    }
}

multiversion! {
    /// Adjoint of the reverse sweep, one tangent block: with `ū̇`, `ż`, `ȧ`
    /// of the block, `ā += σ″ ⊙ ż ⊙ ū̇`, `z̄ += σ‴ ⊙ ū̇ ⊙ ż ⊙ a + σ″ ⊙ ū̇ ⊙ ȧ`,
    /// `ǡ = σ′ ⊙ ū̇`, `ż̄ = σ″ ⊙ a ⊙ ū̇`.
    pub fn adjoint_reverse_tangent(
        abar: &mut [f64],
        zbar: &mut [f64],
        abar_t: &mut [f64],
        zbar_t: &mut [f64],
        s: (&[f64], &[f64], &[f64]),
        ubar_t: &[f64],
        z_t: &[f64],
        a: &[f64],
        adot: Option<&[f64]>,
    ) {
        let (s1, s2, s3) = s;
        let n = abar.len();
        let (abar_t, zbar_t, ubar_t, z_t) = (&mut abar_t[..n], &mut zbar_t[..n], &ubar_t[..n], &z_t[..n]);
        let (s1, s2, s3, a) = (&s1[..n], &s2[..n], &s3[..n], &a[..n]);
        match adot {
            Some(ad) => {
                let ad = &ad[..n];
                for k in 0..n {
                    let (ub, zd) = (ubar_t[k], z_t[k]);
                    abar[k] += s2[k] * zd * ub;
                    zbar[k] += s3[k] * ub * zd * a[k] + s2[k] * ub * ad[k];
                    abar_t[k] = s1[k] * ub;
                    zbar_t[k] = s2[k] * a[k] * ub;
                }
            }
            None => {
                for k in 0..n {
                    let (ub, zd) = (ubar_t[k], z_t[k]);
                    abar[k] += s2[k] * zd * ub;
                    zbar[k] += s3[k] * ub * zd * a[k];
                    abar_t[k] = s1[k] * ub;
                    zbar_t[k] = s2[k] * a[k] * ub;
                }
            }
        }
    }
}

multiversion! {
    /// Adjoint of the forward sweep: `z̄ += σ′ ⊙ h̄`.
    pub fn adjoint_forward_value(zbar: &mut [f64], s1: &[f64], hbar: &[f64]) {
        for ((zb, s1), hb) in zbar.iter_mut().zip(s1).zip(hbar) {
            *zb += s1 * hb;
        }
    }
}

multiversion! {
    /// Adjoint of the forward sweep, one tangent block:
    /// `z̄ += σ″ ⊙ ż ⊙ ḣ̄`, `ż̄ += σ′ ⊙ ḣ̄`.
    pub fn adjoint_forward_tangent(zbar: &mut [f64], zbar_t: &mut [f64], s1: &[f64], s2: &[f64], z_t: &[f64], hbar_t: &[f64]) {
        for (((((zb, zbt), s1), s2), zt), hbt) in zbar.iter_mut().zip(zbar_t.iter_mut()).zip(s1).zip(s2).zip(z_t).zip(hbar_t) {
            *zb += s2 * zt * hbt;
            *zbt += s1 * hbt;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_and_log1p_are_accurate_to_a_few_ulps() {
        let mut worst = (0.0f64, 0.0f64);
        for k in 0..200_001 {
            let x = -40.0 * k as f64 / 200_000.0;
            let rel = (exp_neg(x) - x.exp()).abs() / x.exp();
            worst.0 = worst.0.max(rel);
            let e = k as f64 / 200_000.0;
            let want = e.ln_1p();
            let rel = if want == 0.0 {
                ln_1p_unit(e).abs()
            } else {
                (ln_1p_unit(e) - want).abs() / want
            };
            worst.1 = worst.1.max(rel);
        }
        assert!(
            worst.0 < 4.0 * f64::EPSILON,
            "exp relative error {:e}",
            worst.0
        );
        assert!(
            worst.1 < 4.0 * f64::EPSILON,
            "ln_1p relative error {:e}",
            worst.1
        );
        assert_eq!(exp_neg(0.0), 1.0);
        assert!(exp_neg(-745.0) > 0.0 && exp_neg(-745.0) < 1e-300);
    }

    #[test]
    fn the_dispatched_kernel_gives_the_bits_of_the_baseline_build() {
        // `softplus_jet` here is compiled for the baseline target (libm's
        // `fma`); `activate` runs the AVX2 + FMA build where the CPU has it.
        let w = 8;
        let z: Vec<f64> = (0..40 * w).map(|k| (k as f64 - 160.0) * 0.173).collect();
        let bias = vec![0.25; w];
        let (mut h, mut s1, mut s2, mut s3) = (
            vec![0.0; z.len()],
            vec![0.0; z.len()],
            vec![0.0; z.len()],
            vec![0.0; 10 * w],
        );
        activate(
            Activation::Softplus,
            &z,
            &bias,
            &mut h,
            &mut s1,
            &mut s2,
            &mut s3,
        );
        for (k, &x) in z.iter().enumerate() {
            let j = softplus_jet(x + 0.25);
            assert_eq!([h[k], s1[k], s2[k]], [j[0], j[1], j[2]], "x = {x}");
            if k < s3.len() {
                assert_eq!(s3[k], j[3], "x = {x}");
            }
        }
    }

    #[test]
    fn fast_jets_match_the_reference_jets() {
        for k in -4000..=4000 {
            let x = k as f64 * 0.01;
            for (fast, act) in [
                (softplus_jet(x), Activation::Softplus),
                (silu_jet(x), Activation::Silu),
            ] {
                let slow = act.jet(x);
                for i in 0..4 {
                    assert!(
                        (fast[i] - slow[i]).abs() <= 8.0 * f64::EPSILON * (1.0 + slow[i].abs()),
                        "{act:?} x={x} order {i}"
                    );
                }
            }
        }
    }
}
