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

impl_simd_kernel!(Avx512, f32, 12, 32, sgemm_12x32);
impl_simd_kernel!(Avx512, f64, 12, 16, dgemm_12x16);
