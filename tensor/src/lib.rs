//! # recur-tensor
//!
//! N-dimensional strided `f32`/`f64` tensors for the recur autodiff engine: views without
//! copies, NumPy broadcasting, reductions, indexing, softmax, and a BLIS-style GEMM of our own.
//! Nothing here knows about gradients: plain tensor code is the no-grad (inference) path.
//!
//! ```
//! use recur_tensor::Tensor;
//! let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
//! let w = Tensor::eye(2);
//! let y = x.matmul(&w.t()?)?.add(&Tensor::from_vec(vec![0.5, -0.5], &[2])?)?.tanh();
//! assert_eq!(y.dims(), &[2, 2]);
//! # Ok::<(), recur_tensor::TensorError>(())
//! ```
//!
//! Errors name the op and the shapes: `matmul: inner dims differ: [32, 65] @ [128, 64]`.

mod display;
mod error;
mod float;
pub mod gemm;
mod index_tensor;
#[doc(hidden)]
pub mod kernels;
pub mod ops;
pub mod pool;
mod shape;
mod tensor;
pub mod vmath;

pub use error::{Result, TensorError};
pub use float::Float;
pub use index_tensor::IndexTensor;
pub use ops::unary::sigmoid;
pub use shape::{Dim, Dims, Layout, Shape, broadcast_shapes};
pub use tensor::Tensor;
