//! Vectorised elementwise math for hot loops: `tanh` and `exp` over `f32` slices.
//!
//! libm's scalar `tanhf`/`expf` cost 5-10 ns an element; the RNN applies `tanh` to every
//! hidden unit of every step. Here each function is one branch-free loop the compiler
//! vectorises; it is compiled three times (AVX-512F, AVX2+FMA, and the portable baseline) and
//! the instruction set the GEMM uses is chosen at run time ([`gemm::isa`](crate::gemm::isa):
//! the widest the CPU supports, capped by `RECUR_GEMM_ISA` and
//! [`gemm::with_isa_cap`](crate::gemm::with_isa_cap)). `f64` keeps the exact libm functions
//! (f64 is what the PyTorch fixtures and gradient checks run in).
//!
//! Accuracy (checked by the tests against `f64` math over dense grids): `tanh` within 4 ulp
//! relative; `exp` within 2 ulp relative (absolute in the subnormal range).

/// `tanh` of one value: an odd rational function on `[-7.9, 7.9]` (degree 13 over 6, the
/// minimax form Eigen uses for float), exactly `±1` beyond, `x` itself near 0.
#[inline(always)]
fn tanh_one(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    let c = x.clamp(-CLAMP, CLAMP);
    let x2 = c * c;
    let p = x2 * -2.760_768_5e-16 + 2.000_188e-13;
    let p = x2 * p + -8.604_672e-11;
    let p = x2 * p + 5.122_297e-8;
    let p = x2 * p + 1.485_722_4e-5;
    let p = x2 * p + 6.372_619_3e-4;
    let p = x2 * p + 4.893_524_6e-3;
    let q = x2 * 1.198_258_4e-6 + 1.185_347e-4;
    let q = x2 * q + 2.268_434_6e-3;
    let q = x2 * q + 4.893_525e-3;
    let r = c * p / q;
    // `c` (equal to `x` here), not `x`: selecting the loaded value itself lets the compiler
    // turn the loop's store into a masked store, which is microcoded and several times
    // slower than the whole computation on AMD cores.
    if x.abs() < 4e-4 { c } else { r }
}

/// `e^x` of one value: `2^n * e^r` with `n = round(x / ln 2)` (ties to even), `|r| <= ln2 / 2`, and a degree-6
/// polynomial for `e^r`; 0 below -103.97, `inf` above 88.72, NaN stays NaN.
#[inline(always)]
fn exp_one(x: f32) -> f32 {
    const HI: f32 = 88.722_83;
    const LO: f32 = -103.972_08;
    let c = x.clamp(LO, HI);
    // n = round(c / ln 2) (ties to even) by the shifter trick: adding 1.5 * 2^23 leaves the
    // rounded integer in the low mantissa bits, so n is also read off as an integer with
    // bit operations that vectorise (a float-to-int `as` cast does not: it saturates lane by
    // lane). |c / ln 2| <= 150, far inside the trick's range.
    const SHIFT: f32 = 12_582_912.0;
    let t = c * core::f32::consts::LOG2_E + SHIFT;
    let n = t - SHIFT;
    let ni = t.to_bits() as i32 - SHIFT.to_bits() as i32;
    // ln 2 split in two so n * ln2 is exact in the first part.
    let r = c - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = r * 1.987_569_1e-4 + 1.398_2e-3;
    let p = r * p + 8.333_452e-3;
    let p = r * p + 4.166_579_6e-2;
    let p = r * p + 0.166_666_66;
    let p = r * p + 0.5;
    let p = r * r * p + r + 1.0;
    // 2^n in two factors, so n = 128 (near the top) and n < -126 (subnormal results) work.
    let (n1, n2) = (ni >> 1, ni - (ni >> 1));
    let s1 = f32::from_bits(((n1 + 127) as u32) << 23);
    let s2 = f32::from_bits(((n2 + 127) as u32) << 23);
    let y = p * s1 * s2;
    if x > HI {
        f32::INFINITY
    } else if x < LO {
        0.0
    } else if x.is_nan() {
        x
    } else {
        y
    }
}

#[inline(always)]
fn tanh_loop(v: &mut [f32]) {
    for x in v {
        *x = tanh_one(*x);
    }
}

#[inline(always)]
fn exp_loop(v: &mut [f32]) {
    for x in v {
        *x = exp_one(*x);
    }
}

