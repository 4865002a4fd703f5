//! Matrix products, 2-D and batched; 1-D operands promoted as in `torch.matmul`.

use crate::error::Result;
use crate::tape::{Backward, InputGrads, Var};
use recur_tensor::{Float, Tensor, TensorError, broadcast_shapes};
use smallvec::smallvec;

impl<'t, T: Float> Var<'t, T> {
    /// Matrix product with `torch.matmul`'s rules. Batch dims broadcast through explicit
    /// broadcast nodes, so the product node itself sees equal batch dims and its backward is
    /// two products: `grad_lhs = grad_out @ rhs^T`, `grad_rhs = lhs^T @ grad_out` (each
    /// skipped when its input needs no gradient).
    ///
    /// # Errors
    /// As for [`Tensor::matmul`]: 0-D operands, inner dims that differ, batch dims that do
    /// not broadcast.
    ///
    /// ```
    /// use recur_autograd::Tape;
    /// use recur_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let a = tape.leaf(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?);
    /// let b = tape.leaf(Tensor::eye(2));
    /// let g = tape.backward(&a.matmul(&b)?.sum_all())?;
    /// assert_eq!(g.of(&b).unwrap().to_vec(), vec![4.0, 4.0, 6.0, 6.0]);
    /// # Ok::<(), recur_autograd::AutogradError>(())
    /// ```
    pub fn matmul(&self, other: &Var<'t, T>) -> Result<Var<'t, T>> {
        let (ra, rb) = (self.rank(), other.rank());
        if ra == 0 || rb == 0 {
            // Let the tensor op produce its error.
            self.value.matmul(&other.value)?;
        }
        let a = if ra == 1 {
            self.unsqueeze(0usize)?
        } else {
            self.clone()
        };
        let b = if rb == 1 {
            other.unsqueeze(1usize)?
        } else {
            other.clone()
        };
        let (ma, mb) = (a.rank(), b.rank());
        if a.dims()[ma - 1] != b.dims()[mb - 2] {
            return Err(TensorError::MatmulInner {
                op: "matmul",
                lhs: self.shape().clone(),
                rhs: other.shape().clone(),
            }
            .into());
        }
        let (a, b) = if ma > 2 || mb > 2 {
            let batch = broadcast_shapes("matmul", &a.dims()[..ma - 2], &b.dims()[..mb - 2])
                .map_err(|_| TensorError::Broadcast {
                    op: "matmul",
                    lhs: self.shape().clone(),
                    rhs: other.shape().clone(),
                })?;
            let full = |v: &Var<'t, T>| {
                let mut s = batch.dims().to_vec();
                s.extend_from_slice(&v.dims()[v.rank() - 2..]);
                s
            };
            (a.broadcast_to(&full(&a))?, b.broadcast_to(&full(&b))?)
        } else {
            (a, b)
        };
        let y = a.value.matmul(&b.value)?;
        let back = MatmulBackward {
            lhs: b.requires_grad().then(|| a.value.clone()),
            rhs: a.requires_grad().then(|| b.value.clone()),
        };
        let mut out = Var::record("matmul", &[&a, &b], y, back)?;
        if rb == 1 {
            out = out.squeeze(-1isize)?;
        }
        if ra == 1 {
            out = out.squeeze(if rb == 1 { -1isize } else { -2 })?;
        }
        Ok(out)
    }
}

struct MatmulBackward<T: Float> {
    lhs: Option<Tensor<T>>,
    rhs: Option<Tensor<T>>,
}
impl<T: Float> Backward<T> for MatmulBackward<T> {
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Result<InputGrads<T>> {
        let grad_lhs = match (&self.rhs, needs[0]) {
            (Some(b), true) => Some(g.matmul(&b.transpose(-1isize, -2)?)?),
            _ => None,
        };
        let grad_rhs = match (&self.lhs, needs[1]) {
            (Some(a), true) => Some(a.transpose(-1isize, -2)?.matmul(g)?),
            _ => None,
        };
        Ok(smallvec![grad_lhs, grad_rhs])
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// The affine map of a linear layer, `x W^T + b`, as one node: `x` is `(N, in)`, `weight`
    /// `(out, in)`, `bias` `(out)`. Its backward is three products that all come out
    /// contiguous: `grad_x = g W`, `grad_W = g^T x`, `grad_b = sum_rows(g)` (a transposed
    /// matmul would leave `grad_W` as a strided view).
    ///
    /// # Errors
    /// When the shapes do not fit (`linear: inner dims differ: ...`).
    ///
    /// ```
    /// use recur_autograd::Tape;
    /// use recur_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![1.0, 2.0], &[1, 2])?);
    /// let w = tape.leaf(Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2])?);
    /// let b = tape.leaf(Tensor::from_vec(vec![0.5, 0.5, 0.5], &[3])?);
    /// let y = x.linear(&w, Some(&b))?;
    /// assert_eq!(y.value().to_vec(), vec![1.5, 2.5, 3.5]);
    /// let g = tape.backward(&y.sum_all())?;
    /// assert_eq!(g.of(&w).unwrap().to_vec(), vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
    /// assert!(g.of(&w).unwrap().is_contiguous());
    /// # Ok::<(), recur_autograd::AutogradError>(())
    /// ```
    pub fn linear(&self, weight: &Var<'t, T>, bias: Option<&Var<'t, T>>) -> Result<Var<'t, T>> {
        let op = "linear";
        let (x, w) = (&self.value, &weight.value);
        if x.rank() != 2 || w.rank() != 2 || x.dims()[1] != w.dims()[1] {
            return Err(TensorError::MatmulInner {
                op,
                lhs: x.shape().clone(),
                rhs: w.shape().clone(),
            }
            .into());
        }
        let (n, out) = (x.dims()[0], w.dims()[0]);
        let mut y = match bias {
            Some(b) => {
                if b.dims() != [out] {
                    return Err(TensorError::ShapeMismatch {
                        op,
                        lhs: b.shape().clone(),
                        rhs: w.shape().clone(),
                        detail: " (the bias must have one entry per output row of the weight)"
                            .into(),
                    }
                    .into());
                }
                b.value.broadcast_to(&[n, out])?.contiguous()
            }
            None => Tensor::zeros(&[n, out]),
        };
        let beta = if bias.is_some() { T::ONE } else { T::ZERO };
        Tensor::gemm(T::ONE, x, &w.t()?, beta, &mut y)?;
        let back = LinearBackward {
            x: weight.requires_grad().then(|| x.clone()),
            w: self.requires_grad().then(|| w.clone()),
        };
        match bias {
            Some(b) => Var::record(op, &[self, weight, b], y, back),
            None => Var::record(op, &[self, weight], y, back),
        }
    }
}

struct LinearBackward<T: Float> {
    x: Option<Tensor<T>>,
    w: Option<Tensor<T>>,
}
impl<T: Float> Backward<T> for LinearBackward<T> {
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Result<InputGrads<T>> {
        let grad_x = match (&self.w, needs[0]) {
            (Some(w), true) => Some(g.matmul(w)?),
            _ => None,
        };
        let grad_w = match (&self.x, needs[1]) {
            (Some(x), true) => Some(g.t()?.matmul(x)?),
            _ => None,
        };
        let mut out: InputGrads<T> = smallvec![grad_x, grad_w];
        if needs.len() == 3 {
            out.push(needs[2].then(|| g.sum(&[0usize], false)).transpose()?);
        }
        Ok(out)
    }
}
