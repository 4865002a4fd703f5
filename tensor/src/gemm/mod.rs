//! GEMM (in progress).
