//! `softmax`, `log_softmax` and `logsumexp` along one dim, all shifted by the lane maximum so
//! that they stay finite for large inputs (`|x| = 1e4` is fine in `f32`).
//!
//! The tensor is viewed as `[outer, n, inner]` blocks with `n` the size of the dim. When the
//! dim is the last one (`inner == 1`) each lane is a contiguous run and is handled in place;
//! otherwise the lane maxima and sums of a block are kept in `inner`-long rows, so the loops
//! still run over contiguous memory.

use super::reduce::{lane_extreme, lanes_at, values};
use crate::error::Result;
use crate::float::Float;
use crate::shape::{Dim, Dims, Shape};
use crate::tensor::Tensor;

/// What is written for each element of a lane, from the element `x`, the lane maximum `m`
/// and the lane's `sum exp(x - m)`.
#[derive(Clone, Copy)]
enum Mode {
    Softmax,
    LogSoftmax,
}

impl<T: Float> Tensor<T> {
    /// `exp(x) / sum(exp(x))` along `dim`, like `torch.softmax`; computed as
    /// `exp(x - max) / sum(exp(x - max))`, so large inputs do not overflow. A lane that is all
    /// `-inf` (or holds a NaN) gives NaN, as in PyTorch. A 0-D tensor accepts dim `0` or `-1`.
    ///
    /// Shape rule: the output has the input's shape.
    ///
    /// # Errors
    /// When `dim` is out of range.
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![0.0f64, 0.0, 1e4, 0.0], &[2, 2])?;
    /// assert_eq!(x.softmax(1)?.to_vec(), vec![0.5, 0.5, 1.0, 0.0]);
    /// let y = x.softmax(0)?.to_vec();
    /// assert_eq!(y, vec![0.0, 0.5, 1.0, 0.5]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn softmax<D: Dim>(&self, dim: D) -> Result<Self> {
        let (outer, n, inner) = lanes_at("softmax", self.dims(), dim)?;
        Ok(Tensor::from_contiguous(
            self.normalize(outer, n, inner, Mode::Softmax),
            self.shape().clone(),
        ))
    }

    /// `log(softmax(x))` along `dim`, like `torch.log_softmax`, computed as
    /// `x - max - log(sum(exp(x - max)))`: finite wherever the inputs are finite, even where
    /// `softmax` underflows to 0. A lane that is all `-inf` gives NaN, as in PyTorch.
    ///
    /// Shape rule: the output has the input's shape.
    ///
    /// # Errors
    /// When `dim` is out of range.
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1e4f32, -1e4], &[2])?;
    /// assert_eq!(x.log_softmax(-1)?.to_vec(), vec![0.0, -2e4]);
    /// let y = Tensor::from_vec(vec![0.0f64, 0.0], &[2])?.log_softmax(0)?;
    /// assert_eq!(y.to_vec(), vec![-(2f64.ln()); 2]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn log_softmax<D: Dim>(&self, dim: D) -> Result<Self> {
        let (outer, n, inner) = lanes_at("log_softmax", self.dims(), dim)?;
        Ok(Tensor::from_contiguous(
            self.normalize(outer, n, inner, Mode::LogSoftmax),
            self.shape().clone(),
        ))
    }

    /// `log(sum(exp(x)))` along `dim`, like `torch.logsumexp`, computed as
    /// `m + log(sum(exp(x - m)))` with `m` the lane maximum (`m` is taken as 0 when the maximum
    /// is infinite, as PyTorch does, so a lane of all `-inf` gives `-inf` and a lane holding
    /// `+inf` gives `+inf`). An empty lane gives `-inf` (the log of an empty sum).
    ///
    /// Shape rule: `dim` is removed, or kept with size 1 when `keepdim` is true.
    ///
    /// # Errors
    /// When `dim` is out of range.
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![0.0f64, 0.0, 1e4, 1e4], &[2, 2])?;
    /// let y = x.logsumexp(1, false)?;
    /// assert_eq!(y.dims(), &[2]);
    /// assert_eq!(y.to_vec(), vec![2f64.ln(), 1e4 + 2f64.ln()]);
    /// assert_eq!(x.logsumexp(0, true)?.dims(), &[1, 2]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn logsumexp<D: Dim>(&self, dim: D, keepdim: bool) -> Result<Self> {
        let (outer, n, inner) = lanes_at("logsumexp", self.dims(), dim)?;
        let out_shape = if self.rank() == 0 {
            Shape::default()
        } else {
            let d = dim.resolve("logsumexp", self.dims())?;
            let mut s: Dims = self.dims().into();
            if keepdim {
                s[d] = 1;
            } else {
                s.remove(d);
            }
            Shape(s)
        };
        if outer * inner == 0 {
            return Ok(Tensor::from_contiguous(Vec::new(), out_shape));
        }
        if n == 0 {
            return Ok(Tensor::full(&out_shape, T::NEG_INFINITY));
        }
        let x = values(self);
        let mut out = Vec::with_capacity(outer * inner);
        if inner == 1 {
            for lane in x.chunks_exact(n) {
                let m = finite_or_zero(lane_max(lane));
                let s: T = lane.iter().map(|&v| (v - m).exp()).sum();
                out.push(m + s.ln());
            }
        } else {
            let mut sum = vec![T::ZERO; inner];
            for block in x.chunks_exact(n * inner) {
                let mut m = rows_max(block, inner);
                m.iter_mut().for_each(|v| *v = finite_or_zero(*v));
                sum.fill(T::ZERO);
                for row in block.chunks_exact(inner) {
                    for ((s, &v), &mj) in sum.iter_mut().zip(row).zip(&m) {
                        *s += (v - mj).exp();
                    }
                }
                out.extend(m.iter().zip(&sum).map(|(&mj, &s)| mj + s.ln()));
            }
        }
        Ok(Tensor::from_contiguous(out, out_shape))
    }

    /// The shared body of `softmax` and `log_softmax` over `[outer, n, inner]` blocks.
    fn normalize(&self, outer: usize, n: usize, inner: usize, mode: Mode) -> Vec<T> {
        if outer * n * inner == 0 {
            return Vec::new();
        }
        let x = values(self);
        let mut out = vec![T::ZERO; x.len()];
        if inner == 1 {
            // Fast path: each lane is a contiguous run.
            for (lane, o) in x.chunks_exact(n).zip(out.chunks_exact_mut(n)) {
                let m = lane_max(lane);
                match mode {
                    Mode::Softmax => {
                        let mut s = T::ZERO;
                        for (o, &v) in o.iter_mut().zip(lane) {
                            *o = (v - m).exp();
                            s += *o;
                        }
                        o.iter_mut().for_each(|o| *o /= s);
                    }
                    Mode::LogSoftmax => {
                        let ln_sum = lane.iter().map(|&v| (v - m).exp()).sum::<T>().ln();
                        for (o, &v) in o.iter_mut().zip(lane) {
                            *o = (v - m) - ln_sum;
                        }
                    }
                }
            }
            return out;
        }
        let mut sum = vec![T::ZERO; inner];
        for (block, o) in x
            .chunks_exact(n * inner)
            .zip(out.chunks_exact_mut(n * inner))
        {
            let m = rows_max(block, inner);
            sum.fill(T::ZERO);
            for (row, orow) in block.chunks_exact(inner).zip(o.chunks_exact_mut(inner)) {
                for (((s, o), &v), &mj) in sum.iter_mut().zip(orow).zip(row).zip(&m) {
                    let e = (v - mj).exp();
                    *s += e;
                    if let Mode::Softmax = mode {
                        *o = e;
                    }
                }
            }
            match mode {
                Mode::Softmax => {
                    for orow in o.chunks_exact_mut(inner) {
                        orow.iter_mut().zip(&sum).for_each(|(o, &s)| *o /= s);
                    }
                }
                Mode::LogSoftmax => {
                    let ln_sum: Vec<T> = sum.iter().map(|s| s.ln()).collect();
                    for (row, orow) in block.chunks_exact(inner).zip(o.chunks_exact_mut(inner)) {
                        for (((o, &v), &mj), &l) in orow.iter_mut().zip(row).zip(&m).zip(&ln_sum) {
                            *o = (v - mj) - l;
                        }
                    }
                }
            }
        }
        out
    }
}

