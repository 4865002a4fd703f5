//! The [`Tensor`] type: shared copy-on-write storage plus a [`Layout`].

use crate::error::{Result, TensorError};
use crate::float::Float;
use crate::shape::{Dim, Dims, Layout, Shape, resolve_dim, resolve_dims};
use smallvec::SmallVec;
use std::sync::Arc;

/// An n-dimensional array of `f32` or `f64`.
///
/// Cloning is cheap (the storage is shared); views (`transpose`, `narrow`, `broadcast_to`, ...)
/// share storage too; writing through [`Tensor::set`] or [`Tensor::data_mut`] copies the storage
/// first if anything else holds it (copy on write).
///
/// ```
/// use recur_tensor::Tensor;
/// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
/// let b = a.transpose(0, 1)?;               // a view: no copy
/// assert_eq!(b.dims(), &[3, 2]);
/// assert_eq!(b.to_vec(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
/// let c = (&a + &Tensor::scalar(10.0)).to_vec();
/// assert_eq!(c, vec![11.0, 12.0, 13.0, 14.0, 15.0, 16.0]);
/// # Ok::<(), recur_tensor::TensorError>(())
/// ```
#[derive(Clone)]
pub struct Tensor<T: Float = f32> {
    storage: Arc<Storage<T>>,
    layout: Layout,
}

/// A tensor's buffer: a `Vec` that goes back to the [`crate::pool`] when the last tensor
/// using it is dropped.
#[derive(Clone, Debug)]
pub(crate) struct Storage<T: Float>(Vec<T>);

impl<T: Float> core::ops::Deref for Storage<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T: Float> core::ops::DerefMut for Storage<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

impl<T: Float> Drop for Storage<T> {
    fn drop(&mut self) {
        crate::pool::recycle(core::mem::take(&mut self.0));
    }
}

impl<T: Float> Tensor<T> {
    // ---------------------------------------------------------------- construction

    /// Wraps a storage buffer with a layout. Internal: the layout must fit the buffer.
    pub(crate) fn from_parts(storage: Arc<Storage<T>>, layout: Layout) -> Self {
        debug_assert!(layout.storage_extent() <= storage.len());
        Tensor { storage, layout }
    }

    /// A contiguous tensor owning `data` (no checks: `data.len()` must equal the shape's numel).
    pub(crate) fn from_contiguous(data: Vec<T>, shape: Shape) -> Self {
        debug_assert_eq!(data.len(), shape.numel());
        Tensor {
            storage: Arc::new(Storage(data)),
            layout: Layout::contiguous(shape),
        }
    }

