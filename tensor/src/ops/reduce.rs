//! Reductions: `sum`, `mean`, `max`/`min` over a set of dims (with `keepdim`), `argmax`/`argmin`
//! along one dim, [`Tensor::sum_to_shape`] (the adjoint of `broadcast_to`) and the p-norm.
//!
//! Every reduction runs through one driver, `reduce`, which hands a `Reducer` either whole
//! contiguous lanes (one lane per output element) or, when the reduced dims of a contiguous
//! tensor are followed by kept dims, whole rows to fold elementwise. Strided tensors are walked
//! lane by lane through `for_each_index`.

use crate::error::{Result, TensorError};
use crate::float::Float;
use crate::index_tensor::IndexTensor;
use crate::shape::{Dim, Dims, Layout, Shape, for_each_index, resolve_dim, resolve_dims};
use crate::tensor::Tensor;
use smallvec::SmallVec;
use std::borrow::Cow;

impl<T: Float> Tensor<T> {
    /// Sum over `dims` (PyTorch's `torch.sum(x, dim, keepdim)`). An empty `dims` slice sums
    /// over every dim. Negative dims count from the back; a 0-D tensor accepts dim `0` or `-1`.
    ///
    /// Shape rule: each reduced dim is removed, or kept with size 1 when `keepdim` is true.
    /// The sum over a zero-sized dim is 0. Lanes are summed pairwise (blocks of 8 partial sums),
    /// so the rounding error grows like `log n`, not `n`.
    ///
    /// # Errors
    /// When a dim is out of range ([`TensorError::DimOutOfRange`]) or repeated
    /// ([`TensorError::BadDims`]).
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// assert_eq!(x.sum(&[1], false)?.to_vec(), vec![6.0, 15.0]);
    /// assert_eq!(x.sum(&[0], true)?.dims(), &[1, 3]);
    /// assert_eq!(x.sum(&[-2], true)?.to_vec(), vec![5.0, 7.0, 9.0]);
    /// assert_eq!(x.sum::<usize>(&[], false)?.item()?, 21.0);
    /// assert_eq!(Tensor::<f32>::zeros(&[2, 0]).sum(&[1], false)?.to_vec(), vec![0.0, 0.0]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn sum<D: Dim>(&self, dims: &[D], keepdim: bool) -> Result<Self> {
        let plan = Plan::new(self, "sum", dims, keepdim)?;
        Ok(Tensor::from_contiguous(
            reduce(self, &plan.reduced, &Sum),
            plan.out_shape,
        ))
    }

    /// Sum of every element, as a 0-D tensor (0 for an empty tensor).
    ///
    /// Shape rule: `[..] -> []`.
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2])?;
    /// assert_eq!(x.sum_all().dims(), &[] as &[usize]);
    /// assert_eq!(x.t()?.sum_all().item()?, 10.0);
    /// assert_eq!(Tensor::<f64>::zeros(&[0]).sum_all().item()?, 0.0);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn sum_all(&self) -> Self {
        Tensor::scalar(pairwise_sum(&values(self)))
    }

    /// Mean over `dims` (an empty `dims` slice means every dim), like `torch.mean`.
    ///
    /// Shape rule: as for [`Tensor::sum`]. The mean over a zero-sized dim is NaN (0 / 0).
    ///
    /// # Errors
    /// When a dim is out of range or repeated.
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// assert_eq!(x.mean(&[1], false)?.to_vec(), vec![2.0, 5.0]);
    /// assert_eq!(x.mean(&[0], true)?.to_vec(), vec![2.5, 3.5, 4.5]);
    /// assert_eq!(x.mean(&[0, 1], false)?.item()?, 3.5);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn mean<D: Dim>(&self, dims: &[D], keepdim: bool) -> Result<Self> {
        let plan = Plan::new(self, "mean", dims, keepdim)?;
        let n = T::from_usize(plan.n_red);
        let mut out = reduce(self, &plan.reduced, &Sum);
        out.iter_mut().for_each(|v| *v /= n);
        Ok(Tensor::from_contiguous(out, plan.out_shape))
    }

    /// Mean of every element, as a 0-D tensor (NaN for an empty tensor, like PyTorch).
    ///
    /// Shape rule: `[..] -> []`.
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 6.0], &[2, 2])?;
    /// assert_eq!(x.mean_all().item()?, 3.0);
    /// assert!(Tensor::<f64>::zeros(&[0, 3]).mean_all().item()?.is_nan());
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn mean_all(&self) -> Self {
        let s = pairwise_sum(&values(self));
        Tensor::scalar(s / T::from_usize(self.numel()))
    }

    /// Maximum over `dims` (an empty `dims` slice means every dim), like `torch.amax`. NaN
    /// propagates: a lane holding a NaN has maximum NaN.
    ///
    /// Shape rule: as for [`Tensor::sum`].
    ///
    /// # Errors
    /// When a dim is out of range or repeated, or a reduced dim has size 0
    /// ([`TensorError::EmptyReduction`]: a maximum of nothing is undefined).
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 7.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// assert_eq!(x.max(&[1], false)?.to_vec(), vec![7.0, 6.0]);
    /// assert_eq!(x.max(&[0], true)?.to_vec(), vec![4.0, 7.0, 6.0]);
    /// let e = Tensor::<f32>::zeros(&[2, 0]).max(&[1], false).unwrap_err();
    /// assert_eq!(e.to_string(), "max: cannot reduce over a zero-sized dim in shape [2, 0]");
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn max<D: Dim>(&self, dims: &[D], keepdim: bool) -> Result<Self> {
        let plan = Plan::new(self, "max", dims, keepdim)?.nonempty(self)?;
        Ok(Tensor::from_contiguous(
            reduce(self, &plan.reduced, &Extreme { max: true }),
            plan.out_shape,
        ))
    }

    /// Minimum over `dims` (an empty `dims` slice means every dim), like `torch.amin`. NaN
    /// propagates.
    ///
    /// Shape rule: as for [`Tensor::sum`].
    ///
    /// # Errors
    /// When a dim is out of range or repeated, or a reduced dim has size 0.
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 7.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// assert_eq!(x.min(&[-1], false)?.to_vec(), vec![1.0, 4.0]);
    /// assert_eq!(x.min::<usize>(&[], false)?.item()?, 1.0);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn min<D: Dim>(&self, dims: &[D], keepdim: bool) -> Result<Self> {
        let plan = Plan::new(self, "min", dims, keepdim)?.nonempty(self)?;
        Ok(Tensor::from_contiguous(
            reduce(self, &plan.reduced, &Extreme { max: false }),
            plan.out_shape,
        ))
    }

    /// The largest element (NaN if any element is NaN).
    ///
    /// # Errors
    /// When the tensor is empty ([`TensorError::EmptyReduction`]).
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, -7.0, 3.0], &[3])?;
    /// assert_eq!(x.max_all()?, 3.0);
    /// assert!(Tensor::<f32>::zeros(&[0]).max_all().is_err());
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn max_all(&self) -> Result<T> {
        self.extreme_all("max_all", true)
    }

    /// The smallest element (NaN if any element is NaN).
    ///
    /// # Errors
    /// When the tensor is empty ([`TensorError::EmptyReduction`]).
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, -7.0, 3.0], &[3])?;
    /// assert_eq!(x.min_all()?, -7.0);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn min_all(&self) -> Result<T> {
        self.extreme_all("min_all", false)
    }

    fn extreme_all(&self, op: &'static str, max: bool) -> Result<T> {
        if self.numel() == 0 {
            return Err(TensorError::EmptyReduction {
                op,
                shape: self.shape().clone(),
            });
        }
        Ok(Extreme { max }.lane(&values(self)))
    }

    /// Index of the largest element along `dim`, like `torch.argmax(x, dim, keepdim)`. Ties go
    /// to the first occurrence; a NaN counts as larger than everything (the first NaN wins).
    ///
    /// Shape rule: `dim` is removed, or kept with size 1 when `keepdim` is true.
    ///
    /// # Errors
    /// When `dim` is out of range, or has size 0 ([`TensorError::EmptyReduction`]).
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 7.0, 7.0, 9.0, 5.0, 6.0], &[2, 3])?;
    /// assert_eq!(x.argmax(1, false)?.as_slice(), &[1, 0]);
    /// assert_eq!(x.argmax(0, true)?.dims(), &[1, 3]);
    /// assert_eq!(x.argmax(0, true)?.as_slice(), &[1, 0, 0]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn argmax<D: Dim>(&self, dim: D, keepdim: bool) -> Result<IndexTensor> {
        let plan = Plan::new(self, "argmax", &[dim], keepdim)?.nonempty(self)?;
        let idx = reduce(self, &plan.reduced, &ArgExtreme { max: true });
        IndexTensor::from_vec(idx, plan.out_shape.dims())
    }

    /// Index of the smallest element along `dim`, like `torch.argmin`. Ties go to the first
    /// occurrence; a NaN counts as the extreme (the first NaN wins), as in PyTorch.
    ///
    /// Shape rule: `dim` is removed, or kept with size 1 when `keepdim` is true.
    ///
    /// # Errors
    /// When `dim` is out of range, or has size 0 ([`TensorError::EmptyReduction`]).
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 7.0, 0.5, 9.0, 5.0, 5.0], &[2, 3])?;
    /// assert_eq!(x.argmin(-1, false)?.as_slice(), &[2, 1]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn argmin<D: Dim>(&self, dim: D, keepdim: bool) -> Result<IndexTensor> {
        let plan = Plan::new(self, "argmin", &[dim], keepdim)?.nonempty(self)?;
        let idx = reduce(self, &plan.reduced, &ArgExtreme { max: false });
        IndexTensor::from_vec(idx, plan.out_shape.dims())
    }

    /// Sums `self` down to `shape`: the adjoint of [`Tensor::broadcast_to`]. Leading extra dims
    /// are summed away, and so are dims where `shape` has 1 and `self` does not. Returns a clone
    /// of `self` (sharing storage, no copy) when the shapes are already equal.
    ///
    /// Shape rule: the result has shape `shape`, which must broadcast to `self.dims()`.
    ///
    /// # Errors
    /// When `shape` does not broadcast to `self`'s shape ([`TensorError::BroadcastTo`], op
    /// `sum_to_shape`).
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let g = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// assert_eq!(g.sum_to_shape(&[3])?.to_vec(), vec![5.0, 7.0, 9.0]);
    /// assert_eq!(g.sum_to_shape(&[2, 1])?.to_vec(), vec![6.0, 15.0]);
    /// assert_eq!(g.sum_to_shape(&[])?.item()?, 21.0);
    /// let e = g.sum_to_shape(&[2]).unwrap_err();
    /// assert_eq!(e.to_string(), "sum_to_shape: cannot broadcast [2] to [2, 3]");
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Self> {
        if self.dims() == shape {
            return Ok(self.clone());
        }
        Layout::contiguous(Shape::from(shape)).broadcast_to("sum_to_shape", self.dims())?;
        let lead = self.rank() - shape.len();
        let dims: Vec<usize> = (0..self.rank())
            .filter(|&d| d < lead || (shape[d - lead] == 1 && self.dims()[d] != 1))
            .collect();
        let reduced = if dims.is_empty() {
            self.clone()
        } else {
            self.sum(&dims, true)?
        };
        reduced.reshape(shape)
    }

    /// The p-norm of all elements, `(sum |x|^p)^(1/p)`, as `torch.linalg.vector_norm` computes
    /// it: `p = inf` gives `max |x|`, `p = -inf` gives `min |x|`, `p = 0` counts the nonzero
    /// elements. NaN elements (or a NaN `p`) give NaN. An empty tensor has norm 0.
    ///
    /// Accumulates in `f64`, and for `p > 0` scales by `max |x|` when the powers could leave
    /// `f64`'s range, so the result does not overflow for large finite elements (`[1e200, 1e200]`
    /// in `f64` has a finite 2-norm).
    ///
    /// Shape rule: any shape in, a scalar out.
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![3.0f32, -4.0], &[2])?;
    /// assert_eq!(x.norm(2.0), 5.0);
    /// assert_eq!(x.norm(1.0), 7.0);
    /// assert_eq!(x.norm(f64::INFINITY), 4.0);
    /// let big = Tensor::from_vec(vec![1e200f64, 1e200], &[2])?.norm(2.0);
    /// assert!((big / 1e200 - 2f64.sqrt()).abs() < 1e-15);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn norm(&self, p: f64) -> T {
        if p.is_nan() {
            return T::NAN;
        }
        if self.numel() == 0 {
            return T::ZERO;
        }
        let x = values(self);
        let abs = |v: T| v.to_f64().abs();
        if p == 2.0 {
            // One pass when the sum of squares is a normal finite f64 (the result the
            // general path below computes then); NaN, infinities and extreme magnitudes go on.
            let s = sum_f64(&x, |v| abs(v) * abs(v));
            if s.is_finite() && s >= 2f64.powi(-800) && s < 2f64.powi(900) {
                return T::from_f64(s.sqrt());
            }
        }
        // The largest magnitude, NaN if any element is NaN.
        let m = x
            .iter()
            .fold(0.0f64, |a, &v| take_if::<f64, true>(a, abs(v)));
        if p == f64::INFINITY || m.is_nan() {
            return T::from_f64(m);
        }
        if p == f64::NEG_INFINITY {
            return T::from_f64(
                x.iter()
                    .fold(f64::INFINITY, |a, &v| take_if::<f64, false>(a, abs(v))),
            );
        }
        if p == 0.0 {
            return T::from_usize(x.iter().filter(|&&v| v != T::ZERO).count());
        }
        if p < 0.0 {
            return T::from_f64(sum_f64(&x, |v| abs(v).powf(p)).powf(1.0 / p));
        }
        if m == 0.0 || m.is_infinite() {
            return T::from_f64(m);
        }
        // Scale by the largest magnitude only when its p-th power could leave f64's range.
        if m.log2().abs() * p < 900.0 {
            return T::from_f64(match p {
                1.0 => sum_f64(&x, abs),
                2.0 => sum_f64(&x, |v| abs(v) * abs(v)).sqrt(),
                _ => sum_f64(&x, |v| abs(v).powf(p)).powf(1.0 / p),
            });
        }
        let s = match p {
            1.0 => sum_f64(&x, |v| abs(v) / m),
            2.0 => sum_f64(&x, |v| (abs(v) / m) * (abs(v) / m)).sqrt(),
            _ => sum_f64(&x, |v| (abs(v) / m).powf(p)).powf(1.0 / p),
        };
        T::from_f64(m * s)
    }
}

