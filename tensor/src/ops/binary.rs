//! Elementwise binary ops with NumPy broadcasting, comparisons, `where`, and the `std::ops`
//! operators.

use crate::error::Result;
use crate::float::Float;
use crate::kernels::{Binary, Unary};
use crate::shape::broadcast_shapes;
use crate::tensor::Tensor;

impl<T: Float> Tensor<T> {
    /// `f(a, b)` elementwise after broadcasting both operands to their common shape. The one
    /// place binary ops broadcast.
    ///
    /// # Errors
    /// When the shapes do not broadcast; the message names `op` and both shapes.
    pub fn zip_broadcast(
        &self,
        other: &Self,
        op: &'static str,
        f: impl Fn(T, T) -> T,
    ) -> Result<Self> {
        if self.shape() == other.shape() {
            return Ok(self.zip_same(other, f));
        }
        let out = broadcast_shapes(op, self.dims(), other.dims())?;
        let a = self.broadcast_to(&out)?;
        let b = other.broadcast_to(&out)?;
        Ok(a.zip_same(&b, f))
    }

    /// [`Tensor::zip_broadcast`] for the built-in ops: the loop is compiled in this crate
    /// (see [`crate::kernels`]).
    fn broadcast_op(&self, other: &Self, op: &'static str, bin: Binary) -> Result<Self> {
        if self.shape() == other.shape() {
            return Ok(self.zip_op(other, bin));
        }
        let out = broadcast_shapes(op, self.dims(), other.dims())?;
        let a = self.broadcast_to(&out)?;
        let b = other.broadcast_to(&out)?;
        Ok(a.zip_op(&b, bin))
    }

    /// `self + other` with broadcasting.
    ///
    /// # Errors
    /// When the shapes do not broadcast.
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
    /// let b = Tensor::from_vec(vec![10.0f32, 20.0], &[2])?;
    /// assert_eq!(a.add(&b)?.to_vec(), vec![11.0, 22.0, 13.0, 24.0]);
    /// let e = a.add(&Tensor::zeros(&[3])).unwrap_err();
    /// assert_eq!(e.to_string(), "add: shapes cannot be broadcast together: [2, 2] and [3]");
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn add(&self, other: &Self) -> Result<Self> {
        self.broadcast_op(other, "add", Binary::Add)
    }
    /// `self - other` with broadcasting.
    ///
    /// # Errors
    /// When the shapes do not broadcast.
    pub fn sub(&self, other: &Self) -> Result<Self> {
        self.broadcast_op(other, "sub", Binary::Sub)
    }
    /// `self * other` with broadcasting.
    ///
    /// # Errors
    /// When the shapes do not broadcast.
    pub fn mul(&self, other: &Self) -> Result<Self> {
        self.broadcast_op(other, "mul", Binary::Mul)
    }
    /// `self / other` with broadcasting.
    ///
    /// # Errors
    /// When the shapes do not broadcast.
    pub fn div(&self, other: &Self) -> Result<Self> {
        self.broadcast_op(other, "div", Binary::Div)
    }
    /// Elementwise maximum (NaN if either is NaN), with broadcasting.
    ///
    /// # Errors
    /// When the shapes do not broadcast.
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 5.0], &[2])?;
    /// assert_eq!(a.maximum(&Tensor::scalar(3.0))?.to_vec(), vec![3.0, 5.0]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn maximum(&self, other: &Self) -> Result<Self> {
        self.broadcast_op(other, "maximum", Binary::Maximum)
    }
    /// Elementwise minimum (NaN if either is NaN), with broadcasting.
    ///
    /// # Errors
    /// When the shapes do not broadcast.
    pub fn minimum(&self, other: &Self) -> Result<Self> {
        self.broadcast_op(other, "minimum", Binary::Minimum)
    }

    /// Mask of `self == other` (1 where true, 0 where false), with broadcasting.
    ///
    /// # Errors
    /// When the shapes do not broadcast.
    pub fn eq_mask(&self, other: &Self) -> Result<Self> {
        self.broadcast_op(other, "eq", Binary::Eq)
    }
    /// Mask of `self != other`, with broadcasting.
    ///
    /// # Errors
    /// When the shapes do not broadcast.
    pub fn ne_mask(&self, other: &Self) -> Result<Self> {
        self.broadcast_op(other, "ne", Binary::Ne)
    }
    /// Mask of `self < other`, with broadcasting.
    ///
    /// # Errors
    /// When the shapes do not broadcast.
    pub fn lt_mask(&self, other: &Self) -> Result<Self> {
        self.broadcast_op(other, "lt", Binary::Lt)
    }
    /// Mask of `self <= other`, with broadcasting.
    ///
    /// # Errors
    /// When the shapes do not broadcast.
    pub fn le_mask(&self, other: &Self) -> Result<Self> {
        self.broadcast_op(other, "le", Binary::Le)
    }
    /// Mask of `self > other`, with broadcasting.
    ///
    /// # Errors
    /// When the shapes do not broadcast.
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![-1.0f32, 0.0, 2.0], &[3])?;
    /// assert_eq!(a.gt_mask(&Tensor::scalar(0.0))?.to_vec(), vec![0.0, 0.0, 1.0]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn gt_mask(&self, other: &Self) -> Result<Self> {
        self.broadcast_op(other, "gt", Binary::Gt)
    }
    /// Mask of `self >= other`, with broadcasting.
    ///
    /// # Errors
    /// When the shapes do not broadcast.
    pub fn ge_mask(&self, other: &Self) -> Result<Self> {
        self.broadcast_op(other, "ge", Binary::Ge)
    }

    /// `cond != 0 ? on_true : on_false`, elementwise, all three broadcast together
    /// (`torch.where`).
    ///
    /// # Errors
    /// When the three shapes do not broadcast.
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let c = Tensor::from_vec(vec![1.0f32, 0.0], &[2])?;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0], &[2])?;
    /// assert_eq!(Tensor::where_cond(&c, &a, &Tensor::scalar(-1.0))?.to_vec(), vec![1.0, -1.0]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn where_cond(cond: &Self, on_true: &Self, on_false: &Self) -> Result<Self> {
        let s = broadcast_shapes("where", cond.dims(), on_true.dims())?;
        let s = broadcast_shapes("where", &s, on_false.dims())?;
        let c = cond.broadcast_to(&s)?.to_vec();
        let a = on_true.broadcast_to(&s)?.to_vec();
        let b = on_false.broadcast_to(&s)?.to_vec();
        let data = c
            .iter()
            .zip(a.iter().zip(&b))
            .map(|(&c, (&a, &b))| if c != T::ZERO { a } else { b })
            .collect();
        Ok(Tensor::from_contiguous(data, s))
    }
}

