//! Our own BLIS-style general matrix multiply: `C = alpha * A * B + beta * C` for `f32` and `f64`.
//!
//! The structure follows the BLIS papers (Van Zee & van de Geijn): five loops around a register
//! micro-kernel, with the operands copied ("packed") into cache-friendly contiguous panels on the
//! way in. The pieces live in their own files:
//!
//! - `mat.rs`: the strided views [`MatRef`] and [`MatMut`];
//! - `loops.rs`: the five loops (`jc`/`pc`/`ic`/`jr`/`ir`), the small-problem path and the
//!   thread split;
//! - `gemv.rs`: the `m == 1` (or `n == 1`) vector-matrix product, which reads B in place;
//! - `kernel/`: the bottom layer: the CPU detection (`isa.rs`, also used by
//!   [`vmath`](crate::vmath)), the one dispatch to the selected kernel, the portable packing
//!   of A into `MR`-tall and of B into `NR`-wide micro-panels (`pack.rs`: strided, transposed
//!   and broadcast operands are handled there, callers never copy), and the micro-kernels: a
//!   portable one (plain Rust, autovectorisable, correct everywhere), AVX2+FMA and AVX-512F
//!   ones for `f32` and `f64`, with SIMD packing and vector-matrix helpers;
//! - `blocking.rs`: the cache sizes (from sysfs, read once) and the `MC`/`KC`/`NC` block sizes;
//! - `threads.rs`: the thread-count setting.
//!
//! Each file imports only from files below it: `mod.rs` → `loops.rs`, `gemv.rs` →
//! `kernel/` → `mat.rs`; `blocking.rs` and `threads.rs` import nothing.
//!
//! Environment variables, each read once:
//! - `RECUR_NUM_THREADS`: default thread count (see [`num_threads`]);
//! - `RECUR_GEMM_ISA`: `portable`, `avx2` or `avx512` caps the instruction set used by the
//!   GEMM and by [`vmath`](crate::vmath) (benchmarks and debugging; a kernel the CPU lacks is
//!   never used). [`with_isa_cap`] does the same for one thread, and [`kernel_name`] says
//!   which kernel runs.

mod blocking;
mod gemv;
mod kernel;
mod loops;
mod mat;
mod threads;

pub use kernel::{GemmScalar, Isa, isa, with_isa_cap};
pub use loops::PARALLEL_MIN_WORK;
pub use mat::{MatMut, MatRef};
pub use threads::{num_threads, serial, set_num_threads};

use kernel::{Kernel, KernelVisitor, RowKernel};
use loops::{Lhs, PackedRef};

/// Panics unless every element of the `rows × cols` view lies inside a slice of `len` elements.
fn check_view(
    what: &str,
    len: usize,
    offset: usize,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
) {
    if rows == 0 || cols == 0 {
        return;
    }
    let last = (rows - 1)
        .checked_mul(rs)
        .and_then(|r| (cols - 1).checked_mul(cs).and_then(|c| r.checked_add(c)))
        .and_then(|x| x.checked_add(offset));
    match last {
        Some(last) if last < len => {}
        _ => panic!(
            "gemm: {what} view out of bounds: {rows}x{cols} with offset {offset}, strides \
             ({rs}, {cs}) addresses past the end of a slice of length {len}"
        ),
    }
}

/// Panics unless `A: m×k`, `B: k×n`, `C: m×n` agree and all three views are in bounds.
fn check_args<T>(a: &MatRef<'_, T>, b: &MatRef<'_, T>, c: &MatMut<'_, T>) {
    check_dims((a.rows, a.cols), b, c);
    check_view("A", a.data.len(), a.offset, a.rows, a.cols, a.rs, a.cs);
    check_view("B", b.data.len(), b.offset, b.rows, b.cols, b.rs, b.cs);
    check_view("C", c.data.len(), c.offset, c.rows, c.cols, c.rs, c.cs);
}

