//! The crate's one error type. Every variant names the op and carries the shapes involved.

use crate::shape::Shape;
use thiserror::Error;

/// What went wrong in a tensor op. The `Display` text names the op and the shapes:
///
/// ```
/// use recur_tensor::Tensor;
/// let a = Tensor::<f32>::zeros(&[32, 65]);
/// let b = Tensor::<f32>::zeros(&[128, 64]);
/// let err = a.matmul(&b).unwrap_err();
/// assert_eq!(err.to_string(), "matmul: inner dims differ: [32, 65] @ [128, 64]");
/// ```
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum TensorError {
    /// Two shapes that must broadcast together (NumPy rules) do not.
    #[error("{op}: shapes cannot be broadcast together: {lhs} and {rhs}")]
    Broadcast {
        /// The op.
        op: &'static str,
        /// Left shape.
        lhs: Shape,
        /// Right shape.
        rhs: Shape,
    },
    /// A shape cannot be broadcast to a target shape.
    #[error("{op}: cannot broadcast {from} to {to}")]
    BroadcastTo {
        /// The op.
        op: &'static str,
        /// The source shape.
        from: Shape,
        /// The requested shape.
        to: Shape,
    },
    /// Two shapes that must be equal (or agree in a named way) are not.
    #[error("{op}: shape mismatch: {lhs} vs {rhs}{detail}")]
    ShapeMismatch {
        /// The op.
        op: &'static str,
        /// First shape.
        lhs: Shape,
        /// Second shape.
        rhs: Shape,
        /// Extra detail, empty or starting with `" ("`.
        detail: String,
    },
    /// matmul operands whose inner dimensions differ.
    #[error("{op}: inner dims differ: {lhs} @ {rhs}")]
    MatmulInner {
        /// The op.
        op: &'static str,
        /// Left shape.
        lhs: Shape,
        /// Right shape.
        rhs: Shape,
    },
    /// A buffer whose length does not match the number of elements of a shape.
    #[error("{op}: data of length {len} does not fit shape {shape} ({numel} elements)")]
    LengthMismatch {
        /// The op.
        op: &'static str,
        /// The data length given.
        len: usize,
        /// The shape asked for.
        shape: Shape,
        /// The shape's element count.
        numel: usize,
    },
    /// A dimension index outside `-rank..rank`.
    #[error("{op}: dim {dim} is out of range for shape {shape} (rank {rank})")]
    DimOutOfRange {
        /// The op.
        op: &'static str,
        /// The dim given.
        dim: isize,
        /// The tensor's shape.
        shape: Shape,
        /// The tensor's rank.
        rank: usize,
    },
    /// An index (or range) outside a dimension.
    #[error("{op}: index {index} is out of range for dim {dim} of size {size} in shape {shape}")]
    IndexOutOfRange {
        /// The op.
        op: &'static str,
        /// The offending index (or range end).
        index: isize,
        /// The dim.
        dim: usize,
        /// The dim's size.
        size: usize,
        /// The tensor's shape.
        shape: Shape,
    },
    /// A rank that the op does not accept.
    #[error("{op}: expected {expected}, got shape {shape}")]
    Rank {
        /// The op.
        op: &'static str,
        /// What the op accepts, in words (`"a 2-D tensor"`).
        expected: &'static str,
        /// The shape given.
        shape: Shape,
    },
    /// A reshape between shapes of different sizes (or with a bad `-1`).
    #[error("{op}: cannot reshape {from} ({numel} elements) into {to}")]
    Reshape {
        /// The op.
        op: &'static str,
        /// The source shape.
        from: Shape,
        /// The source element count.
        numel: usize,
        /// The requested shape, as given (`-1` shown as `-1`).
        to: String,
    },
    /// A list of dims that is not a permutation (or repeats a dim).
    #[error("{op}: {dims:?} is not a valid set of dims for shape {shape}")]
    BadDims {
        /// The op.
        op: &'static str,
        /// The dims given.
        dims: Vec<isize>,
        /// The tensor's shape.
        shape: Shape,
    },
    /// An op that needs at least one tensor got none.
    #[error("{op}: expected a non-empty list of tensors")]
    EmptyList {
        /// The op.
        op: &'static str,
    },
    /// A reduction without identity over zero elements (max/min/argmax of an empty dim).
    #[error("{op}: cannot reduce over a zero-sized dim in shape {shape}")]
    EmptyReduction {
        /// The op.
        op: &'static str,
        /// The tensor's shape.
        shape: Shape,
    },
    /// A bad scalar argument (a negative size, lo > hi, a NaN bound, ...).
    #[error("{op}: {msg}")]
    InvalidArgument {
        /// The op.
        op: &'static str,
        /// What is wrong, with the values.
        msg: String,
    },
}

/// `Result` with [`TensorError`].
pub type Result<T, E = TensorError> = core::result::Result<T, E>;
