//! The recurrent weight, prepared once for the `T` per-step products of a layer run.
//!
//! Every step of a recurrence computes `out = x · M` for a batch of row vectors `x`
//! (`[B, K]`) and the same matrix `M` (`[K, N]`: `W_hh^T` forward, `W_hh` in backward). Two ways
//! to do it with our GEMM, chosen once per layer run by how well each fills the micro-kernel's
//! `MR × NR` register tile:
//! - *plain*: `out = x · M` with `M` copied row-major once and read in place every step
//!   (rows of the product = the batch);
//! - *packed*: `out^T = M^T · x^T` with `M^T` packed once ([`PackedLhs`]) and `out` written
//!   through a transposed view (rows of the product = `N`, usually the long side).
//!
//! With a batch of 32 and `MR = 6`, the plain product computes 36 rows for 32; the packed one
//! has `N = 256` rows (258 computed) and 32 = 2 × 16 columns: about 10 % less work, and no
//! per-step repacking of `M`.

use recur_tensor::Float;
use recur_tensor::gemm::{
    MatMut, MatRef, PARALLEL_MIN_WORK, PackedLhs, gemm, gemm_packed_lhs, num_threads, tile,
};

/// `M` (`[K, N]`), ready for `out = x · M` at every step.
pub(crate) enum StepWeight<'a, T: Float> {
    /// `M` read where it is: row-major, or column-major for a batch of 1.
    Borrowed(MatRef<'a, T>),
    /// `M` copied row-major.
    Plain { m: Vec<T>, k: usize, n: usize },
    /// `M^T` packed for the left operand.
    Packed(PackedLhs<T>),
}

/// `m` (any strides) copied into a row-major `Vec`.
pub(crate) fn row_major_copy<T: Float>(m: MatRef<'_, T>) -> Vec<T> {
    let mut out = Vec::with_capacity(m.rows * m.cols);
    for r in 0..m.rows {
        let base = m.offset + r * m.rs;
        out.extend((0..m.cols).map(|c| m.data[base + c * m.cs]));
    }
    out
}

/// The fraction of computed tile entries that are real when `len` is cut into `unit`s.
fn fill(len: usize, unit: usize) -> f64 {
    len as f64 / (len.div_ceil(unit) * unit) as f64
}

impl<'a, T: Float> StepWeight<'a, T> {
    /// Prepares `m` (`[K, N]`, any strides) for products with `batch` rows.
    pub(crate) fn new(m: MatRef<'a, T>, batch: usize) -> Self {
        let (mr, nr) = tile::<T>();
        // Batch 1 is a vector-matrix product (its own path, B read in place): keep it plain.
        // So are products the GEMM will split over threads: it splits the rows of C, which
        // the transposed view interleaves. Otherwise pack when the transposed product fills
        // the tiles clearly better.
        let (k, n) = (m.rows, m.cols);
        if batch == 1 && m.rs == 1 {
            // A column-major M with one input row: the vector-matrix path takes dot products
            // with its (contiguous) columns, as fast as reading a row-major copy, and no copy
            // is made.
            return StepWeight::Borrowed(m);
        }
        let threaded = num_threads() > 1 && batch * k * n >= PARALLEL_MIN_WORK;
        Self::with_choice(
            m,
            batch > 1 && !threaded && fill(n, mr) * fill(batch, nr) > 1.03 * fill(batch, mr),
        )
    }

    fn with_choice(m: MatRef<'a, T>, packed: bool) -> Self {
        let (k, n) = (m.rows, m.cols);
        if packed {
            return StepWeight::Packed(PackedLhs::new(m.t()));
        }
        if m.cs == 1 && (m.rs == n || k <= 1) {
            return StepWeight::Borrowed(m);
        }
        StepWeight::Plain {
            m: row_major_copy(m),
            k,
            n,
        }
    }

    /// `out = x · M + beta · out`, with `x` `[batch, K]` and `out` `[batch, N]` row-major with
    /// row strides `x_rs` and `out_rs` (a part of wider rows, such as the `h` of `[h | c]`).
    pub(crate) fn apply(
        &self,
        x: &[T],
        x_rs: usize,
        batch: usize,
        beta: T,
        out: &mut [T],
        out_rs: usize,
    ) {
        let (k, n) = self.dims();
        let xm = MatRef {
            data: x,
            offset: 0,
            rows: batch,
            cols: k,
            rs: x_rs,
            cs: 1,
        };
        let om = MatMut {
            data: out,
            offset: 0,
            rows: batch,
            cols: n,
            rs: out_rs,
            cs: 1,
        };
        match self {
            StepWeight::Borrowed(m) => gemm(T::ONE, xm, *m, beta, om),
            StepWeight::Plain { m, .. } => gemm(T::ONE, xm, MatRef::row_major(m, k, n), beta, om),
            StepWeight::Packed(mt) => gemm_packed_lhs(T::ONE, mt, xm.t(), beta, om.t()),
        }
    }

    /// `(K, N)`.
    fn dims(&self) -> (usize, usize) {
        match self {
            StepWeight::Borrowed(m) => (m.rows, m.cols),
            StepWeight::Plain { k, n, .. } => (*k, *n),
            StepWeight::Packed(mt) => (mt.cols(), mt.rows()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use recur_tensor::gemm::gemm_naive;

    /// Both variants (and the automatic choice) against the naive product, for a row-major
    /// and a transposed `M`, with `beta` 0 and 1.
    #[test]
    fn both_ways_match_naive() {
        let val = |i: usize| ((i * 7919) % 113) as f64 / 56.0 - 1.0;
        for (batch, k, n) in [(1, 5, 7), (32, 64, 96), (50, 33, 17), (7, 300, 20)] {
            let x: Vec<f64> = (0..batch * k).map(val).collect();
            let mdata: Vec<f64> = (0..k * n).map(|i| val(i + 3)).collect();
            for transposed in [false, true] {
                let m = if transposed {
                    MatRef::row_major(&mdata, n, k).t()
                } else {
                    MatRef::row_major(&mdata, k, n)
                };
                for (w, beta) in [
                    (StepWeight::new(m, batch), 0.0),
                    (StepWeight::with_choice(m, false), 1.0),
                    (StepWeight::with_choice(m, true), 0.0),
                    (StepWeight::with_choice(m, true), 1.0),
                ] {
                    let mut want: Vec<f64> = (0..batch * n).map(|i| val(i + 11)).collect();
                    let mut got = want.clone();
                    gemm_naive(
                        1.0,
                        MatRef::row_major(&x, batch, k),
                        m,
                        beta,
                        MatMut::row_major(&mut want, batch, n),
                    );
                    w.apply(&x, k, batch, beta, &mut got, n);
                    for (g, e) in got.iter().zip(&want) {
                        assert!(
                            (g - e).abs() <= 1e-12 * k as f64,
                            "{batch}x{k}x{n}: {g} vs {e}"
                        );
                    }
                }
            }
        }
    }
}
