//! AVX-512F micro-kernels: `12 × 32` for `f32` and `12 × 16` for `f64`, and the AVX-512
//! versions of every AVX2 specialisation.
//!
//! Twenty-four 512-bit accumulators (12 rows × 2 vectors) hold the tile, out of the 32 zmm
//! registers; the body is the same macro as the AVX2 kernels (`simd_kernel!`), with 512-bit
//! intrinsics, and so are the vector-matrix helpers (`gemv_kernels!`).
//!
//! The f32 specialisations (SIMD packing of a row-major A and of a column-major B, and the
//! column-major C epilogue) all rest on one in-register `16 × 16` transpose ([`transpose16`]);
//! ragged edges (`kc % 16`, a short last panel, the 12 valid lanes of a column of the tile)
//! use masked loads and stores, so no portable tail is left.

use super::{DOTS_W, GEMV_W, Kernel, MatRef, RowKernel, check_dots, check_gemv, check_tile};
use core::arch::x86_64::{
    __m512, __m512d, __mmask8, __mmask16, _mm256_add_pd, _mm256_add_ps, _mm256_castpd_ps,
    _mm512_add_pd, _mm512_add_ps, _mm512_castpd256_pd512, _mm512_castpd512_pd256, _mm512_castps_pd,
    _mm512_castps256_ps512, _mm512_castps512_ps256, _mm512_extractf64x4_pd, _mm512_fmadd_pd,
    _mm512_fmadd_ps, _mm512_insertf64x4, _mm512_loadu_pd, _mm512_loadu_ps, _mm512_mask_storeu_pd,
    _mm512_mask_storeu_ps, _mm512_maskz_loadu_pd, _mm512_maskz_loadu_ps, _mm512_mul_pd,
    _mm512_mul_ps, _mm512_set1_pd, _mm512_set1_ps, _mm512_setzero_pd, _mm512_setzero_ps,
    _mm512_shuffle_f32x4, _mm512_shuffle_ps, _mm512_storeu_pd, _mm512_storeu_ps,
    _mm512_unpackhi_ps, _mm512_unpacklo_ps,
};

/// Proof that the CPU supports AVX-512F (and AVX2, FMA): only [`Avx512::detect`] creates one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512 {
    _private: (),
}

impl Avx512 {
    /// `Some` if this CPU (and OS) supports AVX-512F, AVX2 and FMA.
    pub(crate) fn detect() -> Option<Self> {
        (is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma"))
        .then_some(Avx512 { _private: () })
    }
}

/// The first `n` lanes (`n <= 16`).
#[inline(always)]
fn mask16(n: usize) -> __mmask16 {
    ((1u32 << n) - 1) as __mmask16
}

/// The first `n` lanes (`n <= 8`).
#[inline(always)]
fn mask8(n: usize) -> __mmask8 {
    ((1u32 << n) - 1) as __mmask8
}

/// Transposes a `16 × 16` block held as 16 rows: lane `j` of row `i` becomes lane `i` of
/// row `j` (unpacks, in-lane shuffles, then two rounds of 128-bit lane shuffles).
#[target_feature(enable = "avx512f")]
#[inline]
fn transpose16(r: &[__m512; 16]) -> [__m512; 16] {
    // t[2i], t[2i + 1]: rows 2i and 2i + 1 interleaved (elements 0-1 / 2-3 of each 128-bit lane).
    let t: [__m512; 16] = core::array::from_fn(|x| {
        let (i, hi) = (x / 2, x % 2 == 1);
        if hi {
            _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1])
        } else {
            _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1])
        }
    });
    // u[4i + e], 128-bit lane q: rows 4i .. 4i + 4 of column 4q + e.
    let u: [__m512; 16] = core::array::from_fn(|x| {
        let (i, e) = (x / 4, x % 4);
        let (a, b) = (t[4 * i + e / 2], t[4 * i + 2 + e / 2]);
        if e % 2 == 0 {
            _mm512_shuffle_ps::<0x44>(a, b)
        } else {
            _mm512_shuffle_ps::<0xEE>(a, b)
        }
    });
    let mut out = [_mm512_setzero_ps(); 16];
    for e in 0..4 {
        let a0 = _mm512_shuffle_f32x4::<0x88>(u[e], u[4 + e]);
        let a1 = _mm512_shuffle_f32x4::<0xDD>(u[e], u[4 + e]);
        let b0 = _mm512_shuffle_f32x4::<0x88>(u[8 + e], u[12 + e]);
        let b1 = _mm512_shuffle_f32x4::<0xDD>(u[8 + e], u[12 + e]);
        out[e] = _mm512_shuffle_f32x4::<0x88>(a0, b0);
        out[8 + e] = _mm512_shuffle_f32x4::<0xDD>(a0, b0);
        out[4 + e] = _mm512_shuffle_f32x4::<0x88>(a1, b1);
        out[12 + e] = _mm512_shuffle_f32x4::<0xDD>(a1, b1);
    }
    out
}