    /// A tensor of `shape` holding `data` in row-major order.
    ///
    /// # Errors
    /// When `data.len()` is not the product of `shape`.
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3])?;
    /// assert_eq!(t.get(&[2])?, 3.0);
    /// assert!(Tensor::from_vec(vec![1.0f64; 5], &[2, 3]).is_err());
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Result<Self> {
        let shape = Shape::from(shape);
        let numel = checked_len::<T>("from_vec", &shape)?;
        if data.len() != numel {
            return Err(TensorError::LengthMismatch {
                op: "from_vec",
                len: data.len(),
                shape,
                numel,
            });
        }
        Ok(Self::from_contiguous(data, shape))
    }

    /// A tensor of `shape` copied from a slice. See [`Tensor::from_vec`].
    ///
    /// # Errors
    /// When `data.len()` is not the product of `shape`.
    ///
    /// ```
    /// let t = recur_tensor::Tensor::from_slice(&[1.0f32, 2.0], &[2, 1])?;
    /// assert_eq!(t.dims(), &[2, 1]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn from_slice(data: &[T], shape: &[usize]) -> Result<Self> {
        Self::from_vec(data.to_vec(), shape)
    }

    /// A 0-dimensional tensor holding `v`.
    ///
    /// ```
    /// let s = recur_tensor::Tensor::scalar(2.5f32);
    /// assert_eq!(s.rank(), 0);
    /// assert_eq!(s.item()?, 2.5);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn scalar(v: T) -> Self {
        Self::from_contiguous(vec![v], Shape::default())
    }

    /// A tensor of `shape` filled with `v`.
    ///
    /// # Panics
    /// If the shape does not fit in memory: its element count overflows `usize`, its size
    /// in bytes exceeds `isize::MAX`, or the allocation fails. For sizes that come from
    /// user input use [`Tensor::try_full`], which returns these as errors.
    ///
    /// ```
    /// let t = recur_tensor::Tensor::full(&[2, 2], 7.0f64);
    /// assert_eq!(t.to_vec(), vec![7.0; 4]);
    /// ```
    pub fn full(shape: &[usize], v: T) -> Self {
        Self::try_full(shape, v).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A tensor of `shape` filled with `v`, or an error if it does not fit in memory.
    ///
    /// Every constructor checks sizes the same way ([`Tensor::try_zeros`],
    /// [`Tensor::try_uniform`], [`Tensor::from_vec`], ...): the element count and the byte
    /// size are computed with checked arithmetic and the buffer is allocated fallibly, so an
    /// absurd shape is an error, never a wrapped element count, a panic or an abort.
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] when the element count overflows `usize`, the byte
    /// size exceeds `isize::MAX`, or the allocation fails.
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// assert_eq!(Tensor::try_full(&[2], 1.5f32)?.to_vec(), vec![1.5, 1.5]);
    /// let e = Tensor::<f32>::try_full(&[1 << 32, 1 << 32], 0.0).unwrap_err();
    /// assert_eq!(e.to_string(), "full: shape [4294967296, 4294967296] has more elements than fit in memory");
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn try_full(shape: &[usize], v: T) -> Result<Self> {
        let shape = Shape::from(shape);
        let n = checked_len::<T>("full", &shape)?;
        let data = if n * core::mem::size_of::<T>() >= crate::pool::MIN_BYTES {
            let mut data = try_buffer::<T>("full", &shape, n)?;
            data.resize(n, v);
            data
        } else {
            crate::pool::filled(n, v)
        };
        Ok(Self::from_contiguous(data, shape))
    }

    /// A tensor of zeros.
    ///
    /// # Panics
    /// As [`Tensor::full`]; see [`Tensor::try_zeros`].
    ///
    /// ```
    /// assert_eq!(recur_tensor::Tensor::<f32>::zeros(&[3]).to_vec(), vec![0.0; 3]);
    /// ```
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, T::ZERO)
    }

    /// A tensor of zeros, or an error if it does not fit in memory (see [`Tensor::try_full`]).
    ///
    /// # Errors
    /// As [`Tensor::try_full`].
    ///
    /// ```
    /// assert!(recur_tensor::Tensor::<f64>::try_zeros(&[usize::MAX, 2]).is_err());
    /// ```
    pub fn try_zeros(shape: &[usize]) -> Result<Self> {
        Self::try_full(shape, T::ZERO)
    }

    /// A tensor of ones.
    ///
    /// # Panics
    /// As [`Tensor::full`]; see [`Tensor::try_ones`].
    ///
    /// ```
    /// assert_eq!(recur_tensor::Tensor::<f32>::ones(&[2]).to_vec(), vec![1.0; 2]);
    /// ```
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, T::ONE)
    }

    /// A tensor of ones, or an error if it does not fit in memory (see [`Tensor::try_full`]).
    ///
    /// # Errors
    /// As [`Tensor::try_full`].
    ///
    /// ```
    /// assert!(recur_tensor::Tensor::<f32>::try_ones(&[1 << 62, 4]).is_err());
    /// ```
    pub fn try_ones(shape: &[usize]) -> Result<Self> {
        Self::try_full(shape, T::ONE)
    }

    /// Zeros with the shape of `self`.
    pub fn zeros_like(&self) -> Self {
        Self::zeros(self.dims())
    }

    /// `[start, start + step, ...]` up to but excluding `end`, like `torch.arange`.
    ///
    /// # Errors
    /// When `step` is zero or has the wrong sign, a bound is not finite, or the range does
    /// not fit in memory.
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// assert_eq!(Tensor::arange(0.0f64, 2.0, 0.5)?.to_vec(), vec![0.0, 0.5, 1.0, 1.5]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn arange(start: T, end: T, step: T) -> Result<Self> {
        let (s, e, st) = (start.to_f64(), end.to_f64(), step.to_f64());
        let bad = |msg: String| Err(TensorError::InvalidArgument { op: "arange", msg });
        if !s.is_finite() || !e.is_finite() || !st.is_finite() {
            return bad(format!("unsupported range: {s} -> {e} (step {st})"));
        }
        if st == 0.0 {
            return bad("step must be nonzero".into());
        }
        if (e - s) * st < 0.0 {
            return bad(format!(
                "upper bound and larger bound inconsistent with step sign: start {s}, end {e}, step {st}"
            ));
        }
        let count = ((e - s) / st).ceil();
        if count.is_nan() || count >= (isize::MAX as f64) / (core::mem::size_of::<T>() as f64) {
            return bad(format!(
                "a range of {count} elements does not fit in memory"
            ));
        }
        let n = count as usize;
        let shape = Shape::from([n]);
        let mut data = try_buffer::<T>("arange", &shape, n)?;
        data.extend((0..n).map(|i| T::from_f64(s + i as f64 * st)));
        Ok(Self::from_contiguous(data, shape))
    }

    /// The `n × n` identity matrix.
    ///
    /// # Panics
    /// As [`Tensor::full`]; see [`Tensor::try_eye`].
    ///
    /// ```
    /// assert_eq!(recur_tensor::Tensor::<f32>::eye(2).to_vec(), vec![1.0, 0.0, 0.0, 1.0]);
    /// ```
    pub fn eye(n: usize) -> Self {
        Self::try_eye(n).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The `n × n` identity matrix, or an error if it does not fit in memory.
    ///
    /// # Errors
    /// As [`Tensor::try_full`].
    ///
    /// ```
    /// assert!(recur_tensor::Tensor::<f32>::try_eye(1 << 32).is_err());
    /// ```
    pub fn try_eye(n: usize) -> Result<Self> {
        let mut t = Self::try_full(&[n, n], T::ZERO).map_err(|e| rename(e, "eye"))?;
        let data = t.data_mut();
        for i in 0..n {
            data[i * n + i] = T::ONE;
        }
        Ok(t)
    }

    /// Samples from U(lo, hi) using `rng` (reproducible for a seeded RNG).
    ///
    /// # Panics
    /// As [`Tensor::full`]; see [`Tensor::try_uniform`].
    ///
    /// ```
    /// use rand::SeedableRng;
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    /// let t = recur_tensor::Tensor::<f64>::uniform(&[1000], -0.5, 0.5, &mut rng);
    /// assert!(t.to_vec().iter().all(|&v| (-0.5..0.5).contains(&v)));
    /// ```
    pub fn uniform<R: rand::Rng + ?Sized>(shape: &[usize], lo: T, hi: T, rng: &mut R) -> Self {
        Self::try_uniform(shape, lo, hi, rng).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Tensor::uniform`], or an error if the shape does not fit in memory (checked before
    /// anything is drawn from `rng`).
    ///
    /// # Errors
    /// As [`Tensor::try_full`].
    ///
    /// ```
    /// use rand::SeedableRng;
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    /// let e = recur_tensor::Tensor::<f32>::try_uniform(&[1 << 32, 1 << 32], -1.0, 1.0, &mut rng);
    /// assert!(e.is_err());
    /// ```
    pub fn try_uniform<R: rand::Rng + ?Sized>(
        shape: &[usize],
        lo: T,
        hi: T,
        rng: &mut R,
    ) -> Result<Self> {
        let shape = Shape::from(shape);
        let n = checked_len::<T>("uniform", &shape)?;
        let mut data = try_buffer::<T>("uniform", &shape, n)?;
        let (lo64, hi64) = (lo.to_f64(), hi.to_f64());
        data.extend((0..n).map(|_| {
            let v = T::from_f64(lo64 + (hi64 - lo64) * unit_f64(rng));
            // Rounding to f32 can land exactly on `hi`; keep the interval half-open.
            if v >= hi && hi > lo { lo } else { v }
        }));
        Ok(Self::from_contiguous(data, shape))
    }

    /// Samples from N(mean, std²) using `rng` (Box–Muller over the seeded stream).
    ///
    /// # Panics
    /// As [`Tensor::full`]; see [`Tensor::try_normal`].
    ///
    /// ```
    /// use rand::SeedableRng;
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let t = recur_tensor::Tensor::<f64>::normal(&[10000], 0.0, 1.0, &mut rng);
    /// let mean = t.to_vec().iter().sum::<f64>() / 10000.0;
    /// assert!(mean.abs() < 0.05);
    /// ```
    pub fn normal<R: rand::Rng + ?Sized>(shape: &[usize], mean: T, std: T, rng: &mut R) -> Self {
        Self::try_normal(shape, mean, std, rng).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Tensor::normal`], or an error if the shape does not fit in memory (checked before
    /// anything is drawn from `rng`).
    ///
    /// # Errors
    /// As [`Tensor::try_full`].
    ///
    /// ```
    /// use rand::SeedableRng;
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// assert!(recur_tensor::Tensor::<f64>::try_normal(&[1 << 62, 4], 0.0, 1.0, &mut rng).is_err());
    /// ```
    pub fn try_normal<R: rand::Rng + ?Sized>(
        shape: &[usize],
        mean: T,
        std: T,
        rng: &mut R,
    ) -> Result<Self> {
        let shape = Shape::from(shape);
        let n = checked_len::<T>("normal", &shape)?;
        let mut data = try_buffer::<T>("normal", &shape, n)?;
        while data.len() < n {
            let u1 = 1.0 - unit_f64(rng); // (0, 1]
            let u2 = unit_f64(rng);
            let r = (-2.0 * u1.ln()).sqrt();
            let th = core::f64::consts::TAU * u2;
            for z in [r * th.cos(), r * th.sin()] {
                if data.len() < n {
                    data.push(T::from_f64(mean.to_f64() + std.to_f64() * z));
                }
            }
        }
        Ok(Self::from_contiguous(data, shape))
    }

    // ---------------------------------------------------------------- inspection

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.layout.shape
    }
    /// The sizes as a slice.
    pub fn dims(&self) -> &[usize] {
        self.layout.dims()
    }
    /// Size of one dimension (negative counts from the back).
    ///
    /// # Errors
    /// When `dim` is out of range.
    pub fn dim<D: Dim>(&self, dim: D) -> Result<usize> {
        Ok(self.dims()[dim.resolve("dim", self.dims())?])
    }
    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.layout.rank()
    }
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.layout.numel()
    }
    /// The layout (shape, strides, offset).
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
    /// The strides, in elements.
    pub fn strides(&self) -> &[usize] {
        &self.layout.strides
    }
    /// True when the elements are row-major without gaps.
    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }
    /// True when both tensors view the same storage buffer.
    pub fn shares_storage(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }
    /// The underlying storage (all of it, not only this view's elements).
    pub fn storage(&self) -> &[T] {
        &self.storage
    }

    /// The elements as a slice when the tensor is contiguous, else `None`.
    ///
    /// ```
    /// let t = recur_tensor::Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
    /// assert_eq!(t.as_slice(), Some(&[1.0, 2.0, 3.0, 4.0][..]));
    /// assert_eq!(t.transpose(0, 1)?.as_slice(), None);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn as_slice(&self) -> Option<&[T]> {
        if self.numel() == 0 {
            // A view of zero elements may carry an offset past the end of its storage
            // (`narrow` of a `[3, 0]` tensor along dim 0), so do not index with it.
            Some(&[])
        } else if self.is_contiguous() {
            let o = self.layout.offset;
            Some(&self.storage[o..o + self.numel()])
        } else {
            None
        }
    }

    /// The elements in row-major order, copied out.
    pub fn to_vec(&self) -> Vec<T> {
        let mut out = crate::pool::buffer(self.numel());
        if let Some(s) = self.as_slice() {
            out.extend_from_slice(s);
            return out;
        }
        T::gather(&self.storage, &self.layout, &mut out);
        out
    }

    /// Mutable access to the elements in row-major order. Makes the tensor contiguous and
    /// its storage unshared first (copy on write), so other tensors never see the change.
    ///
    /// ```
    /// use recur_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0], &[2])?;
    /// let mut b = a.clone();
    /// b.data_mut()[0] = 9.0;
    /// assert_eq!(a.to_vec(), vec![1.0, 2.0]);
    /// assert_eq!(b.to_vec(), vec![9.0, 2.0]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn data_mut(&mut self) -> &mut [T] {
        let whole =
            self.is_contiguous() && self.layout.offset == 0 && self.storage.len() == self.numel();
        if !whole {
            *self = Self::from_contiguous(self.to_vec(), self.shape().clone());
        }
        Arc::make_mut(&mut self.storage).as_mut_slice()
    }

    /// Consumes the tensor and returns its elements in row-major order (no copy when it owns
    /// a contiguous buffer that nothing else shares).
    pub fn into_vec(self) -> Vec<T> {
        let whole =
            self.is_contiguous() && self.layout.offset == 0 && self.storage.len() == self.numel();
        if whole {
            match Arc::try_unwrap(self.storage) {
                Ok(mut s) => core::mem::take(&mut s.0),
                Err(shared) => shared.0.clone(),
            }
        } else {
            self.to_vec()
        }
    }

    fn checked_index(&self, op: &'static str, idx: &[usize]) -> Result<usize> {
        if idx.len() != self.rank() {
            return Err(TensorError::InvalidArgument {
                op,
                msg: format!(
                    "index {idx:?} has {} entries for shape {}",
                    idx.len(),
                    self.shape()
                ),
            });
        }
        for (d, (&i, &n)) in idx.iter().zip(self.dims()).enumerate() {
            if i >= n {
                return Err(TensorError::IndexOutOfRange {
                    op,
                    index: i as isize,
                    dim: d,
                    size: n,
                    shape: self.shape().clone(),
                });
            }
        }
        Ok(self.layout.index_of(idx))
    }

    /// The element at a multi-index.
    ///
    /// # Errors
    /// When the index has the wrong length or is out of range.
    pub fn get(&self, idx: &[usize]) -> Result<T> {
        Ok(self.storage[self.checked_index("get", idx)?])
    }

    /// Writes the element at a multi-index (copy on write).
    ///
    /// # Errors
    /// When the index has the wrong length or is out of range.
    ///
    /// ```
    /// let mut t = recur_tensor::Tensor::<f32>::zeros(&[2, 2]);
    /// t.set(&[1, 0], 3.0)?;
    /// assert_eq!(t.to_vec(), vec![0.0, 0.0, 3.0, 0.0]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn set(&mut self, idx: &[usize], v: T) -> Result<()> {
        self.checked_index("set", idx)?;
        let flat = idx
            .iter()
            .zip(self.shape().contiguous_strides())
            .map(|(&i, s)| i * s)
            .sum::<usize>();
        self.data_mut()[flat] = v;
        Ok(())
    }

    /// The value of a one-element tensor (any rank).
    ///
    /// # Errors
    /// When the tensor does not have exactly one element.
    pub fn item(&self) -> Result<T> {
        if self.numel() != 1 {
            return Err(TensorError::InvalidArgument {
                op: "item",
                msg: format!(
                    "a tensor with {} elements (shape {}) cannot be converted to a scalar",
                    self.numel(),
                    self.shape()
                ),
            });
        }
        Ok(self.storage[self.layout.offset])
    }

    /// A contiguous tensor with the same elements (the same tensor, shared, if already
    /// contiguous).
    pub fn contiguous(&self) -> Self {
        if self.is_contiguous() {
            self.clone()
        } else {
            Self::from_contiguous(self.to_vec(), self.shape().clone())
        }
    }

    /// Converts the element type (`f32` <-> `f64`).
    ///
    /// ```
    /// let t = recur_tensor::Tensor::from_vec(vec![0.5f32], &[1])?;
    /// assert_eq!(t.cast::<f64>().to_vec(), vec![0.5f64]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn cast<U: Float>(&self) -> Tensor<U> {
        Tensor::from_contiguous(
            self.to_vec()
                .into_iter()
                .map(|v| U::from_f64(v.to_f64()))
                .collect(),
            self.shape().clone(),
        )
    }

    fn with_layout(&self, layout: Layout) -> Self {
        Self::from_parts(self.storage.clone(), layout)
    }

    // ---------------------------------------------------------------- views

    /// The same elements with a new shape of equal size. A view when the strides allow it
    /// (always for contiguous tensors), a copy otherwise.
    ///
    /// # Errors
    /// When the element counts differ.
    ///
    /// ```
    /// let t = recur_tensor::Tensor::<f32>::zeros(&[2, 6]);
    /// assert_eq!(t.reshape(&[3, 4])?.dims(), &[3, 4]);
    /// assert!(t.reshape(&[5, 2]).is_err());
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        let to = Shape::from(shape);
        if checked_numel("reshape", &to).ok() != Some(self.numel()) {
            return Err(TensorError::Reshape {
                op: "reshape",
                from: self.shape().clone(),
                numel: self.numel(),
                to: format!("{to}"),
            });
        }
        if let Some(strides) = view_strides(&self.layout, shape) {
            return Ok(self.with_layout(Layout {
                shape: to,
                strides,
                offset: self.layout.offset,
            }));
        }
        Ok(Self::from_contiguous(self.to_vec(), to))
    }

    /// Flattens into one dimension.
    pub fn flatten(&self) -> Self {
        self.reshape(&[self.numel()])
            .expect("flatten: same element count")
    }

    /// Swaps two dimensions (a view).
    ///
    /// # Errors
    /// When a dim is out of range.
    pub fn transpose<D: Dim>(&self, d0: D, d1: D) -> Result<Self> {
        let a = d0.resolve("transpose", self.dims())?;
        let b = d1.resolve("transpose", self.dims())?;
        let mut l = self.layout.clone();
        l.shape.0.swap(a, b);
        l.strides.swap(a, b);
        Ok(self.with_layout(l))
    }

    /// The transpose of a 2-D tensor (a view).
    ///
    /// # Errors
    /// When the tensor is not 2-D.
    pub fn t(&self) -> Result<Self> {
        if self.rank() != 2 {
            return Err(TensorError::Rank {
                op: "t",
                expected: "a 2-D tensor",
                shape: self.shape().clone(),
            });
        }
        self.transpose(0usize, 1)
    }

    /// Reorders the dimensions: output dim `i` is input dim `dims[i]` (a view).
    ///
    /// # Errors
    /// When `dims` is not a permutation of `0..rank`.
    ///
    /// ```
    /// let t = recur_tensor::Tensor::<f32>::zeros(&[2, 3, 4]);
    /// assert_eq!(t.permute(&[2, 0, 1])?.dims(), &[4, 2, 3]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn permute<D: Dim>(&self, dims: &[D]) -> Result<Self> {
        let r = resolve_dims(dims, "permute", self.dims())?;
        if r.len() != self.rank() {
            return Err(TensorError::BadDims {
                op: "permute",
                dims: dims.iter().map(|d| d.signed()).collect(),
                shape: self.shape().clone(),
            });
        }
        let shape = Shape(r.iter().map(|&i| self.dims()[i]).collect());
        let strides = r.iter().map(|&i| self.layout.strides[i]).collect();
        Ok(self.with_layout(Layout {
            shape,
            strides,
            offset: self.layout.offset,
        }))
    }

    /// Elements `start..start + len` along `dim` (a view).
    ///
    /// # Errors
    /// When `dim` is out of range or the range exceeds the dim.
    ///
    /// ```
    /// let t = recur_tensor::Tensor::arange(0.0f32, 6.0, 1.0)?.reshape(&[2, 3])?;
    /// assert_eq!(t.narrow(1, 1, 2)?.to_vec(), vec![1.0, 2.0, 4.0, 5.0]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn narrow<D: Dim>(&self, dim: D, start: usize, len: usize) -> Result<Self> {
        let d = dim.resolve("narrow", self.dims())?;
        let size = self.dims()[d];
        if start.checked_add(len).is_none_or(|end| end > size) {
            return Err(TensorError::IndexOutOfRange {
                op: "narrow",
                index: start.saturating_add(len) as isize,
                dim: d,
                size,
                shape: self.shape().clone(),
            });
        }
        let mut l = self.layout.clone();
        if len > 0 {
            l.offset += start * l.strides[d];
        }
        l.shape.0[d] = len;
        Ok(self.with_layout(l))
    }

    /// The slice at `index` along `dim`, with that dim removed (a view).
    ///
    /// # Errors
    /// When `dim` or `index` is out of range.
    ///
    /// ```
    /// let t = recur_tensor::Tensor::arange(0.0f32, 6.0, 1.0)?.reshape(&[2, 3])?;
    /// assert_eq!(t.select(0, 1)?.to_vec(), vec![3.0, 4.0, 5.0]);
    /// assert_eq!(t.select(-1, 0)?.to_vec(), vec![0.0, 3.0]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn select<D: Dim>(&self, dim: D, index: usize) -> Result<Self> {
        let d = dim.resolve("select", self.dims())?;
        let size = self.dims()[d];
        if index >= size {
            return Err(TensorError::IndexOutOfRange {
                op: "select",
                index: index as isize,
                dim: d,
                size,
                shape: self.shape().clone(),
            });
        }
        let mut l = self.layout.clone();
        l.offset += index * l.strides[d];
        l.shape.0.remove(d);
        l.strides.remove(d);
        Ok(self.with_layout(l))
    }

    /// Inserts a size-1 dim at `dim` (`0..=rank`; negative counts from the back).
    ///
    /// # Errors
    /// When `dim` is out of range.
    pub fn unsqueeze<D: Dim>(&self, dim: D) -> Result<Self> {
        let d = resolve_dim(dim.signed(), "unsqueeze", self.dims(), self.rank() + 1)?;
        let mut l = self.layout.clone();
        let stride = if d < self.rank() {
            l.strides[d] * l.shape.0[d]
        } else {
            1
        };
        l.shape.0.insert(d, 1);
        l.strides.insert(d, stride);
        Ok(self.with_layout(l))
    }

    /// Removes `dim` if its size is 1 (otherwise returns the tensor unchanged, like PyTorch).
    ///
    /// # Errors
    /// When `dim` is out of range.
    pub fn squeeze<D: Dim>(&self, dim: D) -> Result<Self> {
        let d = dim.resolve("squeeze", self.dims())?;
        if self.dims()[d] != 1 {
            return Ok(self.clone());
        }
        let mut l = self.layout.clone();
        l.shape.0.remove(d);
        l.strides.remove(d);
        Ok(self.with_layout(l))
    }

    /// Removes every size-1 dim.
    pub fn squeeze_all(&self) -> Self {
        let mut l = self.layout.clone();
        let keep: Vec<usize> = (0..self.rank()).filter(|&i| self.dims()[i] != 1).collect();
        l.shape = Shape(keep.iter().map(|&i| self.dims()[i]).collect());
        l.strides = keep.iter().map(|&i| self.layout.strides[i]).collect();
        self.with_layout(l)
    }

    /// A broadcast view with `shape` (size-1 dims repeat with stride 0; new leading dims may
    /// be added).
    ///
    /// # Errors
    /// When the shape is not reachable by broadcasting.
    ///
    /// ```
    /// let t = recur_tensor::Tensor::from_vec(vec![1.0f32, 2.0], &[2, 1])?;
    /// assert_eq!(t.broadcast_to(&[2, 3])?.to_vec(), vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
    /// # Ok::<(), recur_tensor::TensorError>(())
    /// ```
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Self> {
        checked_numel("broadcast_to", &Shape::from(shape))?;
        Ok(self.with_layout(self.layout.broadcast_to("broadcast_to", shape)?))
    }

    /// Alias of [`Tensor::broadcast_to`], PyTorch's name.
    ///
    /// # Errors
    /// As for `broadcast_to`.
    pub fn expand(&self, shape: &[usize]) -> Result<Self> {
        self.broadcast_to(shape)
    }
}

