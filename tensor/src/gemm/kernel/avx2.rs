//! AVX2 + FMA micro-kernels: `6 × 16` for `f32` and `6 × 8` for `f64`.
//!
//! Twelve 256-bit accumulators (6 rows × 2 vectors) hold the tile; per `k` step the kernel
//! loads one packed row of B (2 vectors), broadcasts the 6 entries of A's column and issues
//! 12 FMAs: enough independent chains to cover the FMA latency on two FMA pipes.
//!
//! Also the vector-matrix (`m == 1`) helpers, which read B in place: for a row-major B,
//! chunks of 64 (f32) / 32 (f64) columns accumulate in eight registers; for a column-major B,
//! dot products of eight columns at a time, sharing the loads of A.

use super::{DOTS_W, GEMV_W, Kernel, MatRef, RowKernel, check_dots, check_gemv, check_tile};
use core::arch::x86_64::{
    __m256, __m256d, _mm_castps_si128, _mm_castsi128_ps, _mm_cvtsi64_si128, _mm_cvtsi128_si64,
    _mm_fmadd_ps, _mm_loadu_ps, _mm_movehl_ps, _mm_set1_ps, _mm_storeu_ps, _mm256_add_pd,
    _mm256_add_ps, _mm256_castps256_ps128, _mm256_extractf128_ps, _mm256_fmadd_pd, _mm256_fmadd_ps,
    _mm256_hadd_pd, _mm256_hadd_ps, _mm256_loadu_pd, _mm256_loadu_ps, _mm256_maskload_pd,
    _mm256_maskload_ps, _mm256_mul_pd, _mm256_mul_ps, _mm256_permute2f128_pd,
    _mm256_permute2f128_ps, _mm256_set1_pd, _mm256_set1_ps, _mm256_setr_epi32, _mm256_setr_epi64x,
    _mm256_setzero_pd, _mm256_setzero_ps, _mm256_shuffle_ps, _mm256_storeu_pd, _mm256_storeu_ps,
    _mm256_unpackhi_ps, _mm256_unpacklo_ps,
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
    colmajor = sstore_colmajor,
}

/// [`Kernel::pack_b`] for the f32 kernel: a column-major B (`rs == 1`: a transposed view,
/// such as the batch of states `h^T` of every per-step RNN product) is packed 8 × 8 blocks
/// at a time, transposed in registers, instead of gathered element by element. Other
/// layouts, the ragged last panel and the last `kc % 8` rows take the portable routine.
fn spack_b(
    _proof: Avx2, // its existence is the proof that AVX2 is available
    dst: &mut [f32],
    b: &MatRef<'_, f32>,
    p0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
) {
    const NR: usize = 16;
    let full = nc / NR;
    if b.rs != 1 || kc < 8 || full == 0 {
        return super::pack::pack_b(NR, dst, b, p0, kc, j0, nc);
    }
    let kc8 = kc / 8 * 8;
    // Every element read below: rows p0 .. p0 + kc8 of columns j0 .. j0 + full * NR.
    let last = b.offset + p0 + kc8 - 1 + (j0 + full * NR - 1) * b.cs;
    assert!(last < b.data.len(), "pack_b: B out of bounds");
    assert!(
        dst.len() >= nc.div_ceil(NR) * NR * kc,
        "pack_b: buffer too small"
    );
    for q in 0..full {
        let panel = &mut dst[q * kc * NR..(q + 1) * kc * NR];
        let src = b.offset + p0 + (j0 + q * NR) * b.cs;
        // SAFETY: `_proof` shows AVX2 is available; the assert above covers every column of
        // this panel at rows 0 .. kc8, and `panel` holds kc * NR elements.
        unsafe { transpose_panel(panel.as_mut_ptr(), b.data.as_ptr().add(src), b.cs, kc8) };
        // The last kc % 8 rows, element by element.
        for p in kc8..kc {
            for jj in 0..NR {
                panel[p * NR + jj] = b.data[src + jj * b.cs + p];
            }
        }
    }
    if full * NR < nc {
        super::pack::pack_b(
            NR,
            &mut dst[full * kc * NR..],
            b,
            p0,
            kc,
            j0 + full * NR,
            nc - full * NR,
        );
    }
}

