//! Elementwise unary ops and tensor–scalar ops.

use crate::error::{Result, TensorError};
use crate::float::Float;
use crate::kernels::Unary;
use crate::tensor::Tensor;

macro_rules! unary {
    ($(#[$doc:meta])* $name:ident, $op:ident) => {
        $(#[$doc])*
        pub fn $name(&self) -> Self {
            self.map_op(Unary::$op)
        }
    };
}

/// A unary op computed by a whole-slice kernel (SIMD for `f32`).
macro_rules! unary_slice {
    ($(#[$doc:meta])* $name:ident, $slice_fn:ident) => {
        $(#[$doc])*
        pub fn $name(&self) -> Self {
            let mut data = self.to_vec();
            T::$slice_fn(&mut data);
            Tensor::from_contiguous(data, self.shape().clone())
        }
    };
}

/// The logistic function, stable for large |x|.
#[inline]
pub fn sigmoid<T: Float>(v: T) -> T {
    if v >= T::ZERO {
        T::ONE / (T::ONE + (-v).exp())
    } else {
        let e = v.exp();
        e / (T::ONE + e)
    }
}

impl<T: Float> Tensor<T> {
    unary!(
        /// `-x`.
        ///
        /// ```
        /// let t = recur_tensor::Tensor::from_vec(vec![1.0f32, -2.0], &[2])?;
        /// assert_eq!(t.neg().to_vec(), vec![-1.0, 2.0]);
        /// # Ok::<(), recur_tensor::TensorError>(())
        /// ```
        neg, Neg
    );
    unary!(
        /// `|x|`.
        ///
        /// ```
        /// let t = recur_tensor::Tensor::from_vec(vec![1.0f32, -2.0], &[2])?;
        /// assert_eq!(t.abs().to_vec(), vec![1.0, 2.0]);
        /// # Ok::<(), recur_tensor::TensorError>(())
        /// ```
        abs, Abs
    );
    unary_slice!(
        /// `e^x`.
        ///
        /// ```
        /// let t = recur_tensor::Tensor::from_vec(vec![0.0f64], &[1])?;
        /// assert_eq!(t.exp().to_vec(), vec![1.0]);
        /// # Ok::<(), recur_tensor::TensorError>(())
        /// ```
        exp, exp_slice
    );
    unary!(
        /// Natural log (`-inf` at 0, NaN below, as IEEE says).
        ///
        /// ```
        /// let t = recur_tensor::Tensor::from_vec(vec![1.0f64], &[1])?;
        /// assert_eq!(t.ln().to_vec(), vec![0.0]);
        /// # Ok::<(), recur_tensor::TensorError>(())
        /// ```
        ln, Ln
    );
    unary!(
        /// Square root.
        ///
        /// ```
        /// let t = recur_tensor::Tensor::from_vec(vec![4.0f64], &[1])?;
        /// assert_eq!(t.sqrt().to_vec(), vec![2.0]);
        /// # Ok::<(), recur_tensor::TensorError>(())
        /// ```
        sqrt, Sqrt
    );
    unary_slice!(
        /// Hyperbolic tangent, into (-1, 1).
        ///
        /// ```
        /// let t = recur_tensor::Tensor::from_vec(vec![0.0f64, 100.0], &[2])?;
        /// assert_eq!(t.tanh().to_vec(), vec![0.0, 1.0]);
        /// # Ok::<(), recur_tensor::TensorError>(())
        /// ```
        tanh, tanh_slice
    );
    unary!(
        /// The logistic sigmoid `1 / (1 + e^-x)`, stable for large |x|.
        ///
        /// ```
        /// let t = recur_tensor::Tensor::from_vec(vec![0.0f64, -1000.0], &[2])?;
        /// assert_eq!(t.sigmoid().to_vec(), vec![0.5, 0.0]);
        /// # Ok::<(), recur_tensor::TensorError>(())
        /// ```
        sigmoid, Sigmoid
    );
    unary!(
        /// `max(x, 0)` (NaN stays NaN).
        ///
        /// ```
        /// let t = recur_tensor::Tensor::from_vec(vec![-1.0f32, 2.0], &[2])?;
        /// assert_eq!(t.relu().to_vec(), vec![0.0, 2.0]);
        /// # Ok::<(), recur_tensor::TensorError>(())
        /// ```
        relu, Relu
    );
    unary!(
        /// `1 / x`.
        ///
        /// ```
        /// let t = recur_tensor::Tensor::from_vec(vec![4.0f32], &[1])?;
        /// assert_eq!(t.recip().to_vec(), vec![0.25]);
        /// # Ok::<(), recur_tensor::TensorError>(())
        /// ```
        recip, Recip
    );
    unary!(
        /// `x * x`.
        ///
        /// ```
        /// let t = recur_tensor::Tensor::from_vec(vec![-3.0f32], &[1])?;
        /// assert_eq!(t.square().to_vec(), vec![9.0]);
        /// # Ok::<(), recur_tensor::TensorError>(())
        /// ```
        square, Square
    );

    /// `x^e` for a scalar exponent.
    ///
    /// ```
    /// let t = recur_tensor::Tensor::from_vec(vec![2.0f64, 9.0], &[2])?;
    /// assert_eq!(t.powf(0.5).to_vec(), vec![2f64.sqrt(), 3.0]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn powf(&self, e: T) -> Self {
        self.map_op(Unary::Powf(e))
    }

    /// Clamps every element into `[lo, hi]`, like `torch.clamp` (NaN stays NaN).
    ///
    /// # Errors
    /// When a bound is NaN or `lo > hi`.
    ///
    /// ```
    /// let t = recur_tensor::Tensor::from_vec(vec![-5.0f32, 0.5, 5.0], &[3])?;
    /// assert_eq!(t.clamp(-1.0, 1.0)?.to_vec(), vec![-1.0, 0.5, 1.0]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn clamp(&self, lo: T, hi: T) -> Result<Self> {
        if lo.is_nan() || hi.is_nan() || lo > hi {
            return Err(TensorError::InvalidArgument {
                op: "clamp",
                msg: format!("min {lo} must not exceed max {hi} (shape {})", self.shape()),
            });
        }
        Ok(self.map_op(Unary::Clamp(lo, hi)))
    }

    /// `x + s` for a scalar `s`.
    pub fn add_scalar(&self, s: T) -> Self {
        self.map_op(Unary::AddScalar(s))
    }
    /// `x - s` for a scalar `s`.
    pub fn sub_scalar(&self, s: T) -> Self {
        self.map_op(Unary::SubScalar(s))
    }
    /// `x * s` for a scalar `s`.
    ///
    /// ```
    /// let t = recur_tensor::Tensor::from_vec(vec![1.0f32, 2.0], &[2])?;
    /// assert_eq!(t.mul_scalar(3.0).to_vec(), vec![3.0, 6.0]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn mul_scalar(&self, s: T) -> Self {
        self.map_op(Unary::MulScalar(s))
    }
    /// `x / s` for a scalar `s`.
    pub fn div_scalar(&self, s: T) -> Self {
        self.map_op(Unary::DivScalar(s))
    }
    /// `s - x` for a scalar `s`.
    pub fn rsub_scalar(&self, s: T) -> Self {
        self.map_op(Unary::RsubScalar(s))
    }
}
