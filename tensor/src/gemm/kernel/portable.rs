//! The portable micro-kernel: plain safe Rust, correct on every target, written so that the
//! compiler can keep the `MR × NR` accumulator tile in vector registers (the `j` loop over a
//! packed B row autovectorises).

use super::{GEMV_W, GemmScalar, Kernel, RowKernel, check_dots, check_tile};

/// The portable kernel: `4 × 8` tiles for both `f32` and `f64`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Portable;

/// The generic body (see the module docs of `kernel` for the contract).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn tile<T: GemmScalar, const MR: usize, const NR: usize>(
    kc: usize,
    alpha: T,
    a: &[T],
    rs_a: usize,
    cs_a: usize,
    b: &[T],
    rs_b: usize,
    beta: T,
    c: &mut [T],
    rs_c: usize,
    cs_c: usize,
    rows: usize,
    cols: usize,
) {
    check_tile(
        MR,
        NR,
        kc,
        a.len(),
        rs_a,
        cs_a,
        b.len(),
        rs_b,
        c.len(),
        rs_c,
        cs_c,
        rows,
        cols,
    );
    let mut ab = [[T::ZERO; NR]; MR];
    for p in 0..kc {
        let brow: &[T; NR] = b[p * rs_b..p * rs_b + NR]
            .try_into()
            .expect("a slice of NR elements");
        for (i, row) in ab.iter_mut().enumerate() {
            let ai = a[i * rs_a + p * cs_a];
            for (x, &bj) in row.iter_mut().zip(brow) {
                *x = *x + ai * bj;
            }
        }
    }
    for (i, row) in ab.iter().enumerate().take(rows) {
        for (j, &x) in row.iter().enumerate().take(cols) {
            let cij = &mut c[i * rs_c + j * cs_c];
            *cij = if beta == T::ZERO {
                alpha * x
            } else {
                beta * *cij + alpha * x
            };
        }
    }
}

macro_rules! impl_kernel {
    ($t:ty) => {
        impl Kernel<$t> for Portable {
            const MR: usize = 4;
            const NR: usize = 8;

            #[inline]
            fn run(
                self,
                kc: usize,
                alpha: $t,
                a: &[$t],
                rs_a: usize,
                cs_a: usize,
                b: &[$t],
                rs_b: usize,
                beta: $t,
                c: &mut [$t],
                rs_c: usize,
                cs_c: usize,
                rows: usize,
                cols: usize,
            ) {
                tile::<$t, 4, 8>(
                    kc, alpha, a, rs_a, cs_a, b, rs_b, beta, c, rs_c, cs_c, rows, cols,
                )
            }
        }
    };
}

impl_kernel!(f32);
impl_kernel!(f64);

impl<T: GemmScalar> RowKernel<T> for Portable {
    const CHUNK: usize = 16;

    fn rows(
        self,
        k: usize,
        a: &[T],
        inc_a: usize,
        b: &[T],
        rs_b: usize,
        w: usize,
        out: &mut [T; GEMV_W],
    ) {
        let out = &mut out[..w];
        out.fill(T::ZERO);
        for p in 0..k {
            let ap = a[p * inc_a];
            let row = &b[p * rs_b..p * rs_b + w];
            for (x, &y) in out.iter_mut().zip(row) {
                *x = *x + ap * y;
            }
        }
    }

    fn dots(
        self,
        k: usize,
        a: &[T],
        b: &[T],
        cs: usize,
        j0: usize,
        alpha: T,
        beta: T,
        c: &mut [T],
    ) {
        check_dots(k, a.len(), b.len(), cs, j0, c.len());
        let a = &a[..k];
        for (jj, o) in c.iter_mut().enumerate() {
            let s = (j0 + jj) * cs;
            let dot = a
                .iter()
                .zip(&b[s..s + k])
                .fold(T::ZERO, |s, (&x, &y)| s + x * y);
            *o = if beta == T::ZERO {
                alpha * dot
            } else {
                beta * *o + alpha * dot
            };
        }
    }
}
