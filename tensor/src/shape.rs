//! Shapes, strides and layouts: the value types that make every view free.

use crate::error::{Result, TensorError};
use core::fmt;
use smallvec::SmallVec;

/// Dimension sizes or strides, inline up to rank 4.
pub type Dims = SmallVec<[usize; 4]>;

/// A tensor's shape: its size in each dimension. Displays as `[2, 3]`.
///
/// ```
/// use recur_tensor::Shape;
/// let s = Shape::from(&[2, 3][..]);
/// assert_eq!(s.to_string(), "[2, 3]");
/// assert_eq!(s.numel(), 6);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(pub Dims);

impl Shape {
    /// The sizes as a slice.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }
    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.0.len()
    }
    /// Number of elements (1 for a scalar, 0 if any dim is 0).
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }
    /// Row-major (C order) strides for this shape.
    pub fn contiguous_strides(&self) -> Dims {
        contiguous_strides(&self.0)
    }
}

/// Row-major strides of `dims`.
pub(crate) fn contiguous_strides(dims: &[usize]) -> Dims {
    let mut strides: Dims = SmallVec::from_elem(0, dims.len());
    let mut acc = 1usize;
    for i in (0..dims.len()).rev() {
        strides[i] = acc;
        acc = acc.saturating_mul(dims[i].max(1));
    }
    strides
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0.as_slice())
    }
}
impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
impl From<&[usize]> for Shape {
    fn from(d: &[usize]) -> Self {
        Shape(SmallVec::from_slice(d))
    }
}
impl<const N: usize> From<[usize; N]> for Shape {
    fn from(d: [usize; N]) -> Self {
        Shape(SmallVec::from_slice(&d))
    }
}
impl From<Vec<usize>> for Shape {
    fn from(d: Vec<usize>) -> Self {
        Shape(SmallVec::from_vec(d))
    }
}
impl core::ops::Deref for Shape {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        &self.0
    }
}

/// A dimension index: `usize` counts from the front; `isize`/`i32` may be negative and count
/// from the back, as in PyTorch (`-1` is the last dim).
pub trait Dim: Copy {
    /// The dim as a signed number (for error messages).
    fn signed(self) -> isize;
    /// Resolves against a rank, or fails naming `op` and `shape`.
    fn resolve(self, op: &'static str, shape: &[usize]) -> Result<usize> {
        resolve_dim(self.signed(), op, shape, shape.len())
    }
}
impl Dim for usize {
    fn signed(self) -> isize {
        isize::try_from(self).unwrap_or(isize::MAX)
    }
}
impl Dim for isize {
    fn signed(self) -> isize {
        self
    }
}
impl Dim for i32 {
    fn signed(self) -> isize {
        self as isize
    }
}

/// Resolves a possibly negative `dim` against `rank` (which may exceed the shape's rank by one
/// for ops like `unsqueeze` and `stack`).
pub(crate) fn resolve_dim(
    dim: isize,
    op: &'static str,
    shape: &[usize],
    rank: usize,
) -> Result<usize> {
    let r = rank as isize;
    let d = if dim < 0 { dim + r } else { dim };
    if d < 0 || d >= r {
        return Err(TensorError::DimOutOfRange {
            op,
            dim,
            shape: Shape::from(shape),
            rank: shape.len(),
        });
    }
    Ok(d as usize)
}

/// Resolves a list of dims, rejecting duplicates.
pub(crate) fn resolve_dims<D: Dim>(dims: &[D], op: &'static str, shape: &[usize]) -> Result<Dims> {
    let mut out = Dims::new();
    for &d in dims {
        let r = d.resolve(op, shape)?;
        if out.contains(&r) {
            return Err(TensorError::BadDims {
                op,
                dims: dims.iter().map(|d| d.signed()).collect(),
                shape: Shape::from(shape),
            });
        }
        out.push(r);
    }
    Ok(out)
}

/// The NumPy broadcast of two shapes: align from the right; each pair of sizes must be equal
/// or one of them 1.
///
/// ```
/// use recur_tensor::broadcast_shapes;
/// assert_eq!(broadcast_shapes("add", &[2, 1, 3], &[4, 1]).unwrap().dims(), &[2, 4, 3]);
/// assert!(broadcast_shapes("add", &[2, 3], &[4]).is_err());
/// ```
pub fn broadcast_shapes(op: &'static str, lhs: &[usize], rhs: &[usize]) -> Result<Shape> {
    let rank = lhs.len().max(rhs.len());
    let mut out: Dims = SmallVec::from_elem(0, rank);
    for i in 0..rank {
        let a = if i < rank - lhs.len() {
            1
        } else {
            lhs[i - (rank - lhs.len())]
        };
        let b = if i < rank - rhs.len() {
            1
        } else {
            rhs[i - (rank - rhs.len())]
        };
        out[i] = if a == b || b == 1 {
            a
        } else if a == 1 {
            b
        } else {
            return Err(TensorError::Broadcast {
                op,
                lhs: Shape::from(lhs),
                rhs: Shape::from(rhs),
            });
        };
    }
    Ok(Shape(out))
}

/// Where a tensor's elements sit in its storage: element `idx` is at
/// `offset + sum(idx[i] * strides[i])`. Strides are non-negative; a stride of 0 repeats an
/// element (a broadcast view).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Layout {
    /// Sizes.
    pub shape: Shape,
    /// Steps in storage elements per dimension.
    pub strides: Dims,
    /// Storage index of element `[0, 0, ...]`.
    pub offset: usize,
}