simd_kernel! {
    /// The `f32` AVX-512F kernel (12 × 32).
    fn sgemm_12x32: f32, features = "avx512f,avx2,fma", mr = 12, nv = 2, lanes = 16,
    vec = __m512, setzero = _mm512_setzero_ps, set1 = _mm512_set1_ps,
    loadu = _mm512_loadu_ps, storeu = _mm512_storeu_ps, fmadd = _mm512_fmadd_ps,
    mul = _mm512_mul_ps, colmajor = sstore_colmajor,
    masked = (mask16, maskload_ps, maskstore_ps),
}

/// Writes a full `12 × 32` f32 tile to a column-major C: `C(i, j) = alpha * acc[i][j] +
/// beta * C(i, j)` with `C(i, j)` at `c[i + j * cs_c]` (C not read when `beta == 0`): each
/// 16-column half transposed in registers, each column one masked 12-lane access.
///
/// The same roundings as the scalar update: `alpha * acc`, then one fused `beta * C + that`.
///
/// # Safety
/// AVX-512F must be available; `c[i + j * cs_c]` readable and writable for `i < 12`,
/// `j < 32`.
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
unsafe fn sstore_colmajor(
    acc: &[[__m512; 2]; 12],
    alpha: f32,
    beta: f32,
    c: *mut f32,
    cs_c: usize,
) {
    let (alpha_v, beta_v) = (_mm512_set1_ps(alpha), _mm512_set1_ps(beta));
    let m = mask16(12);
    // v: which 16-column half of the tile.
    #[allow(clippy::needless_range_loop)]
    for v in 0..2 {
        let r: [__m512; 16] = core::array::from_fn(|i| {
            if i < 12 {
                _mm512_mul_ps(alpha_v, acc[i][v])
            } else {
                _mm512_setzero_ps()
            }
        });
        for (jj, &col) in transpose16(&r).iter().enumerate() {
            // SAFETY: column v*16 + jj < 32, rows 0 .. 12 (the mask): valid by contract.
            unsafe {
                let cp = c.add((v * 16 + jj) * cs_c);
                let out = if beta == 0.0 {
                    col
                } else {
                    _mm512_fmadd_ps(beta_v, _mm512_maskz_loadu_ps(m, cp), col)
                };
                _mm512_mask_storeu_ps(cp, m, out);
            }
        }
    }
}

/// [`Kernel::pack_a`] for the f32 kernel, row-major A (`cs == 1`, e.g. the layer input `X`
/// of the input projection): 12 rows × 16 columns at a time are loaded (masked at the
/// `kc % 16` edge; rows past the last are zero), transposed in registers and stored as 16
/// packed columns of 12. Other layouts take the portable routine.
fn spack_a(
    _proof: Avx512, // its existence is the proof that AVX-512F is available
    dst: &mut [f32],
    a: &MatRef<'_, f32>,
    i0: usize,
    mc: usize,
    p0: usize,
    kc: usize,
) {
    const MR: usize = 12;
    if a.cs != 1 || kc == 0 || mc == 0 {
        return super::pack::pack_a(MR, dst, a, i0, mc, p0, kc);
    }
    // Every element read below: columns p0 .. p0 + kc of rows i0 .. i0 + mc.
    let last = a.offset + (i0 + mc - 1) * a.rs + p0 + kc - 1;
    assert!(last < a.data.len(), "pack_a: A out of bounds");
    let panels = mc.div_ceil(MR);
    assert!(dst.len() >= panels * MR * kc, "pack_a: buffer too small");
    for q in 0..panels {
        let h = MR.min(mc - q * MR);
        let src = a.offset + (i0 + q * MR) * a.rs + p0;
        // SAFETY: `_proof` shows AVX-512F is available; the assert above covers columns
        // 0 .. kc of the panel's h rows, and the panel's kc * MR elements are inside `dst`.
        unsafe {
            pack_a_panel(
                dst.as_mut_ptr().add(q * kc * MR),
                a.data.as_ptr().add(src),
                a.rs,
                h,
                kc,
            )
        };
    }
}

