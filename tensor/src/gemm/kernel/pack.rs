//! Packing: copying blocks of A and B into the contiguous micro-panel layouts the
//! micro-kernels stream through. This is where every operand layout is handled: row-major,
//! column-major (transposed views), arbitrary strides and stride-0 broadcasts; the caller
//! never copies.
//!
//! - A block `mc × kc` → `ceil(mc / MR)` micro-panels; panel `q` holds rows
//!   `q*MR .. q*MR + MR` as `kc` columns of `MR` contiguous elements (`panel[p * MR + i]`).
//! - B block `kc × nc` → `ceil(nc / NR)` micro-panels; panel `q` holds columns
//!   `q*NR .. q*NR + NR` as `kc` rows of `NR` contiguous elements (`panel[p * NR + j]`).
//!
//! Partial panels at the bottom/right edge are zero-padded, so the kernels never need to know.
//! The const-generic versions (`MR`/`NR` known at compile time) turn the row copies into a
//! few vector moves; the hot loops are bounds-checked safe code with the checks hoisted.

use super::{GemmScalar, MatRef};

/// Packs `A[i0 .. i0 + mc, p0 .. p0 + kc]` into `dst` as `MR`-tall micro-panels.
pub(super) fn pack_a<T: GemmScalar>(
    mr: usize,
    dst: &mut [T],
    a: &MatRef<'_, T>,
    i0: usize,
    mc: usize,
    p0: usize,
    kc: usize,
) {
    match mr {
        4 => pack_a_n::<T, 4>(dst, a, i0, mc, p0, kc),
        6 => pack_a_n::<T, 6>(dst, a, i0, mc, p0, kc),
        12 => pack_a_n::<T, 12>(dst, a, i0, mc, p0, kc),
        _ => unreachable!("no kernel has MR = {mr}"),
    }
}

/// Packs `B[p0 .. p0 + kc, j0 .. j0 + nc]` into `dst` as `NR`-wide micro-panels.
pub(super) fn pack_b<T: GemmScalar>(
    nr: usize,
    dst: &mut [T],
    b: &MatRef<'_, T>,
    p0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
) {
    match nr {
        8 => pack_b_n::<T, 8>(dst, b, p0, kc, j0, nc),
        16 => pack_b_n::<T, 16>(dst, b, p0, kc, j0, nc),
        32 => pack_b_n::<T, 32>(dst, b, p0, kc, j0, nc),
        _ => unreachable!("no kernel has NR = {nr}"),
    }
}

fn pack_a_n<T: GemmScalar, const MR: usize>(
    dst: &mut [T],
    a: &MatRef<'_, T>,
    i0: usize,
    mc: usize,
    p0: usize,
    kc: usize,
) {
    let panels = mc.div_ceil(MR);
    for (q, panel) in dst[..panels * kc * MR]
        .chunks_exact_mut(kc * MR)
        .enumerate()
    {
        let i = i0 + q * MR;
        let h = MR.min(i0 + mc - i);
        let base = a.offset + i * a.rs + p0 * a.cs;
        if h == MR && a.rs == 1 {
            // Column-major A (e.g. a transposed view): each column of the panel is contiguous.
            for (p, d) in panel.chunks_exact_mut(MR).enumerate() {
                let s = base + p * a.cs;
                d.copy_from_slice(&a.data[s..s + MR]);
            }
        } else if a.cs == 1 && kc > 0 {
            // Row-major A: gather one column of the MR rows per step.
            if h == MR {
                let rows: [&[T]; MR] = core::array::from_fn(|ii| {
                    let s = base + ii * a.rs;
                    &a.data[s..s + kc]
                });
                for (p, d) in panel.chunks_exact_mut(MR).enumerate() {
                    let d: &mut [T; MR] = d.try_into().expect("chunks_exact yields MR elements");
                    *d = core::array::from_fn(|ii| rows[ii][p]);
                }
                continue;
            }
            for ii in 0..h {
                let s = base + ii * a.rs;
                let row = &a.data[s..s + kc];
                for (d, &x) in panel.chunks_exact_mut(MR).zip(row) {
                    d[ii] = x;
                }
            }
            for d in panel.chunks_exact_mut(MR) {
                d[h..].fill(T::ZERO);
            }
        } else {
            // Any other strides (including 0).
            for (p, d) in panel.chunks_exact_mut(MR).enumerate() {
                for (ii, x) in d.iter_mut().enumerate() {
                    *x = if ii < h {
                        a.data[base + ii * a.rs + p * a.cs]
                    } else {
                        T::ZERO
                    };
                }
            }
        }
    }
}

