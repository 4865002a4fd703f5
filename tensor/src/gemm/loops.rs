//! The BLIS loop nest around a micro-kernel, the small-problem variant and the thread split.

use super::blocking::blocking;
use super::kernel::{GemmScalar, Kernel, KernelVisitor, RowKernel};
use super::mat::{MatMut, MatRef};
use super::threads::num_threads;

/// Products with at least this many multiply-adds (`m * n * k`) are split over threads
/// (when [`num_threads`] > 1). Below it, spawning costs more than it saves: a scoped thread
/// takes ~50 µs to spawn and join on the 2-vCPU VM this was tuned on, and a 256^3 product
/// (2^24 multiply-adds, ~0.4 ms) ran slower on 2 threads than on 1 at the previous 2^22.
pub const PARALLEL_MIN_WORK: usize = 1 << 25;

/// Products with fewer multiply-adds (`m * n * k`) than this read A and B in place (see
/// [`serial`]); larger ones pack them, which pays off once each panel is reused many times.
const PACK_MIN_WORK: usize = 1 << 20;

/// Where the micro-kernels read the left operand A from.
#[derive(Clone, Copy, Debug)]
pub enum Lhs<'a, T> {
    /// A strided view: packed per block (or read in place when the product is small).
    View(MatRef<'a, T>),
    /// Already packed by [`PackedLhs`](super::PackedLhs) for this kernel.
    Packed(PackedRef<'a, T>),
}

/// A borrowed [`PackedLhs`](super::PackedLhs), possibly starting at a later row.
#[derive(Clone, Copy, Debug)]
pub struct PackedRef<'a, T> {
    /// All the panels: for each `kc`-deep slice starting at `pc`, `padded_rows * kc` elements
    /// at `pc * padded_rows`, as `MR`-tall micro-panels.
    pub data: &'a [T],
    /// Rows of the whole packed matrix, rounded up to a multiple of `MR`.
    pub padded_rows: usize,
    /// Columns (the product's `k`).
    pub cols: usize,
    /// The `kc` it was packed with.
    pub kc: usize,
    /// `MR` of the kernel it was packed for.
    pub mr: usize,
    /// First row used (a multiple of `MR`).
    pub row0: usize,
}

impl<T> Lhs<'_, T> {
    fn cols(&self) -> usize {
        match self {
            Lhs::View(a) => a.cols,
            Lhs::Packed(p) => p.cols,
        }
    }

    /// The same operand from row `row` on (a multiple of `MR` for a packed one).
    fn rows_from(self, row: usize, rows: usize) -> Self {
        match self {
            Lhs::View(a) => Lhs::View(MatRef {
                offset: a.offset + row * a.rs,
                rows,
                ..a
            }),
            Lhs::Packed(p) => Lhs::Packed(PackedRef {
                row0: p.row0 + row,
                ..p
            }),
        }
    }
}

/// Reusable packing buffers of one thread (grown on demand, never shrunk).
#[derive(Debug, Default)]
pub struct Workspace<T> {
    a: Vec<T>,
    b: Vec<T>,
}

/// A 64-byte aligned sub-slice of `v` of length `len`, growing `v` if needed.
fn aligned<T: GemmScalar>(v: &mut Vec<T>, len: usize) -> &mut [T] {
    let slack = 64 / core::mem::size_of::<T>();
    if v.len() < len + slack {
        v.resize(len + slack, T::ZERO);
    }
    let off = v.as_ptr().align_offset(64);
    let off = if off < slack { off } else { 0 };
    &mut v[off..off + len]
}

/// A product for [`with_kernel`](super::kernel::with_kernel): runs [`gemm_with`] with the
/// selected kernel.
pub(super) struct Gemm<'a, T> {
    pub alpha: T,
    pub a: Lhs<'a, T>,
    pub b: MatRef<'a, T>,
    pub beta: T,
    pub c: MatMut<'a, T>,
}