/// Panics unless an `A` of `a_dims` (rows, cols), `B` and `C` agree.
fn check_dims<T>(a_dims: (usize, usize), b: &MatRef<'_, T>, c: &MatMut<'_, T>) {
    assert!(
        a_dims.0 == c.rows && a_dims.1 == b.rows && b.cols == c.cols,
        "gemm: dimensions do not match: A is {}x{}, B is {}x{}, C is {}x{}",
        a_dims.0,
        a_dims.1,
        b.rows,
        b.cols,
        c.rows,
        c.cols
    );
}

/// Finishes the products with nothing to multiply (an empty C; `k == 0` or `alpha == 0`,
/// where `C = beta * C`) and returns `None`; otherwise hands C back.
fn work_left<T: GemmScalar>(
    alpha: T,
    k: usize,
    beta: T,
    c: MatMut<'_, T>,
) -> Option<MatMut<'_, T>> {
    if c.rows == 0 || c.cols == 0 {
        return None;
    }
    if k == 0 || alpha == T::ZERO {
        scale(beta, c);
        return None;
    }
    Some(c)
}

/// `C = beta * C`, without reading C when `beta == 0`.
fn scale<T: GemmScalar>(beta: T, c: MatMut<'_, T>) {
    for i in 0..c.rows {
        for j in 0..c.cols {
            let x = &mut c.data[c.offset + i * c.rs + j * c.cs];
            *x = if beta == T::ZERO { T::ZERO } else { beta * *x };
        }
    }
}

/// `C = alpha * A * B + beta * C`, with `A: m×k`, `B: k×n`, `C: m×n` strided views.
///
/// As in BLAS, `beta == 0` means C is only written (NaN or garbage in C does not propagate),
/// and `alpha == 0` (or `k == 0`) means A and B are not read: `C = beta * C`.
/// Uses up to [`num_threads`] threads for large products; the result does not depend on the
/// thread count (bit for bit).
///
/// # Panics
/// If the dimensions disagree or a view addresses an element past the end of its slice.
///
/// # Example
/// ```
/// use recur_tensor::gemm::{gemm, MatMut, MatRef};
/// // A = [[1, 2], [3, 4]] (row-major), B = A^T (a transposed view: no copy).
/// let a = [1.0f32, 2.0, 3.0, 4.0];
/// let mut c = [1.0f32; 4];
/// gemm(
///     2.0,
///     MatRef::row_major(&a, 2, 2),
///     MatRef::row_major(&a, 2, 2).t(),
///     1.0,
///     MatMut::row_major(&mut c, 2, 2),
/// );
/// // 2 * A A^T + 1 = 2 * [[5, 11], [11, 25]] + 1
/// assert_eq!(c, [11.0, 23.0, 23.0, 51.0]);
/// ```
pub fn gemm<T: GemmScalar>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) {
    T::gemm(alpha, a, b, beta, c)
}

/// [`gemm`]'s body, instantiated only by [`entry::Entry`] (in this crate).
fn gemm_impl<T: GemmScalar>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) {
    check_args(&a, &b, &c);
    let Some(c) = work_left(alpha, a.cols, beta, c) else {
        return;
    };
    let (m, n) = (c.rows, c.cols);
    // Work on C^T = B^T A^T when that turns a column (n == 1) into a row for the
    // vector-matrix path, or makes C row-major (the cheapest store), or pads the product
    // clearly less to whole tiles (e.g. 3200 x 65 with 12 x 32 tiles computes 3204 x 96,
    // 48 % waste; 65 x 3200 computes 72 x 3200, 11 %). Either way each element of C is the
    // same chain of fused multiply-adds over the same `k` blocks: the result is identical.
    let flip = n == 1 && m > 1 || m > 1 && n > 1 && prefer_transposed::<T>(m, n, c.rs < c.cs);
    let (a, b, c) = if flip {
        (b.t(), a.t(), c.t())
    } else {
        (a, b, c)
    };
    if c.rows == 1 && (b.cs == 1 || b.rs == 1) {
        kernel::with_kernel(gemv::Gemv {
            alpha,
            a,
            b,
            beta,
            c,
        });
    } else {
        kernel::with_kernel(loops::Gemm {
            alpha,
            a: Lhs::View(a),
            b,
            beta,
            c,
        });
    }
}

