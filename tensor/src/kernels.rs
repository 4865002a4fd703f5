//! The element loops behind the tensor ops, compiled in this crate for `f32` and `f64`.
//!
//! A generic function is compiled in the crate that calls it, at that crate's optimisation
//! level: were the loops of `Tensor<T>`'s ops generic, a user's debug build would run them
//! unoptimised (10-100x slower), even with its dependencies optimised. So each op's generic
//! method only picks the op ([`Unary`], [`Binary`]) and calls a method of [`Kernels`] (a
//! supertrait of [`Float`](crate::Float)): the bodies of those methods are the `f32` and
//! `f64` instantiations made here, at this crate's optimisation level. (No `#[inline]` on
//! them: that would bring the bodies back into the caller's crate.) The GEMM's entry
//! points work the same way (`gemm::entry`), and `recur-nn` does the same for its fused
//! ops and optimizers (its `compiled` module).

use crate::float::Float;
use crate::shape::{Layout, for_each_index, for_each_index2};

/// An element-wise unary op (with its scalar operands).
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum Unary<T> {
    /// `-v`
    Neg,
    /// `|v|`
    Abs,
    /// `ln v`
    Ln,
    /// `sqrt v`
    Sqrt,
    /// `σ(v)`
    Sigmoid,
    /// `max(v, 0)`, NaN kept
    Relu,
    /// `1 / v`
    Recip,
    /// `v * v`
    Square,
    /// `v^e`
    Powf(T),
    /// `v` clamped to `[lo, hi]`
    Clamp(T, T),
    /// `v + s`
    AddScalar(T),
    /// `v - s`
    SubScalar(T),
    /// `v * s`
    MulScalar(T),
    /// `v / s`
    DivScalar(T),
    /// `s - v`
    RsubScalar(T),
}

/// An element-wise binary op.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
    /// larger, NaN if either is
    Maximum,
    /// smaller, NaN if either is
    Minimum,
    /// `a == b` as 1 or 0
    Eq,
    /// `a != b` as 1 or 0
    Ne,
    /// `a < b` as 1 or 0
    Lt,
    /// `a <= b` as 1 or 0
    Le,
    /// `a > b` as 1 or 0
    Gt,
    /// `a >= b` as 1 or 0
    Ge,
}

/// The element loops, compiled here for `f32` and `f64` (see the module docs). Sealed by
/// [`Float`]'s own seal: only `f32` and `f64` implement it.
#[doc(hidden)]
pub trait Kernels: Sized {
    /// Appends the elements of `layout` over `storage`, in row-major order, to `out`.
    fn gather(storage: &[Self], layout: &Layout, out: &mut Vec<Self>);
    /// `op` of every element of `layout` over `storage`, in row-major order.
    fn unary(op: Unary<Self>, storage: &[Self], layout: &Layout) -> Vec<Self>;
    /// `op` of the pairs of elements of two layouts of the same shape, in row-major order.
    fn binary(op: Binary, a: &[Self], la: &Layout, b: &[Self], lb: &Layout) -> Vec<Self>;
}

macro_rules! impl_kernels {
    ($($t:ty),*) => {$(
        impl Kernels for $t {
            fn gather(storage: &[$t], layout: &Layout, out: &mut Vec<$t>) {
                gather(storage, layout, out)
            }
            fn unary(op: Unary<$t>, storage: &[$t], layout: &Layout) -> Vec<$t> {
                unary(op, storage, layout)
            }
            fn binary(op: Binary, a: &[$t], la: &Layout, b: &[$t], lb: &Layout) -> Vec<$t> {
                binary(op, a, la, b, lb)
            }
        }
    )*};
}

impl_kernels!(f32, f64);

fn gather<T: Float>(storage: &[T], layout: &Layout, out: &mut Vec<T>) {
    if layout.numel() == 0 {
        // An empty view may carry an offset past the end of its storage: do not index.
    } else if layout.is_contiguous() {
        let start = layout.offset;
        out.extend_from_slice(&storage[start..start + layout.numel()]);
    } else {
        for_each_index(layout, |i| out.push(storage[i]));
    }
}

