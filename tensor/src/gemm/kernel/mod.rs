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

//!
//! This folder is the bottom layer of the GEMM: nothing above it (`loops.rs`, `gemv.rs`,
//! `mod.rs`) is imported here; from outside the folder it uses only the view types of the
//! leaf `mat.rs`. It holds the CPU detection (`isa.rs`), the portable packing (`pack.rs`),
//! the kernels of each instruction set, and the one dispatch
//! ([`sealed::Sealed::visit_kernel`]) that hands the selected kernel to a [`KernelVisitor`].

use super::mat::MatRef;

mod isa;
pub(super) mod pack;

pub use isa::{Isa, isa, with_isa_cap};

/// Scalar types the GEMM supports: `f32` and `f64`. The trait is sealed.
///
/// (Its supertrait `Entry`, the GEMM's entry points compiled in this crate, is declared in
/// `gemm/mod.rs`: the one name this folder takes from above it.)
pub trait GemmScalar:
    Copy
    + Send
    + Sync
    + 'static
    + sealed::Sealed
    + super::entry::Entry
    + core::ops::Add<Output = Self>
    + core::ops::Mul<Output = Self>
    + PartialEq
    + Default
{
    /// The additive identity.
    const ZERO: Self;
    /// The multiplicative identity.
    const ONE: Self;
}

pub(crate) mod sealed {
    use super::{Isa, KernelVisitor};

    /// Per-type hook of [`GemmScalar`](super::GemmScalar); not nameable outside the crate, so
    /// the trait is sealed.
    pub trait Sealed: Sized + 'static {
        /// The one dispatch: calls `v.visit` with this type's kernel for `isa` (the portable
        /// one if the CPU lacks `isa`).
        fn visit_kernel<V: KernelVisitor<Self>>(isa: Isa, v: V) -> V::Out;
    }
}

/// A computation generic over the kernel, run by [`sealed::Sealed::visit_kernel`] with the
/// kernel the detection selected.
pub trait KernelVisitor<T> {
    /// The result.
    type Out;
    /// Runs with kernel `k`.
    fn visit<K: Kernel<T> + RowKernel<T>>(self, k: K) -> Self::Out;
}

/// Runs `v` with `T`'s kernel for the instruction set [`isa`] selects on this thread.
pub(super) fn with_kernel<T: GemmScalar, V: KernelVisitor<T>>(v: V) -> V::Out {
    T::visit_kernel(isa(), v)
}

macro_rules! impl_scalar {
    ($($t:ty),*) => {$(
        impl GemmScalar for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
        }

        impl sealed::Sealed for $t {
            fn visit_kernel<V: KernelVisitor<Self>>(isa: Isa, v: V) -> V::Out {
                #[cfg(target_arch = "x86_64")]
                match isa {
                    Isa::Avx512 => {
                        if let Some(k) = Avx512::detect() {
                            return v.visit(k);
                        }
                    }
                    Isa::Avx2 => {
                        if let Some(k) = Avx2::detect() {
                            return v.visit(k);
                        }
                    }
                    Isa::Portable => {}
                }
                #[cfg(not(target_arch = "x86_64"))]
                let _ = isa;
                v.visit(Portable)
            }
        }
    )*};
}

impl_scalar!(f32, f64);

