//! Matrix products: `matmul` (2-D, batched with broadcast batch dims, 1-D promoted as in
//! `torch.matmul`) and the in-place `gemm` entry point. All products run through
//! [`crate::gemm`], which reads strided and transposed operands directly (no copies here).

use crate::error::{Result, TensorError};
use crate::float::Float;
use crate::gemm::{self, MatMut, MatRef};
use crate::shape::{Layout, Shape, broadcast_shapes, for_each_index2};
use crate::tensor::Tensor;

type Kernel<T> = fn(T, MatRef<'_, T>, MatRef<'_, T>, T, MatMut<'_, T>);

impl<T: Float> Tensor<T> {
    /// Matrix product with `torch.matmul`'s rules: 2-D × 2-D is a matrix product; leading
    /// (batch) dims broadcast; a 1-D operand is a row (left) or column (right) vector whose
    /// dim is removed from the result. Transposed and narrowed views are read in place.
    ///
    /// # Errors
    /// When an operand is 0-D, the inner dims differ (`matmul: inner dims differ: [32, 65] @
    /// [128, 64]`), or the batch dims do not broadcast.
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// let b = Tensor::from_vec(vec![1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2])?;
    /// assert_eq!(a.matmul(&b)?.to_vec(), vec![4.0, 5.0, 10.0, 11.0]);
    /// // A transposed view is not copied before the product.
    /// assert_eq!(a.matmul(&a.t()?)?.to_vec(), vec![14.0, 32.0, 32.0, 77.0]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn matmul(&self, other: &Self) -> Result<Self> {
        self.matmul_with(other, gemm::gemm::<T>)
    }

    /// This 2-D tensor as a GEMM operand: a strided view of its storage, no copy (transposed
    /// and narrowed views included).
    ///
    /// # Errors
    /// When the tensor is not 2-D.
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let w = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// let wt = w.t()?;
    /// let m = wt.as_mat()?;
    /// assert_eq!((m.rows, m.cols, m.rs, m.cs), (3, 2, 1, 3));
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn as_mat(&self) -> Result<MatRef<'_, T>> {
        if self.rank() != 2 {
            return Err(TensorError::Rank {
                op: "as_mat",
                expected: "a 2-D tensor",
                shape: self.shape().clone(),
            });
        }
        let l = self.layout();
        Ok(MatRef {
            data: self.storage(),
            offset: l.offset,
            rows: l.dims()[0],
            cols: l.dims()[1],
            rs: l.strides[0],
            cs: l.strides[1],
        })
    }

    /// `z += x W^T` for this 2-D tensor `W` of shape `(out, in)`, `x` of `in` values and `z`
    /// of `out`: one matrix-vector product reading `W` in place (a linear layer's or a
    /// recurrent step's product at batch 1).
    ///
    /// # Errors
    /// When `W` is not 2-D or the lengths do not fit (`matvec_acc: [4, 3] with x of 2 and z
    /// of 4`).
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let w = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// let mut z = vec![1.0, 1.0];
    /// w.matvec_acc(&[1.0, 0.0, 1.0], &mut z)?;
    /// assert_eq!(z, vec![5.0, 11.0]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn matvec_acc(&self, x: &[T], z: &mut [T]) -> Result<()> {
        let w = self.as_mat()?;
        if x.len() != w.cols || z.len() != w.rows {
            return Err(TensorError::InvalidArgument {
                op: "matvec_acc",
                msg: format!(
                    "{} with x of {} and z of {}",
                    self.shape(),
                    x.len(),
                    z.len()
                ),
            });
        }
        let (out, inp) = (w.rows, w.cols);
        gemm::gemm(
            T::ONE,
            MatRef::row_major(x, 1, inp),
            w.t(),
            T::ONE,
            MatMut::row_major(z, 1, out),
        );
        Ok(())
    }

    /// The same product through the naive triple loop: the reference the tests compare the
    /// fast kernels against.
    ///
    /// # Errors
    /// As for [`Tensor::matmul`].
    pub fn matmul_naive(&self, other: &Self) -> Result<Self> {
        self.matmul_with(other, gemm::gemm_naive::<T>)
    }

    fn matmul_with(&self, other: &Self, kernel: Kernel<T>) -> Result<Self> {
        let op = "matmul";
        let inner_err = || TensorError::MatmulInner {
            op,
            lhs: self.shape().clone(),
            rhs: other.shape().clone(),
        };
        if self.rank() == 0 || other.rank() == 0 {
            let s = if self.rank() == 0 { self } else { other };
            return Err(TensorError::Rank {
                op,
                expected: "both operands at least 1-D",
                shape: s.shape().clone(),
            });
        }
        let a = if self.rank() == 1 {
            self.unsqueeze(0usize)?
        } else {
            self.clone()
        };
        let b = if other.rank() == 1 {
            other.unsqueeze(1usize)?
        } else {
            other.clone()
        };
        let (ra, rb) = (a.rank(), b.rank());
        let (m, k) = (a.dims()[ra - 2], a.dims()[ra - 1]);
        let (k2, n) = (b.dims()[rb - 2], b.dims()[rb - 1]);
        if k != k2 {
            return Err(inner_err());
        }
        let batch =
            broadcast_shapes(op, &a.dims()[..ra - 2], &b.dims()[..rb - 2]).map_err(|_| {
                TensorError::Broadcast {
                    op,
                    lhs: self.shape().clone(),
                    rhs: other.shape().clone(),
                }
            })?;
        let mut a_shape = batch.0.clone();
        a_shape.extend_from_slice(&[m, k]);
        let mut b_shape = batch.0.clone();
        b_shape.extend_from_slice(&[k, n]);
        let a = a.broadcast_to(&a_shape)?;
        let b = b.broadcast_to(&b_shape)?;
        let nb = batch.numel();
        // Every element is written (beta = 0 never reads C).
        let mut out = crate::pool::scratch(nb * m * n);
        // Walk the batch dims of both operands together; each step is one 2-D product.
        let batch_layout = |l: &Layout| Layout {
            shape: batch.clone(),
            strides: l.strides[..batch.rank()].into(),
            offset: l.offset,
        };
        let (la, lb) = (a.layout(), b.layout());
        let mut bi = 0usize;
        for_each_index2(&batch_layout(la), &batch_layout(lb), |oa, ob| {
            let ar = MatRef {
                data: a.storage(),
                offset: oa,
                rows: m,
                cols: k,
                rs: la.strides[ra_of(la)],
                cs: la.strides[ra_of(la) + 1],
            };
            let br = MatRef {
                data: b.storage(),
                offset: ob,
                rows: k,
                cols: n,
                rs: lb.strides[ra_of(lb)],
                cs: lb.strides[ra_of(lb) + 1],
            };
            let c = MatMut {
                data: &mut out[bi * m * n..(bi + 1) * m * n],
                offset: 0,
                rows: m,
                cols: n,
                rs: n,
                cs: 1,
            };
            kernel(T::ONE, ar, br, T::ZERO, c);
            bi += 1;
        });
        let mut out_shape = batch.0.clone();
        if self.rank() > 1 {
            out_shape.push(m);
        }
        if other.rank() > 1 {
            out_shape.push(n);
        }
        Ok(Tensor::from_contiguous(out, Shape(out_shape)))
    }

    /// `c = alpha * a @ b + beta * c` for 2-D operands, writing into `c` (BLAS's GEMM). With
    /// `beta == 0` the old contents of `c` are not read (NaN there does not propagate).
    ///
    /// # Errors
    /// When an operand is not 2-D, the inner dims differ, or `c` is not `[rows(a), cols(b)]`.
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f64, 2.0], &[1, 2])?;
    /// let b = Tensor::from_vec(vec![3.0f64, 4.0], &[2, 1])?;
    /// let mut c = Tensor::from_vec(vec![100.0f64], &[1, 1])?;
    /// Tensor::gemm(2.0, &a, &b, 1.0, &mut c)?;
    /// assert_eq!(c.to_vec(), vec![122.0]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn gemm(alpha: T, a: &Self, b: &Self, beta: T, c: &mut Self) -> Result<()> {
        let op = "gemm";
        for t in [a, b, &*c] {
            if t.rank() != 2 {
                return Err(TensorError::Rank {
                    op,
                    expected: "2-D operands",
                    shape: t.shape().clone(),
                });
            }
        }
        let (m, k, n) = (a.dims()[0], a.dims()[1], b.dims()[1]);
        if b.dims()[0] != k {
            return Err(TensorError::MatmulInner {
                op,
                lhs: a.shape().clone(),
                rhs: b.shape().clone(),
            });
        }
        if c.dims() != [m, n] {
            return Err(TensorError::ShapeMismatch {
                op,
                lhs: Shape::from([m, n]),
                rhs: c.shape().clone(),
                detail: " (the output must have shape [rows(a), cols(b)])".into(),
            });
        }
        let ar = mat_ref(a);
        let br = mat_ref(b);
        let data = c.data_mut();
        gemm::gemm(
            alpha,
            ar,
            br,
            beta,
            MatMut {
                data,
                offset: 0,
                rows: m,
                cols: n,
                rs: n,
                cs: 1,
            },
        );
        Ok(())
    }
}

