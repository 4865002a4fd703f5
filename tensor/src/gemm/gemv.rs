//! The vector-matrix product `c = alpha * a B + beta * c` (C has one row), reading B in place.
//!
//! Packing B would cost as much as the whole product here (each element of B is used once),
//! so this path streams B directly through a [`RowKernel`]:
//! - row-major B (`cs == 1`): chunks of columns accumulated in registers over all of `k`
//!   (the RNN's `[1×H]·[H×H]` case);
//! - column-major B (`rs == 1`): dot products, four columns at a time, the next four
//!   prefetched meanwhile.

use super::kernel::{GEMV_W, RowKernel};
use super::{GemmScalar, MatMut, MatRef};

/// Computes `c = alpha * a * b + beta * c` for a `1 × k` A and a `k × n` B with
/// `b.cs == 1 || b.rs == 1`. Dimensions are checked, non-zero, `alpha != 0`.
pub(super) fn gemv_with<T: GemmScalar, G: RowKernel<T>>(
    g: G,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) {
    let (k, n) = (a.cols, b.cols);
    let a_row = &a.data[a.offset..];
    let mut store = |j: usize, x: T| {
        let cj = &mut c.data[c.offset + j * c.cs];
        *cj = if beta == T::ZERO {
            alpha * x
        } else {
            beta * *cj + alpha * x
        };
    };
    if b.cs == 1 {
        let mut out = [T::ZERO; GEMV_W];
        for j0 in (0..n).step_by(G::CHUNK) {
            let w = G::CHUNK.min(n - j0);
            g.rows(k, a_row, a.cs, &b.data[b.offset + j0..], b.rs, w, &mut out);
            for (jj, &x) in out[..w].iter().enumerate() {
                store(j0 + jj, x);
            }
        }
    } else if a.cs == 1 {
        // Column-major B: four columns per call (the last group repeats its last column).
        let col = |j: usize| {
            let s = b.offset + j.min(n - 1) * b.cs;
            &b.data[s..s + k]
        };
        for j0 in (0..n).step_by(4) {
            let sums = g.dots(
                k,
                a_row,
                core::array::from_fn(|jj| col(j0 + jj)),
                core::array::from_fn(|jj| col(j0 + 4 + jj)),
            );
            for (jj, &x) in sums.iter().enumerate().take(n - j0) {
                store(j0 + jj, x);
            }
        }
    } else {
        // A strided row and a column-major B: plain loop (rare).
        for j in 0..n {
            let s = b.offset + j * b.cs;
            let sum = (0..k).fold(T::ZERO, |acc, p| acc + a_row[p * a.cs] * b.data[s + p]);
            store(j, sum);
        }
    }
}