/// Strides that view `layout`'s elements with `new_shape` without copying, if any exist
/// (the algorithm of PyTorch's `computeStride`: split runs of memory-contiguous dims).
fn view_strides(layout: &Layout, new_shape: &[usize]) -> Option<Dims> {
    let numel = layout.numel();
    if numel == 0 || layout.rank() == 0 {
        return Some(contiguous(new_shape));
    }
    let old_dims = layout.dims();
    let old_strides = &layout.strides;
    let mut new_strides: Dims = SmallVec::from_elem(0, new_shape.len());
    let mut view_d = new_shape.len() as isize - 1;
    let mut chunk_base_stride = *old_strides.last().unwrap_or(&1);
    let mut tensor_numel = 1usize;
    let mut view_numel = 1usize;
    for tensor_d in (0..old_dims.len()).rev() {
        tensor_numel *= old_dims[tensor_d];
        if tensor_d == 0
            || (old_dims[tensor_d - 1] != 1
                && old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride)
        {
            while view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d as usize] == 1) {
                new_strides[view_d as usize] = view_numel * chunk_base_stride;
                view_numel *= new_shape[view_d as usize];
                view_d -= 1;
            }
            if view_numel != tensor_numel {
                return None;
            }
            if tensor_d > 0 {
                chunk_base_stride = old_strides[tensor_d - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    if view_d != -1 {
        return None;
    }
    Some(new_strides)
}

fn contiguous(dims: &[usize]) -> Dims {
    crate::shape::contiguous_strides(dims)
}

/// The element count of a shape, or an error if it overflows.
pub(crate) fn checked_numel(op: &'static str, shape: &Shape) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| too_large(op, shape))
}

/// The element count of a shape whose buffer of `T` must fit in memory: the count and the
/// byte size (at most `isize::MAX`, Rust's limit for one allocation) checked.
pub(crate) fn checked_len<T>(op: &'static str, shape: &Shape) -> Result<usize> {
    let n = checked_numel(op, shape)?;
    match n.checked_mul(core::mem::size_of::<T>().max(1)) {
        Some(bytes) if bytes <= isize::MAX as usize => Ok(n),
        _ => Err(too_large(op, shape)),
    }
}

/// An empty vector with room for `n` elements, or an error if the allocation fails.
pub(crate) fn try_buffer<T>(op: &'static str, shape: &Shape, n: usize) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|e| TensorError::InvalidArgument {
            op,
            msg: format!("cannot allocate shape {shape}: {e}"),
        })?;
    Ok(v)
}