// ------------------------------------------------------------------------------ planning

/// Which dims a reduction removes, and the output shape.
struct Plan {
    /// `reduced[d]` for each input dim `d` (empty for a 0-D input).
    reduced: SmallVec<[bool; 4]>,
    /// The output shape (with size-1 dims where `keepdim` asked for them).
    out_shape: Shape,
    /// Number of elements reduced into each output element.
    n_red: usize,
    /// The op, for errors raised after planning.
    op: &'static str,
}

impl Plan {
    fn new<T: Float, D: Dim>(
        t: &Tensor<T>,
        op: &'static str,
        dims: &[D],
        keepdim: bool,
    ) -> Result<Plan> {
        if t.rank() == 0 {
            // PyTorch treats a 0-D tensor as having one dim of size 1 here: dim 0 and -1 are fine.
            scalar_dims(op, dims)?;
            return Ok(Plan {
                reduced: SmallVec::new(),
                out_shape: Shape::default(),
                n_red: 1,
                op,
            });
        }
        let mut reduced: SmallVec<[bool; 4]> = SmallVec::from_elem(dims.is_empty(), t.rank());
        for d in resolve_dims(dims, op, t.dims())? {
            reduced[d] = true;
        }
        let mut out = Dims::new();
        let mut n_red = 1usize;
        for (&size, &r) in t.dims().iter().zip(&reduced) {
            if r {
                n_red *= size;
                if keepdim {
                    out.push(1);
                }
            } else {
                out.push(size);
            }
        }
        Ok(Plan {
            reduced,
            out_shape: Shape(out),
            n_red,
            op,
        })
    }

