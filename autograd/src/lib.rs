//! # recur-autograd
//!
//! A tape-based reverse-mode automatic differentiation engine over
//! [`recur_tensor`].
//!
//! - A [`Tape`] records operations in creation order; [`Tape::backward`] is one reverse loop,
//!   no recursion (a 10,000-step unrolled sequence goes backward without stack growth).
//! - A [`Var`] is (tape, node, value). Leaves are parameters ([`Tape::param`], gradients keyed
//!   by a stable [`ParamId`]), tracked inputs ([`Tape::leaf`]) or constants.
//! - Gradients live outside tensors, in [`Grads`]; intermediate gradients are freed as the
//!   loop passes them unless a var asked to [retain](Var::retain_grad) its gradient.
//! - One backward rule per op, right below the op, in `ops/<family>.rs`; broadcasting is an
//!   explicit op whose backward is `sum_to_shape`.
//! - [`CustomOp`]: a user-defined forward and backward that become one node (the fused RNN
//!   and fused cross-entropy are built on it).
//! - [`gradcheck`]: finite differences in `f64`, as public API.
//! - Ops that cannot fail (element-wise, scalar, full reductions) return a [`Var`]; ops that
//!   can (shapes that do not broadcast or multiply, bad dims) return a [`Result`].
//! - Anomaly mode ([`Tape::set_anomaly`]) names the first op that produced a non-finite value.
//! - Where a constant is meant (a loss's target), [`IntoVar`] takes a `Var` or a plain tensor.
//!
//! ```
//! use recur_autograd::{Param, Tape};
//! use recur_tensor::Tensor;
//! let w = Param::new(Tensor::<f64>::from_vec(vec![0.5, -0.5], &[2, 1])?);
//! for _step in 0..2 {
//!     let tape = Tape::new();                               // fresh each step
//!     let x = tape.constant(Tensor::ones(&[3, 2]));
//!     let loss = x.matmul(&tape.param(&w))?.tanh().square().mean_all();
//!     let grads = tape.backward(&loss)?;
//!     assert_eq!(grads.get(&w).unwrap().dims(), &[2, 1]);
//! }
//! # Ok::<(), recur_autograd::AutogradError>(())
//! ```

mod error;
mod gradcheck;
mod grads;
pub mod ops;
mod param;
mod tape;

pub use error::{AutogradError, Result};
pub use gradcheck::{GradcheckOptions, GradcheckReport, InputReport, gradcheck};
pub use grads::Grads;
pub use param::{Param, ParamId};
pub use recur_tensor;
pub use tape::{Backward, CustomOp, InputGrads, IntoVar, Tape, Var};