/// Whether an `m x n` product (both > 1) should be computed as its transpose `n x m`:
/// when that pads clearly less (by more than 10 %) to whole `MR x NR` tiles, or when C is
/// column-major (`col_major`) and it pads no more than 10 % more.
fn prefer_transposed<T: GemmScalar>(m: usize, n: usize, col_major: bool) -> bool {
    let (mr, nr) = tile::<T>();
    let padded = |m: usize, n: usize| (m.div_ceil(mr) * mr * n.div_ceil(nr) * nr) as f64;
    let (keep, turn) = (padded(m, n), padded(n, m));
    if col_major {
        turn <= 1.1 * keep
    } else {
        1.1 * turn < keep
    }
}

/// A matrix packed once into the micro-kernel's panel layout, to be the left operand `A` of
/// many products ([`gemm_packed_lhs`]).
///
/// [`gemm`] copies ("packs") its operands into cache-friendly panels on every call. When the
/// same `A` multiplies many right-hand sides (an RNN's recurrent weight at every time step),
/// packing it once saves that copy each time, and makes `A` the natural operand to put the
/// long dimension on: `W (H×H) · h^T (H×batch)` tiles the `H` rows exactly where
/// `h (batch×H) · W^T` would pad `batch` up to a multiple of the kernel's rows.
///
/// The layout belongs to the micro-kernel chosen on this CPU (at run time, once per process).
///
/// # Example
/// ```
/// use recur_tensor::gemm::{gemm_packed_lhs, MatMut, MatRef, PackedLhs};
/// let w = [1.0f32, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
/// let packed = PackedLhs::new(MatRef::row_major(&w, 2, 2));
/// for x in [[1.0f32, 0.0], [0.0, 1.0]] {
///     let mut y = [0.0f32; 2];
///     // y = W x (x and y as 2×1 columns)
///     gemm_packed_lhs(
///         1.0,
///         &packed,
///         MatRef::row_major(&x, 2, 1),
///         0.0,
///         MatMut::row_major(&mut y, 2, 1),
///     );
///     assert_eq!(y, if x[0] == 1.0 { [1.0, 3.0] } else { [2.0, 4.0] });
/// }
/// ```
#[derive(Clone, Debug)]
pub struct PackedLhs<T> {
    data: Vec<T>,
    rows: usize,
    cols: usize,
    padded_rows: usize,
    kc: usize,
    mr: usize,
    /// The instruction set whose kernel the layout is for (used by every product with it).
    isa: Isa,
}

/// Packs a whole A for [`PackedLhs`] with the kernel's own packing routine.
struct PackLhs<'a, T>(MatRef<'a, T>);

impl<T: GemmScalar> KernelVisitor<T> for PackLhs<'_, T> {
    type Out = (Vec<T>, usize, usize);

    /// The panels, `kc` and `MR`.
    fn visit<K: Kernel<T> + RowKernel<T>>(self, k: K) -> Self::Out {
        let a = self.0;
        let (mr, nr) = (K::MR, K::NR);
        let (rows, cols) = (a.rows, a.cols);
        let kc = blocking::blocking(mr, nr, core::mem::size_of::<T>(), rows, nr, cols).kc;
        let padded_rows = rows.div_ceil(mr) * mr;
        let mut data = vec![T::ZERO; padded_rows * cols];
        if rows > 0 {
            for pc in (0..cols).step_by(kc) {
                let kcb = kc.min(cols - pc);
                let dst = &mut data[pc * padded_rows..(pc + kcb) * padded_rows];
                k.pack_a(dst, &a, 0, rows, pc, kcb);
            }
        }
        (data, kc, mr)
    }
}