/// `dst[p * 16 + jj] = src[jj * cs + p]` for `p < kc8` (a multiple of 8), `jj < 16`.
///
/// # Safety
/// AVX2 must be available; `src[jj * cs + p]` readable and `dst[p * 16 + jj]` writable for
/// those `p` and `jj`.
#[target_feature(enable = "avx2,fma")]
unsafe fn transpose_panel(dst: *mut f32, src: *const f32, cs: usize, kc8: usize) {
    for p in (0..kc8).step_by(8) {
        for g in 0..2 {
            // SAFETY: columns g*8 .. g*8 + 8, rows p .. p + 8: readable by contract.
            let r: [__m256; 8] = core::array::from_fn(|jj| unsafe {
                _mm256_loadu_ps(src.add((g * 8 + jj) * cs + p))
            });
            let t0 = _mm256_unpacklo_ps(r[0], r[1]);
            let t1 = _mm256_unpackhi_ps(r[0], r[1]);
            let t2 = _mm256_unpacklo_ps(r[2], r[3]);
            let t3 = _mm256_unpackhi_ps(r[2], r[3]);
            let t4 = _mm256_unpacklo_ps(r[4], r[5]);
            let t5 = _mm256_unpackhi_ps(r[4], r[5]);
            let t6 = _mm256_unpacklo_ps(r[6], r[7]);
            let t7 = _mm256_unpackhi_ps(r[6], r[7]);
            let s = [
                _mm256_shuffle_ps::<0x44>(t0, t2),
                _mm256_shuffle_ps::<0xEE>(t0, t2),
                _mm256_shuffle_ps::<0x44>(t1, t3),
                _mm256_shuffle_ps::<0xEE>(t1, t3),
                _mm256_shuffle_ps::<0x44>(t4, t6),
                _mm256_shuffle_ps::<0xEE>(t4, t6),
                _mm256_shuffle_ps::<0x44>(t5, t7),
                _mm256_shuffle_ps::<0xEE>(t5, t7),
            ];
            // Row p + i of the panel (columns g*8 .. g*8 + 8): s[i % 4] and s[i % 4 + 4],
            // low halves for i < 4, high halves for i >= 4.
            let o = [
                _mm256_permute2f128_ps::<0x20>(s[0], s[4]),
                _mm256_permute2f128_ps::<0x20>(s[1], s[5]),
                _mm256_permute2f128_ps::<0x20>(s[2], s[6]),
                _mm256_permute2f128_ps::<0x20>(s[3], s[7]),
                _mm256_permute2f128_ps::<0x31>(s[0], s[4]),
                _mm256_permute2f128_ps::<0x31>(s[1], s[5]),
                _mm256_permute2f128_ps::<0x31>(s[2], s[6]),
                _mm256_permute2f128_ps::<0x31>(s[3], s[7]),
            ];
            for (i, &row) in o.iter().enumerate() {
                // SAFETY: row p + i < kc8, columns g*8 .. g*8 + 8 < 16: writable by contract.
                unsafe { _mm256_storeu_ps(dst.add((p + i) * 16 + g * 8), row) };
            }
        }
    }
}

/// Writes a full `6 × 16` f32 tile to a column-major C: `C(i, j) = alpha * acc[i][j] +
/// beta * C(i, j)` with `C(i, j)` at `c[i + j * cs_c]` (C not read when `beta == 0`).
///
/// The same roundings as the scalar update: `alpha * acc`, then one fused `beta * C + that`.
///
/// # Safety
/// AVX2 and FMA must be available; `c[i + j * cs_c]` readable and writable for `i < 6`,
/// `j < 16`.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn sstore_colmajor(acc: &[[__m256; 2]; 6], alpha: f32, beta: f32, c: *mut f32, cs_c: usize) {
    let alpha_v = _mm256_set1_ps(alpha);
    // v: which 8-column half of the tile.
    #[allow(clippy::needless_range_loop)]
    for v in 0..2 {
        let r: [__m256; 6] = core::array::from_fn(|i| _mm256_mul_ps(alpha_v, acc[i][v]));
        // SAFETY: columns v*8 .. v*8 + 8 < 16 of C: valid by contract.
        unsafe { store_6x8_transposed(&r, beta, c.add(v * 8 * cs_c), cs_c) };
    }
}

