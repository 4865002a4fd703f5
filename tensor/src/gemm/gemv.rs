//! The vector-matrix product `c = alpha * a B + beta * c` (C has one row), reading B in place.
//!
//! Packing B would cost as much as the whole product here (each element of B is used once),
//! so this path streams B directly:
//! - row-major B (`cs == 1`): `c += a[p] * B[p, :]` over chunks of `W` columns kept in
//!   registers (the RNN's `[1×H]·[H×H]` case);
//! - column-major B (`rs == 1`): one dot product per column with `W` partial sums.
//!
//! The same generic body is compiled twice: portable, and with AVX2+FMA enabled (chosen once
//! per process like the micro-kernels).

use super::kernel::{Isa, isa};
use super::{GemmScalar, MatMut, MatRef};

/// Computes `c = alpha * a * b + beta * c` for a `1 × k` A and a `k × n` B with
/// `b.cs == 1 || b.rs == 1`. Dimensions are checked, non-zero, `alpha != 0`.
pub(super) fn gemv<T: GemmScalar>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) {
    #[cfg(target_arch = "x86_64")]
    if isa() >= Isa::Avx2 && is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: AVX2 and FMA were detected just above.
        unsafe { gemv_avx2(alpha, a, b, beta, c) };
        return;
    }
    gemv_body::<T, false>(alpha, a, b, beta, c);
}

/// [`gemv_body`] compiled with AVX2 and FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gemv_avx2<T: GemmScalar>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) {
    gemv_body::<T, true>(alpha, a, b, beta, c);
}

/// `x * y + z`; fused (one rounding) when `FMA`, which is only set where the FMA instruction
/// is enabled.
#[inline(always)]
fn madd<T: GemmScalar, const FMA: bool>(x: T, y: T, z: T) -> T {
    if FMA {
        x.fused_mul_add(y, z)
    } else {
        x * y + z
    }
}

#[inline(always)]
fn gemv_body<T: GemmScalar, const FMA: bool>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) {
    let (k, n) = (a.cols, b.cols);
    let a_at = |p: usize| a.data[a.offset + p * a.cs];
    let mut store = |j: usize, x: T| {
        let cj = &mut c.data[c.offset + j * c.cs];
        *cj = if beta == T::ZERO {
            alpha * x
        } else {
            madd::<T, FMA>(beta, *cj, alpha * x)
        };
    };
    if b.cs == 1 {
        let mut j0 = 0;
        // Full chunks of W columns, then halving chunk widths for the tail.
        macro_rules! axpy_chunks {
            ($w:expr) => {
                while n - j0 >= $w {
                    let mut acc = [T::ZERO; $w];
                    for p in 0..k {
                        let ap = a_at(p);
                        let s = b.offset + p * b.rs + j0;
                        let row: &[T; $w] = b.data[s..s + $w].try_into().expect("slice of W");
                        for (x, &y) in acc.iter_mut().zip(row) {
                            *x = madd::<T, FMA>(ap, y, *x);
                        }
                    }
                    for (jj, &x) in acc.iter().enumerate() {
                        store(j0 + jj, x);
                    }
                    j0 += $w;
                }
            };
        }
        // The widest chunk is eight 256-bit accumulators.
        if core::mem::size_of::<T>() == 4 {
            axpy_chunks!(64);
        }
        axpy_chunks!(32);
        axpy_chunks!(16);
        axpy_chunks!(8);
        axpy_chunks!(4);
        axpy_chunks!(1);
    } else {
        // b.rs == 1: each column of B is contiguous; W independent partial sums per column.
        const W: usize = 16;
        for j in 0..n {
            let s = b.offset + j * b.cs;
            let col = &b.data[s..s + k];
            let mut acc = [T::ZERO; W];
            let mut p = 0;
            for cw in col.chunks_exact(W) {
                for (jj, (x, &y)) in acc.iter_mut().zip(cw).enumerate() {
                    *x = madd::<T, FMA>(a_at(p + jj), y, *x);
                }
                p += W;
            }
            let mut sum = T::ZERO;
            for x in acc {
                sum = sum + x;
            }
            for (pp, &y) in col.iter().enumerate().skip(p) {
                sum = madd::<T, FMA>(a_at(pp), y, sum);
            }
            store(j, sum);
        }
    }
}
