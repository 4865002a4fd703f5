//! recur-tensor (in progress).
pub mod gemm;
