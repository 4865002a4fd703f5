//! Our own BLIS-style general matrix multiply: `C = alpha * A * B + beta * C` for `f32` and `f64`.
//!
//! The structure follows the BLIS papers (Van Zee & van de Geijn): five loops around a register
//! micro-kernel, with the operands copied ("packed") into cache-friendly contiguous panels on the
//! way in. The pieces live in their own files:
//!
//! - `loops.rs`: the five loops (`jc`/`pc`/`ic`/`jr`/`ir`), the small-problem path and the
//!   thread split;
//! - `pack.rs`: packing of A into `MR`-tall and of B into `NR`-wide micro-panels. This is where
//!   strided, transposed and broadcast (stride 0) operands are handled: callers never copy;
//! - `kernel/`: the micro-kernels: a portable one (plain Rust, autovectorisable, correct
//!   everywhere), AVX2+FMA and AVX-512F ones for `f32` and `f64`, chosen once at run time;
//! - `gemv.rs`: the `m == 1` (or `n == 1`) vector-matrix product, which reads B in place;
//! - `blocking.rs`: the cache sizes (from sysfs, read once) and the `MC`/`KC`/`NC` block sizes;
//! - `threads.rs`: the thread-count setting.
//!
//! Environment variables, each read once:
//! - `RECUR_NUM_THREADS`: default thread count (see [`num_threads`]);
//! - `RECUR_GEMM_ISA`: `portable`, `avx2` or `avx512` caps the micro-kernel used (benchmarks and
//!   debugging; a kernel the CPU lacks is never used).

mod blocking;
mod gemv;
mod kernel;
mod loops;
mod pack;
mod threads;

pub use loops::PARALLEL_MIN_WORK;
pub use threads::{num_threads, serial, set_num_threads};

use loops::{Lhs, PackedRef, Workspace};

mod sealed {
    use super::{Lhs, MatMut, MatRef, Workspace};

    /// Per-type hooks of [`GemmScalar`](super::GemmScalar); private, so the trait is sealed.
    pub trait Sealed: Sized + 'static {
        /// Runs `f` with this thread's reusable packing buffers.
        fn with_workspaces<R>(f: impl FnOnce(&mut Vec<Workspace<Self>>) -> R) -> R;
        /// `(MR, NR)` of the micro-kernel `gemm_packed` uses on this CPU.
        fn tile() -> (usize, usize);
        /// The packed (BLIS) path with the best micro-kernel for this CPU.
        fn gemm_packed(
            alpha: Self,
            a: Lhs<'_, Self>,
            b: MatRef<'_, Self>,
            beta: Self,
            c: MatMut<'_, Self>,
        );
        /// The vector-matrix path (`c` is a single row).
        fn gemv(
            alpha: Self,
            a: MatRef<'_, Self>,
            b: MatRef<'_, Self>,
            beta: Self,
            c: MatMut<'_, Self>,
        );
    }
}

/// Scalar types the GEMM supports: `f32` and `f64`. The trait is sealed.
pub trait GemmScalar:
    Copy
    + Send
    + Sync
    + 'static
    + sealed::Sealed
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

/// A read-only strided matrix view: element `(i, j)` is `data[offset + i * rs + j * cs]`.
///
/// Strides may be anything, including 0 (a broadcast operand) and transposed layouts
/// (`rs == 1`, `cs == rows`).
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    /// The backing slice.
    pub data: &'a [T],
    /// Index of element `(0, 0)` in `data`.
    pub offset: usize,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Row stride (distance in elements between `(i, j)` and `(i + 1, j)`).
    pub rs: usize,
    /// Column stride (distance in elements between `(i, j)` and `(i, j + 1)`).
    pub cs: usize,
}

/// A mutable strided matrix view, addressed like [`MatRef`].
///
/// `rs`/`cs` must not make two distinct elements share a slot (unless the matrix is empty); if
/// they do, the result is unspecified (but still memory-safe).
#[derive(Debug)]
pub struct MatMut<'a, T> {
    /// The backing slice.
    pub data: &'a mut [T],
    /// Index of element `(0, 0)` in `data`.
    pub offset: usize,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Row stride.
    pub rs: usize,
    /// Column stride.
    pub cs: usize,
}

