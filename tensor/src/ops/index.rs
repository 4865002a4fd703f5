//! Joining, splitting and indexing: `concat`/`stack`, `split`/`split_sizes`/`chunk` (views),
//! `index_select`/`index_add` and `gather`/`scatter_add` (each pair an adjoint pair),
//! `one_hot` and `masked_fill`.

use super::reduce::{split3, values};
use crate::error::{Result, TensorError};
use crate::float::Float;
use crate::index_tensor::IndexTensor;
use crate::shape::{
    Dim, Layout, Shape, contiguous_strides, for_each_index, for_each_index2, resolve_dim,
};
use crate::tensor::{Tensor, checked_numel};

impl<T: Float> Tensor<T> {
    /// Joins tensors along an existing `dim`, like `torch.cat`. All tensors must have the same
    /// rank and the same size in every other dim. (PyTorch's legacy rule that skips 1-D empty
    /// tensors of another rank is not reproduced.)
    ///
    /// Shape rule: `[a, n1, b] ++ [a, n2, b] -> [a, n1 + n2, b]`.
    ///
    /// # Errors
    /// [`TensorError::EmptyList`] for no tensors; [`TensorError::Rank`] for 0-D tensors;
    /// [`TensorError::DimOutOfRange`]; [`TensorError::ShapeMismatch`] naming the first shape
    /// and the first one that differs.
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
    /// let b = Tensor::from_vec(vec![5.0f32, 6.0], &[2, 1])?;
    /// let c = Tensor::concat(&[&a, &b], 1)?;
    /// assert_eq!(c.dims(), &[2, 3]);
    /// assert_eq!(c.to_vec(), vec![1.0, 2.0, 5.0, 3.0, 4.0, 6.0]);
    /// let e = Tensor::concat(&[&a, &b], 0).unwrap_err();
    /// assert_eq!(
    ///     e.to_string(),
    ///     "concat: shape mismatch: [2, 2] vs [2, 1] (tensor 1: sizes must match except in dim 0)"
    /// );
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn concat<D: Dim>(tensors: &[&Self], dim: D) -> Result<Self> {
        let op = "concat";
        let first = *tensors.first().ok_or(TensorError::EmptyList { op })?;
        if first.rank() == 0 {
            return Err(TensorError::Rank {
                op,
                expected: "tensors of at least 1 dim",
                shape: first.shape().clone(),
            });
        }
        let d = dim.resolve(op, first.dims())?;
        let mut total = 0usize;
        for (i, t) in tensors.iter().enumerate() {
            let same = t.rank() == first.rank()
                && t.dims()
                    .iter()
                    .zip(first.dims())
                    .enumerate()
                    .all(|(k, (a, b))| k == d || a == b);
            if !same {
                return Err(TensorError::ShapeMismatch {
                    op,
                    lhs: first.shape().clone(),
                    rhs: t.shape().clone(),
                    detail: format!(" (tensor {i}: sizes must match except in dim {d})"),
                });
            }
            total = total
                .checked_add(t.dims()[d])
                .ok_or_else(|| too_large(op, first.shape()))?;
        }
        let mut shape = first.shape().clone();
        shape.0[d] = total;
        let numel = checked_numel(op, &shape)?;
        let mut out = Vec::with_capacity(numel);
        if numel > 0 {
            let (outer, _, inner) = split3(first.dims(), d);
            let parts: Vec<_> = tensors
                .iter()
                .map(|t| (values(t), t.dims()[d] * inner))
                .collect();
            for o in 0..outer {
                for (x, len) in &parts {
                    out.extend_from_slice(&x[o * len..(o + 1) * len]);
                }
            }
        }
        Ok(Tensor::from_contiguous(out, shape))
    }