/// Index of the first matrix dim of a layout of rank >= 2.
fn ra_of(l: &Layout) -> usize {
    l.rank() - 2
}

/// A 2-D tensor as a strided matrix reference.
pub(crate) fn mat_ref<T: Float>(t: &Tensor<T>) -> MatRef<'_, T> {
    let l = t.layout();
    MatRef {
        data: t.storage(),
        offset: l.offset,
        rows: l.dims()[0],
        cols: l.dims()[1],
        rs: l.strides[0],
        cs: l.strides[1],
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn matmul_vector_rules_and_errors() {
        let a = Tensor::<f64>::arange(0.0, 6.0, 1.0)
            .unwrap()
            .reshape(&[2, 3])
            .unwrap();
        let v = Tensor::<f64>::from_vec(vec![1.0, 1.0, 1.0], &[3]).unwrap();
        assert_eq!(a.matmul(&v).unwrap().to_vec(), vec![3.0, 12.0]);
        assert_eq!(v.matmul(&v).unwrap().dims(), &[] as &[usize]);
        let e = Tensor::<f32>::zeros(&[32, 65])
            .matmul(&Tensor::zeros(&[128, 64]))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "matmul: inner dims differ: [32, 65] @ [128, 64]"
        );
        let e = Tensor::<f32>::zeros(&[2, 2, 3])
            .matmul(&Tensor::zeros(&[3, 3, 4]))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "matmul: shapes cannot be broadcast together: [2, 2, 3] and [3, 3, 4]"
        );
        let z = Tensor::<f32>::zeros(&[4, 0])
            .matmul(&Tensor::zeros(&[0, 5]))
            .unwrap();
        assert_eq!(z.to_vec(), vec![0.0; 20]);
    }
}
