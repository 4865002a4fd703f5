//! The sealed floating-point element trait: `f32` and `f64`.

use crate::gemm::GemmScalar;
use core::fmt::{Debug, Display};
use core::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// An element type of a [`Tensor`](crate::Tensor): implemented for `f32` and `f64` only.
///
/// Everything the kernels need is here, so generic code reads like ordinary arithmetic.
/// `ZERO` and `ONE` come from the supertrait [`GemmScalar`].
///
/// ```
/// use recur_tensor::Float;
/// fn softplus<T: Float>(x: T) -> T { (T::ONE + x.exp()).ln() }
/// assert!((softplus(0.0f64) - 2f64.ln()).abs() < 1e-15);
/// ```
pub trait Float:
    sealed::Sealed
    + GemmScalar
    + crate::kernels::Kernels
    + Copy
    + Send
    + Sync
    + 'static
    + Debug
    + Display
    + Default
    + PartialOrd
    + PartialEq
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + core::iter::Sum
{
    /// Positive infinity.
    const INFINITY: Self;
    /// Negative infinity.
    const NEG_INFINITY: Self;
    /// Not a number.
    const NAN: Self;
    /// Machine epsilon.
    const EPSILON: Self;
    /// The dtype's name as PyTorch spells it (`"float32"`, `"float64"`).
    const DTYPE: &'static str;

    /// Converts from `f64` (rounding for `f32`).
    fn from_f64(v: f64) -> Self;
    /// Converts from `usize` (rounding for large values).
    fn from_usize(v: usize) -> Self;
    /// Widens to `f64`.
    fn to_f64(self) -> f64;
    /// `e^self`.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// `self^e`.
    fn powf(self, e: Self) -> Self;
    /// Larger of two values; NaN if either is NaN (like `torch.maximum`).
    fn max_nan(self, other: Self) -> Self;
    /// Smaller of two values; NaN if either is NaN (like `torch.minimum`).
    fn min_nan(self, other: Self) -> Self;
    /// True unless NaN or infinite.
    fn is_finite(self) -> bool;
    /// True for NaN.
    fn is_nan(self) -> bool;
    /// `tanh` of every element in place: SIMD ([`crate::vmath`]) for `f32`, libm for `f64`.
    fn tanh_slice(v: &mut [Self]);
    /// `e^x` of every element in place: SIMD ([`crate::vmath`]) for `f32`, libm for `f64`.
    fn exp_slice(v: &mut [Self]);
    /// Runs `f` with this thread's buffer pool for this type (see [`crate::pool`]).
    #[doc(hidden)]
    fn with_pool<R>(f: impl FnOnce(&mut crate::pool::Pool<Self>) -> R) -> R;
}

macro_rules! impl_float {
    ($t:ty, $name:literal, $tanh_slice:expr, $exp_slice:expr) => {
        impl Float for $t {
            const INFINITY: Self = <$t>::INFINITY;
            const NEG_INFINITY: Self = <$t>::NEG_INFINITY;
            const NAN: Self = <$t>::NAN;
            const EPSILON: Self = <$t>::EPSILON;
            const DTYPE: &'static str = $name;

            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn from_usize(v: usize) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn powf(self, e: Self) -> Self {
                <$t>::powf(self, e)
            }
            #[inline(always)]
            fn max_nan(self, other: Self) -> Self {
                if self.is_nan() || other.is_nan() {
                    <$t>::NAN
                } else if self >= other {
                    self
                } else {
                    other
                }
            }
            #[inline(always)]
            fn min_nan(self, other: Self) -> Self {
                if self.is_nan() || other.is_nan() {
                    <$t>::NAN
                } else if self <= other {
                    self
                } else {
                    other
                }
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            // Not `#[inline]`: the loop is compiled here (see `crate::kernels`).
            fn tanh_slice(v: &mut [Self]) {
                $tanh_slice(v)
            }
            fn exp_slice(v: &mut [Self]) {
                $exp_slice(v)
            }
            fn with_pool<R>(f: impl FnOnce(&mut crate::pool::Pool<Self>) -> R) -> R {
                thread_local! {
                    static POOL: core::cell::RefCell<crate::pool::Pool<$t>> =
                        core::cell::RefCell::new(crate::pool::Pool::default());
                }
                // Re-entered (cannot happen today) or during thread teardown: run on a
                // throwaway pool instead.
                let mut f = Some(f);
                let done = POOL.try_with(|p| {
                    let mut p = p.try_borrow_mut().ok()?;
                    let f = f.take()?;
                    Some(f(&mut p))
                });
                match (done, f) {
                    (Ok(Some(r)), _) => r,
                    (_, Some(f)) => f(&mut crate::pool::Pool::default()),
                    (_, None) => unreachable!("`f` is taken only when it runs"),
                }
            }
        }
    };
}

impl_float!(
    f32,
    "float32",
    crate::vmath::tanh_f32,
    crate::vmath::exp_f32
);
impl_float!(
    f64,
    "float64",
    |v: &mut [f64]| v.iter_mut().for_each(|x| *x = x.tanh()),
    |v: &mut [f64]| v.iter_mut().for_each(|x| *x = x.exp())
);