/// Generates an `unsafe` SIMD micro-kernel for one ISA and element type. Used by `avx2.rs`
/// and `avx512.rs` so that both share one (tested) body.
#[cfg(target_arch = "x86_64")]
macro_rules! simd_kernel {
    (
        $(#[$doc:meta])*
        fn $name:ident: $t:ty, features = $feat:literal, mr = $mr:literal, nv = $nv:literal,
        lanes = $lanes:literal, vec = $v:ty, setzero = $setzero:path, set1 = $set1:path,
        loadu = $loadu:path, storeu = $storeu:path, fmadd = $fmadd:path, mul = $mul:path
        $(, colmajor = $colmajor:path)?
        $(, masked = ($mask:path, $maskload:path, $maskstore:path))? $(,)?
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
                $(
                    if cs_c == 1 {
                        // Edge tile of a row-major C: masked vector accesses of the valid
                        // lanes of each row (the same roundings as the full-tile path).
                        let beta_v = $set1(beta);
                        for (i, row) in acc.iter().enumerate().take(rows) {
                            for (v, x) in row.iter().enumerate().take(cols.div_ceil(L)) {
                                let m = $mask((cols - v * L).min(L));
                                // SAFETY: C(i, v*L + j) for i < rows and v*L + j < cols (the
                                // mask), cs_c == 1: valid by contract.
                                unsafe {
                                    let cp = c.add(i * rs_c + v * L);
                                    let ab = $mul(alpha_v, *x);
                                    let out = if beta == 0.0 {
                                        ab
                                    } else {
                                        $fmadd(beta_v, $maskload(cp, m), ab)
                                    };
                                    $maskstore(cp, m, out);
                                }
                            }
                        }
                        return;
                    }
                )?
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

/// Generates the SIMD vector-matrix helpers of one ISA for one element type (used by
/// `gemv.rs` through [`RowKernel`]); the AVX2 and AVX-512 helpers share this body.
#[cfg(target_arch = "x86_64")]
macro_rules! gemv_kernels {
    (
        $t:ty, $v:ty, features = $feat:literal, lanes = $lanes:literal, chunk = $chunk:literal, rows = $rows:ident, cols = $cols:ident,
        setzero = $setzero:path, set1 = $set1:path, loadu = $loadu:path, storeu = $storeu:path,
        fmadd = $fmadd:path, mul = $mul:path, add = $add:path, maskload = $maskload:path,
        mask = $mask:expr, reduce = $reduce:path $(,)?
    ) => {
        /// `out[j] = sum_p a[p * inc_a] * b[p * rs_b + j]` for `j < w <= chunk`: a chunk of
        /// the product of a row vector with a row-major B, read in place.
        ///
        /// # Safety
        /// The CPU must support the enabled target features; `a` readable at `p * inc_a` and `b` at
        /// `p * rs_b + j` for `p < k`, `j < w`; `w <= chunk`.
        #[target_feature(enable = $feat)]
        unsafe fn $rows(
            k: usize,
            a: *const $t,
            inc_a: usize,
            b: *const $t,
            rs_b: usize,
            w: usize,
            out: &mut [$t; GEMV_W],
        ) {
            const L: usize = $lanes;
            const NV: usize = $chunk / L;
            if w == $chunk {
                // Full chunk: NV accumulators, one broadcast of a[p] per row of B.
                let mut acc = [$setzero(); NV];
                for p in 0..k {
                    // SAFETY: p < k: a[p * inc_a] and b[p * rs_b .. + chunk] are readable.
                    unsafe {
                        let ap = $set1(*a.add(p * inc_a));
                        let row = b.add(p * rs_b);
                        for (v, x) in acc.iter_mut().enumerate() {
                            *x = $fmadd(ap, $loadu(row.add(v * L)), *x);
                        }
                    }
                }
                for (v, x) in acc.iter().enumerate() {
                    // SAFETY: v * L + L <= chunk <= GEMV_W.
                    unsafe { $storeu(out.as_mut_ptr().add(v * L), *x) };
                }
                return;
            }
            // Partial chunk: `full` whole vectors and one masked vector of `rem` lanes, in
            // one pass over B (the branches on v are loop-invariant and predict perfectly).
            let (full, rem) = (w / L, w % L);
            let mask = $mask(rem);
            let mut acc = [$setzero(); NV];
            for p in 0..k {
                // SAFETY: p < k; whole vectors end at or before w, and the masked load reads
                // only the first `rem` lanes after them: all inside the readable part of b.
                unsafe {
                    let ap = $set1(*a.add(p * inc_a));
                    let row = b.add(p * rs_b);
                    for (v, x) in acc.iter_mut().enumerate() {
                        if v < full {
                            *x = $fmadd(ap, $loadu(row.add(v * L)), *x);
                        } else if v == full && rem > 0 {
                            *x = $fmadd(ap, $maskload(row.add(v * L), mask), *x);
                        }
                    }
                }
            }
            for (v, x) in acc.iter().enumerate() {
                // SAFETY: v * L + L <= chunk <= GEMV_W.
                unsafe { $storeu(out.as_mut_ptr().add(v * L), *x) };
            }
        }

        /// `c[j] = beta * c[j] + alpha * sum_p a[p] * b[j][p]` for `j < w`: up to eight dot
        /// products over `k` contiguous elements, the eight columns streamed together (one
        /// accumulator each, one load of `a` shared by the eight; the missing columns of a
        /// short block repeat its last one and are dropped), their sums reduced together in
        /// registers (`$reduce`) and written as vectors where `w` allows.
        ///
        /// # Safety
        /// The CPU must support the enabled target features; `a` and each `b[j]` readable at `0..k`; `c`
        /// readable and writable at `0..w`, `w <= DOTS_W`.
        #[target_feature(enable = $feat)]
        unsafe fn $cols(
            k: usize,
            a: *const $t,
            b: [*const $t; DOTS_W],
            alpha: $t,
            beta: $t,
            c: *mut $t,
            w: usize,
        ) {
            const L: usize = $lanes;
            let mut acc = [$setzero(); DOTS_W];
            let mut p = 0;
            while p + L <= k {
                // SAFETY: p + L <= k: inside `a` and every column.
                unsafe {
                    let ap = $loadu(a.add(p));
                    for (x, bc) in acc.iter_mut().zip(b) {
                        *x = $fmadd(ap, $loadu(bc.add(p)), *x);
                    }
                }
                p += L;
            }
            let rem = k - p;
            if rem > 0 {
                let mask = $mask(rem);
                // SAFETY: the masked loads read only elements p .. k.
                unsafe {
                    let ap = $maskload(a.add(p), mask);
                    for (x, bc) in acc.iter_mut().zip(b) {
                        *x = $fmadd(ap, $maskload(bc.add(p), mask), *x);
                    }
                }
            }
            // SAFETY: the target features are available (this function's contract).
            let sums = unsafe { $reduce(acc) };
            let (alpha_v, beta_v) = ($set1(alpha), $set1(beta));
            for (v, &x) in sums.iter().enumerate() {
                let ab = $mul(alpha_v, x);
                if (v + 1) * L <= w {
                    // SAFETY: columns v*L .. v*L + L < w of C: valid by contract.
                    unsafe {
                        let cp = c.add(v * L);
                        let out = if beta == 0.0 {
                            ab
                        } else {
                            $add($mul(beta_v, $loadu(cp)), ab)
                        };
                        $storeu(cp, out);
                    }
                } else if v * L < w {
                    let mut lanes = [0.0 as $t; L];
                    // SAFETY: `lanes` holds L elements.
                    unsafe { $storeu(lanes.as_mut_ptr(), ab) };
                    for (j, &y) in lanes.iter().enumerate().take(w - v * L) {
                        // SAFETY: v*L + j < w: valid by contract.
                        unsafe {
                            let cp = c.add(v * L + j);
                            *cp = if beta == 0.0 { y } else { beta * *cp + y };
                        }
                    }
                }
            }
        }
    };
}

/// Implements [`RowKernel`] for an ISA token with helpers generated by `gemv_kernels!`.
#[cfg(target_arch = "x86_64")]
macro_rules! impl_gemv {
    ($tok:ty, $t:ty, $chunk:literal, $rows:ident, $dot:ident) => {
        impl RowKernel<$t> for $tok {
            const CHUNK: usize = $chunk;

            #[inline]
            fn rows(
                self,
                k: usize,
                a: &[$t],
                inc_a: usize,
                b: &[$t],
                rs_b: usize,
                w: usize,
                out: &mut [$t; GEMV_W],
            ) {
                check_gemv($chunk, k, a.len(), inc_a, b.len(), rs_b, w);
                // SAFETY: `self` proves the target features; `check_gemv` proved the reads in bounds.
                unsafe { $rows(k, a.as_ptr(), inc_a, b.as_ptr(), rs_b, w, out) }
            }

            #[inline]
            fn dots(
                self,
                k: usize,
                a: &[$t],
                b: &[$t],
                cs: usize,
                j0: usize,
                alpha: $t,
                beta: $t,
                c: &mut [$t],
            ) {
                let w = c.len();
                check_dots(k, a.len(), b.len(), cs, j0, w);
                let col = |jj: usize| b.as_ptr().wrapping_add((j0 + jj) * cs);
                // SAFETY: `self` proves the target features; `check_dots` proved columns j0 .. j0 + w
                // readable at 0..k (the last one stands in for the missing ones), and `a` too;
                // `c` holds w elements.
                unsafe {
                    $dot(
                        k,
                        a.as_ptr(),
                        core::array::from_fn(|jj| col(jj.min(w - 1))),
                        alpha,
                        beta,
                        c.as_mut_ptr(),
                        w,
                    )
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
pub trait Kernel<T>: Copy + Send + Sync {
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
        T: GemmScalar,
    {
        pack::pack_a(Self::MR, dst, a, i0, mc, p0, kc);
    }

    /// Packs `B[p0 .. p0 + kc, j0 .. j0 + nc]` into `NR`-wide micro-panels (the layout of
    /// [`pack::pack_b`](super::pack::pack_b), which is the default); a kernel overrides it
    /// where a SIMD version of a layout pays.
    fn pack_b(self, dst: &mut [T], b: &MatRef<'_, T>, p0: usize, kc: usize, j0: usize, nc: usize)
    where
        T: GemmScalar,
    {
        pack::pack_b(Self::NR, dst, b, p0, kc, j0, nc);
    }
}

/// Width of the output buffer of [`RowKernel::rows`] (the widest chunk of any kernel).
pub(crate) const GEMV_W: usize = 128;

/// Vector-matrix helpers (the `m == 1` path), which read B in place.
pub trait RowKernel<T>: Copy {
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

/// Panics unless `k` rows of width `w` at stride `rs` (and `k` strided elements of `a`) fit.
pub(super) fn check_gemv(
    chunk: usize,
    k: usize,
    a_len: usize,
    inc_a: usize,
    b_len: usize,
    rs_b: usize,
    w: usize,
) {
    assert!(w <= chunk, "gemv chunk too wide");
    if k > 0 {
        let last = |n: usize, s: usize, extra: usize| {
            (n - 1).checked_mul(s).and_then(|x| x.checked_add(extra))
        };
        // The kernel reads a[p * inc_a] for every p < k, whatever w is.
        assert!(
            last(k, inc_a, 0).is_some_and(|l| l < a_len),
            "gemv: a out of bounds"
        );
        assert!(
            w == 0 || last(k, rs_b, w).is_some_and(|l| l <= b_len),
            "gemv: b out of bounds"
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Kernel `K`'s `pack_a` and `pack_b` write exactly what the portable packing writes, for
    /// every layout (the SIMD paths included: whole and ragged panels, `kc` not a multiple of
    /// the vector width, offsets).
    fn check_packing<K: Kernel<f32>>(k: K) {
        let (mr, nr) = (K::MR, K::NR);
        let data: Vec<f32> = fill(80 * 90 + 64, 9);
        for (off, rows, cols, rs, cs) in [
            (0usize, 37usize, 45usize, 1usize, 37usize),
            (5, 33, 40, 1, 41),
            (3, 16, 32, 1, 16),
            (1, 20, 33, 33, 1),
            (2, 9, 17, 1, 0),
            (4, 50, 77, 1, 53),
            (6, 77, 50, 51, 1),
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
                (2, 1, 3, 1),
                (0, 16, 0, 12),
                (1, 15, 0, 13),
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
                let mut want = vec![f32::NAN; nc.div_ceil(mr) * mr * kc];
                let mut got = vec![f32::NAN; want.len()];
                pack::pack_a(mr, &mut want, &at, j0, nc, p0, kc);
                k.pack_a(&mut got, &at, j0, nc, p0, kc);
                assert_eq!(
                    bits(&got),
                    bits(&want),
                    "A: off={off} rs={cs} cs={rs} i0={j0} mc={nc} p0={p0} kc={kc}"
                );
                let mut want = vec![f32::NAN; nc.div_ceil(nr) * nr * kc];
                let mut got = vec![f32::NAN; want.len()];
                pack::pack_b(nr, &mut want, &m, p0, kc, j0, nc);
                k.pack_b(&mut got, &m, p0, kc, j0, nc);
                assert_eq!(
                    bits(&got),
                    bits(&want),
                    "off={off} rs={rs} cs={cs} p0={p0} kc={kc} j0={j0} nc={nc}"
                );
            }
        }
    }

    /// A full tile into a column-major C (the register-transpose epilogue) gives the scalar
    /// update's result bit for bit: the portable kernel's `alpha * acc` then one fused
    /// `beta * C + that`, checked against the same kernel writing a row-major C.
    fn check_colmajor_epilogue<K: Kernel<f32>>(k: K) {
        let (mr, nr) = (K::MR, K::NR);
        for kc in [1usize, 5, 64] {
            let a: Vec<f32> = fill(mr * kc, 11);
            let b: Vec<f32> = fill(kc * nr, 12);
            for (alpha, beta) in [(1.0f32, 0.0f32), (0.5, 1.0), (-2.0, 0.75)] {
                let c0: Vec<f32> = fill(mr * nr, 13);
                // Row-major C (vector path) and column-major C (transposed epilogue).
                let mut row = c0.clone();
                k.run(kc, alpha, &a, 1, mr, &b, nr, beta, &mut row, nr, 1, mr, nr);
                let cs = mr + 3;
                let mut col = vec![f32::NAN; cs * nr];
                for i in 0..mr {
                    for j in 0..nr {
                        col[i + j * cs] = c0[i * nr + j];
                    }
                }
                let before = col.clone();
                k.run(kc, alpha, &a, 1, mr, &b, nr, beta, &mut col, 1, cs, mr, nr);
                for i in 0..cs {
                    for j in 0..nr {
                        let (got, idx) = (col[i + j * cs], i + j * cs);
                        if i < mr {
                            assert_eq!(
                                got.to_bits(),
                                row[i * nr + j].to_bits(),
                                "kc={kc} ({i},{j})"
                            );
                        } else {
                            assert!(
                                got.is_nan() && before[idx].is_nan(),
                                "wrote outside the tile"
                            );
                        }
                    }
                }
            }
        }
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

    /// The tests of one SIMD instruction set against the portable code; they run where the
    /// CPU has it and say "skipped" elsewhere.
    macro_rules! simd_isa_tests {
        ($module:ident, $tok:ident, $what:literal) => {
            #[cfg(target_arch = "x86_64")]
            mod $module {
                use super::*;

                fn token() -> Option<$tok> {
                    let k = $tok::detect();
                    if k.is_none() {
                        eprintln!(concat!("skipped: no ", $what));
                    }
                    k
                }

                #[test]
                fn kernels() {
                    if let Some(k) = token() {
                        check_kernel::<f32, _>(k, 1e-6);
                        check_kernel::<f64, _>(k, 1e-14);
                    }
                }

                #[test]
                fn row_kernels() {
                    if let Some(g) = token() {
                        check_row_kernel::<f32, _>(g, 1e-6);
                        check_row_kernel::<f64, _>(g, 1e-14);
                    }
                }

                #[test]
                fn packing_equals_portable() {
                    if let Some(k) = token() {
                        check_packing(k);
                    }
                }

                #[test]
                fn colmajor_epilogue() {
                    if let Some(k) = token() {
                        check_colmajor_epilogue(k);
                    }
                }
            }
        };
    }

    simd_isa_tests!(avx2, Avx2, "AVX2");
    simd_isa_tests!(avx512, Avx512, "AVX-512");

    #[test]
    #[should_panic(expected = "C out of bounds")]
    fn check_tile_rejects_short_c() {
        let a = [0.0f32; 4 * 8];
        let b = [0.0f32; 8 * 8];
        let mut c = [0.0f32; 10];
        Portable.run(8, 1.0, &a, 1, 4, &b, 8, 0.0, &mut c, 8, 1, 4, 8);
    }
}
