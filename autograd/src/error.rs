//! The autograd error type.

use recur_tensor::{Shape, TensorError};
use thiserror::Error;

/// What went wrong while recording or differentiating.
///
/// ```
/// use recur_autograd::Tape;
/// use recur_tensor::Tensor;
/// let tape = Tape::<f64>::new();
/// let x = tape.leaf(Tensor::ones(&[2, 3]));
/// let err = tape.backward(&x.tanh()).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "backward: grad can be implicitly created only for scalar outputs, got shape [2, 3] \
///      (pass an upstream gradient with backward_with)"
/// );
/// # Ok::<(), recur_autograd::AutogradError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum AutogradError {
    /// A tensor op failed (its message names the op and the shapes).
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// `backward` from a non-scalar without an upstream gradient.
    #[error(
        "backward: grad can be implicitly created only for scalar outputs, got shape {shape} \
         (pass an upstream gradient with backward_with)"
    )]
    NonScalarBackward {
        /// The output's shape.
        shape: Shape,
    },
    /// An upstream (or custom-op) gradient whose shape is not its value's shape.
    #[error("{op}: gradient shape mismatch: expected {expected}, got {got}")]
    GradShape {
        /// Where: `backward_with` or the op whose backward returned it.
        op: String,
        /// The value's shape.
        expected: Shape,
        /// The gradient's shape.
        got: Shape,
    },
    /// A var recorded on another tape was used with this one.
    #[error("{op}: var #{node} belongs to a different tape")]
    ForeignVar {
        /// The op.
        op: &'static str,
        /// The foreign var's node id.
        node: usize,
    },
    /// Anomaly mode found a non-finite value.
    #[error(
        "anomaly: {phase} of op `{op}` (node #{node}, input shapes {input_shapes}) produced a non-finite value"
    )]
    Anomaly {
        /// `"forward"` (its output) or `"backward"` (a gradient it produced).
        phase: &'static str,
        /// The op's name.
        op: String,
        /// The node id.
        node: usize,
        /// The shapes of the op's inputs, e.g. `[[32, 128], [128, 128]]`.
        input_shapes: String,
    },
    /// A custom op reported an error, or broke its contract.
    #[error("{op}: {msg}")]
    Custom {
        /// The op's name.
        op: String,
        /// What went wrong.
        msg: String,
    },
    /// gradcheck found an analytical gradient that disagrees with finite differences.
    #[error(
        "gradcheck: Jacobian mismatch for input {input} at element {element:?} (output element {output}): \
         analytical {analytical:e} vs numerical {numerical:e}"
    )]
    GradcheckMismatch {
        /// Which input (position in the list).
        input: usize,
        /// The input element's multi-index.
        element: Vec<usize>,
        /// The output element (flat index).
        output: usize,
        /// The backward pass's value.
        analytical: f64,
        /// The finite-difference value.
        numerical: f64,
    },
    /// gradcheck: two backward passes gave different gradients.
    #[error(
        "gradcheck: backward is not reentrant for input {input}: two runs differ by {max_diff:e}"
    )]
    NonReentrant {
        /// Which input.
        input: usize,
        /// The largest difference.
        max_diff: f64,
    },
}

/// `Result` with [`AutogradError`].
pub type Result<T, E = AutogradError> = core::result::Result<T, E>;