    /// Joins equally shaped tensors along a new dim `dim` (`0..=rank`, negative counts from
    /// the back), like `torch.stack`.
    ///
    /// Shape rule: `n` tensors of `[a, b]` stacked at dim 1 give `[a, n, b]`.
    ///
    /// # Errors
    /// [`TensorError::EmptyList`] for no tensors; [`TensorError::DimOutOfRange`];
    /// [`TensorError::ShapeMismatch`] when the shapes differ.
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0], &[2])?;
    /// let b = Tensor::from_vec(vec![3.0f32, 4.0], &[2])?;
    /// assert_eq!(Tensor::stack(&[&a, &b], 0)?.to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
    /// let s = Tensor::stack(&[&a, &b], -1)?;
    /// assert_eq!(s.dims(), &[2, 2]);
    /// assert_eq!(s.to_vec(), vec![1.0, 3.0, 2.0, 4.0]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn stack<D: Dim>(tensors: &[&Self], dim: D) -> Result<Self> {
        let op = "stack";
        let first = *tensors.first().ok_or(TensorError::EmptyList { op })?;
        let d = resolve_dim(dim.signed(), op, first.dims(), first.rank() + 1)?;
        let mut views = Vec::with_capacity(tensors.len());
        for (i, t) in tensors.iter().enumerate() {
            if t.shape() != first.shape() {
                return Err(TensorError::ShapeMismatch {
                    op,
                    lhs: first.shape().clone(),
                    rhs: t.shape().clone(),
                    detail: format!(" (tensor {i}: all tensors must have the same shape)"),
                });
            }
            views.push(t.unsqueeze(d)?);
        }
        let refs: Vec<&Self> = views.iter().collect();
        Self::concat(&refs, d)
    }

    /// Splits into views of `split_size` along `dim`, the last one smaller if the size does
    /// not divide evenly, like `torch.split(x, split_size, dim)`. A zero-sized dim gives one
    /// empty piece.
    ///
    /// Shape rule: `[a, 5]` split by 2 along dim 1 gives `[a, 2], [a, 2], [a, 1]`.
    ///
    /// # Errors
    /// When `dim` is out of range, or `split_size` is 0 and the dim is not
    /// ([`TensorError::InvalidArgument`]).
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let x = Tensor::arange(0.0f32, 5.0, 1.0)?;
    /// let parts = x.split(2, 0)?;
    /// assert_eq!(parts.len(), 3);
    /// assert_eq!(parts[2].to_vec(), vec![4.0]);
    /// assert!(parts[0].shares_storage(&x));
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn split<D: Dim>(&self, split_size: usize, dim: D) -> Result<Vec<Self>> {
        let op = "split";
        let d = dim.resolve(op, self.dims())?;
        let size = self.dims()[d];
        if split_size == 0 {
            if size > 0 {
                return Err(TensorError::InvalidArgument {
                    op,
                    msg: format!(
                        "split_size can only be 0 if the dim is 0-sized, but dim {d} has size {size} in shape {}",
                        self.shape()
                    ),
                });
            }
            return Ok(vec![self.clone()]);
        }
        let pieces = size.div_ceil(split_size).max(1);
        (0..pieces)
            .map(|i| {
                let start = i * split_size;
                self.narrow(d, start, split_size.min(size - start))
            })
            .collect()
    }

    /// Splits into views of the given `sizes` along `dim`, like
    /// `torch.split(x, [s0, s1, ...], dim)`.
    ///
    /// Shape rule: `[a, 5]` split by `[2, 3]` along dim 1 gives `[a, 2], [a, 3]`.
    ///
    /// # Errors
    /// When `dim` is out of range, or the sizes do not sum to the dim's size
    /// ([`TensorError::InvalidArgument`]).
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let x = Tensor::arange(0.0f32, 6.0, 1.0)?.reshape(&[2, 3])?;
    /// let parts = x.split_sizes(&[1, 2], 1)?;
    /// assert_eq!(parts[0].to_vec(), vec![0.0, 3.0]);
    /// assert_eq!(parts[1].to_vec(), vec![1.0, 2.0, 4.0, 5.0]);
    /// assert!(x.split_sizes(&[1, 1], 1).is_err());
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn split_sizes<D: Dim>(&self, sizes: &[usize], dim: D) -> Result<Vec<Self>> {
        let op = "split_sizes";
        let d = dim.resolve(op, self.dims())?;
        let size = self.dims()[d];
        if sizes.iter().try_fold(0usize, |a, &s| a.checked_add(s)) != Some(size) {
            return Err(TensorError::InvalidArgument {
                op,
                msg: format!(
                    "sizes {sizes:?} must sum to {size}, the size of dim {d} in shape {}",
                    self.shape()
                ),
            });
        }
        let mut start = 0;
        sizes
            .iter()
            .map(|&len| {
                let piece = self.narrow(d, start, len);
                start += len;
                piece
            })
            .collect()
    }

    /// Splits into `chunks` views of (nearly) equal size along `dim`, like `torch.chunk`:
    /// each piece has `ceil(size / chunks)` elements along `dim` except the last, so fewer than
    /// `chunks` pieces may come back (size 5 in 4 chunks gives 2, 2, 1). A zero-sized dim gives
    /// `chunks` empty pieces.
    ///
    /// Shape rule: `[6, b]` in 3 chunks along dim 0 gives three `[2, b]`.
    ///
    /// # Errors
    /// When `dim` is out of range or `chunks` is 0 ([`TensorError::InvalidArgument`]).
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let x = Tensor::arange(0.0f32, 5.0, 1.0)?;
    /// let sizes: Vec<usize> = x.chunk(4, 0)?.iter().map(|c| c.numel()).collect();
    /// assert_eq!(sizes, vec![2, 2, 1]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn chunk<D: Dim>(&self, chunks: usize, dim: D) -> Result<Vec<Self>> {
        let op = "chunk";
        let d = dim.resolve(op, self.dims())?;
        if chunks == 0 {
            return Err(TensorError::InvalidArgument {
                op,
                msg: format!(
                    "chunks must be greater than 0, got 0 (shape {})",
                    self.shape()
                ),
            });
        }
        let size = self.dims()[d];
        if size == 0 {
            let mut out = Vec::new();
            out.try_reserve_exact(chunks)
                .map_err(|_| TensorError::InvalidArgument {
                    op,
                    msg: format!(
                        "{chunks} chunks of shape {} do not fit in memory",
                        self.shape()
                    ),
                })?;
            out.extend((0..chunks).map(|_| self.clone()));
            return Ok(out);
        }
        self.split(size.div_ceil(chunks), d)
    }

    /// Picks the slices at `index` along `dim`, like `torch.index_select`. Indices may repeat
    /// and come in any order; negative indices are rejected (as in PyTorch).
    ///
    /// Shape rule: `self [a, n, b]`, `index [k]` → `[a, k, b]`. A 0-D index counts as `[1]`.
    ///
    /// # Errors
    /// When `dim` is out of range, the index has rank above 1 ([`TensorError::Rank`]), or an
    /// index is outside `0..n` ([`TensorError::IndexOutOfRange`]).
    ///
    /// ```
    /// use recur_tensor::{IndexTensor, Tensor};
    /// let emb = Tensor::from_vec(vec![0.0f32, 0.5, 1.0, 1.5, 2.0, 2.5], &[3, 2])?;
    /// let idx = IndexTensor::from_vec(vec![2, 0, 2], &[3])?;
    /// assert_eq!(emb.index_select(0, &idx)?.to_vec(), vec![2.0, 2.5, 0.0, 0.5, 2.0, 2.5]);
    /// assert_eq!(emb.index_select(1, &IndexTensor::from_usizes(&[1]))?.to_vec(), vec![0.5, 1.5, 2.5]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn index_select<D: Dim>(&self, dim: D, index: &IndexTensor) -> Result<Self> {
        let op = "index_select";
        let d = dim.resolve(op, self.dims())?;
        vector_index(op, index)?;
        index.check_range(op, d, self.dims()[d], self.shape())?;
        let k = index.numel();
        let mut shape = self.shape().clone();
        shape.0[d] = k;
        let numel = checked_numel(op, &shape)?;
        let mut out = Vec::with_capacity(numel);
        if numel > 0 {
            let (outer, n, inner) = split3(self.dims(), d);
            let x = values(self);
            for o in 0..outer {
                for &i in index.as_slice() {
                    let at = (o * n + i as usize) * inner;
                    out.extend_from_slice(&x[at..at + inner]);
                }
            }
        }
        Ok(Tensor::from_contiguous(out, shape))
    }

    /// `self` plus `src` scattered along `dim` at the rows named by `index`, like
    /// `torch.index_add` (not in place): `out[.., index[j], ..] += src[.., j, ..]`. Repeated
    /// indices accumulate. This is the adjoint of [`Tensor::index_select`].
    ///
    /// Shape rule: `self [a, n, b]`, `index [k]`, `src [a, k, b]` → `[a, n, b]`.
    ///
    /// # Errors
    /// When `dim` is out of range, the index has rank above 1, `src` does not have `self`'s
    /// shape with `index.numel()` in `dim` ([`TensorError::ShapeMismatch`]), or an index is
    /// outside `0..n`.
    ///
    /// ```
    /// use recur_tensor::{IndexTensor, Tensor};
    /// let x = Tensor::<f32>::zeros(&[3, 2]);
    /// let idx = IndexTensor::from_vec(vec![2, 0, 2], &[3])?;
    /// let src = Tensor::from_vec(vec![1.0f32, 1.0, 2.0, 2.0, 3.0, 3.0], &[3, 2])?;
    /// assert_eq!(x.index_add(0, &idx, &src)?.to_vec(), vec![2.0, 2.0, 0.0, 0.0, 4.0, 4.0]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn index_add<D: Dim>(&self, dim: D, index: &IndexTensor, src: &Self) -> Result<Self> {
        let op = "index_add";
        let d = dim.resolve(op, self.dims())?;
        vector_index(op, index)?;
        let k = index.numel();
        let expected = self
            .dims()
            .iter()
            .enumerate()
            .map(|(i, &s)| if i == d { k } else { s });
        if src.rank() != self.rank() || !src.dims().iter().copied().eq(expected) {
            return Err(TensorError::ShapeMismatch {
                op,
                lhs: self.shape().clone(),
                rhs: src.shape().clone(),
                detail: format!(
                    " (src must match self except in dim {d}, where it needs index.numel() = {k})"
                ),
            });
        }
        let (outer, n, inner) = split3(self.dims(), d);
        index.check_range(op, d, n, self.shape())?;
        let mut out = self.to_vec();
        if src.numel() > 0 {
            let s = values(src);
            for o in 0..outer {
                for (j, &i) in index.as_slice().iter().enumerate() {
                    let at = (o * n + i as usize) * inner;
                    let from = (o * k + j) * inner;
                    for (y, &v) in out[at..at + inner].iter_mut().zip(&s[from..from + inner]) {
                        *y += v;
                    }
                }
            }
        }
        Ok(Tensor::from_contiguous(out, self.shape().clone()))
    }

    /// Gathers values along `dim`, like `torch.gather`:
    /// `out[i][j][k] = self[index[i][j][k]][j][k]` for `dim == 0`, and so on.
    ///
    /// Shape rule: `index` has `self`'s rank and `index.size(d) <= self.size(d)` for every
    /// `d != dim`; the output has `index`'s shape.
    ///
    /// # Errors
    /// When `dim` is out of range, the ranks differ or an index size exceeds `self`'s
    /// ([`TensorError::ShapeMismatch`]), or an index is outside `0..self.size(dim)`.
    ///
    /// ```
    /// use recur_tensor::{IndexTensor, Tensor};
    /// let logp = Tensor::from_vec(vec![0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6], &[2, 3])?;
    /// let target = IndexTensor::from_vec(vec![2, 0], &[2, 1])?;
    /// assert_eq!(logp.gather(1, &target)?.to_vec(), vec![0.3, 0.4]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn gather<D: Dim>(&self, dim: D, index: &IndexTensor) -> Result<Self> {
        let op = "gather";
        let d = dim.resolve(op, self.dims())?;
        check_index_shape(op, "self", self.shape(), index, Some(d))?;
        index.check_range(op, d, self.dims()[d], self.shape())?;
        // Walk `self` restricted to the index's shape with `dim` frozen at 0, then step along
        // `dim` by each index.
        let l = self.layout();
        let mut strides = l.strides.clone();
        strides[d] = 0;
        let walk = Layout {
            shape: index.shape().clone(),
            strides,
            offset: l.offset,
        };
        let (st, ix, step) = (self.storage(), index.as_slice(), l.strides[d]);
        let mut out = Vec::with_capacity(index.numel());
        for_each_index(&walk, |p| {
            out.push(st[p + ix[out.len()] as usize * step]);
        });
        Ok(Tensor::from_contiguous(out, index.shape().clone()))
    }

    /// `self` plus `src` scattered along `dim` by `index`, like `torch.scatter_add` (not in
    /// place): `out[index[i][j][k]][j][k] += src[i][j][k]` for `dim == 0`, and so on. Repeated
    /// indices accumulate. This is the adjoint of [`Tensor::gather`].
    ///
    /// Shape rule: `index`, `src` and `self` have one rank; `index.size(d) <= src.size(d)` for
    /// every `d` and `index.size(d) <= self.size(d)` for `d != dim`; only the part of `src`
    /// covered by `index` is used. The output has `self`'s shape.
    ///
    /// # Errors
    /// When `dim` is out of range, the ranks or sizes do not fit
    /// ([`TensorError::ShapeMismatch`]), or an index is outside `0..self.size(dim)`.
    ///
    /// ```
    /// use recur_tensor::{IndexTensor, Tensor};
    /// let z = Tensor::<f32>::zeros(&[2, 3]);
    /// let target = IndexTensor::from_vec(vec![2, 0], &[2, 1])?;
    /// let g = Tensor::from_vec(vec![1.0f32, 5.0], &[2, 1])?;
    /// assert_eq!(z.scatter_add(1, &target, &g)?.to_vec(), vec![0.0, 0.0, 1.0, 5.0, 0.0, 0.0]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn scatter_add<D: Dim>(&self, dim: D, index: &IndexTensor, src: &Self) -> Result<Self> {
        let op = "scatter_add";
        let d = dim.resolve(op, self.dims())?;
        check_index_shape(op, "self", self.shape(), index, Some(d))?;
        check_index_shape(op, "src", src.shape(), index, None)?;
        index.check_range(op, d, self.dims()[d], self.shape())?;
        let mut out = self.to_vec();
        let ostrides = contiguous_strides(self.dims());
        let step = ostrides[d];
        let mut wstrides = ostrides;
        wstrides[d] = 0;
        let walk_out = Layout {
            shape: index.shape().clone(),
            strides: wstrides,
            offset: 0,
        };
        let sl = src.layout();
        let walk_src = Layout {
            shape: index.shape().clone(),
            strides: sl.strides.clone(),
            offset: sl.offset,
        };
        let (ss, ix) = (src.storage(), index.as_slice());
        let mut k = 0;
        for_each_index2(&walk_out, &walk_src, |po, ps| {
            out[po + ix[k] as usize * step] += ss[ps];
            k += 1;
        });
        Ok(Tensor::from_contiguous(out, self.shape().clone()))
    }

    /// One-hot encoding, like `torch.nn.functional.one_hot`: 1 at each index, 0 elsewhere.
    ///
    /// Shape rule: `index [..]` → `[.., num_classes]`.
    ///
    /// # Errors
    /// When an index is outside `0..num_classes` ([`TensorError::IndexOutOfRange`]), or the
    /// result would be too large to address ([`TensorError::InvalidArgument`]).
    ///
    /// ```
    /// use recur_tensor::{IndexTensor, Tensor};
    /// let y = IndexTensor::from_vec(vec![2, 0], &[2])?;
    /// let t = Tensor::<f32>::one_hot(&y, 3)?;
    /// assert_eq!(t.dims(), &[2, 3]);
    /// assert_eq!(t.to_vec(), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn one_hot(index: &IndexTensor, num_classes: usize) -> Result<Self> {
        let op = "one_hot";
        let mut shape = index.shape().clone();
        shape.0.push(num_classes);
        let numel = checked_numel(op, &shape)?;
        index.check_range(op, index.rank(), num_classes, &shape)?;
        let mut out = vec![T::ZERO; numel];
        for (k, &i) in index.as_slice().iter().enumerate() {
            out[k * num_classes + i as usize] = T::ONE;
        }
        Ok(Tensor::from_contiguous(out, shape))
    }

    /// `value` where `mask` is nonzero (NaN counts as nonzero), `self` elsewhere, like
    /// `torch.masked_fill` (not in place).
    ///
    /// Shape rule: `mask` broadcasts to `self`'s shape; the output has `self`'s shape.
    ///
    /// # Errors
    /// When `mask` does not broadcast to `self` ([`TensorError::BroadcastTo`]).
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
    /// let keep_first = Tensor::from_vec(vec![0.0f32, 1.0], &[2])?;
    /// let y = x.masked_fill(&keep_first, f32::NEG_INFINITY)?;
    /// assert_eq!(y.to_vec(), vec![1.0, f32::NEG_INFINITY, 3.0, f32::NEG_INFINITY]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn masked_fill(&self, mask: &Self, value: T) -> Result<Self> {
        let op = "masked_fill";
        let m = mask
            .broadcast_to(self.dims())
            .map_err(|_| TensorError::BroadcastTo {
                op,
                from: mask.shape().clone(),
                to: self.shape().clone(),
            })?;
        Ok(self.zip_same(&m, |x, c| if c != T::ZERO { value } else { x }))
    }
}

