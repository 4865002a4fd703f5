//! AVX-512F micro-kernels: `12 × 32` for `f32` and `12 × 16` for `f64`.
//!
//! Twenty-four 512-bit accumulators (12 rows × 2 vectors) hold the tile, out of the 32 zmm
//! registers; the body is the same macro as the AVX2 kernels, with 512-bit intrinsics.

use super::{Kernel, check_tile};
use core::arch::x86_64::{
    __m512, __m512d, _mm512_fmadd_pd, _mm512_fmadd_ps, _mm512_loadu_pd, _mm512_loadu_ps,
    _mm512_mul_pd, _mm512_mul_ps, _mm512_set1_pd, _mm512_set1_ps, _mm512_setzero_pd,
    _mm512_setzero_ps, _mm512_storeu_pd, _mm512_storeu_ps,
};

/// Proof that the CPU supports AVX-512F (and FMA): only [`Avx512::detect`] creates one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512 {
    _private: (),
}

impl Avx512 {
    /// `Some` if this CPU (and OS) supports AVX-512F and FMA.
    pub(crate) fn detect() -> Option<Self> {
        (is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma"))
            .then_some(Avx512 { _private: () })
    }
}

simd_kernel! {
    /// The `f32` AVX-512F kernel (12 × 32).
    fn sgemm_12x32: f32, features = "avx512f,fma", mr = 12, nv = 2, lanes = 16, vec = __m512,
    setzero = _mm512_setzero_ps, set1 = _mm512_set1_ps, loadu = _mm512_loadu_ps,
    storeu = _mm512_storeu_ps, fmadd = _mm512_fmadd_ps, mul = _mm512_mul_ps,
}

simd_kernel! {
    /// The `f64` AVX-512F kernel (12 × 16).
    fn dgemm_12x16: f64, features = "avx512f,fma", mr = 12, nv = 2, lanes = 8, vec = __m512d,
    setzero = _mm512_setzero_pd, set1 = _mm512_set1_pd, loadu = _mm512_loadu_pd,
    storeu = _mm512_storeu_pd, fmadd = _mm512_fmadd_pd, mul = _mm512_mul_pd,
}

macro_rules! impl_kernel {
    ($t:ty, $mr:literal, $nr:literal, $f:ident) => {
        impl Kernel<$t> for Avx512 {
            const MR: usize = $mr;
            const NR: usize = $nr;

            #[inline]
            fn run(
                self,
                kc: usize,
                alpha: $t,
                a: &[$t],
                rs_a: usize,
                cs_a: usize,
                b: &[$t],
                beta: $t,
                c: &mut [$t],
                rs_c: usize,
                cs_c: usize,
                rows: usize,
                cols: usize,
            ) {
                check_tile(
                    $mr,
                    $nr,
                    kc,
                    a.len(),
                    rs_a,
                    cs_a,
                    b.len(),
                    c.len(),
                    rs_c,
                    cs_c,
                    rows,
                    cols,
                );
                // SAFETY: `self` exists only if AVX-512F and FMA were detected; `check_tile`
                // just proved that every element the kernel touches lies inside `a`, `b`, `c`.
                unsafe {
                    if rs_a == 1 && cs_a == $mr {
                        $f::<true>(
                            kc,
                            alpha,
                            a.as_ptr(),
                            1,
                            $mr,
                            b.as_ptr(),
                            beta,
                            c.as_mut_ptr(),
                            rs_c,
                            cs_c,
                            rows,
                            cols,
                        )
                    } else {
                        $f::<false>(
                            kc,
                            alpha,
                            a.as_ptr(),
                            rs_a,
                            cs_a,
                            b.as_ptr(),
                            beta,
                            c.as_mut_ptr(),
                            rs_c,
                            cs_c,
                            rows,
                            cols,
                        )
                    }
                }
            }
        }
    };
}

impl_kernel!(f32, 12, 32, sgemm_12x32);
impl_kernel!(f64, 12, 16, dgemm_12x16);
