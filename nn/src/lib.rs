//! # recur-nn
//!
//! Neural-network building blocks for recur, matching `torch.nn` exactly: parameters under
//! PyTorch's names, PyTorch's initialisation and error messages.
//!
//! Depend on `recur`, the facade, rather than on this crate: everything here is `recur::nn`
//! there (`use recur::nn::{Linear, Module, Rnn, RnnConfig};`), next to `recur::tensor`,
//! `recur::autograd`, `recur::rand` and `recur::seeded_rng`.
//!
//! The guide, the lesson behind the RNN with every example runnable, is the facade's
//! `recur::guide` page (`docs/guide.md` in the repository). The examples on this crate's
//! items name `recur_nn` and `recur_tensor` because they run as tests of this crate.

mod activation;
pub mod checkpoint;
pub mod clip;
mod compiled;
mod dropout;
mod error;
pub mod gru;
pub mod init;
mod layer;
mod linear;
pub mod loss;
pub mod lstm;
mod module;
pub mod optim;
pub mod recurrent;
pub mod rnn;

pub use activation::{ReLU, Sigmoid, Tanh, relu, sigmoid, tanh};
pub use checkpoint::{Checkpoint, SaveOptions, load_module, save_module, save_module_with};
pub use clip::{ClipNormOptions, clip_grad_norm, clip_grad_norm_with, clip_grad_value};
pub use dropout::Dropout;
pub use error::{NnError, Result};
pub use gru::{Gru, GruCell, GruConfig};
pub use layer::{Layer, Sequential};
pub use linear::{Embedding, Linear};
pub use loss::{
    CrossEntropyOptions, Reduction, cross_entropy, cross_entropy_tensor, mse_loss,
    mse_loss_broadcast, nll_loss,
};
pub use lstm::{Lstm, LstmCell, LstmConfig};
#[doc(hidden)]
pub use module::__derive;
pub use module::{Module, prefixed, prefixed_mut};
pub use recur_autograd::{Grads, IntoVar, Param, ParamId, Tape, Var};
pub use rnn::{Nonlinearity, Rnn, RnnCell, RnnConfig};

/// A seeded random-number generator (ChaCha12 via `rand`'s `StdRng`), the one recur's
/// initialisers and examples use for reproducible runs.
///
/// ```
/// use rand::Rng;
/// let (mut a, mut b) = (recur_nn::seeded_rng(7), recur_nn::seeded_rng(7));
/// assert_eq!(a.next_u64(), b.next_u64());
/// ```
pub fn seeded_rng(seed: u64) -> rand::rngs::StdRng {
    use rand::SeedableRng;
    rand::rngs::StdRng::seed_from_u64(seed)
}