/// `(MR, NR)` of the selected kernel.
struct Tile;

impl<T: GemmScalar> KernelVisitor<T> for Tile {
    type Out = (usize, usize);

    fn visit<K: Kernel<T> + RowKernel<T>>(self, _k: K) -> Self::Out {
        (K::MR, K::NR)
    }
}

impl<T: GemmScalar> PackedLhs<T> {
    /// Packs `a` (any strides).
    ///
    /// # Panics
    /// If the view addresses an element past the end of its slice.
    pub fn new(a: MatRef<'_, T>) -> Self {
        check_view("A", a.data.len(), a.offset, a.rows, a.cols, a.rs, a.cs);
        let isa = isa();
        let (data, kc, mr) = T::pack_lhs(isa, a);
        PackedLhs {
            data,
            rows: a.rows,
            cols: a.cols,
            padded_rows: a.rows.div_ceil(mr) * mr,
            kc,
            mr,
            isa,
        }
    }

    /// Rows of the packed matrix.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns of the packed matrix.
    pub fn cols(&self) -> usize {
        self.cols
    }
}

/// `(MR, NR)`: the rows and columns of the register tile of the micro-kernel [`gemm`] uses
/// for `T` on this CPU. A product wastes work when its `m` is not a multiple of `MR` or its
/// `n` not a multiple of `NR` (the edge tiles are computed whole); callers choosing between
/// computing `C` and `C^T` can ask.
///
/// # Example
/// ```
/// let (mr, nr) = recur_tensor::gemm::tile::<f32>();
/// assert!(mr >= 1 && nr >= 1);
/// ```
pub fn tile<T: GemmScalar>() -> (usize, usize) {
    T::tile()
}

/// The kernel [`gemm`] uses on this thread now, e.g. `"avx512 f32 12x32 f64 12x16"`: the
/// instruction set ([`isa`]), then the register tile (`MR x NR`) of each element type. For
/// benchmarks, so that every figure says what ran.
///
/// # Example
/// ```
/// use recur_tensor::gemm::{Isa, kernel_name, with_isa_cap};
/// assert_eq!(with_isa_cap(Isa::Portable, kernel_name), "portable f32 4x8 f64 4x8");
/// ```
pub fn kernel_name() -> String {
    let ((m32, n32), (m64, n64)) = (tile::<f32>(), tile::<f64>());
    format!("{} f32 {m32}x{n32} f64 {m64}x{n64}", isa())
}

/// `C = alpha * A * B + beta * C` like [`gemm`], with `A` packed beforehand.
///
/// Unlike [`gemm`], C is computed in the orientation given, whatever its layout (a
/// column-major C is fine: `gemm_packed_lhs(w, h.t(), z.t())` computes `z = h W^T` with `W`
/// as the packed operand). Threads as in [`gemm`]; the result does not depend on them.
///
/// # Panics
/// If the dimensions disagree or a view addresses an element past the end of its slice.
pub fn gemm_packed_lhs<T: GemmScalar>(
    alpha: T,
    a: &PackedLhs<T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) {
    T::gemm_packed_lhs(alpha, a, b, beta, c)
}

/// [`gemm_packed_lhs`]'s body, instantiated only by [`entry::Entry`] (in this crate).
fn gemm_packed_lhs_impl<T: GemmScalar>(
    alpha: T,
    a: &PackedLhs<T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) {
    check_dims((a.rows, a.cols), &b, &c);
    check_view("B", b.data.len(), b.offset, b.rows, b.cols, b.rs, b.cs);
    check_view("C", c.data.len(), c.offset, c.rows, c.cols, c.rs, c.cs);
    let Some(c) = work_left(alpha, a.cols, beta, c) else {
        return;
    };
    let lhs = Lhs::Packed(PackedRef {
        data: &a.data,
        padded_rows: a.padded_rows,
        cols: a.cols,
        kc: a.kc,
        mr: a.mr,
        row0: 0,
    });
    T::visit_kernel(
        a.isa,
        loops::Gemm {
            alpha,
            a: lhs,
            b,
            beta,
            c,
        },
    );
}