    /// Fails when a reduced dim has size 0 (for reductions without an identity).
    fn nonempty<T: Float>(self, t: &Tensor<T>) -> Result<Plan> {
        if t.dims()
            .iter()
            .zip(&self.reduced)
            .any(|(&s, &r)| r && s == 0)
        {
            return Err(TensorError::EmptyReduction {
                op: self.op,
                shape: t.shape().clone(),
            });
        }
        Ok(self)
    }
}

/// Validates dims given for a 0-D tensor: each must be 0 or -1, without repeats.
fn scalar_dims<D: Dim>(op: &'static str, dims: &[D]) -> Result<()> {
    if dims.len() > 1 {
        return Err(TensorError::BadDims {
            op,
            dims: dims.iter().map(|d| d.signed()).collect(),
            shape: Shape::default(),
        });
    }
    for d in dims {
        resolve_dim(d.signed(), op, &[], 1)?;
    }
    Ok(())
}

/// Resolves one dim for an op that, like PyTorch, lets a 0-D tensor stand for shape `[1]`
/// (softmax and friends). Returns `(outer, size, inner)`: the products of the dims before
/// `dim`, the size of `dim`, and the product of the dims after it.
pub(crate) fn lanes_at<D: Dim>(
    op: &'static str,
    dims: &[usize],
    dim: D,
) -> Result<(usize, usize, usize)> {
    if dims.is_empty() {
        scalar_dims(op, &[dim])?;
        return Ok((1, 1, 1));
    }
    let d = dim.resolve(op, dims)?;
    Ok(split3(dims, d))
}