/// `f` of every element of `layout` over `storage`, into a fresh pooled buffer.
#[inline(always)]
fn map<T: Float>(storage: &[T], layout: &Layout, f: impl Fn(T) -> T) -> Vec<T> {
    let mut out = crate::pool::buffer(layout.numel());
    if layout.numel() == 0 {
        // As in `gather`.
    } else if layout.is_contiguous() {
        let start = layout.offset;
        let s = &storage[start..start + layout.numel()];
        out.extend(s.iter().map(|&v| f(v)));
    } else {
        for_each_index(layout, |i| out.push(f(storage[i])));
    }
    out
}

fn unary<T: Float>(op: Unary<T>, s: &[T], l: &Layout) -> Vec<T> {
    match op {
        Unary::Neg => map(s, l, |v| -v),
        Unary::Abs => map(s, l, |v| v.abs()),
        Unary::Ln => map(s, l, |v| v.ln()),
        Unary::Sqrt => map(s, l, |v| v.sqrt()),
        Unary::Sigmoid => map(s, l, crate::ops::unary::sigmoid),
        Unary::Relu => map(s, l, |v| {
            if v > T::ZERO || v.is_nan() {
                v
            } else {
                T::ZERO
            }
        }),
        Unary::Recip => map(s, l, |v| T::ONE / v),
        Unary::Square => map(s, l, |v| v * v),
        Unary::Powf(e) => map(s, l, |v| v.powf(e)),
        Unary::Clamp(lo, hi) => map(s, l, |v| {
            if v < lo {
                lo
            } else if v > hi {
                hi
            } else {
                v
            }
        }),
        Unary::AddScalar(c) => map(s, l, |v| v + c),
        Unary::SubScalar(c) => map(s, l, |v| v - c),
        Unary::MulScalar(c) => map(s, l, |v| v * c),
        Unary::DivScalar(c) => map(s, l, |v| v / c),
        Unary::RsubScalar(c) => map(s, l, |v| c - v),
    }
}

/// `f` of the pairs of elements of `la` over `a` and `lb` over `b` (the same shape).
#[inline(always)]
fn zip<T: Float>(a: &[T], la: &Layout, b: &[T], lb: &Layout, f: impl Fn(T, T) -> T) -> Vec<T> {
    debug_assert_eq!(la.shape, lb.shape);
    let n = la.numel();
    let mut out = crate::pool::buffer(n);
    if n == 0 {
        // As in `gather`.
    } else if la.is_contiguous() && lb.is_contiguous() {
        let a = &a[la.offset..la.offset + n];
        let b = &b[lb.offset..lb.offset + n];
        out.extend(a.iter().zip(b).map(|(&x, &y)| f(x, y)));
    } else {
        for_each_index2(la, lb, |i, j| out.push(f(a[i], b[j])));
    }
    out
}

#[inline(always)]
fn mask<T: Float>(b: bool) -> T {
    if b { T::ONE } else { T::ZERO }
}

fn binary<T: Float>(op: Binary, a: &[T], la: &Layout, b: &[T], lb: &Layout) -> Vec<T> {
    match op {
        Binary::Add => zip(a, la, b, lb, |x, y| x + y),
        Binary::Sub => zip(a, la, b, lb, |x, y| x - y),
        Binary::Mul => zip(a, la, b, lb, |x, y| x * y),
        Binary::Div => zip(a, la, b, lb, |x, y| x / y),
        Binary::Maximum => zip(a, la, b, lb, |x, y| x.max_nan(y)),
        Binary::Minimum => zip(a, la, b, lb, |x, y| x.min_nan(y)),
        Binary::Eq => zip(a, la, b, lb, |x, y| mask(x == y)),
        Binary::Ne => zip(a, la, b, lb, |x, y| mask(x != y)),
        Binary::Lt => zip(a, la, b, lb, |x, y| mask(x < y)),
        Binary::Le => zip(a, la, b, lb, |x, y| mask(x <= y)),
        Binary::Gt => zip(a, la, b, lb, |x, y| mask(x > y)),
        Binary::Ge => zip(a, la, b, lb, |x, y| mask(x >= y)),
    }
}