impl<T: GemmScalar> KernelVisitor<T> for Gemm<'_, T> {
    type Out = ();

    fn visit<K: Kernel<T> + RowKernel<T>>(self, k: K) {
        gemm_with(k, self.alpha, self.a, self.b, self.beta, self.c)
    }
}

/// Runs `f` with this thread's reusable packing buffers for `T`.
fn with_workspaces<T: GemmScalar, R>(f: impl FnOnce(&mut Vec<Workspace<T>>) -> R) -> R {
    type Both = (Vec<Workspace<f32>>, Vec<Workspace<f64>>);
    thread_local! {
        static WS: core::cell::RefCell<Both> = const {
            core::cell::RefCell::new((Vec::new(), Vec::new()))
        };
    }
    WS.with(|ws| match ws.try_borrow_mut() {
        Ok(mut ws) => {
            let (w32, w64) = &mut *ws;
            let w32: &mut dyn core::any::Any = w32;
            let w64: &mut dyn core::any::Any = w64;
            if let Some(w) = w32.downcast_mut::<Vec<Workspace<T>>>() {
                f(w)
            } else if let Some(w) = w64.downcast_mut::<Vec<Workspace<T>>>() {
                f(w)
            } else {
                f(&mut Vec::new())
            }
        }
        // Re-entered (cannot happen today): use fresh buffers rather than panic.
        Err(_) => f(&mut Vec::new()),
    })
}

/// Runs the product with micro-kernel `K`, on several threads if allowed and worth it.
/// Dimensions are checked, non-zero, `alpha != 0`.
pub(super) fn gemm_with<T: GemmScalar, K: Kernel<T>>(
    kern: K,
    alpha: T,
    a: Lhs<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) {
    let (m, n, k) = (c.rows, c.cols, a.cols());
    let work = m.saturating_mul(n).saturating_mul(k);
    let threads = num_threads();
    // Rows of C may go to different threads only if their memory ranges are disjoint.
    let rows_disjoint = c.rs > (n - 1) * c.cs;
    let parts = if threads > 1 && work >= PARALLEL_MIN_WORK && rows_disjoint {
        threads.min(m.div_ceil(K::MR))
    } else {
        1
    };
    with_workspaces(|wss: &mut Vec<Workspace<T>>| {
        if wss.len() < parts {
            wss.resize_with(parts, Workspace::default);
        }
        if parts <= 1 {
            serial(kern, alpha, a, b, beta, c, &mut wss[0]);
        } else {
            parallel(kern, parts, alpha, a, b, beta, c, wss);
        }
    });
}

/// Splits the rows of C (and A) into `parts` bands, a multiple of `MR` rows each, computed
/// by scoped threads (the last band on the calling thread). Each element of C is computed
/// exactly as in the serial code, so the result does not depend on the thread count.
#[allow(clippy::too_many_arguments)]
fn parallel<T: GemmScalar, K: Kernel<T>>(
    kern: K,
    parts: usize,
    alpha: T,
    a: Lhs<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
    wss: &mut [Workspace<T>],
) {
    let m = c.rows;
    let band = m.div_ceil(K::MR).div_ceil(parts) * K::MR;
    std::thread::scope(|s| {
        let mut rest: &mut [T] = c.data;
        let mut offset = c.offset;
        let mut row = 0;
        let mut wss = wss.iter_mut();
        while row < m {
            let rows = band.min(m - row);
            let ws = wss.next().expect("one workspace per band");
            let a_band = a.rows_from(row, rows);
            row += rows;
            let data = if row < m {
                // Rows are disjoint in memory (checked by the caller): split at the next band.
                let (head, tail) = core::mem::take(&mut rest).split_at_mut(offset + rows * c.rs);
                rest = tail;
                head
            } else {
                core::mem::take(&mut rest)
            };
            let c_band = MatMut {
                data,
                offset,
                rows,
                cols: c.cols,
                rs: c.rs,
                cs: c.cs,
            };
            offset = 0;
            if row < m {
                s.spawn(move || serial(kern, alpha, a_band, b, beta, c_band, ws));
            } else {
                serial(kern, alpha, a_band, b, beta, c_band, ws);
            }
        }
    });
}