/// `(product of dims[..d], dims[d], product of dims[d + 1..])`.
pub(crate) fn split3(dims: &[usize], d: usize) -> (usize, usize, usize) {
    (
        dims[..d].iter().product(),
        dims[d],
        dims[d + 1..].iter().product(),
    )
}

/// The elements in row-major order: borrowed when contiguous, copied otherwise.
pub(crate) fn values<T: Float>(t: &Tensor<T>) -> Cow<'_, [T]> {
    match t.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(t.to_vec()),
    }
}

// ------------------------------------------------------------------------------ the driver

/// One kind of reduction.
trait Reducer<T: Float> {
    /// The output element type.
    type Out: Copy;
    /// Reduces one lane (never called with an empty lane unless the reduction has an identity).
    fn lane(&self, xs: &[T]) -> Self::Out;
    /// Reduces `red` rows of `inner` elements each (row `r` is `xs[r * inner..][..inner]`,
    /// `red >= 1`) elementwise, appending `inner` results to `out`.
    fn rows(&self, xs: &[T], red: usize, inner: usize, out: &mut Vec<Self::Out>);
}

/// Runs `r` over the lanes of `t` picked out by `reduced`, giving the outputs in row-major
/// order of the kept dims.
fn reduce<T: Float, R: Reducer<T>>(t: &Tensor<T>, reduced: &[bool], r: &R) -> Vec<R::Out> {
    let dims = t.dims();
    let n_out: usize = dims
        .iter()
        .zip(reduced)
        .filter(|(_, r)| !**r)
        .map(|(s, _)| s)
        .product();
    let n_red: usize = dims
        .iter()
        .zip(reduced)
        .filter(|(_, r)| **r)
        .map(|(s, _)| s)
        .product();
    if n_out == 0 {
        return Vec::new();
    }
    if n_red == 0 {
        return vec![r.lane(&[]); n_out];
    }
    // Fast path: a contiguous tensor whose reduced dims form one run (size-1 dims do not
    // matter) is a stack of [outer, red, inner] blocks.
    if let (Some(x), Some((outer, inner))) = (t.as_slice(), single_run(dims, reduced)) {
        return blocks(x, n_red, outer, inner, r);
    }
    if let Some(out) = reduce_in_memory_order(t, reduced, n_red, r) {
        return out;
    }
    // General path: a view with the kept dims first and the reduced dims last, so that each
    // lane's elements come out of the walk consecutively.
    let l = t.layout();
    let order: Vec<usize> = (0..dims.len())
        .filter(|&d| !reduced[d])
        .chain((0..dims.len()).filter(|&d| reduced[d]))
        .collect();
    let view = Layout {
        shape: Shape(order.iter().map(|&d| dims[d]).collect()),
        strides: order.iter().map(|&d| l.strides[d]).collect(),
        offset: l.offset,
    };
    let mut out = Vec::with_capacity(n_out);
    let st = t.storage();
    let mut lane = Vec::with_capacity(n_red);
    for_each_index(&view, |i| {
        lane.push(st[i]);
        if lane.len() == n_red {
            out.push(r.lane(&lane));
            lane.clear();
        }
    });
    out
}