impl Layout {
    /// A row-major layout starting at 0.
    pub fn contiguous(shape: Shape) -> Self {
        let strides = shape.contiguous_strides();
        Layout {
            shape,
            strides,
            offset: 0,
        }
    }
    /// Sizes.
    pub fn dims(&self) -> &[usize] {
        &self.shape.0
    }
    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.shape.rank()
    }
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.numel()
    }
    /// True when elements are in row-major order with no gaps (size-1 dims' strides ignored).
    pub fn is_contiguous(&self) -> bool {
        let mut acc = 1usize;
        for i in (0..self.rank()).rev() {
            let d = self.shape.0[i];
            if d != 1 && self.strides[i] != acc {
                return self.numel() == 0;
            }
            acc *= d;
        }
        true
    }
    /// The largest storage index this layout touches plus one (0 when empty).
    pub fn storage_extent(&self) -> usize {
        if self.numel() == 0 {
            return 0;
        }
        self.offset
            + self
                .shape
                .0
                .iter()
                .zip(&self.strides)
                .map(|(&d, &s)| (d - 1) * s)
                .sum::<usize>()
            + 1
    }
    /// Storage index of a multi-index (unchecked against the shape).
    pub(crate) fn index_of(&self, idx: &[usize]) -> usize {
        self.offset
            + idx
                .iter()
                .zip(&self.strides)
                .map(|(&i, &s)| i * s)
                .sum::<usize>()
    }
    /// This layout viewed with `shape` under broadcasting (stride 0 on repeated dims).
    pub fn broadcast_to(&self, op: &'static str, shape: &[usize]) -> Result<Layout> {
        let err = || TensorError::BroadcastTo {
            op,
            from: self.shape.clone(),
            to: Shape::from(shape),
        };
        if shape.len() < self.rank() {
            return Err(err());
        }
        let lead = shape.len() - self.rank();
        let mut strides: Dims = SmallVec::from_elem(0, shape.len());
        for i in 0..self.rank() {
            let (have, want) = (self.shape.0[i], shape[lead + i]);
            strides[lead + i] = if have == want {
                self.strides[i]
            } else if have == 1 {
                0
            } else {
                return Err(err());
            };
        }
        Ok(Layout {
            shape: Shape::from(shape),
            strides,
            offset: self.offset,
        })
    }
}

/// Calls `f(storage_index)` for every element of `layout` in row-major order. This and
/// [`for_each_index2`] are the one place that walks strides.
#[inline]
pub(crate) fn for_each_index(layout: &Layout, mut f: impl FnMut(usize)) {
    let n = layout.numel();
    if n == 0 {
        return;
    }
    let rank = layout.rank();
    if rank == 0 {
        f(layout.offset);
        return;
    }
    let dims = layout.dims();
    let inner = dims[rank - 1];
    let inner_stride = layout.strides[rank - 1];
    let mut idx: Dims = SmallVec::from_elem(0, rank);
    let mut base = layout.offset;
    loop {
        let mut p = base;
        for _ in 0..inner {
            f(p);
            p += inner_stride;
        }
        // Advance the outer multi-index (odometer), updating the base offset.
        let mut d = rank - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            base += layout.strides[d];
            if idx[d] < dims[d] {
                break;
            }
            base -= layout.strides[d] * dims[d];
            idx[d] = 0;
        }
    }
}

/// Like [`for_each_index`] over two layouts of the same shape at once.
#[inline]
pub(crate) fn for_each_index2(a: &Layout, b: &Layout, mut f: impl FnMut(usize, usize)) {
    debug_assert_eq!(a.shape, b.shape);
    let n = a.numel();
    if n == 0 {
        return;
    }
    let rank = a.rank();
    if rank == 0 {
        f(a.offset, b.offset);
        return;
    }
    let dims = a.dims();
    let inner = dims[rank - 1];
    let (sa, sb) = (a.strides[rank - 1], b.strides[rank - 1]);
    let mut idx: Dims = SmallVec::from_elem(0, rank);
    let (mut ba, mut bb) = (a.offset, b.offset);
    loop {
        let (mut pa, mut pb) = (ba, bb);
        for _ in 0..inner {
            f(pa, pb);
            pa += sa;
            pb += sb;
        }
        let mut d = rank - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            ba += a.strides[d];
            bb += b.strides[d];
            if idx[d] < dims[d] {
                break;
            }
            ba -= a.strides[d] * dims[d];
            bb -= b.strides[d] * dims[d];
            idx[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_transposed_layout() {
        let l = Layout {
            shape: Shape::from([2, 3]),
            strides: SmallVec::from_slice(&[1, 2]),
            offset: 1,
        };
        let mut seen = vec![];
        for_each_index(&l, |i| seen.push(i));
        assert_eq!(seen, vec![1, 3, 5, 2, 4, 6]);
        assert!(!l.is_contiguous());
        assert_eq!(l.storage_extent(), 7);
    }

    #[test]
    fn broadcast_rule_examples() {
        assert_eq!(broadcast_shapes("add", &[], &[3]).unwrap().dims(), &[3]);
        assert_eq!(
            broadcast_shapes("add", &[0, 1], &[1, 5]).unwrap().dims(),
            &[0, 5]
        );
        let e = broadcast_shapes("add", &[2, 3], &[4]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "add: shapes cannot be broadcast together: [2, 3] and [4]"
        );
    }
}
