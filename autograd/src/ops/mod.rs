//! One differentiable op = a `Var` method plus its backward type right below it, by family.

pub mod elementwise;
pub mod index;
pub mod matmul;
pub mod reduce;
pub mod softmax;
pub mod view;