/// Reduces a contiguous run of `outer` blocks of `[n_red, inner]` elements.
fn blocks<T: Float, R: Reducer<T>>(
    x: &[T],
    n_red: usize,
    outer: usize,
    inner: usize,
    r: &R,
) -> Vec<R::Out> {
    let mut out = Vec::with_capacity(outer * inner);
    if inner == 1 {
        out.extend(x.chunks_exact(n_red).take(outer).map(|lane| r.lane(lane)));
    } else {
        for block in x.chunks_exact(n_red * inner).take(outer) {
            r.rows(block, n_red, inner, &mut out);
        }
    }
    out
}

/// The fast path for a tensor that is contiguous once its dims are put in storage order (a
/// transposed or permuted view): reduce in storage order, then put the kept dims back in
/// their places. `None` when the tensor is not such a view, or the reduced dims do not form
/// one run in storage order.
fn reduce_in_memory_order<T: Float, R: Reducer<T>>(
    t: &Tensor<T>,
    reduced: &[bool],
    n_red: usize,
    r: &R,
) -> Option<Vec<R::Out>> {
    let l = t.layout();
    let mut order: Vec<usize> = (0..l.rank()).collect();
    order.sort_by_key(|&d| core::cmp::Reverse(l.strides[d]));
    let sorted = Layout {
        shape: Shape(order.iter().map(|&d| l.dims()[d]).collect()),
        strides: order.iter().map(|&d| l.strides[d]).collect(),
        offset: l.offset,
    };
    if !sorted.is_contiguous() {
        return None;
    }
    let red_sorted: Vec<bool> = order.iter().map(|&d| reduced[d]).collect();
    let (outer, inner) = single_run(sorted.dims(), &red_sorted)?;
    let x = &t.storage()[l.offset..l.offset + l.numel()];
    let out = blocks(x, n_red, outer, inner, r);
    // `out` is row-major over the kept dims in storage order; view it with the kept dims in
    // their original order and read it out row-major.
    let kept: Vec<usize> = order.iter().copied().filter(|&d| !reduced[d]).collect();
    if kept.windows(2).all(|w| w[0] < w[1]) {
        return Some(out);
    }
    let kept_dims: Vec<usize> = kept.iter().map(|&d| l.dims()[d]).collect();
    let kept_strides = crate::shape::contiguous_strides(&kept_dims);
    let mut strides = Dims::new();
    let mut shape = Dims::new();
    for d in (0..l.rank()).filter(|&d| !reduced[d]) {
        let pos = kept.iter().position(|&k| k == d)?;
        shape.push(l.dims()[d]);
        strides.push(kept_strides[pos]);
    }
    let view = Layout {
        shape: Shape(shape),
        strides,
        offset: 0,
    };
    let mut back = Vec::with_capacity(out.len());
    for_each_index(&view, |i| back.push(out[i]));
    Some(back)
}