/// The GEMM's entry points, compiled in this crate for `f32` and `f64`.
///
/// Everything above is generic over `T`, and a generic function is compiled in the crate
/// that calls it, with that crate's optimisation level: a user's debug build would run the
/// loops and micro-kernels unoptimised (100x slower). The public generic functions only
/// call these methods, whose bodies are the `f32` and `f64` instantiations made here, at
/// this crate's optimisation level. (No `#[inline]` on them: that would bring the bodies
/// back into the caller's crate.)
pub(crate) mod entry {
    use super::{Isa, MatMut, MatRef, PackedLhs};

    /// Per-type GEMM entry points; a supertrait of [`GemmScalar`](super::GemmScalar), not
    /// nameable outside the crate.
    pub trait Entry: Sized {
        /// [`gemm`](super::gemm).
        fn gemm(
            alpha: Self,
            a: MatRef<'_, Self>,
            b: MatRef<'_, Self>,
            beta: Self,
            c: MatMut<'_, Self>,
        );
        /// [`gemm_packed_lhs`](super::gemm_packed_lhs).
        fn gemm_packed_lhs(
            alpha: Self,
            a: &PackedLhs<Self>,
            b: MatRef<'_, Self>,
            beta: Self,
            c: MatMut<'_, Self>,
        );
        /// Packs `a` for [`PackedLhs`] with `isa`'s kernel: the panels, `kc` and `MR`.
        fn pack_lhs(isa: Isa, a: MatRef<'_, Self>) -> (Vec<Self>, usize, usize);
        /// [`tile`](super::tile).
        fn tile() -> (usize, usize);
    }

    macro_rules! impl_entry {
        ($($t:ty),*) => {$(
            impl Entry for $t {
                fn gemm(
                    alpha: $t,
                    a: MatRef<'_, $t>,
                    b: MatRef<'_, $t>,
                    beta: $t,
                    c: MatMut<'_, $t>,
                ) {
                    super::gemm_impl(alpha, a, b, beta, c)
                }
                fn gemm_packed_lhs(
                    alpha: $t,
                    a: &PackedLhs<$t>,
                    b: MatRef<'_, $t>,
                    beta: $t,
                    c: MatMut<'_, $t>,
                ) {
                    super::gemm_packed_lhs_impl(alpha, a, b, beta, c)
                }
                fn pack_lhs(isa: Isa, a: MatRef<'_, $t>) -> (Vec<$t>, usize, usize) {
                    <$t as super::kernel::sealed::Sealed>::visit_kernel(isa, super::PackLhs(a))
                }
                fn tile() -> (usize, usize) {
                    super::kernel::with_kernel::<$t, _>(super::Tile)
                }
            }
        )*};
    }

    impl_entry!(f32, f64);
}

/// The naive triple loop, kept as the reference for tests. Same contract as [`gemm`]; each
/// entry of `A * B` is accumulated in the natural `k` order.
///
/// # Panics
/// Like [`gemm`].
pub fn gemm_naive<T: GemmScalar>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) {
    check_args(&a, &b, &c);
    let k = a.cols;
    for i in 0..c.rows {
        for j in 0..c.cols {
            let mut acc = T::ZERO;
            if alpha != T::ZERO {
                for p in 0..k {
                    acc = acc
                        + a.data[a.offset + i * a.rs + p * a.cs]
                            * b.data[b.offset + p * b.rs + j * b.cs];
                }
            }
            let x = &mut c.data[c.offset + i * c.rs + j * c.cs];
            *x = if beta == T::ZERO {
                alpha * acc
            } else {
                alpha * acc + beta * *x
            };
        }
    }
}