/// `dst[p * 12 + i] = src[i * rs + p]` for `i < h`, and 0 for `h <= i < 12`, `p < kc`.
///
/// # Safety
/// AVX-512F must be available; `src[i * rs + p]` readable for `i < h <= 12`, `p < kc`;
/// `dst[0 .. kc * 12]` writable.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn pack_a_panel(dst: *mut f32, src: *const f32, rs: usize, h: usize, kc: usize) {
    let m12 = mask16(12);
    for p in (0..kc).step_by(16) {
        let n = 16.min(kc - p);
        let m = mask16(n);
        // SAFETY: rows i < h, columns p .. p + n (the mask): readable by contract.
        let r: [__m512; 16] = core::array::from_fn(|i| {
            if i < h {
                unsafe { _mm512_maskz_loadu_ps(m, src.add(i * rs + p)) }
            } else {
                _mm512_setzero_ps()
            }
        });
        for (kk, &col) in transpose16(&r).iter().enumerate().take(n) {
            let d = dst.wrapping_add((p + kk) * 12);
            // SAFETY: packed column p + kk < kc: its 12 lanes are inside dst by contract;
            // before the last column, the 4 lanes after them are the next column's (written
            // next, in order), so a full store stays inside dst too.
            unsafe {
                if p + kk + 1 < kc {
                    _mm512_storeu_ps(d, col);
                } else {
                    _mm512_mask_storeu_ps(d, m12, col);
                }
            }
        }
    }
}

/// [`Kernel::pack_b`] for the f32 kernel, column-major B (`rs == 1`: a transposed view, such
/// as the batch of states `h^T` of every per-step RNN product): 16 columns × 16 rows at a
/// time are loaded (masked at the `kc % 16` edge; columns past the last are zero),
/// transposed in registers and stored as 16 packed rows. Other layouts take the portable
/// routine.
fn spack_b(
    _proof: Avx512, // its existence is the proof that AVX-512F is available
    dst: &mut [f32],
    b: &MatRef<'_, f32>,
    p0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
) {
    const NR: usize = 32;
    if b.rs != 1 || kc == 0 || nc == 0 {
        return super::pack::pack_b(NR, dst, b, p0, kc, j0, nc);
    }
    // Every element read below: rows p0 .. p0 + kc of columns j0 .. j0 + nc.
    let last = b.offset + p0 + kc - 1 + (j0 + nc - 1) * b.cs;
    assert!(last < b.data.len(), "pack_b: B out of bounds");
    let panels = nc.div_ceil(NR);
    assert!(dst.len() >= panels * NR * kc, "pack_b: buffer too small");
    for q in 0..panels {
        let w = NR.min(nc - q * NR);
        let src = b.offset + p0 + (j0 + q * NR) * b.cs;
        // SAFETY: `_proof` shows AVX-512F is available; the assert above covers rows 0 .. kc
        // of the panel's w columns, and the panel's kc * NR elements are inside `dst`.
        unsafe {
            pack_b_panel(
                dst.as_mut_ptr().add(q * kc * NR),
                b.data.as_ptr().add(src),
                b.cs,
                w,
                kc,
            )
        };
    }
}

/// `dst[p * 32 + jj] = src[jj * cs + p]` for `jj < w`, and 0 for `w <= jj < 32`, `p < kc`.
///
/// # Safety
/// AVX-512F must be available; `src[jj * cs + p]` readable for `jj < w <= 32`, `p < kc`;
/// `dst[0 .. kc * 32]` writable.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn pack_b_panel(dst: *mut f32, src: *const f32, cs: usize, w: usize, kc: usize) {
    for p in (0..kc).step_by(16) {
        let n = 16.min(kc - p);
        let m = mask16(n);
        for g in 0..2 {
            // SAFETY: columns g*16 + jj < w, rows p .. p + n (the mask): readable by contract.
            let r: [__m512; 16] = core::array::from_fn(|jj| {
                if g * 16 + jj < w {
                    unsafe { _mm512_maskz_loadu_ps(m, src.add((g * 16 + jj) * cs + p)) }
                } else {
                    _mm512_setzero_ps()
                }
            });
            for (kk, &row) in transpose16(&r).iter().enumerate().take(n) {
                // SAFETY: packed row p + kk < kc, columns g*16 .. g*16 + 16 < 32: inside dst.
                unsafe { _mm512_storeu_ps(dst.add((p + kk) * 32 + g * 16), row) };
            }
        }
    }
}

simd_kernel! {
    /// The `f64` AVX-512F kernel (12 × 16).
    fn dgemm_12x16: f64, features = "avx512f,avx2,fma", mr = 12, nv = 2, lanes = 8,
    vec = __m512d, setzero = _mm512_setzero_pd, set1 = _mm512_set1_pd,
    loadu = _mm512_loadu_pd, storeu = _mm512_storeu_pd, fmadd = _mm512_fmadd_pd,
    mul = _mm512_mul_pd, masked = (mask8, maskload_pd, maskstore_pd),
}