/// The single-threaded BLIS loop nest.
///
/// Small products (fewer than [`PACK_MIN_WORK`] multiply-adds) read the operands in place
/// where the kernel allows it (A with any strides, B when row-major), so that only the ragged
/// last micro-panels are packed: packing would cost a large fraction of such a product.
fn serial<T: GemmScalar, K: Kernel<T>>(
    kern: K,
    alpha: T,
    lhs: Lhs<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
    ws: &mut Workspace<T>,
) {
    let (mr, nr) = (K::MR, K::NR);
    let (m, n, k) = (c.rows, c.cols, lhs.cols());
    let mut blk = blocking(mr, nr, core::mem::size_of::<T>(), m, n, k);
    let small = m.saturating_mul(n).saturating_mul(k) < PACK_MIN_WORK;
    // A prepacked A fixes `kc`; a view is packed here (or read in place when small).
    let (a, prepacked) = match lhs {
        Lhs::View(a) => (a, None),
        Lhs::Packed(p) => {
            assert_eq!(p.mr, mr, "gemm: A was packed for another micro-kernel");
            blk.kc = p.kc;
            // A placeholder view: never read (every A panel comes from `p`).
            (MatRef::row_major(&p.data[..0], m, k), Some(p))
        }
    };
    let a_in_place = small && prepacked.is_none();
    // A row-major B is also read in place when A is only a few micro-panels tall and B fits
    // in L2 (the RNN's per-step `[batch x H] * [H x H]` at moderate H): each B element is then
    // used only `m / MR` times, too few to repay packing it every call.
    let b_fits_l2 = k
        .saturating_mul(n)
        .saturating_mul(core::mem::size_of::<T>())
        <= 256 * 1024;
    let b_in_place = (small || (m <= 8 * mr && b_fits_l2)) && b.cs == 1;
    let a_buf = aligned(&mut ws.a, blk.mc * blk.kc);
    let b_buf = aligned(&mut ws.b, blk.nc * blk.kc);
    let c_data = c.data;

    // Loop 5 (jc): NC-wide column panels of B and C (packed B panel sized for L3).
    for jc in (0..n).step_by(blk.nc) {
        let nc = blk.nc.min(n - jc);
        let full_b = nc / nr * nr;
        // Loop 4 (pc): KC-deep slices of A and B; pack B[pc.., jc..] into NR-wide micro-panels.
        for pc in (0..k).step_by(blk.kc) {
            let kc = blk.kc.min(k - pc);
            if !b_in_place {
                kern.pack_b(b_buf, &b, pc, kc, jc, nc);
            } else if full_b < nc {
                // Only the ragged last NR columns, zero-padded, into the first panel slot.
                kern.pack_b(b_buf, &b, pc, kc, jc + full_b, nc - full_b);
            }
            // Later k-slices accumulate onto the first one's result.
            let beta = if pc == 0 { beta } else { T::ONE };
            // Loop 3 (ic): MC-tall blocks of A, packed into MR-tall micro-panels (sized for L2).
            for ic in (0..m).step_by(blk.mc) {
                let mc = blk.mc.min(m - ic);
                let full_a = mc / mr * mr;
                let a_pan: &[T] = match prepacked {
                    Some(p) => {
                        let start = pc * p.padded_rows + (p.row0 + ic) * kc;
                        &p.data[start..start + mc.div_ceil(mr) * mr * kc]
                    }
                    None => {
                        if !a_in_place {
                            kern.pack_a(a_buf, &a, ic, mc, pc, kc);
                        } else if full_a < mc {
                            // Only the ragged last MR rows, zero-padded, into the first slot.
                            kern.pack_a(a_buf, &a, ic + full_a, mc - full_a, pc, kc);
                        }
                        &*a_buf
                    }
                };
                // Loop 2 (jr): NR-wide micro-panels of packed B (one stays in L1 across loop 1).
                for jr in (0..nc).step_by(nr) {
                    let cols = nr.min(nc - jr);
                    let (b_panel, rs_b) = if !b_in_place {
                        (&b_buf[jr * kc..(jr + nr) * kc], nr)
                    } else if jr < full_b {
                        (&b.data[b.offset + pc * b.rs + jc + jr..], b.rs)
                    } else {
                        (&b_buf[..nr * kc], nr)
                    };
                    // Loop 1 (ir): MR-tall micro-panels of A: one micro-kernel call per C tile.
                    for ir in (0..mc).step_by(mr) {
                        let rows = mr.min(mc - ir);
                        let (a_panel, rs_a, cs_a) = if !a_in_place {
                            (&a_pan[ir * kc..(ir + mr) * kc], 1, mr)
                        } else if ir < full_a {
                            let start = a.offset + (ic + ir) * a.rs + pc * a.cs;
                            (&a.data[start..], a.rs, a.cs)
                        } else {
                            (&a_pan[..mr * kc], 1, mr)
                        };
                        let c_tile = c.offset + (ic + ir) * c.rs + (jc + jr) * c.cs;
                        kern.run(
                            kc,
                            alpha,
                            a_panel,
                            rs_a,
                            cs_a,
                            b_panel,
                            rs_b,
                            beta,
                            &mut c_data[c_tile..],
                            c.rs,
                            c.cs,
                            rows,
                            cols,
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm::kernel::Portable;
    #[cfg(target_arch = "x86_64")]
    use crate::gemm::kernel::{Avx2, Avx512};

    /// `C = alpha * A * B + beta * C`, the plain triple loop (each sum in `k` order).
    fn naive(alpha: f64, a: MatRef<'_, f64>, b: MatRef<'_, f64>, beta: f64, c: &mut [f64]) {
        let n = b.cols;
        for i in 0..a.rows {
            for j in 0..n {
                let s: f64 = (0..a.cols)
                    .map(|p| {
                        a.data[a.offset + i * a.rs + p * a.cs]
                            * b.data[b.offset + p * b.rs + j * b.cs]
                    })
                    .sum();
                c[i * n + j] = alpha * s + beta * c[i * n + j];
            }
        }
    }

    /// The full loop nest (packed and in-place A, several blocks, threads) with kernel `K`,
    /// against the naive product, for row-major and transposed operands.
    fn loops_match_naive<K: Kernel<f64>>(kern: K) {
        let val = |i: usize| ((i * 7919) % 113) as f64 / 56.0 - 1.0;
        for (m, n, k) in [
            (1, 1, 1),
            (5, 9, 3),
            (13, 17, 1100),
            (40, 70, 50),
            (130, 129, 131),
        ] {
            let a: Vec<f64> = (0..m * k).map(val).collect();
            let b: Vec<f64> = (0..k * n).map(|i| val(i + 5)).collect();
            for transposed in [false, true] {
                let (av, bv) = if transposed {
                    (
                        MatRef::row_major(&a, k, m).t(),
                        MatRef::row_major(&b, n, k).t(),
                    )
                } else {
                    (MatRef::row_major(&a, m, k), MatRef::row_major(&b, k, n))
                };
                let mut want = vec![0.5; m * n];
                naive(2.0, av, bv, -1.0, &mut want);
                let mut got = vec![0.5; m * n];
                gemm_with(
                    kern,
                    2.0,
                    Lhs::View(av),
                    bv,
                    -1.0,
                    MatMut::row_major(&mut got, m, n),
                );
                for (x, y) in got.iter().zip(&want) {
                    assert!((x - y).abs() <= 1e-12 * k as f64, "{m}x{n}x{k}: {x} vs {y}");
                }
            }
        }
    }

    #[test]
    fn portable_loops() {
        loops_match_naive(Portable);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn simd_loops() {
        if let Some(k) = Avx2::detect() {
            loops_match_naive(k);
        }
        if let Some(k) = Avx512::detect() {
            loops_match_naive(k);
        }
    }
}
