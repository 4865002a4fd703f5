//! Micro-kernels and their run-time selection.
//!
//! A micro-kernel computes one `MR × NR` tile: `C_tile = alpha * A_panel * B_panel + beta *
//! C_tile`, where
//! - the B micro-panel is `kc` rows of `NR` contiguous elements, `rs_b` apart (a packed,
//!   zero-padded panel has `rs_b = NR`; the small-problem path passes a row-major B in place);
//! - the A micro-panel is read with strides: element `(i, p)` is `a[i * rs_a + p * cs_a]`
//!   (a packed panel is `rs_a = 1, cs_a = MR`; the small-problem path passes A in place);
//! - only the valid `rows × cols` corner of the tile is stored into C, at strides
//!   `(rs_c, cs_c)`, and C is not read when `beta == 0`.
//!
//! The kernels hold the whole tile in registers while they stream through `kc`; full tiles
//! of a row-major C are updated with vector loads/stores, edge tiles through a local buffer.

use super::gemv::gemv_with;
use super::loops::{Lhs, gemm_with};
use super::{MatMut, MatRef};
use std::sync::OnceLock;

/// Generates an `unsafe` SIMD micro-kernel for one ISA and element type. Used by `avx2.rs`
/// and `avx512.rs` so that both share one (tested) body.
#[cfg(target_arch = "x86_64")]
macro_rules! simd_kernel {
    (
        $(#[$doc:meta])*
        fn $name:ident: $t:ty, features = $feat:literal, mr = $mr:literal, nv = $nv:literal,
        lanes = $lanes:literal, vec = $v:ty, setzero = $setzero:path, set1 = $set1:path,
        loadu = $loadu:path, storeu = $storeu:path, fmadd = $fmadd:path, mul = $mul:path
        $(, colmajor = $colmajor:path)? $(,)?
    ) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// The CPU must support the enabled target features; `rows <= MR`, `cols <= NR`;
        /// `a` must be readable at `i * rs_a + p * cs_a` for `i < MR`, `p < kc`; `b` readable
        /// at `p * rs_b + j` for `p < kc`, `j < NR`; `c` readable and writable at
        /// `i * rs_c + j * cs_c` for `i < rows`, `j < cols`.
        ///
        /// `PACKED_A` / `PACKED_B` select the packed layouts (`rs_a = 1`, `cs_a = MR`;
        /// `rs_b = NR`), known at compile time; the stride arguments are then ignored.
        #[target_feature(enable = $feat)]
        #[allow(clippy::too_many_arguments)]
        pub(super) unsafe fn $name<const PACKED_A: bool, const PACKED_B: bool>(
            kc: usize,
            alpha: $t,
            a: *const $t,
            rs_a: usize,
            cs_a: usize,
            b: *const $t,
            rs_b: usize,
            beta: $t,
            c: *mut $t,
            rs_c: usize,
            cs_c: usize,
            rows: usize,
            cols: usize,
        ) {
            const MR: usize = $mr;
            const NV: usize = $nv;
            const L: usize = $lanes;
            const NR: usize = NV * L;
            /// k steps per trip of the unrolled main loop.
            const U: usize = 4;
            let (rs_a, cs_a) = if PACKED_A { (1, MR) } else { (rs_a, cs_a) };
            let rs_b = if PACKED_B { NR } else { rs_b };
            // Start fetching the C tile now, so that it is in L1 when the update comes.
            if rows == MR && cs_c == 1 {
                for i in 0..MR {
                    let row = c.wrapping_add(i * rs_c).cast::<i8>().cast_const();
                    core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(row);
                    core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                        row.wrapping_add(NR * core::mem::size_of::<$t>() - 1),
                    );
                }
            }
            let mut acc: [[$v; NV]; MR] = [[$setzero(); NV]; MR];
            let mut ap = a;
            let mut bp = b;
            // Each k step p loads B's row p, broadcasts A's column p and does MR*NV FMAs.
            // Main loop: U steps per trip (the `u` loop is unrolled by the compiler).
            for _ in 0..kc / U {
                for u in 0..U {
                    let mut bv: [$v; NV] = [$setzero(); NV];
                    for (v, x) in bv.iter_mut().enumerate() {
                        // SAFETY: B(p, v*L .. v*L + L) with p < kc: readable by contract.
                        *x = unsafe { $loadu(bp.add(u * rs_b + v * L)) };
                    }
                    for (i, row) in acc.iter_mut().enumerate() {
                        // SAFETY: this is A(i, p) with i < MR, p < kc: readable by contract.
                        let ai = $set1(unsafe { *ap.add(i * rs_a + u * cs_a) });
                        for (x, bx) in row.iter_mut().zip(bv) {
                            *x = $fmadd(ai, bx, *x);
                        }
                    }
                }
                ap = ap.wrapping_add(U * cs_a);
                bp = bp.wrapping_add(U * rs_b);
            }
            // The remaining kc % U steps (same body with u = 0).
            for _ in 0..kc % U {
                #[allow(clippy::single_element_loop)]
                for u in [0] {
                    let mut bv: [$v; NV] = [$setzero(); NV];
                    for (v, x) in bv.iter_mut().enumerate() {
                        // SAFETY: B(p, v*L .. v*L + L) with p < kc: readable by contract.
                        *x = unsafe { $loadu(bp.add(u * rs_b + v * L)) };
                    }
                    for (i, row) in acc.iter_mut().enumerate() {
                        // SAFETY: this is A(i, p) with i < MR, p < kc: readable by contract.
                        let ai = $set1(unsafe { *ap.add(i * rs_a + u * cs_a) });
                        for (x, bx) in row.iter_mut().zip(bv) {
                            *x = $fmadd(ai, bx, *x);
                        }
                    }
                }
                ap = ap.wrapping_add(cs_a);
                bp = bp.wrapping_add(rs_b);
            }
            $(
                if rows == MR && cols == NR && rs_c == 1 {
                    // Full tile, column-major C (the transposed per-step products of the
                    // RNNs): transposed in registers and written column by column.
                    // SAFETY: C(i, j) = c[i + j * cs_c] is valid for every i < MR = rows,
                    // j < NR = cols by contract.
                    unsafe { $colmajor(&acc, alpha, beta, c, cs_c) };
                    return;
                }
            )?
            let alpha_v = $set1(alpha);
            if rows == MR && cols == NR && cs_c == 1 {
                // Full tile, unit column stride: vector read-modify-write of C rows.
                let beta_v = $set1(beta);
                for (i, row) in acc.iter().enumerate() {
                    for (v, x) in row.iter().enumerate() {
                        // SAFETY: C(i, v*L .. v*L + L) with i < MR = rows, v*L + L <= NR = cols,
                        // cs_c == 1: inside the tile the caller made valid.
                        unsafe {
                            let cp = c.add(i * rs_c + v * L);
                            let ab = $mul(alpha_v, *x);
                            let out = if beta == 0.0 { ab } else { $fmadd(beta_v, $loadu(cp), ab) };
                            $storeu(cp, out);
                        }
                    }
                }
            } else {
                // Edge tile or strided C: spill the tile, then update the valid corner.
                let mut buf = [0.0 as $t; MR * NR];
                for (i, row) in acc.iter().enumerate() {
                    for (v, x) in row.iter().enumerate() {
                        // SAFETY: i * NR + v * L + L <= MR * NR: inside `buf`.
                        unsafe { $storeu(buf.as_mut_ptr().add(i * NR + v * L), $mul(alpha_v, *x)) };
                    }
                }
                for i in 0..rows {
                    for j in 0..cols {
                        let ab = buf[i * NR + j];
                        // SAFETY: i < rows, j < cols: C(i, j) is valid by contract.
                        unsafe {
                            let cp = c.add(i * rs_c + j * cs_c);
                            *cp = if beta == 0.0 { ab } else { beta.mul_add(*cp, ab) };
                        }
                    }
                }
            }
        }
    };
}