/// Runs `f` compiled for the widest instruction set this thread may use
/// ([`gemm::isa`](crate::gemm::isa): the CPU's best, capped by `RECUR_GEMM_ISA` and
/// [`gemm::with_isa_cap`](crate::gemm::with_isa_cap)).
///
/// This is how recur writes a SIMD loop once: `f` is inlined into one of three copies of this
/// function (AVX-512, AVX2 + FMA, baseline), each compiled with its instruction set enabled,
/// so the compiler vectorises plain element-wise loops in `f` (and in what it inlines) at that
/// width. The results are the same on every path: the compiler only vectorises what it may
/// without reordering floating-point operations (no fused multiply-adds are formed, no sums
/// reassociated). The recurrent engine runs every cell's step through it, so a user's own
/// cell gets the CPU's vector width without a line of SIMD.
///
/// Only code the compiler inlines into `f` is compiled for the wider set: small functions and
/// closures are, large ones called from elsewhere may not be — mark those `#[inline]`.
///
/// ```
/// use recur_tensor::vmath::vectorized;
/// let (a, b) = ([1.0f32, 2.0, 3.0], [0.5f32, 0.25, 2.0]);
/// let mut out = [0.0f32; 3];
/// vectorized(|| {
///     for ((o, x), y) in out.iter_mut().zip(&a).zip(&b) {
///         *o = x * y + 1.0;
///     }
/// });
/// assert_eq!(out, [1.5, 1.5, 7.0]);
/// ```
#[inline]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    match crate::gemm::isa() {
        // SAFETY: `isa()` selects only instruction sets the CPU supports.
        crate::gemm::Isa::Avx512 => return unsafe { with_avx512(f) },
        // SAFETY: as above.
        crate::gemm::Isa::Avx2 => return unsafe { with_avx2(f) },
        crate::gemm::Isa::Portable => {}
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn with_avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Declares a loop's portable copy and its [`vectorized`] form.
macro_rules! dispatch {
    ($(#[$doc:meta])* $name:ident, $portable:ident, $body:ident) => {
        /// The loop compiled for the baseline target (the portable path).
        pub fn $portable(v: &mut [f32]) {
            $body(v)
        }

        $(#[$doc])*
        pub fn $name(v: &mut [f32]) {
            vectorized(#[inline(always)] || $body(v))
        }
    };
}

dispatch!(
    /// `tanh` of every element, in place, with the widest SIMD the CPU has.
    ///
    /// ```
    /// let mut v = [0.0f32, 0.5, -3.0, 20.0];
    /// recur_tensor::vmath::tanh_f32(&mut v);
    /// assert!((v[1] - 0.5f32.tanh()).abs() < 1e-7 && v[3] == 1.0);
    /// ```
    tanh_f32, tanh_f32_portable, tanh_loop
);
dispatch!(
    /// `e^x` of every element, in place, with the widest SIMD the CPU has.
    ///
    /// ```
    /// let mut v = [0.0f32, 1.0, -200.0];
    /// recur_tensor::vmath::exp_f32(&mut v);
    /// assert_eq!(v[0], 1.0);
    /// assert!((v[1] - 1f32.exp()).abs() <= 2.0 * f32::EPSILON * v[1] && v[2] == 0.0);
    /// ```
    exp_f32, exp_f32_portable, exp_loop
);

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Vec<f32> {
        let mut v: Vec<f32> = (-200_000..=200_000).map(|i| i as f32 * 1e-4).collect();
        v.extend((-1000..=1000).map(|i| i as f32 * 0.1));
        v.extend([
            0.0,
            -0.0,
            1e-30,
            -1e-30,
            3e-4,
            5e-4,
            f32::MIN_POSITIVE,
            7.9,
            7.91,
            100.0,
            -100.0,
            f32::MAX,
            f32::MIN,
        ]);
        v
    }

    #[test]
    fn tanh_is_accurate() {
        let xs = grid();
        let mut v = xs.clone();
        tanh_f32(&mut v);
        for (&x, &y) in xs.iter().zip(&v) {
            let exact = (x as f64).tanh();
            let err = (y as f64 - exact).abs();
            assert!(
                err <= 4.0 * f32::EPSILON as f64 * exact.abs() + 1e-38,
                "tanh({x}) = {y}, exact {exact}"
            );
        }
        let mut special = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
        tanh_f32(&mut special);
        assert!(special[0].is_nan() && special[1] == 1.0 && special[2] == -1.0);
    }

    #[test]
    fn exp_is_accurate() {
        let xs: Vec<f32> = grid().into_iter().filter(|x| x.abs() < 1e4).collect();
        let mut v = xs.clone();
        exp_f32(&mut v);
        for (&x, &y) in xs.iter().zip(&v) {
            let exact = (x as f64).exp();
            if exact > f32::MAX as f64 {
                assert_eq!(y, f32::INFINITY, "exp({x})");
            } else if exact < f32::MIN_POSITIVE as f64 {
                assert!(
                    (y as f64 - exact).abs() <= f32::MIN_POSITIVE as f64,
                    "exp({x}) = {y}"
                );
            } else {
                assert!(
                    (y as f64 - exact).abs() <= 2.0 * f32::EPSILON as f64 * exact,
                    "exp({x}) = {y}, exact {exact}"
                );
            }
        }
        let mut special = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
        exp_f32(&mut special);
        assert!(special[0].is_nan() && special[1] == f32::INFINITY && special[2] == 0.0);
    }

    /// Every instruction set's loop gives the portable loop's results bit for bit (they are
    /// the same code; only the vector width differs).
    #[test]
    fn simd_paths_equal_the_portable_path() {
        use crate::gemm::{Isa, with_isa_cap};
        for isa in [Isa::Avx2, Isa::Avx512] {
            if !isa.is_supported() {
                eprintln!("skipped: no {isa}");
                continue;
            }
            // Odd lengths exercise the vector loops' tails.
            for n in [0usize, 1, 7, 15, 16, 17, 31, 33, 63, 65, 1001] {
                let xs: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin() * 9.0).collect();
                for (fast, portable) in [
                    (
                        tanh_f32 as fn(&mut [f32]),
                        tanh_f32_portable as fn(&mut [f32]),
                    ),
                    (exp_f32, exp_f32_portable),
                ] {
                    let (mut a, mut b) = (xs.clone(), xs.clone());
                    with_isa_cap(isa, || {
                        assert!(crate::gemm::isa() <= isa);
                        fast(&mut a)
                    });
                    portable(&mut b);
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&a), bits(&b), "{isa} n = {n}");
                }
            }
        }
    }
}
