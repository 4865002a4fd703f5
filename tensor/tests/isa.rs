//! The GEMM on every instruction set this CPU has, through the public detection API
//! (`with_isa_cap`): each against `gemm_naive`, so the AVX2 paths keep being tested on an
//! AVX-512 machine, and the AVX-512 ones say "skipped: no AVX-512" where the CPU lacks them.

use recur_tensor::gemm::{
    GemmScalar, Isa, MatMut, MatRef, PackedLhs, gemm, gemm_naive, gemm_packed_lhs, isa,
    kernel_name, tile, with_isa_cap,
};

/// Deterministic values in [-1, 1).
fn fill(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
        .collect()
}

/// The instruction sets to test: each one the CPU supports, with a note for the others.
fn isas() -> Vec<Isa> {
    [Isa::Portable, Isa::Avx2, Isa::Avx512]
        .into_iter()
        .filter(|&i| {
            let ok = i.is_supported();
            if !ok {
                eprintln!(
                    "skipped: no {}",
                    if i == Isa::Avx512 { "AVX-512" } else { "AVX2" }
                );
            }
            ok
        })
        .collect()
}

/// A row-major `r x c` view, or the transpose of a row-major `c x r` one.
fn view<T>(d: &[T], r: usize, c: usize, t: bool) -> MatRef<'_, T> {
    if t {
        MatRef::row_major(d, c, r).t()
    } else {
        MatRef::row_major(d, r, c)
    }
}

/// [`view`] for C.
fn cview<T>(d: &mut [T], r: usize, c: usize, t: bool) -> MatMut<'_, T> {
    if t {
        MatMut::row_major(d, c, r).t()
    } else {
        MatMut::row_major(d, r, c)
    }
}

/// `C = 1.5 A B - 0.5 C` for A, B, C each row- or column-major, against the naive product.
fn products_match_naive<T: GemmScalar + From<f32> + Into<f64>>(eps: f64) {
    let conv = |v: &[f64]| v.iter().map(|&x| T::from(x as f32)).collect::<Vec<T>>();
    // Shapes around the tiles of every kernel (4x8, 6x16, 12x32), m == 1 and n == 1 (the
    // vector-matrix paths), k around the vector widths and the blocks.
    for (m, n, k) in [
        (1, 1, 1),
        (1, 200, 37),
        (1, 77, 300),
        (150, 1, 40),
        (12, 32, 16),
        (13, 33, 17),
        (24, 64, 100),
        (37, 45, 1),
        (100, 70, 520),
        (300, 130, 70),
    ] {
        let (a, b, c0) = (
            conv(&fill(m * k, 1)),
            conv(&fill(k * n, 2)),
            conv(&fill(m * n, 3)),
        );
        for (ta, tb, tc) in [
            (false, false, false),
            (true, false, false),
            (false, true, false),
            (false, false, true),
            (true, true, true),
        ] {
            let (av, bv) = (view(&a, m, k, ta), view(&b, k, n, tb));
            let (alpha, beta) = (T::from(1.5), T::from(-0.5));
            let mut want = c0.clone();
            gemm_naive(alpha, av, bv, beta, cview(&mut want, m, n, tc));
            for &i in &isas() {
                let mut got = c0.clone();
                with_isa_cap(i, || gemm(alpha, av, bv, beta, cview(&mut got, m, n, tc)));
                let mut packed = c0.clone();
                let lhs = with_isa_cap(i, || PackedLhs::new(av));
                gemm_packed_lhs(alpha, &lhs, bv, beta, cview(&mut packed, m, n, tc));
                for (who, got) in [("gemm", &got), ("packed", &packed)] {
                    for (x, y) in got.iter().zip(&want) {
                        let (x, y): (f64, f64) = ((*x).into(), (*y).into());
                        assert!(
                            (x - y).abs() <= eps * (k as f64 + 2.0) * (1.0 + y.abs()),
                            "{who} {i} {m}x{n}x{k} t=({ta},{tb},{tc}): {x} vs {y}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn every_isa_matches_naive_f32() {
    products_match_naive::<f32>(2e-7);
}

#[test]
fn every_isa_matches_naive_f64() {
    products_match_naive::<f64>(1e-15);
}

/// The detection API agrees with itself: the cap is honoured, the tile and the kernel name
/// follow it.
#[test]
fn kernel_name_follows_the_cap() {
    for &i in &isas() {
        with_isa_cap(i, || {
            assert!(isa() <= i);
            let (mr, nr) = tile::<f32>();
            let (mr64, nr64) = tile::<f64>();
            assert_eq!(
                kernel_name(),
                format!("{} f32 {mr}x{nr} f64 {mr64}x{nr64}", isa())
            );
        });
    }
    assert_eq!(
        with_isa_cap(Isa::Portable, kernel_name),
        "portable f32 4x8 f64 4x8"
    );
    if Isa::Avx512.is_supported() && std::env::var("RECUR_GEMM_ISA").is_err() {
        assert_eq!(kernel_name(), "avx512 f32 12x32 f64 12x16");
    }
}

/// A product gives the same bits whether C is row- or column-major (and whichever
/// orientation `gemm` computes it in: it may work on `C^T` to pad less to whole tiles), on
/// every instruction set.
#[test]
fn orientation_does_not_change_the_bits() {
    for (m, n, k) in [
        (40, 40, 300),
        (300, 13, 70),
        (13, 300, 70),
        (65, 200, 33),
        (97, 31, 600),
    ] {
        let (a, b) = (fill(m * k, 4), fill(k * n, 5));
        let a: Vec<f32> = a.iter().map(|&x| x as f32).collect();
        let b: Vec<f32> = b.iter().map(|&x| x as f32).collect();
        let c0: Vec<f32> = fill(m * n, 6).iter().map(|&x| x as f32).collect();
        for &i in &isas() {
            for tb in [false, true] {
                let bv = view(&b, k, n, tb);
                let av = view(&a, m, k, false);
                let mut row = c0.clone();
                with_isa_cap(i, || gemm(0.5, av, bv, 2.0, cview(&mut row, m, n, false)));
                // The same C values, stored column-major.
                let mut col: Vec<f32> = (0..m * n).map(|x| c0[(x % m) * n + x / m]).collect();
                with_isa_cap(i, || gemm(0.5, av, bv, 2.0, cview(&mut col, m, n, true)));
                for r in 0..m {
                    for c in 0..n {
                        assert_eq!(
                            row[r * n + c].to_bits(),
                            col[r + c * m].to_bits(),
                            "{i} {m}x{n}x{k} tb={tb} ({r},{c})"
                        );
                    }
                }
            }
        }
    }
}
