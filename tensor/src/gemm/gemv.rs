//! The vector-matrix product `c = alpha * a B + beta * c` (C has one row), reading B in place.
//!
//! Packing B would cost as much as the whole product here (each element of B is used once),
//! so this path streams B directly through a [`RowKernel`]:
//! - row-major B (`cs == 1`): chunks of columns accumulated in registers over all of `k`
//!   (the RNN's `[1×H]·[H×H]` case);
//! - column-major B (`rs == 1`): dot products, up to eight columns per call streamed
//!   together (one load of A shared by the eight), their sums reduced together in registers.

use super::kernel::{DOTS_W, GEMV_W, GemmScalar, Kernel, KernelVisitor, RowKernel};
use super::mat::{MatMut, MatRef};

/// A vector-matrix product for [`with_kernel`](super::kernel::with_kernel): runs
/// [`gemv_with`] with the selected kernel's helpers.
pub(super) struct Gemv<'a, T> {
    pub alpha: T,
    pub a: MatRef<'a, T>,
    pub b: MatRef<'a, T>,
    pub beta: T,
    pub c: MatMut<'a, T>,
}

impl<T: GemmScalar> KernelVisitor<T> for Gemv<'_, T> {
    type Out = ();

    fn visit<K: Kernel<T> + RowKernel<T>>(self, k: K) {
        gemv_with(k, self.alpha, self.a, self.b, self.beta, self.c)
    }
}

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
    let store = |data: &mut [T], j: usize, x: T| {
        let cj = &mut data[c.offset + j * c.cs];
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
                store(c.data, j0 + jj, x);
            }
        }
    } else if a.cs == 1 {
        // Column-major B: a block of DOTS_W columns per call, written straight to a
        // contiguous C (through a small buffer to a strided one).
        let b_data = &b.data[b.offset..];
        for j0 in (0..n).step_by(DOTS_W) {
            let w = DOTS_W.min(n - j0);
            if c.cs == 1 {
                let out = &mut c.data[c.offset + j0..c.offset + j0 + w];
                g.dots(k, a_row, b_data, b.cs, j0, alpha, beta, out);
            } else {
                let mut out = [T::ZERO; DOTS_W];
                g.dots(k, a_row, b_data, b.cs, j0, T::ONE, T::ZERO, &mut out[..w]);
                for (jj, &x) in out[..w].iter().enumerate() {
                    store(c.data, j0 + jj, x);
                }
            }
        }
    } else {
        // A strided row and a column-major B: plain loop (rare).
        for j in 0..n {
            let s = b.offset + j * b.cs;
            let sum = (0..k).fold(T::ZERO, |acc, p| acc + a_row[p * a.cs] * b.data[s + p]);
            store(c.data, j, sum);
        }
    }
}
