//! # recur
//!
//! An automatic-differentiation engine written from scratch in Rust, with a recurrent neural
//! network as its showcase. This facade re-exports the three crates:
//!
//! - [`tensor`] (`recur-tensor`): n-d strided `f32`/`f64` tensors, broadcasting, our own GEMM;
//! - [`autograd`] (`recur-autograd`): a tape-based reverse-mode engine and `gradcheck`;
//! - [`nn`] (`recur-nn`): modules, losses, optimizers, clipping, checkpoints;
//! - [`plot`]: SVG line charts and an atomic file writer for the examples.
//!
//! ```
//! use recur::tensor::Tensor;
//! let t = Tensor::<f32>::ones(&[2, 3]);
//! assert_eq!(t.sum_all().item()?, 6.0);
//! # Ok::<(), recur::tensor::TensorError>(())
//! ```

/// The README's example, compiled and run as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub mod plot;

pub use recur_autograd as autograd;
pub use recur_nn as nn;
pub use recur_tensor as tensor;

pub use recur_nn::seeded_rng;