fn too_large(op: &'static str, shape: &Shape) -> TensorError {
    TensorError::InvalidArgument {
        op,
        msg: format!("shape {shape} has more elements than fit in memory"),
    }
}

/// The same error under another op's name.
fn rename(e: TensorError, op: &'static str) -> TensorError {
    match e {
        TensorError::InvalidArgument { msg, .. } => TensorError::InvalidArgument { op, msg },
        other => other,
    }
}

/// A uniform sample in [0, 1) with 53 random bits.
fn unit_f64<R: rand::Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_of_transposed_copies_only_when_needed() {
        let t = Tensor::<f32>::arange(0.0, 24.0, 1.0)
            .unwrap()
            .reshape(&[2, 3, 4])
            .unwrap();
        // Merging the two leading dims of a permuted view that keeps them adjacent is a view.
        let p = t
            .permute(&[0usize, 1, 2])
            .unwrap()
            .reshape(&[6, 4])
            .unwrap();
        assert!(p.shares_storage(&t));
        let tt = t.transpose(1usize, 2).unwrap();
        let r = tt.reshape(&[2, 12]).unwrap();
        assert!(!r.shares_storage(&t));
        assert_eq!(r.to_vec(), tt.to_vec());
        // Splitting a dim of a transposed view stays a view.
        let s = tt.reshape(&[2, 2, 2, 3]).unwrap();
        assert!(s.shares_storage(&t));
        assert_eq!(s.to_vec(), tt.to_vec());
    }

    #[test]
    fn narrow_to_empty_and_select_errors() {
        let t = Tensor::<f64>::zeros(&[2, 3]);
        assert_eq!(t.narrow(1usize, 3, 0).unwrap().numel(), 0);
        let e = t.narrow(1usize, 2, 2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "narrow: index 4 is out of range for dim 1 of size 3 in shape [2, 3]"
        );
        let e = t.select(5usize, 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "select: dim 5 is out of range for shape [2, 3] (rank 2)"
        );
    }
}
