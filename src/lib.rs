//! # recur
//!
//! An automatic-differentiation engine written from scratch in Rust, with a recurrent neural
//! network as its showcase. This facade re-exports the three crates:
//!
//! - [`tensor`] (`recur-tensor`): n-d strided `f32`/`f64` tensors, broadcasting, our own GEMM;
//! - [`autograd`] (`recur-autograd`): a tape-based reverse-mode engine and `gradcheck`;
//! - [`nn`] (`recur-nn`): modules, losses, optimizers, clipping, checkpoints;
//! - [`rand`](https://docs.rs/rand/0.10/rand/) and [`seeded_rng`]: the random-number crate
//!   recur's initialisers draw from, so that a crate depending on `recur` needs no `rand` line
//!   of its own (and no matching version);
//! - [`guide`]: the lesson behind the RNN (the formula, shapes, saturation, vanishing and
//!   exploding gradients, clipping, gates, your own cell, a model of modules), every claim a
//!   runnable example.
//!
//! ```
//! use recur::tensor::Tensor;
//! let t = Tensor::<f32>::ones(&[2, 3]);
//! assert_eq!(t.sum_all().item()?, 6.0);
//! # Ok::<(), recur::tensor::TensorError>(())
//! ```
//!
//! ## Random numbers without a `rand` dependency
//!
//! Initialisers take a `rand` generator. [`seeded_rng`] makes one from a seed, and
//! [`rand`](https://docs.rs/rand/0.10/rand/) is the very crate recur uses, so your
//! `Cargo.toml` needs no `rand` line (and no matching version):
//!
//! ```
//! use recur::rand::RngExt; // `random`, `random_range`, ...
//! use recur::rand::seq::SliceRandom; // `shuffle`, ...
//! use recur::tensor::Tensor;
//!
//! let mut rng = recur::seeded_rng(42);
//! let die = rng.random_range(1..=6);
//! assert!((1..=6).contains(&die));
//! let mut order: Vec<usize> = (0..10).collect();
//! order.shuffle(&mut rng);
//! order.sort_unstable();
//! assert_eq!(order, (0..10).collect::<Vec<_>>());
//!
//! // The same generator initialises tensors and modules.
//! let w = Tensor::<f32>::uniform(&[2, 3], -0.1, 0.1, &mut rng);
//! assert!(w.to_vec().iter().all(|v| v.abs() <= 0.1));
//!
//! // The same seed gives the same draws.
//! let (mut a, mut b) = (recur::seeded_rng(7), recur::seeded_rng(7));
//! assert_eq!(a.random::<u64>(), b.random::<u64>());
//! ```

/// The README's example, compiled and run as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub mod guide;

pub use recur_autograd as autograd;
pub use recur_nn as nn;
pub use recur_tensor as tensor;

/// The `rand` crate recur is built on, re-exported so that your generator is the one recur's
/// initialisers take, whatever `rand` version the rest of your crate uses.
///
/// Start from [`seeded_rng`] (a `rand::rngs::StdRng` seeded from a `u64`); the crate docs
/// show drawing with it.
pub use rand;
pub use recur_nn::seeded_rng;

/// The generator [`seeded_rng`] returns (`rand::rngs::StdRng`), for naming it in your own
/// functions: `fn init(rng: &mut recur::SeededRng)`.
///
/// ```
/// fn noise(rng: &mut recur::SeededRng, n: usize) -> recur::tensor::Tensor<f32> {
///     recur::tensor::Tensor::uniform(&[n], -1.0, 1.0, rng)
/// }
/// assert_eq!(noise(&mut recur::seeded_rng(3), 4).to_vec(), noise(&mut recur::seeded_rng(3), 4).to_vec());
/// ```
pub type SeededRng = rand::rngs::StdRng;