/// The NaN-propagating maximum of a non-empty lane.
fn lane_max<T: Float>(lane: &[T]) -> T {
    lane_extreme::<T, true>(lane)
}

/// The NaN-propagating maxima of the columns of a block of `inner`-long rows.
fn rows_max<T: Float>(block: &[T], inner: usize) -> Vec<T> {
    let mut m = block[..inner].to_vec();
    for row in block[inner..].chunks_exact(inner) {
        m.iter_mut().zip(row).for_each(|(a, &v)| *a = a.max_nan(v));
    }
    m
}

/// `logsumexp`'s shift: the maximum, or 0 when the maximum is infinite (PyTorch's rule).
fn finite_or_zero<T: Float>(m: T) -> T {
    if m == T::INFINITY || m == T::NEG_INFINITY {
        T::ZERO
    } else {
        m
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn infinities_follow_pytorch() {
        let ninf = f64::NEG_INFINITY;
        let x = Tensor::from_vec(vec![ninf, ninf, 0.0, ninf], &[2, 2]).unwrap();
        let s = x.softmax(1).unwrap().to_vec();
        assert!(s[0].is_nan() && s[1].is_nan());
        assert_eq!(&s[2..], &[1.0, 0.0]);
        let l = x.log_softmax(1).unwrap().to_vec();
        assert!(l[0].is_nan() && l[1].is_nan());
        assert_eq!(&l[2..], &[0.0, ninf]);
        assert_eq!(x.logsumexp(1, false).unwrap().to_vec(), vec![ninf, 0.0]);
        let col = x.t().unwrap();
        assert_eq!(col.logsumexp(0, false).unwrap().to_vec(), vec![ninf, 0.0]);
        let p = Tensor::from_vec(vec![f64::INFINITY, 1.0], &[2]).unwrap();
        assert_eq!(
            p.logsumexp(0, false).unwrap().item().unwrap(),
            f64::INFINITY
        );
    }

    #[test]
    fn empty_and_scalar_cases() {
        let e = Tensor::<f32>::zeros(&[3, 0]);
        assert_eq!(e.softmax(1).unwrap().dims(), &[3, 0]);
        assert_eq!(
            e.logsumexp(1, false).unwrap().to_vec(),
            vec![f32::NEG_INFINITY; 3]
        );
        assert_eq!(e.logsumexp(0, true).unwrap().dims(), &[1, 0]);
        let s = Tensor::scalar(5.0f64);
        assert_eq!(s.softmax(0).unwrap().item().unwrap(), 1.0);
        assert_eq!(s.log_softmax(-1).unwrap().item().unwrap(), 0.0);
        assert_eq!(s.logsumexp(0, true).unwrap().item().unwrap(), 5.0);
        assert!(s.softmax(1).is_err());
    }
}