impl_simd_kernel!(
    Avx512,
    f32,
    12,
    32,
    sgemm_12x32,
    pack_a = spack_a,
    pack_b = spack_b
);
impl_simd_kernel!(Avx512, f64, 12, 16, dgemm_12x16);

/// The lane sums of eight f32 vectors, in order, in the first eight lanes: each vector's
/// halves added, then the AVX2 reduction tree.
///
/// # Safety
/// AVX-512F, AVX2 and FMA must be available.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn sreduce8(v: [__m512; 8]) -> [__m512; 1] {
    let halves = v.map(|x| {
        let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(x)));
        _mm256_add_ps(_mm512_castps512_ps256(x), hi)
    });
    // SAFETY: AVX2 is available (this function's contract).
    let [s] = unsafe { super::avx2::sreduce8(halves) };
    [_mm512_castps256_ps512(s)]
}

/// The lane sums of eight f64 vectors, in order: each vector's halves added, then the AVX2
/// reduction tree.
///
/// # Safety
/// AVX-512F, AVX2 and FMA must be available.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn dreduce8(v: [__m512d; 8]) -> [__m512d; 1] {
    let halves =
        v.map(|x| _mm256_add_pd(_mm512_castpd512_pd256(x), _mm512_extractf64x4_pd::<1>(x)));
    // SAFETY: AVX2 is available (this function's contract).
    let [lo, hi] = unsafe { super::avx2::dreduce8(halves) };
    [_mm512_insertf64x4::<1>(_mm512_castpd256_pd512(lo), hi)]
}

gemv_kernels! {
    f32, __m512, features = "avx512f,avx2,fma", lanes = 16, chunk = 128, rows = sgemv_rows,
    cols = sdot, setzero = _mm512_setzero_ps, set1 = _mm512_set1_ps, loadu = _mm512_loadu_ps,
    storeu = _mm512_storeu_ps, fmadd = _mm512_fmadd_ps, mul = _mm512_mul_ps, add = _mm512_add_ps,
    maskload = maskload_ps, mask = mask16, reduce = sreduce8,
}

gemv_kernels! {
    f64, __m512d, features = "avx512f,avx2,fma", lanes = 8, chunk = 64, rows = dgemv_rows,
    cols = ddot, setzero = _mm512_setzero_pd, set1 = _mm512_set1_pd, loadu = _mm512_loadu_pd,
    storeu = _mm512_storeu_pd, fmadd = _mm512_fmadd_pd, mul = _mm512_mul_pd, add = _mm512_add_pd,
    maskload = maskload_pd, mask = mask8, reduce = dreduce8,
}

/// `_mm512_maskz_loadu_ps` with the argument order of `_mm256_maskload_ps`.
///
/// # Safety
/// AVX-512F must be available; the lanes set in `m` readable at `p`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn maskload_ps(p: *const f32, m: __mmask16) -> __m512 {
    // SAFETY: the caller's contract.
    unsafe { _mm512_maskz_loadu_ps(m, p) }
}

/// `_mm512_maskz_loadu_pd` with the argument order of `_mm256_maskload_pd`.
///
/// # Safety
/// AVX-512F must be available; the lanes set in `m` readable at `p`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn maskload_pd(p: *const f64, m: __mmask8) -> __m512d {
    // SAFETY: the caller's contract.
    unsafe { _mm512_maskz_loadu_pd(m, p) }
}

/// `_mm512_mask_storeu_ps` with the argument order of `_mm256_maskstore_ps`.
///
/// # Safety
/// AVX-512F must be available; the lanes set in `m` writable at `p`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn maskstore_ps(p: *mut f32, m: __mmask16, v: __m512) {
    // SAFETY: the caller's contract.
    unsafe { _mm512_mask_storeu_ps(p, m, v) }
}

/// `_mm512_mask_storeu_pd` with the argument order of `_mm256_maskstore_pd`.
///
/// # Safety
/// AVX-512F must be available; the lanes set in `m` writable at `p`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn maskstore_pd(p: *mut f64, m: __mmask8, v: __m512d) {
    // SAFETY: the caller's contract.
    unsafe { _mm512_mask_storeu_pd(p, m, v) }
}

impl_gemv!(Avx512, f32, 128, sgemv_rows, sdot);
impl_gemv!(Avx512, f64, 64, dgemv_rows, ddot);