/// Implements [`Kernel`] for an ISA token with a kernel generated by `simd_kernel!`: checks
/// the bounds, then picks the instance specialised for packed operands when it applies.
#[cfg(target_arch = "x86_64")]
macro_rules! impl_simd_kernel {
    ($tok:ty, $t:ty, $mr:literal, $nr:literal, $f:ident
     $(, pack_a = $pack_a:path, pack_b = $pack_b:path)?) => {
        impl Kernel<$t> for $tok {
            const MR: usize = $mr;
            const NR: usize = $nr;
            $(
                #[inline]
                fn pack_a(
                    self,
                    dst: &mut [$t],
                    a: &MatRef<'_, $t>,
                    i0: usize,
                    mc: usize,
                    p0: usize,
                    kc: usize,
                ) {
                    $pack_a(self, dst, a, i0, mc, p0, kc)
                }
            )?
            $(
                #[inline]
                fn pack_b(
                    self,
                    dst: &mut [$t],
                    b: &MatRef<'_, $t>,
                    p0: usize,
                    kc: usize,
                    j0: usize,
                    nc: usize,
                ) {
                    $pack_b(self, dst, b, p0, kc, j0, nc)
                }
            )?

            #[inline]
            fn run(
                self,
                kc: usize,
                alpha: $t,
                a: &[$t],
                rs_a: usize,
                cs_a: usize,
                b: &[$t],
                rs_b: usize,
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
                    rs_b,
                    c.len(),
                    rs_c,
                    cs_c,
                    rows,
                    cols,
                );
                let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
                let packed_a = rs_a == 1 && cs_a == $mr;
                // SAFETY: `self` exists only if the kernel's target features were detected;
                // `check_tile` just proved that every element the kernel touches lies inside
                // `a`, `b` and `c` (with the strides passed, which the packed instances equal).
                unsafe {
                    match (packed_a, rs_b == $nr) {
                        (true, true) => $f::<true, true>(
                            kc, alpha, a, rs_a, cs_a, b, rs_b, beta, c, rs_c, cs_c, rows, cols,
                        ),
                        (true, false) => $f::<true, false>(
                            kc, alpha, a, rs_a, cs_a, b, rs_b, beta, c, rs_c, cs_c, rows, cols,
                        ),
                        (false, true) => $f::<false, true>(
                            kc, alpha, a, rs_a, cs_a, b, rs_b, beta, c, rs_c, cs_c, rows, cols,
                        ),
                        (false, false) => $f::<false, false>(
                            kc, alpha, a, rs_a, cs_a, b, rs_b, beta, c, rs_c, cs_c, rows, cols,
                        ),
                    }
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
mod avx2;
// The AVX-512 intrinsics are stable since Rust 1.89, the workspace's `rust-version`.
#[cfg(target_arch = "x86_64")]
mod avx512;
mod portable;

#[cfg(target_arch = "x86_64")]
pub(super) use avx2::Avx2;
#[cfg(target_arch = "x86_64")]
pub(super) use avx512::Avx512;
pub(super) use portable::Portable;

/// A micro-kernel for element type `T`. Values of a kernel type are proofs that the CPU can
/// run it (SIMD kernels are only constructed after feature detection).
pub(crate) trait Kernel<T>: Copy + Send + Sync {
    /// Rows of a tile.
    const MR: usize;
    /// Columns of a tile.
    const NR: usize;

    /// Computes one tile (see the module docs). `a`, `b` and `c` start at the tile's origin;
    /// panics (via [`check_tile`]) if any access would fall outside them.
    #[allow(clippy::too_many_arguments)]
    fn run(
        self,
        kc: usize,
        alpha: T,
        a: &[T],
        rs_a: usize,
        cs_a: usize,
        b: &[T],
        rs_b: usize,
        beta: T,
        c: &mut [T],
        rs_c: usize,
        cs_c: usize,
        rows: usize,
        cols: usize,
    );

    /// Packs `A[i0 .. i0 + mc, p0 .. p0 + kc]` into `MR`-tall micro-panels (the layout of
    /// [`pack::pack_a`](super::pack::pack_a), which is the default); a kernel overrides it
    /// where a SIMD version of a layout pays.
    fn pack_a(self, dst: &mut [T], a: &MatRef<'_, T>, i0: usize, mc: usize, p0: usize, kc: usize)
    where
        T: super::GemmScalar,
    {
        super::pack::pack_a(Self::MR, dst, a, i0, mc, p0, kc);
    }

    /// Packs `B[p0 .. p0 + kc, j0 .. j0 + nc]` into `NR`-wide micro-panels (the layout of
    /// [`pack::pack_b`](super::pack::pack_b), which is the default); a kernel overrides it
    /// where a SIMD version of a layout pays.
    fn pack_b(self, dst: &mut [T], b: &MatRef<'_, T>, p0: usize, kc: usize, j0: usize, nc: usize)
    where
        T: super::GemmScalar,
    {
        super::pack::pack_b(Self::NR, dst, b, p0, kc, j0, nc);
    }
}

/// Width of the output buffer of [`RowKernel::rows`] (the widest chunk of any kernel).
pub(crate) const GEMV_W: usize = 64;

/// Vector-matrix helpers (the `m == 1` path), which read B in place.
pub(crate) trait RowKernel<T>: Copy {
    /// Columns per chunk (at most [`GEMV_W`]).
    const CHUNK: usize;

    /// `out[j] = sum_p a[p * inc_a] * b[p * rs_b + j]` for `p < k`, `j < w <= CHUNK`.
    /// Panics if a read would fall outside `a` or `b`.
    #[allow(clippy::too_many_arguments)]
    fn rows(
        self,
        k: usize,
        a: &[T],
        inc_a: usize,
        b: &[T],
        rs_b: usize,
        w: usize,
        out: &mut [T; GEMV_W],
    );

    /// `c[jj] = beta * c[jj] + alpha * dot` (each operation rounded; C not read when
    /// `beta == 0`) for the dot products of `a[..k]` with columns
    /// `j0 .. j0 + w` of a column-major B (column `j` is `b[j * cs .. j * cs + k]`), where
    /// `w = c.len()` is `1 ..= DOTS_W`. Panics if a read would fall outside `a` or `b`.
    #[allow(clippy::too_many_arguments)]
    fn dots(self, k: usize, a: &[T], b: &[T], cs: usize, j0: usize, alpha: T, beta: T, c: &mut [T]);
}

/// Columns per [`RowKernel::dots`] call.
pub(crate) const DOTS_W: usize = 8;

/// Panics unless `a` has `k` elements and columns `j0 .. j0 + w` (`1 <= w <= DOTS_W`) of a
/// column-major `b` with column stride `cs` hold `k` elements each.
pub(super) fn check_dots(k: usize, a_len: usize, b_len: usize, cs: usize, j0: usize, w: usize) {
    assert!((1..=DOTS_W).contains(&w), "dots: {w} columns");
    assert!(k <= a_len, "dots: a out of bounds");
    let end = (j0 + w - 1).checked_mul(cs).and_then(|x| x.checked_add(k));
    assert!(end.is_some_and(|e| e <= b_len), "dots: b out of bounds");
}

/// Checks the bounds a micro-kernel relies on; panics on a violation (a bug in the loops).
#[allow(clippy::too_many_arguments)]
#[inline]
pub(super) fn check_tile(
    mr: usize,
    nr: usize,
    kc: usize,
    a_len: usize,
    rs_a: usize,
    cs_a: usize,
    b_len: usize,
    rs_b: usize,
    c_len: usize,
    rs_c: usize,
    cs_c: usize,
    rows: usize,
    cols: usize,
) {
    let last = |n1: usize, s1: usize, n2: usize, s2: usize| {
        (n1 - 1)
            .checked_mul(s1)
            .zip((n2 - 1).checked_mul(s2))
            .and_then(|(x, y)| x.checked_add(y))
    };
    assert!(rows <= mr && cols <= nr, "micro-kernel: tile too large");
    if kc > 0 {
        assert!(
            last(mr, rs_a, kc, cs_a).is_some_and(|l| l < a_len),
            "micro-kernel: A out of bounds"
        );
        assert!(
            (kc - 1)
                .checked_mul(rs_b)
                .and_then(|l| l.checked_add(nr))
                .is_some_and(|l| l <= b_len),
            "micro-kernel: B out of bounds"
        );
    }
    if rows > 0 && cols > 0 {
        assert!(
            last(rows, rs_c, cols, cs_c).is_some_and(|l| l < c_len),
            "micro-kernel: C out of bounds"
        );
    }
}

/// Instruction sets with a micro-kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Isa {
    Portable,
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Avx2,
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Avx512,
}

/// The best instruction set this CPU supports, capped by `RECUR_GEMM_ISA`; detected once.
pub(crate) fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        #[allow(unused_mut)]
        let mut best = Isa::Portable;
        #[cfg(target_arch = "x86_64")]
        {
            if Avx512::detect().is_some() {
                best = Isa::Avx512;
            } else if Avx2::detect().is_some() {
                best = Isa::Avx2;
            }
        }
        let cap = match std::env::var("RECUR_GEMM_ISA").as_deref().map(str::trim) {
            Ok("portable") => Isa::Portable,
            Ok("avx2") => Isa::Avx2,
            _ => Isa::Avx512,
        };
        best.min(cap)
    })
}

macro_rules! dispatch {
    ($name:ident, $t:ty) => {
        /// Runs the packed GEMM with the selected micro-kernel.
        pub(super) fn $name(
            alpha: $t,
            a: Lhs<'_, $t>,
            b: MatRef<'_, $t>,
            beta: $t,
            c: MatMut<'_, $t>,
        ) {
            #[cfg(target_arch = "x86_64")]
            match isa() {
                Isa::Avx512 => {
                    if let Some(k) = Avx512::detect() {
                        return gemm_with(k, alpha, a, b, beta, c);
                    }
                }
                Isa::Avx2 => {
                    if let Some(k) = Avx2::detect() {
                        return gemm_with(k, alpha, a, b, beta, c);
                    }
                }
                Isa::Portable => {}
            }
            gemm_with(Portable, alpha, a, b, beta, c)
        }
    };
}

dispatch!(dispatch_f32, f32);
dispatch!(dispatch_f64, f64);

macro_rules! tile {
    ($name:ident, $t:ty) => {
        /// `(MR, NR)` of the micro-kernel [`dispatch!`] selects on this CPU.
        pub(super) fn $name() -> (usize, usize) {
            #[cfg(target_arch = "x86_64")]
            match isa() {
                Isa::Avx512 if Avx512::detect().is_some() => {
                    return (<Avx512 as Kernel<$t>>::MR, <Avx512 as Kernel<$t>>::NR);
                }
                Isa::Avx2 if Avx2::detect().is_some() => {
                    return (<Avx2 as Kernel<$t>>::MR, <Avx2 as Kernel<$t>>::NR);
                }
                _ => {}
            }
            (<Portable as Kernel<$t>>::MR, <Portable as Kernel<$t>>::NR)
        }
    };
}

tile!(tile_f32, f32);
tile!(tile_f64, f64);

macro_rules! dispatch_gemv {
    ($name:ident, $t:ty) => {
        /// Runs the vector-matrix path with the best helpers for this CPU.
        pub(super) fn $name(
            alpha: $t,
            a: MatRef<'_, $t>,
            b: MatRef<'_, $t>,
            beta: $t,
            c: MatMut<'_, $t>,
        ) {
            #[cfg(target_arch = "x86_64")]
            if isa() >= Isa::Avx2 {
                if let Some(k) = Avx2::detect() {
                    return gemv_with(k, alpha, a, b, beta, c);
                }
            }
            gemv_with(Portable, alpha, a, b, beta, c)
        }
    };
}

dispatch_gemv!(gemv_f32, f32);
dispatch_gemv!(gemv_f64, f64);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm::GemmScalar;

    /// Test-only conversions.
    trait Sc: GemmScalar {
        fn from_f64(v: f64) -> Self;
        fn to_f64(self) -> f64;
    }
    impl Sc for f32 {
        fn from_f64(v: f64) -> Self {
            v as f32
        }
        fn to_f64(self) -> f64 {
            self.into()
        }
    }
    impl Sc for f64 {
        fn from_f64(v: f64) -> Self {
            v
        }
        fn to_f64(self) -> f64 {
            self
        }
    }

    /// Deterministic pseudo-random values in [-1, 1).
    fn fill<T: Sc>(n: usize, seed: u64) -> Vec<T> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                T::from_f64((s >> 11) as f64 / (1u64 << 52) as f64 - 1.0)
            })
            .collect()
    }

    /// Runs kernel `K` on many tile shapes, strides and alpha/beta values and compares with an
    /// f64 reference; also checks that nothing outside the valid corner of the tile is touched.
    fn check_kernel<T: Sc, K: Kernel<T>>(k: K, eps: f64) {
        let (mr, nr) = (K::MR, K::NR);
        for kc in [0usize, 1, 2, 3, 7, 16, 33] {
            for (rows, cols) in [
                (mr, nr),
                (mr - 1, nr),
                (mr, nr - 1),
                (1, 1),
                (mr, 1),
                (1, nr),
                (0, 0),
            ] {
                for (alpha, beta) in [(1.0, 0.0), (2.5, 1.0), (-1.0, 2.5), (1.0, -1.0)] {
                    for (rs_a, cs_a) in [(1usize, mr), (kc + 2, 1), (0, 1)] {
                        let a_len = (mr - 1) * rs_a + kc.saturating_sub(1) * cs_a + 1;
                        let a: Vec<T> = fill(a_len, 1 + kc as u64);
                        // Packed B (rs_b = NR) or B read in place with a longer row stride.
                        let rs_b = if rs_a == 0 { nr + 5 } else { nr };
                        let b: Vec<T> = fill(kc * rs_b + nr, 2 + kc as u64);
                        for (rs_c, cs_c) in [(nr + 3, 1usize), (1, mr + 1), (nr, 1)] {
                            let c_len = (mr - 1) * rs_c + (nr - 1) * cs_c + 1;
                            let mut c0: Vec<T> = fill(c_len, 3);
                            if beta == 0.0 {
                                c0.iter_mut().for_each(|x| *x = T::from_f64(f64::NAN));
                            }
                            let mut c = c0.clone();
                            k.run(
                                kc,
                                T::from_f64(alpha),
                                &a,
                                rs_a,
                                cs_a,
                                &b,
                                rs_b,
                                T::from_f64(beta),
                                &mut c,
                                rs_c,
                                cs_c,
                                rows,
                                cols,
                            );
                            let mut inside = vec![false; c_len];
                            for i in 0..rows {
                                for j in 0..cols {
                                    let idx = i * rs_c + j * cs_c;
                                    inside[idx] = true;
                                    let s: f64 = (0..kc)
                                        .map(|p| {
                                            a[i * rs_a + p * cs_a].to_f64()
                                                * b[p * rs_b + j].to_f64()
                                        })
                                        .sum();
                                    let old = if beta == 0.0 {
                                        0.0
                                    } else {
                                        beta * c0[idx].to_f64()
                                    };
                                    let want = alpha * s + old;
                                    let got = c[idx].to_f64();
                                    assert!(
                                        (got - want).abs()
                                            <= eps * (kc as f64 + 2.0) * (1.0 + want.abs()),
                                        "kc={kc} rows={rows} cols={cols} alpha={alpha} beta={beta} \
                                         a=({rs_a},{cs_a}) c=({rs_c},{cs_c}) ({i},{j}): {got} vs {want}"
                                    );
                                }
                            }
                            for idx in 0..c_len {
                                if !inside[idx] {
                                    assert!(
                                        c[idx].to_f64().to_bits() == c0[idx].to_f64().to_bits(),
                                        "kernel wrote outside the valid tile at {idx}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn portable_kernel() {
        check_kernel::<f32, _>(Portable, 1e-6);
        check_kernel::<f64, _>(Portable, 1e-14);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_kernels() {
        let Some(k) = Avx2::detect() else {
            eprintln!("skipped: this CPU has no AVX2+FMA");
            return;
        };
        check_kernel::<f32, _>(k, 1e-6);
        check_kernel::<f64, _>(k, 1e-14);
    }

    /// Each ISA's `pack_a` and `pack_b` write exactly what the portable packing writes, for every
    /// layout (the SIMD column-major path included: whole and ragged panels, `kc` not a
    /// multiple of 8, offsets).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn simd_packing_equals_portable() {
        let Some(k) = Avx2::detect() else {
            eprintln!("skipped: this CPU has no AVX2+FMA");
            return;
        };
        let data: Vec<f32> = fill(40 * 50 + 64, 9);
        for (off, rows, cols, rs, cs) in [
            (0usize, 37usize, 45usize, 1usize, 37usize),
            (5, 33, 40, 1, 41),
            (3, 16, 32, 1, 16),
            (1, 20, 33, 33, 1),
            (2, 9, 17, 1, 0),
        ] {
            let m = MatRef {
                data: &data,
                offset: off,
                rows,
                cols,
                rs,
                cs,
            };
            for (p0, kc, j0, nc) in [
                (0, rows, 0, cols),
                (3, rows - 3, 1, cols - 1),
                (1, 8, 16, cols - 16),
                (0, 7, 0, 16),
            ] {
                // The same view and ranges as A (i0 = j0, mc = nc, p0, kc: rows and columns
                // swapped, so every case reads inside the view).
                let at = MatRef {
                    rows: cols,
                    cols: rows,
                    rs: cs,
                    cs: rs,
                    ..m
                };
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                let mut want = vec![f32::NAN; nc.div_ceil(6) * 6 * kc];
                let mut got = vec![f32::NAN; want.len()];
                crate::gemm::pack::pack_a(6, &mut want, &at, j0, nc, p0, kc);
                Kernel::<f32>::pack_a(k, &mut got, &at, j0, nc, p0, kc);
                assert_eq!(
                    bits(&got),
                    bits(&want),
                    "A: off={off} rs={cs} cs={rs} i0={j0} mc={nc} p0={p0} kc={kc}"
                );
                let mut want = vec![f32::NAN; nc.div_ceil(16) * 16 * kc];
                let mut got = vec![f32::NAN; want.len()];
                crate::gemm::pack::pack_b(16, &mut want, &m, p0, kc, j0, nc);
                Kernel::<f32>::pack_b(k, &mut got, &m, p0, kc, j0, nc);
                assert_eq!(
                    bits(&got),
                    bits(&want),
                    "off={off} rs={rs} cs={cs} p0={p0} kc={kc} j0={j0} nc={nc}"
                );
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx512_kernels() {
        let Some(k) = Avx512::detect() else {
            eprintln!("skipped: this CPU has no AVX-512F");
            return;
        };
        check_kernel::<f32, _>(k, 1e-6);
        check_kernel::<f64, _>(k, 1e-14);
    }

    /// The vector-matrix helpers of `G` against the portable ones, on every chunk width.
    fn check_row_kernel<T: Sc, G: RowKernel<T>>(g: G, eps: f64) {
        for k in [0usize, 1, 3, 7, 8, 9, 16, 17, 33, 100] {
            for inc_a in [1usize, 3] {
                let a: Vec<T> = fill(k.max(1) * inc_a, 5 + k as u64);
                for w in 0..=G::CHUNK {
                    let rs_b = w + 5;
                    let b: Vec<T> = fill(k * rs_b + w, 6 + w as u64);
                    let (mut got, mut want) = ([T::ZERO; GEMV_W], [T::ZERO; GEMV_W]);
                    g.rows(k, &a, inc_a, &b, rs_b, w, &mut got);
                    Portable.rows(k, &a, inc_a, &b, rs_b, w, &mut want);
                    for j in 0..w {
                        let (x, y) = (got[j].to_f64(), want[j].to_f64());
                        assert!(
                            (x - y).abs() <= eps * (k as f64 + 1.0),
                            "rows k={k} w={w} j={j}: {x} vs {y}"
                        );
                    }
                }
            }
            let a: Vec<T> = fill(k, 7);
            // Column stride k + 3 (a padded column-major matrix of 20 columns).
            let (n, cs) = (20, k + 3);
            let b: Vec<T> = fill((n - 1) * cs + k, 8);
            for (j0, w) in [(0, 8), (8, 8), (16, 4), (19, 1), (3, 5), (1, 7)] {
                for (alpha, beta) in [(1.0, 0.0), (-0.5, 2.0)] {
                    let c0: Vec<T> = fill(w, 9);
                    let naive: Vec<f64> = (0..w)
                        .map(|c| {
                            let dot = (0..k).fold(0.0, |s, p| {
                                s + a[p].to_f64() * b[(j0 + c) * cs + p].to_f64()
                            });
                            beta * c0[c].to_f64() + alpha * dot
                        })
                        .collect();
                    let (al, be) = (T::from_f64(alpha), T::from_f64(beta));
                    for who in ["simd", "portable"] {
                        // beta == 0: C is not read (NaN stays out of the result).
                        let mut c = if beta == 0.0 {
                            vec![T::from_f64(f64::NAN); w]
                        } else {
                            c0.clone()
                        };
                        if who == "simd" {
                            g.dots(k, &a, &b, cs, j0, al, be, &mut c);
                        } else {
                            Portable.dots(k, &a, &b, cs, j0, al, be, &mut c);
                        }
                        for (x, y) in c.iter().zip(&naive) {
                            let x = x.to_f64();
                            assert!(
                                (x - y).abs() <= eps * (k as f64 + 3.0),
                                "dots {who} k={k} j0={j0} w={w} alpha={alpha}: {x} vs {y}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_row_kernels() {
        let Some(g) = Avx2::detect() else {
            eprintln!("skipped: this CPU has no AVX2+FMA");
            return;
        };
        check_row_kernel::<f32, _>(g, 1e-6);
        check_row_kernel::<f64, _>(g, 1e-14);
    }

    #[test]
    #[should_panic(expected = "C out of bounds")]
    fn check_tile_rejects_short_c() {
        let a = [0.0f32; 4 * 8];
        let b = [0.0f32; 8 * 8];
        let mut c = [0.0f32; 10];
        Portable.run(8, 1.0, &a, 1, 4, &b, 8, 0.0, &mut c, 8, 1, 4, 8);
    }
}