/// When the reduced dims (ignoring size-1 dims) are consecutive, the element counts before
/// and after them: `(outer, inner)`.
fn single_run(dims: &[usize], reduced: &[bool]) -> Option<(usize, usize)> {
    let big: Vec<(usize, bool)> = dims
        .iter()
        .zip(reduced)
        .filter(|(s, _)| **s != 1)
        .map(|(&s, &r)| (s, r))
        .collect();
    let first = big.iter().position(|&(_, r)| r);
    let last = big.iter().rposition(|&(_, r)| r);
    match (first, last) {
        (Some(a), Some(b)) => {
            if big[a..=b].iter().any(|&(_, r)| !r) {
                return None;
            }
            Some((
                big[..a].iter().map(|p| p.0).product(),
                big[b + 1..].iter().map(|p| p.0).product(),
            ))
        }
        // Nothing of size > 1 is reduced: every lane is one element.
        _ => Some((big.iter().map(|p| p.0).product(), 1)),
    }
}

/// `sum f(x)` in `f64`, with 8 running partial sums (so the loop can vectorise).
fn sum_f64<T: Float>(x: &[T], f: impl Fn(T) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += f(v);
        }
    }
    let s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    rest.iter().fold(s, |s, &v| s + f(v))
}

/// Pairwise summation: 8 running partial sums over blocks of up to 128 elements, blocks
/// combined as a binary tree. Empty input sums to 0.
fn pairwise_sum<T: Float>(x: &[T]) -> T {
    const BLOCK: usize = 128;
    if x.is_empty() {
        return T::ZERO;
    }
    if x.len() > BLOCK {
        let mid = (x.len() / 2).next_multiple_of(8);
        return pairwise_sum(&x[..mid]) + pairwise_sum(&x[mid..]);
    }
    // -0.0 is the exact additive identity (0.0 would turn a lone -0.0 into +0.0).
    let mut acc = [-T::ZERO; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for &v in rest {
        s += v;
    }
    s
}

/// Row-wise pairwise summation: `out[j] = sum_r xs[r * inner + j]`, with rows combined as a
/// binary tree over blocks of `ROWS` rows. `scratch` holds one row per tree level.
fn pairwise_rows<T: Float>(xs: &[T], red: usize, inner: usize, out: &mut [T], scratch: &mut [T]) {
    const ROWS: usize = 16;
    if red <= ROWS {
        out.copy_from_slice(&xs[..inner]);
        for row in xs[inner..red * inner].chunks_exact(inner) {
            for (o, &v) in out.iter_mut().zip(row) {
                *o += v;
            }
        }
        return;
    }
    let mid = red / 2;
    let (tmp, rest) = scratch.split_at_mut(inner);
    pairwise_rows(&xs[..mid * inner], mid, inner, out, rest);
    pairwise_rows(&xs[mid * inner..], red - mid, inner, tmp, rest);
    for (o, &v) in out.iter_mut().zip(tmp.iter()) {
        *o += v;
    }
}

/// `sum`.
struct Sum;

impl<T: Float> Reducer<T> for Sum {
    type Out = T;
    fn lane(&self, xs: &[T]) -> T {
        pairwise_sum(xs)
    }
    fn rows(&self, xs: &[T], red: usize, inner: usize, out: &mut Vec<T>) {
        let mut levels = 0;
        let mut n = red;
        while n > 16 {
            n = n.div_ceil(2);
            levels += 1;
        }
        let mut scratch = vec![T::ZERO; levels * inner];
        let start = out.len();
        out.resize(start + inner, T::ZERO);
        pairwise_rows(xs, red, inner, &mut out[start..], &mut scratch);
    }
}

/// `max` (or `min`), NaN-propagating.
struct Extreme {
    max: bool,
}

impl<T: Float> Reducer<T> for Extreme {
    type Out = T;
    fn lane(&self, xs: &[T]) -> T {
        if self.max {
            lane_extreme::<T, true>(xs)
        } else {
            lane_extreme::<T, false>(xs)
        }
    }
    fn rows(&self, xs: &[T], red: usize, inner: usize, out: &mut Vec<T>) {
        let start = out.len();
        out.extend_from_slice(&xs[..inner]);
        let acc = &mut out[start..];
        for row in xs[inner..red * inner].chunks_exact(inner) {
            if self.max {
                acc.iter_mut()
                    .zip(row)
                    .for_each(|(a, &v)| *a = take_if::<T, true>(*a, v));
            } else {
                acc.iter_mut()
                    .zip(row)
                    .for_each(|(a, &v)| *a = take_if::<T, false>(*a, v));
            }
        }
    }
}

/// `v` if it beats `a` (is larger for `MAX`, smaller otherwise) or is NaN, else `a`; a NaN `a`
/// stays. Branch-free, so loops over it vectorise.
#[inline(always)]
fn take_if<T: Float, const MAX: bool>(a: T, v: T) -> T {
    let beats = if MAX { v > a } else { v < a };
    if beats || v.is_nan() { v } else { a }
}

/// The NaN-propagating maximum (`MAX`) or minimum of a lane, with 8 independent accumulators
/// so that the loop vectorises; `-inf` (or `inf`) for an empty lane.
pub(crate) fn lane_extreme<T: Float, const MAX: bool>(xs: &[T]) -> T {
    let init = if MAX { T::NEG_INFINITY } else { T::INFINITY };
    let mut acc = [init; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = take_if::<T, MAX>(*a, v);
        }
    }
    for &v in rest {
        acc[0] = take_if::<T, MAX>(acc[0], v);
    }
    acc.iter()
        .fold(init, |m, &a| if MAX { m.max_nan(a) } else { m.min_nan(a) })
}