/// An index for `index_select`/`index_add` must be 1-D (or 0-D, read as one index).
fn vector_index(op: &'static str, index: &IndexTensor) -> Result<()> {
    if index.rank() > 1 {
        return Err(TensorError::Rank {
            op,
            expected: "a 1-D index",
            shape: index.shape().clone(),
        });
    }
    Ok(())
}

/// `gather`/`scatter_add`'s shape rule: `index` has the rank of `other` (`self` or `src`) and
/// is no larger in any dim, except `dim` when given.
fn check_index_shape(
    op: &'static str,
    name: &str,
    other: &Shape,
    index: &IndexTensor,
    dim: Option<usize>,
) -> Result<()> {
    let err = |detail: String| TensorError::ShapeMismatch {
        op,
        lhs: other.clone(),
        rhs: index.shape().clone(),
        detail,
    };
    if index.rank() != other.rank() {
        return Err(err(format!(" (index must have the same rank as {name})")));
    }
    for (k, (&i, &s)) in index.dims().iter().zip(other.dims()).enumerate() {
        if Some(k) != dim && i > s {
            return Err(err(format!(
                " (index.size({k}) = {i} exceeds {name}.size({k}) = {s})"
            )));
        }
    }
    Ok(())
}

/// The error for sizes that overflow `usize`.
fn too_large(op: &'static str, shape: &Shape) -> TensorError {
    TensorError::InvalidArgument {
        op,
        msg: format!("the result for shape {shape} has more elements than fit in memory"),
    }
}

