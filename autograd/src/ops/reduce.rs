//! Reductions: sum, mean, max, min (over any set of dims, keepdim or not).

use crate::error::Result;
use crate::tape::{Backward, InputGrads, Var};
use recur_tensor::{Dim, Float, Shape, Tensor};
use smallvec::smallvec;

/// The shape of a reduction's result with the reduced dims kept as 1 (`dims` empty: all).
fn keepdim_shape(input: &Shape, dims: &[usize]) -> Vec<usize> {
    input
        .dims()
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            if dims.is_empty() || dims.contains(&i) {
                1
            } else {
                d
            }
        })
        .collect()
}

fn resolve<D: Dim>(op: &'static str, dims: &[D], shape: &[usize]) -> Result<Vec<usize>> {
    dims.iter()
        .map(|d| d.resolve(op, shape).map_err(Into::into))
        .collect()
}

impl<'t, T: Float> Var<'t, T> {
    /// Sum over `dims` (empty: all dims); backward broadcasts the gradient back.
    ///
    /// # Errors
    /// When a dim is out of range or repeated.
    ///
    /// ```
    /// use recur_autograd::Tape;
    /// use recur_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::ones(&[2, 3]));
    /// let s = x.sum(&[1], false)?;                 // [3., 3.]
    /// let g = tape.backward(&s.mul(&s)?.sum_all())?;
    /// assert_eq!(g.of(&x).unwrap().to_vec(), vec![6.0; 6]);
    /// # Ok::<(), recur_autograd::AutogradError>(())
    /// ```
    pub fn sum<D: Dim>(&self, dims: &[D], keepdim: bool) -> Result<Var<'t, T>> {
        let y = self.value.sum(dims, keepdim)?;
        let d = resolve("sum", dims, self.dims())?;
        let back = Spread {
            input: self.shape().clone(),
            kept: keepdim_shape(self.shape(), &d),
            scale: T::ONE,
        };
        Var::record("sum", &[self], y, back)
    }

    /// Sum of all elements (0-D).
    pub fn sum_all(&self) -> Var<'t, T> {
        let back = Spread {
            input: self.shape().clone(),
            kept: keepdim_shape(self.shape(), &[]),
            scale: T::ONE,
        };
        self.record_unary("sum", self.value.sum_all(), back)
    }

    /// Mean over `dims` (empty: all dims).
    ///
    /// # Errors
    /// When a dim is out of range or repeated.
    pub fn mean<D: Dim>(&self, dims: &[D], keepdim: bool) -> Result<Var<'t, T>> {
        let y = self.value.mean(dims, keepdim)?;
        let d = resolve("mean", dims, self.dims())?;
        let kept = keepdim_shape(self.shape(), &d);
        let n = self.value.numel() / kept.iter().product::<usize>().max(1);
        let back = Spread {
            input: self.shape().clone(),
            kept,
            scale: T::ONE / T::from_usize(n),
        };
        Var::record("mean", &[self], y, back)
    }

    /// Mean of all elements (0-D).
    pub fn mean_all(&self) -> Var<'t, T> {
        let n = self.value.numel();
        let back = Spread {
            input: self.shape().clone(),
            kept: keepdim_shape(self.shape(), &[]),
            scale: T::ONE / T::from_usize(n),
        };
        self.record_unary("mean", self.value.mean_all(), back)
    }

    /// Max over `dims`; the gradient is split evenly among tied maxima (like `torch.amax`).
    ///
    /// # Errors
    /// When a dim is out of range, or a reduced dim is empty.
    pub fn max<D: Dim>(&self, dims: &[D], keepdim: bool) -> Result<Var<'t, T>> {
        self.extremum(dims, keepdim, true)
    }

    /// Min over `dims`; the gradient is split evenly among tied minima.
    ///
    /// # Errors
    /// When a dim is out of range, or a reduced dim is empty.
    pub fn min<D: Dim>(&self, dims: &[D], keepdim: bool) -> Result<Var<'t, T>> {
        self.extremum(dims, keepdim, false)
    }

    fn extremum<D: Dim>(&self, dims: &[D], keepdim: bool, max: bool) -> Result<Var<'t, T>> {
        let (name, y) = if max {
            ("max", self.value.max(dims, keepdim)?)
        } else {
            ("min", self.value.min(dims, keepdim)?)
        };
        let d = resolve(name, dims, self.dims())?;
        let kept = keepdim_shape(self.shape(), &d);
        // 1 at every position that attains the extremum, divided by how many do.
        let hit = self.value.eq_mask(&y.reshape(&kept)?)?;
        let count = hit.sum(&d, true)?;
        let weights = hit.div(&count)?;
        Var::record(name, &[self], y, Pick { weights, kept })
    }
}

/// Backward of sum/mean: the gradient broadcast back over the reduced dims, times `scale`.
struct Spread<T: Float> {
    input: Shape,
    kept: Vec<usize>,
    scale: T,
}
impl<T: Float> Backward<T> for Spread<T> {
    fn backward(&self, g: &Tensor<T>, _: &[bool]) -> Result<InputGrads<T>> {
        let g = g.reshape(&self.kept)?.broadcast_to(&self.input)?;
        Ok(smallvec![Some(if self.scale == T::ONE {
            g
        } else {
            g.mul_scalar(self.scale)
        })])
    }
}

/// Backward of max/min: the gradient routed to the winning positions.
struct Pick<T: Float> {
    weights: Tensor<T>,
    kept: Vec<usize>,
}
impl<T: Float> Backward<T> for Pick<T> {
    fn backward(&self, g: &Tensor<T>, _: &[bool]) -> Result<InputGrads<T>> {
        Ok(smallvec![Some(self.weights.mul(&g.reshape(&self.kept)?)?)])
    }
}