macro_rules! operator {
    ($trait:ident, $method:ident, $named:ident, $scalar:ident) => {
        impl<T: Float> core::ops::$trait<&Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            /// # Panics
            /// When the shapes do not broadcast, with the same text as the named method's error.
            #[track_caller]
            fn $method(self, rhs: &Tensor<T>) -> Tensor<T> {
                match Tensor::$named(self, rhs) {
                    Ok(t) => t,
                    Err(e) => panic!("{e}"),
                }
            }
        }
        impl<T: Float> core::ops::$trait<Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: Tensor<T>) -> Tensor<T> {
                core::ops::$trait::$method(&self, &rhs)
            }
        }
        impl<T: Float> core::ops::$trait<&Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: &Tensor<T>) -> Tensor<T> {
                core::ops::$trait::$method(&self, rhs)
            }
        }
        impl<T: Float> core::ops::$trait<Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: Tensor<T>) -> Tensor<T> {
                core::ops::$trait::$method(self, &rhs)
            }
        }
        impl<T: Float> core::ops::$trait<T> for &Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, rhs: T) -> Tensor<T> {
                self.map_op(Unary::$scalar(rhs))
            }
        }
        impl<T: Float> core::ops::$trait<T> for Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, rhs: T) -> Tensor<T> {
                self.map_op(Unary::$scalar(rhs))
            }
        }
    };
}

operator!(Add, add, add, AddScalar);
operator!(Sub, sub, sub, SubScalar);
operator!(Mul, mul, mul, MulScalar);
operator!(Div, div, div, DivScalar);

impl<T: Float> core::ops::Neg for &Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        Tensor::neg(self)
    }
}
impl<T: Float> core::ops::Neg for Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        Tensor::neg(&self)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    #[should_panic(expected = "mul: shapes cannot be broadcast together: [2] and [3]")]
    fn operator_panics_with_error_text() {
        let _ = &Tensor::<f32>::zeros(&[2]) * &Tensor::zeros(&[3]);
    }

    #[test]
    fn broadcast_with_zero_sized_dim() {
        let a = Tensor::<f64>::zeros(&[0, 3]);
        let b = Tensor::<f64>::ones(&[1, 3]);
        assert_eq!(a.add(&b).unwrap().dims(), &[0, 3]);
    }
}
