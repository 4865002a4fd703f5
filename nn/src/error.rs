//! The nn error type.

use recur_autograd::AutogradError;
use recur_tensor::TensorError;
use thiserror::Error;

/// What went wrong in a module, loss, optimizer or checkpoint. Module errors use PyTorch's
/// wording where PyTorch has one, after the module's printed form, so that a model with two
/// RNNs says which one refused its input
/// (`RNN(5, 6, num_layers=2): input.size(-1) must be equal to input_size. Expected 5, got 7`).
///
/// ```
/// use recur_nn::{Rnn, RnnConfig, Tape};
/// use recur_tensor::Tensor;
/// let rnn = Rnn::<f32>::new(RnnConfig::new(5, 6).num_layers(2), &mut recur_nn::seeded_rng(0))?;
/// let tape = Tape::new();
/// let e = rnn.forward(&tape.constant(Tensor::zeros(&[3, 1, 7])), None).unwrap_err();
/// assert_eq!(
///     e.to_string(),
///     "RNN(5, 6, num_layers=2): input.size(-1) must be equal to input_size. Expected 5, got 7"
/// );
/// # Ok::<(), recur_nn::NnError>(())
/// ```
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

impl NnError {
    /// A bad input refused by `module`: the message prefixed with the module's printed form
    /// (`LSTM(3, 4): ...`). Other errors pass through unchanged.
    pub(crate) fn in_module(self, module: &dyn std::fmt::Display) -> Self {
        match self {
            NnError::Input(msg) => NnError::Input(format!("{module}: {msg}")),
            other => other,
        }
    }
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
