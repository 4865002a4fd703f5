//! The nn error type.

use recur_autograd::AutogradError;
use recur_tensor::TensorError;
use thiserror::Error;

/// What went wrong in a module, loss, optimizer or checkpoint. Module errors use PyTorch's
/// wording where PyTorch has one (`input.size(-1) must be equal to input_size. Expected 3, got 7`).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NnError {
    /// A tensor op failed. (Boxed, like the next variant, to keep `Result`s small.)
    #[error(transparent)]
    Tensor(Box<TensorError>),
    /// Recording or differentiating failed.
    #[error(transparent)]
    Autograd(Box<AutogradError>),
    /// A bad constructor argument or hyperparameter (PyTorch's text where it has one).
    #[error("{0}")]
    Config(String),
    /// A bad input to a module or loss (PyTorch's text where it has one).
    #[error("{0}")]
    Input(String),
    /// A checkpoint that cannot be read or written: truncated, corrupted, or not matching the
    /// module (missing names, wrong shapes).
    #[error("checkpoint {path}: {msg}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What is wrong with it.
        msg: String,
    },
    /// An I/O error, with the path.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl From<TensorError> for NnError {
    fn from(e: TensorError) -> Self {
        NnError::Tensor(Box::new(e))
    }
}

impl From<AutogradError> for NnError {
    /// Unwraps a tensor error carried by the autograd error, so `NnError::Tensor` always
    /// holds tensor failures whichever layer reported them.
    fn from(e: AutogradError) -> Self {
        match e {
            AutogradError::Tensor(t) => NnError::Tensor(Box::new(t)),
            other => NnError::Autograd(Box::new(other)),
        }
    }
}

impl From<NnError> for AutogradError {
    /// Lets module code run inside a [`CustomOp`](recur_autograd::CustomOp) or `gradcheck`
    /// closure with `?`.
    fn from(e: NnError) -> Self {
        match e {
            NnError::Autograd(a) => *a,
            NnError::Tensor(t) => AutogradError::Tensor(*t),
            other => AutogradError::Custom {
                op: "nn".into(),
                msg: other.to_string(),
            },
        }
    }
}

/// `Result` with [`NnError`].
pub type Result<T, E = NnError> = core::result::Result<T, E>;