impl<'a, T> MatRef<'a, T> {
    /// A dense row-major `rows × cols` view of `data` (`rs = cols`, `cs = 1`).
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        MatRef {
            data,
            offset: 0,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transposed view (no copy).
    pub fn t(self) -> Self {
        MatRef {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }
}

impl<'a, T> MatMut<'a, T> {
    /// A dense row-major `rows × cols` view of `data` (`rs = cols`, `cs = 1`).
    pub fn row_major(data: &'a mut [T], rows: usize, cols: usize) -> Self {
        MatMut {
            data,
            offset: 0,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transposed view (no copy).
    pub fn t(self) -> Self {
        MatMut {
            data: self.data,
            offset: self.offset,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

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
    check_args(&a, &b, &c);
    let Some(c) = work_left(alpha, a.cols, beta, c) else {
        return;
    };
    let (m, n) = (c.rows, c.cols);
    // Work on C^T = B^T A^T when that makes C row-major (the kernels' preferred layout) or
    // turns a column (n == 1) into a row for the vector-matrix path.
    let (a, b, c) = if (n == 1 && m > 1) || (m > 1 && n > 1 && c.rs < c.cs) {
        (b.t(), a.t(), c.t())
    } else {
        (a, b, c)
    };
    if c.rows == 1 && (b.cs == 1 || b.rs == 1) {
        T::gemv(alpha, a, b, beta, c);
    } else {
        T::gemm_packed(alpha, Lhs::View(a), b, beta, c);
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
}

impl<T: GemmScalar> PackedLhs<T> {
    /// Packs `a` (any strides).
    ///
    /// # Panics
    /// If the view addresses an element past the end of its slice.
    pub fn new(a: MatRef<'_, T>) -> Self {
        check_view("A", a.data.len(), a.offset, a.rows, a.cols, a.rs, a.cs);
        let (mr, nr) = T::tile();
        let (rows, cols) = (a.rows, a.cols);
        let kc = blocking::blocking(mr, nr, core::mem::size_of::<T>(), rows, nr, cols).kc;
        let padded_rows = rows.div_ceil(mr) * mr;
        let mut data = vec![T::ZERO; padded_rows * cols];
        if rows > 0 {
            for pc in (0..cols).step_by(kc) {
                let kcb = kc.min(cols - pc);
                let dst = &mut data[pc * padded_rows..(pc + kcb) * padded_rows];
                pack::pack_a(mr, dst, &a, 0, rows, pc, kcb);
            }
        }
        PackedLhs {
            data,
            rows,
            cols,
            padded_rows,
            kc,
            mr,
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
    T::gemm_packed(alpha, lhs, b, beta, c);
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

macro_rules! impl_scalar {
    ($t:ty, $kernel_fn:ident, $gemv_fn:ident, $tile_fn:ident) => {
        impl GemmScalar for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
        }

        impl sealed::Sealed for $t {
            fn with_workspaces<R>(f: impl FnOnce(&mut Vec<Workspace<Self>>) -> R) -> R {
                thread_local! {
                    static WS: core::cell::RefCell<Vec<Workspace<$t>>> =
                        const { core::cell::RefCell::new(Vec::new()) };
                }
                WS.with(|ws| match ws.try_borrow_mut() {
                    Ok(mut ws) => f(&mut ws),
                    // Re-entered (cannot happen today): use fresh buffers rather than panic.
                    Err(_) => f(&mut Vec::new()),
                })
            }

            fn tile() -> (usize, usize) {
                kernel::$tile_fn()
            }

            fn gemm_packed(
                alpha: Self,
                a: Lhs<'_, Self>,
                b: MatRef<'_, Self>,
                beta: Self,
                c: MatMut<'_, Self>,
            ) {
                kernel::$kernel_fn(alpha, a, b, beta, c)
            }

            fn gemv(
                alpha: Self,
                a: MatRef<'_, Self>,
                b: MatRef<'_, Self>,
                beta: Self,
                c: MatMut<'_, Self>,
            ) {
                kernel::$gemv_fn(alpha, a, b, beta, c)
            }
        }
    };
}

impl_scalar!(f32, dispatch_f32, gemv_f32, tile_f32);
impl_scalar!(f64, dispatch_f64, gemv_f64, tile_f64);
