//! Tensor operations, one family per file. Every kernel here is plain (no gradients).

pub mod binary;
pub mod index;
pub mod matmul;
pub mod reduce;
pub mod softmax;
pub mod unary;

use crate::float::Float;
use crate::shape::{for_each_index, for_each_index2};
use crate::tensor::Tensor;

impl<T: Float> Tensor<T> {
    /// Applies `f` to every element, giving a new contiguous tensor of the same shape.
    ///
    /// ```
    /// let t = recur_tensor::Tensor::from_vec(vec![1.0f32, -2.0], &[2])?;
    /// assert_eq!(t.map(|v| v * 3.0).to_vec(), vec![3.0, -6.0]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn map(&self, f: impl Fn(T) -> T) -> Self {
        let data = match self.as_slice() {
            Some(s) => {
                let mut out = crate::pool::buffer(s.len());
                out.extend(s.iter().map(|&v| f(v)));
                out
            }
            None => {
                let st = self.storage();
                let mut out = crate::pool::buffer(self.numel());
                for_each_index(self.layout(), |i| out.push(f(st[i])));
                out
            }
        };
        Tensor::from_contiguous(data, self.shape().clone())
    }

    /// `op` of every element (see [`crate::kernels`]).
    pub(crate) fn map_op(&self, op: crate::kernels::Unary<T>) -> Self {
        Tensor::from_contiguous(
            T::unary(op, self.storage(), self.layout()),
            self.shape().clone(),
        )
    }

    /// `op` of pairs of elements of two tensors of the same shape (see [`crate::kernels`]).
    pub(crate) fn zip_op(&self, other: &Self, op: crate::kernels::Binary) -> Self {
        debug_assert_eq!(self.shape(), other.shape());
        let data = T::binary(
            op,
            self.storage(),
            self.layout(),
            other.storage(),
            other.layout(),
        );
        Tensor::from_contiguous(data, self.shape().clone())
    }

    /// Applies `f` to pairs of elements of two tensors of the **same shape** (no broadcasting:
    /// see the binary ops for that).
    pub(crate) fn zip_same(&self, other: &Self, f: impl Fn(T, T) -> T) -> Self {
        debug_assert_eq!(self.shape(), other.shape());
        let data = match (self.as_slice(), other.as_slice()) {
            (Some(a), Some(b)) => {
                let mut out = crate::pool::buffer(a.len());
                out.extend(a.iter().zip(b).map(|(&x, &y)| f(x, y)));
                out
            }
            _ => {
                let (sa, sb) = (self.storage(), other.storage());
                let mut out = crate::pool::buffer(self.numel());
                for_each_index2(self.layout(), other.layout(), |i, j| {
                    out.push(f(sa[i], sb[j]))
                });
                out
            }
        };
        Tensor::from_contiguous(data, self.shape().clone())
    }
}