fn pack_b_n<T: GemmScalar, const NR: usize>(
    dst: &mut [T],
    b: &MatRef<'_, T>,
    p0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
) {
    let panels = nc.div_ceil(NR);
    if b.cs == 1 && kc > 0 {
        // Row-major B: read each row of the block once, front to back (B is usually not in
        // cache yet), and deal its NR-wide pieces out to the panels.
        let dst = &mut dst[..panels * kc * NR];
        for p in 0..kc {
            let s = b.offset + (p0 + p) * b.rs + j0;
            let row = &b.data[s..s + nc];
            let mut pieces = row.chunks_exact(NR);
            for (q, piece) in pieces.by_ref().enumerate() {
                let d = (q * kc + p) * NR;
                dst[d..d + NR].copy_from_slice(piece);
            }
            let tail = pieces.remainder();
            if !tail.is_empty() {
                let d = ((panels - 1) * kc + p) * NR;
                dst[d..d + tail.len()].copy_from_slice(tail);
                dst[d + tail.len()..d + NR].fill(T::ZERO);
            }
        }
        return;
    }
    for (q, panel) in dst[..panels * kc * NR]
        .chunks_exact_mut(kc * NR)
        .enumerate()
    {
        let j = j0 + q * NR;
        let w = NR.min(j0 + nc - j);
        let base = b.offset + p0 * b.rs + j * b.cs;
        if b.rs == 1 && kc > 0 && w == NR {
            // Column-major B (e.g. a transposed view): gather one row of the NR columns per step.
            let cols: [&[T]; NR] = core::array::from_fn(|jj| {
                let s = base + jj * b.cs;
                &b.data[s..s + kc]
            });
            for (p, d) in panel.chunks_exact_mut(NR).enumerate() {
                let d: &mut [T; NR] = d.try_into().expect("chunks_exact yields NR elements");
                *d = core::array::from_fn(|jj| cols[jj][p]);
            }
        } else if b.rs == 1 && kc > 0 {
            // Partial column-major panel: read columns, scatter with stride NR.
            for jj in 0..w {
                let s = base + jj * b.cs;
                let col = &b.data[s..s + kc];
                for (d, &x) in panel.chunks_exact_mut(NR).zip(col) {
                    d[jj] = x;
                }
            }
            for d in panel.chunks_exact_mut(NR) {
                d[w..].fill(T::ZERO);
            }
        } else {
            // Any other strides (including 0).
            for (p, d) in panel.chunks_exact_mut(NR).enumerate() {
                for (jj, x) in d.iter_mut().enumerate() {
                    *x = if jj < w {
                        b.data[base + p * b.rs + jj * b.cs]
                    } else {
                        T::ZERO
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(
        data: &[f64],
        offset: usize,
        rows: usize,
        cols: usize,
        rs: usize,
        cs: usize,
    ) -> MatRef<'_, f64> {
        MatRef {
            data,
            offset,
            rows,
            cols,
            rs,
            cs,
        }
    }

    /// Checks the packed layout against direct indexing for several layouts.
    #[test]
    fn packs_every_layout() {
        let data: Vec<f64> = (0..2000).map(|x| x as f64 + 1.0).collect();
        let (rows, cols) = (13, 11);
        // (offset, rs, cs): row-major, column-major, padded strides, broadcasts.
        for (off, rs, cs) in [
            (0, 11, 1),
            (3, 1, 13),
            (5, 40, 3),
            (7, 0, 1),
            (2, 1, 0),
            (9, 0, 0),
        ] {
            let m = view(&data, off, rows, cols, rs, cs);
            let at = |i: usize, j: usize| data[off + i * rs + j * cs];
            for (i0, mc, p0, kc) in [
                (0usize, 13usize, 0usize, 11usize),
                (2, 7, 3, 5),
                (12, 1, 10, 1),
            ] {
                for mr in [4, 6, 12] {
                    let mut dst = vec![f64::NAN; mc.div_ceil(mr) * mr * kc];
                    pack_a(mr, &mut dst, &m, i0, mc, p0, kc);
                    for q in 0..mc.div_ceil(mr) {
                        for p in 0..kc {
                            for ii in 0..mr {
                                let got = dst[q * mr * kc + p * mr + ii];
                                let i = q * mr + ii;
                                let want = if i < mc { at(i0 + i, p0 + p) } else { 0.0 };
                                assert_eq!(got, want, "A off={off} rs={rs} cs={cs} mr={mr}");
                            }
                        }
                    }
                }
            }
            // B: treat the same view as kc × nc.
            for (p0, kc, j0, nc) in [
                (0usize, 13usize, 0usize, 11usize),
                (2, 7, 3, 5),
                (12, 1, 10, 1),
            ] {
                for nr in [8, 16, 32] {
                    let mut dst = vec![f64::NAN; nc.div_ceil(nr) * nr * kc];
                    pack_b(nr, &mut dst, &m, p0, kc, j0, nc);
                    for q in 0..nc.div_ceil(nr) {
                        for p in 0..kc {
                            for jj in 0..nr {
                                let got = dst[q * nr * kc + p * nr + jj];
                                let j = q * nr + jj;
                                let want = if j < nc { at(p0 + p, j0 + j) } else { 0.0 };
                                assert_eq!(got, want, "B off={off} rs={rs} cs={cs} nr={nr}");
                            }
                        }
                    }
                }
            }
        }
    }
}