/// Writes the `6 × 8` block `r` (row `i` in `r[i]`) transposed: column `j` of the block to
/// `c[j * cs .. j * cs + 6]`, as `r[.][j] + beta * c` (one fused operation; `c` not read when
/// `beta == 0`).
///
/// The rows are transposed in registers (4 × 4 blocks for rows 0-3, pairs for rows 4-5), so
/// each column is one 4-wide and one 2-wide access instead of six scalar ones.
///
/// # Safety
/// AVX2 and FMA must be available; `c[j * cs + i]` readable and writable for `i < 6`, `j < 8`.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn store_6x8_transposed(r: &[__m256; 6], beta: f32, c: *mut f32, cs: usize) {
    let beta_v = _mm_set1_ps(beta);
    // Rows 0-3: after these 8 shuffles, q[jj] holds column jj (low half) and column jj + 4
    // (high half).
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let q = [
        _mm256_shuffle_ps::<0x44>(t0, t2),
        _mm256_shuffle_ps::<0xEE>(t0, t2),
        _mm256_shuffle_ps::<0x44>(t1, t3),
        _mm256_shuffle_ps::<0xEE>(t1, t3),
    ];
    // Rows 4-5: u[0] holds the (row 4, row 5) pairs of columns 0, 1 | 4, 5; u[1] of columns
    // 2, 3 | 6, 7.
    let u = [
        _mm256_unpacklo_ps(r[4], r[5]),
        _mm256_unpackhi_ps(r[4], r[5]),
    ];
    for h in 0..2 {
        let half = |x: __m256| {
            if h == 0 {
                _mm256_castps256_ps128(x)
            } else {
                _mm256_extractf128_ps::<1>(x)
            }
        };
        for (jj, &qj) in q.iter().enumerate() {
            let j = h * 4 + jj;
            let pair = half(u[jj / 2]);
            let top = half(qj);
            let bottom = if jj % 2 == 0 {
                pair
            } else {
                _mm_movehl_ps(pair, pair)
            };
            // SAFETY: column j < 8: c[j * cs .. j * cs + 6] is valid by contract; the 8-byte
            // accesses are unaligned reads/writes of elements 4 and 5.
            unsafe {
                let cp = c.add(j * cs);
                let tail = cp.add(4).cast::<u64>();
                let (top, bottom) = if beta == 0.0 {
                    (top, bottom)
                } else {
                    let old = _mm_castsi128_ps(_mm_cvtsi64_si128(tail.read_unaligned() as i64));
                    (
                        _mm_fmadd_ps(beta_v, _mm_loadu_ps(cp), top),
                        _mm_fmadd_ps(beta_v, old, bottom),
                    )
                };
                _mm_storeu_ps(cp, top);
                tail.write_unaligned(_mm_cvtsi128_si64(_mm_castps_si128(bottom)) as u64);
            }
        }
    }
}

/// `dst[p * 6 + i] = src[i * rs + p]` for `p < kc8` (a multiple of 8), `i < 6`.
///
/// # Safety
/// AVX2 must be available; `src[i * rs + p]` readable and `dst[p * 6 + i]` writable for those
/// `p` and `i`.
#[target_feature(enable = "avx2,fma")]
unsafe fn pack_a_panel(dst: *mut f32, src: *const f32, rs: usize, kc8: usize) {
    for p in (0..kc8).step_by(8) {
        // SAFETY: rows 0 .. 6, columns p .. p + 8 < kc8: readable by contract; the packed
        // columns p .. p + 8 (6 elements each) are writable by contract.
        unsafe {
            let r: [__m256; 6] = core::array::from_fn(|i| _mm256_loadu_ps(src.add(i * rs + p)));
            store_6x8_transposed(&r, 0.0, dst.add(p * 6), 6);
        }
    }
}

/// [`Kernel::pack_a`] for the f32 kernel: a row-major A (`cs == 1`, e.g. the layer input
/// `X` of the input projection) is packed 6 × 8 blocks at a time, transposed in registers,
/// instead of gathered element by element. Other layouts, the ragged last panel and the last
/// `kc % 8` columns take the portable routine.
fn spack_a(
    _proof: Avx2, // its existence is the proof that AVX2 is available
    dst: &mut [f32],
    a: &MatRef<'_, f32>,
    i0: usize,
    mc: usize,
    p0: usize,
    kc: usize,
) {
    const MR: usize = 6;
    let full = mc / MR;
    if a.cs != 1 || kc < 8 || full == 0 {
        return super::pack::pack_a(MR, dst, a, i0, mc, p0, kc);
    }
    let kc8 = kc / 8 * 8;
    // Every element read below: columns p0 .. p0 + kc8 of rows i0 .. i0 + full * MR.
    let last = a.offset + (i0 + full * MR - 1) * a.rs + p0 + kc8 - 1;
    assert!(last < a.data.len(), "pack_a: A out of bounds");
    assert!(
        dst.len() >= mc.div_ceil(MR) * MR * kc,
        "pack_a: buffer too small"
    );
    for q in 0..full {
        let panel = &mut dst[q * kc * MR..(q + 1) * kc * MR];
        let src = a.offset + (i0 + q * MR) * a.rs + p0;
        // SAFETY: `_proof` shows AVX2 is available; the assert above covers columns
        // 0 .. kc8 of the panel's 6 rows, and the panel holds kc * MR elements.
        unsafe { pack_a_panel(panel.as_mut_ptr(), a.data.as_ptr().add(src), a.rs, kc8) };
        // The last kc % 8 columns, element by element.
        for p in kc8..kc {
            for i in 0..MR {
                panel[p * MR + i] = a.data[src + i * a.rs + p];
            }
        }
    }
    if full * MR < mc {
        super::pack::pack_a(
            MR,
            &mut dst[full * kc * MR..],
            a,
            i0 + full * MR,
            mc - full * MR,
            p0,
            kc,
        );
    }
}

