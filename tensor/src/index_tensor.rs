//! [`IndexTensor`]: integer indices (PyTorch's `int64` tensors) for gather, index_select,
//! one_hot, argmax results and class targets.

use crate::error::{Result, TensorError};
use crate::shape::Shape;
use std::sync::Arc;

/// A contiguous n-d array of `i64` indices, cheap to clone.
///
/// ```
/// use recur_tensor::IndexTensor;
/// let idx = IndexTensor::from_vec(vec![2, 0, 1], &[3])?;
/// assert_eq!(idx.dims(), &[3]);
/// assert_eq!(idx.as_slice(), &[2, 0, 1]);
/// # Ok::<(), recur_tensor::TensorError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct IndexTensor {
    shape: Shape,
    data: Arc<Vec<i64>>,
}

impl IndexTensor {
    /// Indices of `shape` in row-major order.
    ///
    /// # Errors
    /// When `data.len()` is not the product of `shape`.
    pub fn from_vec(data: Vec<i64>, shape: &[usize]) -> Result<Self> {
        let shape = Shape::from(shape);
        let numel = crate::tensor::checked_numel("IndexTensor::from_vec", &shape)?;
        if data.len() != numel {
            return Err(TensorError::LengthMismatch {
                op: "IndexTensor::from_vec",
                len: data.len(),
                shape,
                numel,
            });
        }
        Ok(IndexTensor {
            shape,
            data: Arc::new(data),
        })
    }

    /// A 1-D index tensor from `usize` indices.
    ///
    /// # Panics
    /// If an index exceeds `i64::MAX` (no tensor dimension can be that large).
    ///
    /// ```
    /// let idx = recur_tensor::IndexTensor::from_usizes(&[3, 1]);
    /// assert_eq!(idx.as_slice(), &[3, 1]);
    /// ```
    pub fn from_usizes(ix: &[usize]) -> Self {
        let data = ix
            .iter()
            .map(|&i| i64::try_from(i).expect("index exceeds i64::MAX"))
            .collect::<Vec<_>>();
        IndexTensor {
            shape: Shape::from([ix.len()]),
            data: Arc::new(data),
        }
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }
    /// The sizes.
    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }
    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.shape.rank()
    }
    /// Number of indices.
    pub fn numel(&self) -> usize {
        self.data.len()
    }
    /// The indices in row-major order.
    pub fn as_slice(&self) -> &[i64] {
        &self.data
    }
    /// The indices, copied out.
    pub fn to_vec(&self) -> Vec<i64> {
        self.data.to_vec()
    }
    /// The same indices with a new shape of equal size.
    ///
    /// # Errors
    /// When the element counts differ.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        let to = Shape::from(shape);
        if crate::tensor::checked_numel("reshape", &to).ok() != Some(self.numel()) {
            return Err(TensorError::Reshape {
                op: "reshape",
                from: self.shape.clone(),
                numel: self.numel(),
                to: to.to_string(),
            });
        }
        Ok(IndexTensor {
            shape: to,
            data: self.data.clone(),
        })
    }

    /// Checks every index lies in `0..size`, naming `op` otherwise.
    pub(crate) fn check_range(
        &self,
        op: &'static str,
        dim: usize,
        size: usize,
        shape: &Shape,
    ) -> Result<()> {
        match self
            .data
            .iter()
            .find(|&&i| i < 0 || i as u64 >= size as u64)
        {
            Some(&bad) => Err(TensorError::IndexOutOfRange {
                op,
                index: bad as isize,
                dim,
                size,
                shape: shape.clone(),
            }),
            None => Ok(()),
        }
    }
}
