//! AVX2 + FMA micro-kernels: `6 × 16` for `f32` and `6 × 8` for `f64`.
//!
//! Twelve 256-bit accumulators (6 rows × 2 vectors) hold the tile; per `k` step the kernel
//! loads one packed row of B (2 vectors), broadcasts the 6 entries of A's column and issues
//! 12 FMAs: enough independent chains to cover the FMA latency on two FMA pipes.

use super::{Kernel, check_tile};
use core::arch::x86_64::{
    __m256, __m256d, _mm256_fmadd_pd, _mm256_fmadd_ps, _mm256_loadu_pd, _mm256_loadu_ps,
    _mm256_mul_pd, _mm256_mul_ps, _mm256_set1_pd, _mm256_set1_ps, _mm256_setzero_pd,
    _mm256_setzero_ps, _mm256_storeu_pd, _mm256_storeu_ps,
};

/// Proof that the CPU supports AVX2 and FMA: only [`Avx2::detect`] creates one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2 {
    _private: (),
}

impl Avx2 {
    /// `Some` if this CPU (and OS) supports AVX2 and FMA.
    pub(crate) fn detect() -> Option<Self> {
        (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
            .then_some(Avx2 { _private: () })
    }
}

simd_kernel! {
    /// The `f32` AVX2+FMA kernel (6 × 16).
    fn sgemm_6x16: f32, features = "avx2,fma", mr = 6, nv = 2, lanes = 8, vec = __m256,
    setzero = _mm256_setzero_ps, set1 = _mm256_set1_ps, loadu = _mm256_loadu_ps,
    storeu = _mm256_storeu_ps, fmadd = _mm256_fmadd_ps, mul = _mm256_mul_ps,
}

simd_kernel! {
    /// The `f64` AVX2+FMA kernel (6 × 8).
    fn dgemm_6x8: f64, features = "avx2,fma", mr = 6, nv = 2, lanes = 4, vec = __m256d,
    setzero = _mm256_setzero_pd, set1 = _mm256_set1_pd, loadu = _mm256_loadu_pd,
    storeu = _mm256_storeu_pd, fmadd = _mm256_fmadd_pd, mul = _mm256_mul_pd,
}

macro_rules! impl_kernel {
    ($t:ty, $mr:literal, $nr:literal, $f:ident) => {
        impl Kernel<$t> for Avx2 {
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
                // SAFETY: `self` exists only if AVX2 and FMA were detected; `check_tile` just
                // proved that every element the kernel touches lies inside `a`, `b` and `c`.
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

impl_kernel!(f32, 6, 16, sgemm_6x16);
impl_kernel!(f64, 6, 8, dgemm_6x8);
