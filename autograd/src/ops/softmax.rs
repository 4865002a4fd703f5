//! softmax and log_softmax along a dim (numerically stable).

use crate::error::Result;
use crate::tape::{Backward, InputGrads, Var};
use recur_tensor::{Dim, Float, Tensor};
use smallvec::smallvec;

impl<'t, T: Float> Var<'t, T> {
    /// Softmax along `dim`; backward `y * (g - sum(g * y))` from the saved output.
    ///
    /// # Errors
    /// When `dim` is out of range.
    pub fn softmax<D: Dim>(&self, dim: D) -> Result<Var<'t, T>> {
        let d = dim.resolve("softmax", self.dims())?;
        let y = self.value.softmax(d)?;
        Var::record("softmax", &[self], y.clone(), Softmax { y, dim: d })
    }

    /// log-softmax along `dim`; backward `g - softmax * sum(g)` from the saved output.
    ///
    /// # Errors
    /// When `dim` is out of range.
    ///
    /// ```
    /// use recur_autograd::Tape;
    /// use recur_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![1e4, 0.0], &[2])?);
    /// let y = x.log_softmax(0)?;
    /// assert_eq!(y.value().to_vec(), vec![0.0, -1e4]);   // finite at |x| = 1e4
    /// # Ok::<(), recur_autograd::AutogradError>(())
    /// ```
    pub fn log_softmax<D: Dim>(&self, dim: D) -> Result<Var<'t, T>> {
        let d = dim.resolve("log_softmax", self.dims())?;
        let y = self.value.log_softmax(d)?;
        Var::record("log_softmax", &[self], y.clone(), LogSoftmax { y, dim: d })
    }
}

struct Softmax<T: Float> {
    y: Tensor<T>,
    dim: usize,
}
impl<T: Float> Backward<T> for Softmax<T> {
    fn backward(&self, g: &Tensor<T>, _: &[bool]) -> Result<InputGrads<T>> {
        let gy = g.mul(&self.y)?;
        let s = gy.sum(&[self.dim], true)?;
        Ok(smallvec![Some(gy.sub(&self.y.mul(&s)?)?)])
    }
}

struct LogSoftmax<T: Float> {
    y: Tensor<T>,
    dim: usize,
}
impl<T: Float> Backward<T> for LogSoftmax<T> {
    fn backward(&self, g: &Tensor<T>, _: &[bool]) -> Result<InputGrads<T>> {
        let s = g.sum(&[self.dim], true)?;
        Ok(smallvec![Some(g.sub(&self.y.exp().mul(&s)?)?)])
    }
}
