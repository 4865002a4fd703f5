//! Printing: `Display` like PyTorch's `print(tensor)`, `Debug` showing the layout too.

use crate::float::Float;
use crate::tensor::Tensor;
use core::fmt;

/// Above this many elements, the printout shows only the first and last `EDGE` entries of
/// each dimension, as PyTorch does.
const SUMMARY_THRESHOLD: usize = 1000;
const EDGE: usize = 3;

/// How every element is written, chosen once for the whole tensor (as PyTorch does).
enum Style {
    Int,
    Fixed,
    Sci,
}

fn style<T: Float>(vals: &[T]) -> Style {
    let finite: Vec<f64> = vals
        .iter()
        .map(|v| v.to_f64())
        .filter(|v| v.is_finite())
        .collect();
    if finite.iter().all(|v| v.fract() == 0.0) {
        if finite.iter().any(|v| v.abs() >= 1e8) {
            return Style::Sci;
        }
        return Style::Int;
    }
    let nonzero = finite.iter().map(|v| v.abs()).filter(|&v| v > 0.0);
    let (lo, hi) = nonzero.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if hi >= 1e8 || lo < 1e-4 || hi / lo > 1000.0 {
        Style::Sci
    } else {
        Style::Fixed
    }
}

fn fmt_one<T: Float>(v: T, style: &Style) -> String {
    let x = v.to_f64();
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    match style {
        Style::Int => format!("{x:.0}."),
        Style::Fixed => format!("{x:.4}"),
        Style::Sci => format!("{x:.4e}"),
    }
}

/// Writes one dimension's worth of nested brackets.
struct Printer<'a, T: Float> {
    t: &'a Tensor<T>,
    summarise: bool,
    width: usize,
    style: Style,
}

impl<T: Float> Printer<'_, T> {
    fn shown(&self, n: usize) -> Vec<Option<usize>> {
        if self.summarise && n > 2 * EDGE {
            (0..EDGE)
                .map(Some)
                .chain([None])
                .chain((n - EDGE..n).map(Some))
                .collect()
        } else {
            (0..n).map(Some).collect()
        }
    }

    fn write(
        &self,
        f: &mut fmt::Formatter<'_>,
        idx: &mut Vec<usize>,
        indent: usize,
    ) -> fmt::Result {
        let d = idx.len();
        let n = self.t.dims()[d];
        f.write_str("[")?;
        let last_dim = d + 1 == self.t.rank();
        for (k, i) in self.shown(n).into_iter().enumerate() {
            if k > 0 {
                if last_dim {
                    f.write_str(", ")?;
                } else {
                    f.write_str(",")?;
                    for _ in 0..(self.t.rank() - d - 1) {
                        f.write_str("\n")?;
                    }
                    write!(f, "{:indent$}", "", indent = indent + 1)?;
                }
            }
            match i {
                None => f.write_str("...")?,
                Some(i) => {
                    idx.push(i);
                    if last_dim {
                        let v = self.t.get(idx).map_err(|_| fmt::Error)?;
                        write!(f, "{:>w$}", fmt_one(v, &self.style), w = self.width)?;
                    } else {
                        self.write(f, idx, indent + 1)?;
                    }
                    idx.pop();
                }
            }
        }
        f.write_str("]")
    }
}

impl<T: Float> fmt::Display for Tensor<T> {
    /// Like PyTorch: `tensor([[1., 2.], [3., 4.]])`, summarised with `...` above 1000 elements,
    /// the dtype shown when it is not the default `float32`.
    ///
    /// ```
    /// let t = recur_tensor::Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.5], &[2, 2])?;
    /// assert_eq!(t.to_string(), "tensor([[1.0000, 2.0000],\n        [3.0000, 4.5000]])");
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let summarise = self.numel() > SUMMARY_THRESHOLD;
        let dtype = if T::DTYPE == "float32" {
            String::new()
        } else {
            format!(", dtype=torch.{}", T::DTYPE)
        };
        if self.numel() == 0 {
            return write!(f, "tensor([], size={}{dtype})", self.shape());
        }
        // Choose the style and width from the values that will be shown.
        let vals = self.to_vec();
        let style = style(&vals);
        let width = vals
            .iter()
            .map(|&v| fmt_one(v, &style).len())
            .max()
            .unwrap_or(1);
        f.write_str("tensor(")?;
        if self.rank() == 0 {
            f.write_str(&fmt_one(vals[0], &style))?;
        } else {
            Printer {
                t: self,
                summarise,
                width,
                style,
            }
            .write(f, &mut Vec::new(), 7)?;
        }
        if summarise {
            write!(f, ", size={}", self.shape())?;
        }
        write!(f, "{dtype})")
    }
}

impl<T: Float> fmt::Debug for Tensor<T> {
    /// The layout (shape, strides, offset, storage length) and then the values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = self.layout();
        write!(
            f,
            "Tensor<{}> {{ shape: {}, strides: {:?}, offset: {}, storage_len: {} }} {}",
            T::DTYPE,
            l.shape,
            l.strides.as_slice(),
            l.offset,
            self.storage().len(),
            self
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn prints_like_pytorch() {
        let t = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
        assert_eq!(t.to_string(), "tensor([[1., 2.],\n        [3., 4.]])");
        assert_eq!(
            Tensor::scalar(0.5f64).to_string(),
            "tensor(0.5000, dtype=torch.float64)"
        );
        assert_eq!(
            Tensor::<f32>::zeros(&[2, 0]).to_string(),
            "tensor([], size=[2, 0])"
        );
        let big = Tensor::<f32>::arange(0.0, 2000.0, 1.0).unwrap();
        let s = big.to_string();
        assert!(
            s.starts_with("tensor([   0.,    1.,    2., ..., 1997., 1998., 1999.]"),
            "{s}"
        );
        assert!(s.ends_with(", size=[2000])"), "{s}");
        let d = format!("{:?}", t.t().unwrap());
        assert!(
            d.starts_with("Tensor<float32> { shape: [2, 2], strides: [1, 2], offset: 0"),
            "{d}"
        );
    }
}