simd_kernel! {
    /// The `f64` AVX2+FMA kernel (6 × 8).
    fn dgemm_6x8: f64, features = "avx2,fma", mr = 6, nv = 2, lanes = 4, vec = __m256d,
    setzero = _mm256_setzero_pd, set1 = _mm256_set1_pd, loadu = _mm256_loadu_pd,
    storeu = _mm256_storeu_pd, fmadd = _mm256_fmadd_pd, mul = _mm256_mul_pd,
}

impl_simd_kernel!(
    Avx2,
    f32,
    6,
    16,
    sgemm_6x16,
    pack_a = spack_a,
    pack_b = spack_b
);
impl_simd_kernel!(Avx2, f64, 6, 8, dgemm_6x8);

/// The lane sums of eight f32 vectors, in order (lane `c` of the result: the sum of `v[c]`'s
/// lanes), as
/// `((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))` (a tree of horizontal adds).
///
/// # Safety
/// AVX2 must be available.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn sreduce8(v: [__m256; 8]) -> [__m256; 1] {
    // t[i] lane-wise: pair sums of v[2i] and v[2i + 1]; u: quad sums of four vectors, the
    // low halves' quads (lanes 0-3) in the low 128 bits, the high halves' in the high 128.
    let t = [
        _mm256_hadd_ps(v[0], v[1]),
        _mm256_hadd_ps(v[2], v[3]),
        _mm256_hadd_ps(v[4], v[5]),
        _mm256_hadd_ps(v[6], v[7]),
    ];
    let u0 = _mm256_hadd_ps(t[0], t[1]);
    let u1 = _mm256_hadd_ps(t[2], t[3]);
    let lo = _mm256_permute2f128_ps::<0x20>(u0, u1);
    let hi = _mm256_permute2f128_ps::<0x31>(u0, u1);
    [_mm256_add_ps(lo, hi)]
}

/// The lane sums of eight f64 vectors, in order (the first four in the first vector), as
/// `(l0 + l1) + (l2 + l3)`.
///
/// # Safety
/// AVX2 must be available.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn dreduce8(v: [__m256d; 8]) -> [__m256d; 2] {
    core::array::from_fn(|g| {
        let t0 = _mm256_hadd_pd(v[4 * g], v[4 * g + 1]);
        let t1 = _mm256_hadd_pd(v[4 * g + 2], v[4 * g + 3]);
        let lo = _mm256_permute2f128_pd::<0x20>(t0, t1);
        let hi = _mm256_permute2f128_pd::<0x31>(t0, t1);
        _mm256_add_pd(lo, hi)
    })
}

gemv_kernels! {
    f32, __m256, features = "avx2,fma", lanes = 8, chunk = 64, rows = sgemv_rows, cols = sdot,
    setzero = _mm256_setzero_ps, set1 = _mm256_set1_ps, loadu = _mm256_loadu_ps,
    storeu = _mm256_storeu_ps, fmadd = _mm256_fmadd_ps, mul = _mm256_mul_ps, add = _mm256_add_ps,
    maskload = _mm256_maskload_ps, mask = |rem: usize| {
        let m: [i32; 8] = core::array::from_fn(|i| if i < rem { -1 } else { 0 });
        _mm256_setr_epi32(m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7])
    },
    reduce = sreduce8,
}

gemv_kernels! {
    f64, __m256d, features = "avx2,fma", lanes = 4, chunk = 32, rows = dgemv_rows, cols = ddot,
    setzero = _mm256_setzero_pd, set1 = _mm256_set1_pd, loadu = _mm256_loadu_pd,
    storeu = _mm256_storeu_pd, fmadd = _mm256_fmadd_pd, mul = _mm256_mul_pd, add = _mm256_add_pd,
    maskload = _mm256_maskload_pd, mask = |rem: usize| {
        let m: [i64; 4] = core::array::from_fn(|i| if i < rem { -1 } else { 0 });
        _mm256_setr_epi64x(m[0], m[1], m[2], m[3])
    },
    reduce = dreduce8,
}

impl_gemv!(Avx2, f32, 64, sgemv_rows, sdot);
impl_gemv!(Avx2, f64, 32, dgemv_rows, ddot);