/// `argmax` (or `argmin`): first occurrence; the first NaN beats everything.
struct ArgExtreme {
    max: bool,
}

impl ArgExtreme {
    /// Whether `v` replaces the current best `best`.
    #[inline]
    fn beats<T: Float>(&self, v: T, best: T) -> bool {
        !best.is_nan() && (v.is_nan() || if self.max { v > best } else { v < best })
    }
}

impl<T: Float> Reducer<T> for ArgExtreme {
    type Out = i64;
    fn lane(&self, xs: &[T]) -> i64 {
        // Find the extreme with the vectorised scan, then its first occurrence (the first NaN
        // when there is one).
        let m = if self.max {
            lane_extreme::<T, true>(xs)
        } else {
            lane_extreme::<T, false>(xs)
        };
        let found = if m.is_nan() {
            xs.iter().position(|v| v.is_nan())
        } else {
            xs.iter().position(|&v| v == m)
        };
        found.unwrap_or(0) as i64
    }
    fn rows(&self, xs: &[T], red: usize, inner: usize, out: &mut Vec<i64>) {
        let mut best: Vec<T> = xs[..inner].to_vec();
        let start = out.len();
        out.resize(start + inner, 0);
        let idx = &mut out[start..];
        for (r, row) in xs[..red * inner].chunks_exact(inner).enumerate().skip(1) {
            for ((b, i), &v) in best.iter_mut().zip(idx.iter_mut()).zip(row) {
                if self.beats(v, *b) {
                    *b = v;
                    *i = r as i64;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_sum_is_accurate_and_keeps_negative_zero() {
        let x = vec![0.1f32; 1_000_000];
        let s = pairwise_sum(&x);
        assert!((s - 100_000.0).abs() < 0.1, "{s}");
        assert_eq!(pairwise_sum(&[-0.0f64]).to_bits(), (-0.0f64).to_bits());
        assert_eq!(pairwise_sum::<f64>(&[]).to_bits(), 0.0f64.to_bits());
    }

    #[test]
    fn row_sums_over_many_rows_match_lane_sums() {
        let (red, inner) = (1000, 3);
        let x: Vec<f64> = (0..red * inner).map(|i| (i as f64 * 0.37).sin()).collect();
        let mut out = Vec::new();
        Sum.rows(&x, red, inner, &mut out);
        for j in 0..inner {
            let lane: Vec<f64> = (0..red).map(|r| x[r * inner + j]).collect();
            assert!((out[j] - pairwise_sum(&lane)).abs() < 1e-12);
        }
    }

    #[test]
    fn single_run_detection() {
        assert_eq!(single_run(&[2, 3, 4], &[false, true, false]), Some((2, 4)));
        assert_eq!(single_run(&[2, 3, 4], &[true, false, true]), None);
        assert_eq!(single_run(&[2, 1, 4], &[true, false, true]), Some((1, 1)));
        assert_eq!(single_run(&[2, 1, 4], &[false, true, false]), Some((8, 1)));
    }

    #[test]
    fn reductions_of_scalars_accept_dim_zero() {
        let s = Tensor::scalar(3.0f64);
        assert_eq!(s.sum(&[0], false).unwrap().item().unwrap(), 3.0);
        assert_eq!(s.max(&[-1], true).unwrap().dims(), &[] as &[usize]);
        assert_eq!(s.argmax(0, false).unwrap().as_slice(), &[0]);
        assert!(s.sum(&[1], false).is_err());
        assert!(s.sum(&[0, -1], false).is_err());
    }

    #[test]
    fn nan_handling() {
        let x = Tensor::from_vec(vec![1.0f64, f64::NAN, 3.0, f64::NAN, 0.0, 2.0], &[2, 3]).unwrap();
        assert!(
            x.max(&[1], false)
                .unwrap()
                .to_vec()
                .iter()
                .all(|v| v.is_nan())
        );
        assert_eq!(x.argmax(1, false).unwrap().as_slice(), &[1, 0]);
        assert_eq!(x.argmin(1, false).unwrap().as_slice(), &[1, 0]);
        // Column-wise (the row-fold path).
        assert_eq!(x.argmax(0, false).unwrap().as_slice(), &[1, 0, 0]);
        let m = x.max(&[0], false).unwrap().to_vec();
        assert!(m[0].is_nan() && m[1].is_nan() && m[2] == 3.0);
        assert!(x.norm(2.0).is_nan() && x.norm(f64::INFINITY).is_nan());
    }

    #[test]
    fn norms() {
        let x = Tensor::from_vec(vec![3.0f64, 0.0, -4.0], &[3]).unwrap();
        assert_eq!(x.norm(0.0), 2.0);
        assert_eq!(x.norm(f64::NEG_INFINITY), 0.0);
        assert!((x.norm(3.0) - (27.0f64 + 64.0).cbrt()).abs() < 1e-12);
        assert_eq!(Tensor::<f32>::zeros(&[0]).norm(2.0), 0.0);
        assert_eq!(Tensor::<f32>::zeros(&[4]).norm(2.0), 0.0);
        let inf = Tensor::from_vec(vec![f32::INFINITY, 1.0], &[2]).unwrap();
        assert_eq!(inf.norm(2.0), f32::INFINITY);
        // Scaled where the powers would overflow or underflow f64.
        for m in [1e300, 1e-300, 1e-320] {
            let t = Tensor::from_vec(vec![3.0 * m, -4.0 * m], &[2]).unwrap();
            assert!((t.norm(2.0) / (5.0 * m) - 1.0).abs() < 1e-3, "{m}");
            assert!((t.norm(1.0) / (7.0 * m) - 1.0).abs() < 1e-3, "{m}");
        }
        let f32_big = Tensor::from_vec(vec![3e38f32, 3e38], &[2]).unwrap();
        assert_eq!(f32_big.norm(2.0), f32::INFINITY); // the true norm exceeds f32::MAX
        let f32_ok = Tensor::from_vec(vec![1e30f32, 1e30], &[2]).unwrap();
        assert!((f32_ok.norm(2.0) / 1e30 - 2f32.sqrt()).abs() < 1e-6);
    }
}
