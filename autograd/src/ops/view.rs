//! Views and shape ops: broadcast_to / sum_to_shape (an adjoint pair), reshape, transpose,
//! permute, narrow, select, squeeze, unsqueeze.

use crate::error::Result;
use crate::tape::{Backward, InputGrads, Var};
use recur_tensor::{Dim, Float, Shape, Tensor};
use smallvec::smallvec;

impl<'t, T: Float> Var<'t, T> {
    /// The explicit broadcast node: a stride-0 view; its backward is `sum_to_shape`.
    ///
    /// # Errors
    /// When the shape is not reachable by broadcasting.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Var<'t, T>> {
        if self.dims() == shape {
            return Ok(self.clone());
        }
        let y = self.value.broadcast_to(shape)?;
        Var::record("broadcast_to", &[self], y, SumTo(self.shape().clone()))
    }

    /// Sums over broadcast dims down to `shape`; its backward is `broadcast_to`.
    ///
    /// # Errors
    /// When `shape` does not broadcast to this var's shape.
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Var<'t, T>> {
        if self.dims() == shape {
            return Ok(self.clone());
        }
        let y = self.value.sum_to_shape(shape)?;
        Var::record(
            "sum_to_shape",
            &[self],
            y,
            BroadcastTo(self.shape().clone()),
        )
    }

    /// The same elements with a new shape (`Tensor::reshape`).
    ///
    /// # Errors
    /// When the element counts differ.
    pub fn reshape(&self, shape: &[usize]) -> Result<Var<'t, T>> {
        let y = self.value.reshape(shape)?;
        Var::record("reshape", &[self], y, Reshape(self.shape().clone()))
    }

    /// Swaps two dims.
    ///
    /// # Errors
    /// When a dim is out of range.
    pub fn transpose<D: Dim>(&self, d0: D, d1: D) -> Result<Var<'t, T>> {
        let a = d0.resolve("transpose", self.dims())?;
        let b = d1.resolve("transpose", self.dims())?;
        let y = self.value.transpose(a, b)?;
        Var::record("transpose", &[self], y, Transpose(a, b))
    }

    /// The transpose of a 2-D var.
    ///
    /// # Errors
    /// When the var is not 2-D.
    pub fn t(&self) -> Result<Var<'t, T>> {
        let y = self.value.t()?;
        Var::record("transpose", &[self], y, Transpose(0, 1))
    }

    /// Reorders dims; backward applies the inverse permutation.
    ///
    /// # Errors
    /// When `dims` is not a permutation.
    pub fn permute<D: Dim>(&self, dims: &[D]) -> Result<Var<'t, T>> {
        let y = self.value.permute(dims)?;
        let mut inverse = vec![0usize; dims.len()];
        for (i, d) in dims.iter().enumerate() {
            inverse[d.resolve("permute", self.dims())?] = i;
        }
        Var::record("permute", &[self], y, Permute(inverse))
    }

    /// Elements `start..start + len` along `dim`; backward pads the gradient with zeros.
    ///
    /// # Errors
    /// When the dim or range is out of bounds.
    pub fn narrow<D: Dim>(&self, dim: D, start: usize, len: usize) -> Result<Var<'t, T>> {
        let d = dim.resolve("narrow", self.dims())?;
        let y = self.value.narrow(d, start, len)?;
        Var::record(
            "narrow",
            &[self],
            y,
            Narrow {
                input: self.shape().clone(),
                dim: d,
                start,
                squeezed: false,
            },
        )
    }

    /// The slice at `index` along `dim`, dim removed; backward scatters into zeros.
    ///
    /// # Errors
    /// When the dim or index is out of range.
    pub fn select<D: Dim>(&self, dim: D, index: usize) -> Result<Var<'t, T>> {
        let d = dim.resolve("select", self.dims())?;
        let y = self.value.select(d, index)?;
        Var::record(
            "select",
            &[self],
            y,
            Narrow {
                input: self.shape().clone(),
                dim: d,
                start: index,
                squeezed: true,
            },
        )
    }

    /// Inserts a size-1 dim.
    ///
    /// # Errors
    /// When the dim is out of range.
    pub fn unsqueeze<D: Dim>(&self, dim: D) -> Result<Var<'t, T>> {
        let y = self.value.unsqueeze(dim)?;
        Var::record("unsqueeze", &[self], y, Reshape(self.shape().clone()))
    }

    /// Removes a size-1 dim (no-op on other sizes).
    ///
    /// # Errors
    /// When the dim is out of range.
    pub fn squeeze<D: Dim>(&self, dim: D) -> Result<Var<'t, T>> {
        let y = self.value.squeeze(dim)?;
        Var::record("squeeze", &[self], y, Reshape(self.shape().clone()))
    }

    /// Flattens into one dim.
    ///
    /// # Errors
    /// Only in anomaly mode.
    pub fn flatten(&self) -> Result<Var<'t, T>> {
        self.reshape(&[self.value.numel()])
    }
}

struct SumTo(Shape);
impl<T: Float> Backward<T> for SumTo {
    fn backward(&self, g: &Tensor<T>, _: &[bool]) -> Result<InputGrads<T>> {
        Ok(smallvec![Some(g.sum_to_shape(&self.0)?)])
    }
}

struct BroadcastTo(Shape);
impl<T: Float> Backward<T> for BroadcastTo {
    fn backward(&self, g: &Tensor<T>, _: &[bool]) -> Result<InputGrads<T>> {
        Ok(smallvec![Some(g.broadcast_to(&self.0)?)])
    }
}

struct Reshape(Shape);
impl<T: Float> Backward<T> for Reshape {
    fn backward(&self, g: &Tensor<T>, _: &[bool]) -> Result<InputGrads<T>> {
        Ok(smallvec![Some(g.reshape(&self.0)?)])
    }
}

struct Transpose(usize, usize);
impl<T: Float> Backward<T> for Transpose {
    fn backward(&self, g: &Tensor<T>, _: &[bool]) -> Result<InputGrads<T>> {
        Ok(smallvec![Some(g.transpose(self.0, self.1)?)])
    }
}

struct Permute(Vec<usize>);
impl<T: Float> Backward<T> for Permute {
    fn backward(&self, g: &Tensor<T>, _: &[bool]) -> Result<InputGrads<T>> {
        Ok(smallvec![Some(g.permute(&self.0)?)])
    }
}

/// Backward of narrow/select: the gradient placed at `start` along `dim` in zeros.
struct Narrow {
    input: Shape,
    dim: usize,
    start: usize,
    squeezed: bool,
}
impl<T: Float> Backward<T> for Narrow {
    fn backward(&self, g: &Tensor<T>, _: &[bool]) -> Result<InputGrads<T>> {
        Ok(smallvec![Some(pad_along(
            g,
            &self.input,
            self.dim,
            self.start,
            self.squeezed
        )?)])
    }
}

/// Zeros of `input` shape with `g` written at `start..` along `dim` (`g` lacks `dim` when
/// `squeezed`).
pub(crate) fn pad_along<T: Float>(
    g: &Tensor<T>,
    input: &Shape,
    dim: usize,
    start: usize,
    squeezed: bool,
) -> Result<Tensor<T>> {
    let g = if squeezed {
        g.unsqueeze(dim)?
    } else {
        g.clone()
    };
    let len = g.dims()[dim];
    let total = input.dims()[dim];
    let mut before = input.dims().to_vec();
    before[dim] = start;
    let mut after = input.dims().to_vec();
    after[dim] = total - start - len;
    Ok(Tensor::concat(
        &[&Tensor::zeros(&before), &g, &Tensor::zeros(&after)],
        dim,
    )?)
}