#[cfg(test)]
mod tests {
    use crate::{IndexTensor, Tensor};

    #[test]
    fn gather_and_scatter_add_on_views() {
        let x = Tensor::<f64>::arange(0.0, 12.0, 1.0)
            .unwrap()
            .reshape(&[3, 4])
            .unwrap();
        let xt = x.t().unwrap(); // [4, 3], strided
        let idx = IndexTensor::from_vec(vec![2, 0, 1, 1], &[2, 2]).unwrap();
        // out[i][j] = xt[i][idx[i][j]] = x[idx[i][j]][i]
        assert_eq!(
            xt.gather(1, &idx).unwrap().to_vec(),
            vec![8.0, 0.0, 5.0, 5.0]
        );
        let src = Tensor::<f64>::ones(&[3, 3]).narrow(1, 1, 2).unwrap(); // strided [3, 2]
        let out = Tensor::<f64>::zeros(&[4, 3])
            .scatter_add(1, &idx, &src)
            .unwrap();
        assert_eq!(
            out.to_vec(),
            vec![1.0, 0.0, 1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn splitting_empty_dims() {
        let e = Tensor::<f32>::zeros(&[0, 3]);
        assert_eq!(e.split(2, 0).unwrap().len(), 1);
        assert_eq!(e.split(0, 0).unwrap().len(), 1);
        assert_eq!(e.chunk(3, 0).unwrap().len(), 3);
        assert!(e.split(0, 1).is_err());
        // A dim of size > 0 next to a zero-sized one: pieces are empty views.
        let z = Tensor::<f32>::zeros(&[3, 0]);
        let parts = z.split(1, 0).unwrap();
        assert_eq!(parts.len(), 3);
        for p in &parts {
            assert_eq!(p.dims(), &[1, 0]);
            assert_eq!(p.to_vec(), Vec::<f32>::new());
        }
        assert_eq!(
            Tensor::concat(&[&parts[2], &parts[0]], 0).unwrap().dims(),
            &[2, 0]
        );
    }

    #[test]
    fn concat_of_huge_empty_views_does_not_loop() {
        let e = Tensor::<f32>::zeros(&[0]).reshape(&[1 << 40, 0]).unwrap();
        assert_eq!(Tensor::concat(&[&e, &e], 1).unwrap().dims(), &[1 << 40, 0]);
    }
}
