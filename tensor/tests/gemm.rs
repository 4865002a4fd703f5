//! Integration tests of `recur_tensor::gemm`: every path against `gemm_naive`.

use recur_tensor::gemm::{
    GemmScalar, MatMut, MatRef, PARALLEL_MIN_WORK, PackedLhs, gemm, gemm_naive, gemm_packed_lhs,
    num_threads, set_num_threads,
};

/// Test-only conversions.
trait Sc: GemmScalar {
    /// Relative tolerance per unit of `k`.
    const EPS: f64;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
}

impl Sc for f32 {
    const EPS: f64 = 2e-7;
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self.into()
    }
}

impl Sc for f64 {
    const EPS: f64 = 1e-15;
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// A tiny deterministic generator of values in [-1, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// How a matrix is laid out in its slice.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Layout {
    RowMajor,
    ColMajor,
    /// Offset, padded row stride, column stride 2.
    Strided,
    /// A transposed padded layout.
    StridedT,
    /// Row stride 0: every row is the same (A/B only).
    BroadcastRows,
    /// Column stride 0: every column is the same (A/B only).
    BroadcastCols,
}

const ALL: [Layout; 6] = [
    Layout::RowMajor,
    Layout::ColMajor,
    Layout::Strided,
    Layout::StridedT,
    Layout::BroadcastRows,
    Layout::BroadcastCols,
];
const DISTINCT: [Layout; 4] = [
    Layout::RowMajor,
    Layout::ColMajor,
    Layout::Strided,
    Layout::StridedT,
];

/// A matrix with its backing storage: the view's elements are random, everything else in the
/// slice holds `fill` (NaN for inputs, to catch reads outside the view).
struct Mat<T> {
    data: Vec<T>,
    offset: usize,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<T: Sc> Mat<T> {
    fn new(rows: usize, cols: usize, layout: Layout, rng: &mut Rng, fill: f64) -> Self {
        let (offset, rs, cs) = match layout {
            Layout::RowMajor => (0, cols, 1),
            Layout::ColMajor => (0, 1, rows),
            Layout::Strided => (3, 2 * cols + 1, 2),
            Layout::StridedT => (5, 2, 2 * rows + 3),
            Layout::BroadcastRows => (1, 0, 1),
            Layout::BroadcastCols => (2, 1, 0),
        };
        let len = if rows == 0 || cols == 0 {
            offset + 2
        } else {
            offset + (rows - 1) * rs + (cols - 1) * cs + 3
        };
        let mut data = vec![T::from_f64(fill); len];
        for i in 0..rows {
            for j in 0..cols {
                data[offset + i * rs + j * cs] = T::from_f64(rng.next());
            }
        }
        Mat {
            data,
            offset,
            rows,
            cols,
            rs,
            cs,
        }
    }

    fn view(&self) -> MatRef<'_, T> {
        MatRef {
            data: &self.data,
            offset: self.offset,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }

    fn view_mut(&mut self) -> MatMut<'_, T> {
        MatMut {
            data: &mut self.data,
            offset: self.offset,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }

    fn at(&self, i: usize, j: usize) -> f64 {
        self.data[self.offset + i * self.rs + j * self.cs].to_f64()
    }
}

/// Runs `gemm` and `gemm_naive` on the same inputs and compares them element-wise with a
/// tolerance scaled by `k` and by the magnitude of the terms; also checks that C's slice
/// outside the view is untouched and that NaN in C does not leak through `beta == 0`.
#[allow(clippy::too_many_arguments)]
fn check<T: Sc>(
    m: usize,
    n: usize,
    k: usize,
    la: Layout,
    lb: Layout,
    lc: Layout,
    alpha: f64,
    beta: f64,
    seed: u64,
) {
    check_with::<T>(m, n, k, la, lb, lc, alpha, beta, seed, false);
}

/// [`check`], through [`PackedLhs`] + [`gemm_packed_lhs`] when `packed`.
#[allow(clippy::too_many_arguments)]
fn check_with<T: Sc>(
    m: usize,
    n: usize,
    k: usize,
    la: Layout,
    lb: Layout,
    lc: Layout,
    alpha: f64,
    beta: f64,
    seed: u64,
    packed: bool,
) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let a = Mat::<T>::new(m, k, la, &mut rng, f64::NAN);
    let b = Mat::<T>::new(k, n, lb, &mut rng, f64::NAN);
    let mut c = Mat::<T>::new(m, n, lc, &mut rng, 7.0);
    if beta == 0.0 {
        for i in 0..m {
            for j in 0..n {
                let idx = c.offset + i * c.rs + j * c.cs;
                c.data[idx] = T::from_f64(f64::NAN);
            }
        }
    }
    let c0: Vec<f64> = c.data.iter().map(|x| x.to_f64()).collect();
    let mut c_ref = Mat {
        data: c.data.clone(),
        ..c
    };
    if packed {
        let pa = PackedLhs::new(a.view());
        assert_eq!((pa.rows(), pa.cols()), (m, k));
        gemm_packed_lhs(
            T::from_f64(alpha),
            &pa,
            b.view(),
            T::from_f64(beta),
            c.view_mut(),
        );
    } else {
        gemm(
            T::from_f64(alpha),
            a.view(),
            b.view(),
            T::from_f64(beta),
            c.view_mut(),
        );
    }
    gemm_naive(
        T::from_f64(alpha),
        a.view(),
        b.view(),
        T::from_f64(beta),
        c_ref.view_mut(),
    );
    let mut inside = vec![false; c.data.len()];
    for i in 0..m {
        for j in 0..n {
            inside[c.offset + i * c.rs + j * c.cs] = true;
            let mut mag = 0.0;
            for p in 0..k {
                mag += (a.at(i, p) * b.at(p, j)).abs();
            }
            let old = c0[c.offset + i * c.rs + j * c.cs];
            let mag = alpha.abs() * mag + if beta == 0.0 { 0.0 } else { (beta * old).abs() };
            let (got, want) = (c.at(i, j), c_ref.at(i, j));
            assert!(
                (got - want).abs() <= T::EPS * (k as f64 + 2.0) * mag + f64::MIN_POSITIVE,
                "{}: m={m} n={n} k={k} A {la:?} B {lb:?} C {lc:?} alpha={alpha} beta={beta}: \
                 C({i},{j}) = {got}, naive {want}",
                std::any::type_name::<T>()
            );
        }
    }
    for (idx, &was) in c0.iter().enumerate() {
        if !inside[idx] {
            assert_eq!(
                c.data[idx].to_f64(),
                was,
                "gemm wrote outside C's view at {idx}"
            );
        }
    }
}

const ALPHA_BETA: [f64; 4] = [0.0, 1.0, 2.5, -1.0];

fn exhaustive_small<T: Sc>() {
    let mut case = 0u64;
    for m in 0..=12 {
        for n in 0..=12 {
            for k in 0..=12 {
                for alpha in ALPHA_BETA {
                    for beta in ALPHA_BETA {
                        case += 1;
                        // Rotate through the layouts so that every combination shows up.
                        let la = ALL[(case % 6) as usize];
                        let lb = ALL[(case / 6 % 6) as usize];
                        let lc = DISTINCT[(case / 36 % 4) as usize];
                        check::<T>(m, n, k, la, lb, lc, alpha, beta, case);
                    }
                }
            }
        }
    }
}

#[test]
fn all_sizes_up_to_12_f32() {
    exhaustive_small::<f32>();
}

#[test]
fn all_sizes_up_to_12_f64() {
    exhaustive_small::<f64>();
}

fn odd_sizes<T: Sc>() {
    let sizes = [1, 13, 17, 31, 33, 47, 64, 65, 67];
    let mut case = 0u64;
    for &m in &sizes {
        for &n in &sizes {
            for &k in &sizes {
                case += 1;
                let la = ALL[(case % 6) as usize];
                let lb = ALL[(case / 2 % 6) as usize];
                let lc = DISTINCT[(case / 3 % 4) as usize];
                let alpha = ALPHA_BETA[1 + (case % 3) as usize];
                let beta = ALPHA_BETA[(case / 5 % 4) as usize];
                check::<T>(m, n, k, la, lb, lc, alpha, beta, case);
            }
        }
    }
}

#[test]
fn odd_sizes_f32() {
    odd_sizes::<f32>();
}

#[test]
fn odd_sizes_f64() {
    odd_sizes::<f64>();
}

/// Shapes that cross the block sizes: several `ic` blocks (m > MC), `pc` blocks (k > KC,
/// where later blocks accumulate with beta = 1) and `jc` panels (n > NC).
fn large<T: Sc>() {
    let cases: [(usize, usize, usize, Layout, Layout, Layout); 5] = [
        (
            300,
            257,
            129,
            Layout::RowMajor,
            Layout::RowMajor,
            Layout::RowMajor,
        ),
        (
            300,
            257,
            129,
            Layout::ColMajor,
            Layout::StridedT,
            Layout::ColMajor,
        ),
        (
            70,
            90,
            1100,
            Layout::Strided,
            Layout::ColMajor,
            Layout::RowMajor,
        ),
        (
            3,
            5000,
            7,
            Layout::RowMajor,
            Layout::RowMajor,
            Layout::Strided,
        ),
        (
            260,
            40,
            300,
            Layout::BroadcastCols,
            Layout::BroadcastRows,
            Layout::RowMajor,
        ),
    ];
    for (i, &(m, n, k, la, lb, lc)) in cases.iter().enumerate() {
        check::<T>(m, n, k, la, lb, lc, 2.5, -1.0, 100 + i as u64);
    }
    check::<T>(
        300,
        257,
        129,
        Layout::RowMajor,
        Layout::RowMajor,
        Layout::RowMajor,
        1.0,
        0.0,
        7,
    );
}

#[test]
fn large_f32() {
    large::<f32>();
}

#[test]
fn large_f64() {
    large::<f64>();
}

/// Row and column vectors (the vector-matrix path) in every layout, with long `k`.
#[test]
fn vector_shapes() {
    let mut case = 0;
    for (m, n, k) in [
        (1, 100, 100),
        (1, 257, 300),
        (100, 1, 100),
        (1, 1, 777),
        (1, 3, 5),
        (2, 100, 100),
    ] {
        for la in ALL {
            for lb in ALL {
                for lc in DISTINCT {
                    case += 1;
                    check::<f32>(m, n, k, la, lb, lc, 1.0, ALPHA_BETA[case % 4], case as u64);
                    check::<f64>(m, n, k, la, lb, lc, -1.0, ALPHA_BETA[case % 4], case as u64);
                }
            }
        }
    }
}

/// Threaded results must equal single-threaded ones bit for bit.
#[test]
fn threads_match_single_thread() {
    /// `C = 1.5 A B + 0.5 C` on `threads` threads, with A prepacked when `packed`.
    fn run_with<T: Sc>(
        threads: usize,
        m: usize,
        n: usize,
        k: usize,
        lc: Layout,
        packed: bool,
    ) -> Vec<T> {
        set_num_threads(threads);
        let mut rng = Rng(42);
        let a = Mat::<T>::new(m, k, Layout::RowMajor, &mut rng, 0.0);
        let b = Mat::<T>::new(k, n, Layout::ColMajor, &mut rng, 0.0);
        let mut c = Mat::<T>::new(m, n, lc, &mut rng, 0.0);
        let (alpha, beta) = (T::from_f64(1.5), T::from_f64(0.5));
        if packed {
            let pa = PackedLhs::new(a.view());
            gemm_packed_lhs(alpha, &pa, b.view(), beta, c.view_mut());
        } else {
            gemm(alpha, a.view(), b.view(), beta, c.view_mut());
        }
        c.data
    }
    fn run<T: Sc>(threads: usize, m: usize, n: usize, k: usize, lc: Layout) -> Vec<T> {
        run_with(threads, m, n, k, lc, false)
    }
    // Each product is above the threading threshold (PARALLEL_MIN_WORK multiply-adds); the
    // last two span several kc-deep blocks.
    for (m, n, k, lc) in [
        (203, 360, 460, Layout::RowMajor),
        (97, 701, 500, Layout::ColMajor),
        (131, 520, 500, Layout::Strided),
        (64, 400, 1320, Layout::RowMajor),
        (300, 120, 940, Layout::ColMajor),
    ] {
        assert!(
            m * n * k >= PARALLEL_MIN_WORK,
            "{m}x{n}x{k} would not be split"
        );
        let one = run::<f32>(1, m, n, k, lc);
        for threads in [2, 3] {
            assert!(
                run::<f32>(threads, m, n, k, lc) == one,
                "f32 {threads} threads differ: {m}x{n}x{k}"
            );
        }
        let one = run::<f64>(1, m, n, k, lc);
        assert!(
            run::<f64>(2, m, n, k, lc) == one,
            "f64 2 threads differ: {m}x{n}x{k}"
        );
    }
    // A prepacked A is split into row bands the same way.
    const { assert!(515 * 64 * 1020 >= PARALLEL_MIN_WORK) };
    let run_packed = |threads| run_with::<f32>(threads, 515, 64, 1020, Layout::RowMajor, true);
    let one = run_packed(1);
    assert!(run_packed(2) == one, "packed: 2 threads differ");
    set_num_threads(0);
}

/// The prepacked-A path: every A/B/C layout, sizes around the tile and block edges, several
/// `kc` blocks (k > 512), one row band beyond `MC`, both element types.
#[test]
fn packed_lhs_matches_naive() {
    fn run<T: Sc>() {
        let mut seed = 0;
        for (m, n, k) in [
            (1, 1, 1),
            (0, 3, 2),
            (3, 0, 2),
            (4, 5, 0),
            (7, 17, 9),
            (13, 1, 31),
            (1, 33, 7),
            (37, 32, 64),
            (256, 32, 256),
            (50, 19, 300),
            (97, 40, 600),
        ] {
            for la in DISTINCT {
                for lb in DISTINCT {
                    for lc in DISTINCT {
                        for (alpha, beta) in [(1.0, 0.0), (1.0, 1.0), (-2.5, 0.5), (0.0, 2.5)] {
                            seed += 1;
                            check_with::<T>(m, n, k, la, lb, lc, alpha, beta, seed, true);
                        }
                    }
                }
            }
        }
        // Big enough for MC blocking and the thread split.
        check_with::<T>(
            700,
            70,
            300,
            Layout::RowMajor,
            Layout::ColMajor,
            Layout::RowMajor,
            1.0,
            1.0,
            99,
            true,
        );
    }
    run::<f32>();
    run::<f64>();
}

#[test]
fn thread_setting() {
    // Only this test and `threads_match_single_thread` change the setting; both are
    // happy with whatever the other one sets in the meantime.
    set_num_threads(0);
    assert!(num_threads() >= 1);
}

#[test]
fn doc_example_values() {
    let a = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2x3
    let b = [1.0f64, 0.0, 0.0, 1.0, 1.0, 1.0]; // 3x2
    let mut c = [f64::NAN; 4];
    gemm(
        1.0,
        MatRef::row_major(&a, 2, 3),
        MatRef::row_major(&b, 3, 2),
        0.0,
        MatMut::row_major(&mut c, 2, 2),
    );
    assert_eq!(c, [4.0, 5.0, 10.0, 11.0]);
    // k = 0: C = beta * C.
    let mut c = [1.0f32, 2.0];
    gemm(
        3.0,
        MatRef::row_major(&[], 1, 0),
        MatRef::row_major(&[], 0, 2),
        2.0,
        MatMut::row_major(&mut c, 1, 2),
    );
    assert_eq!(c, [2.0, 4.0]);
    // alpha = 0 does not read A or B (NaN there does not propagate).
    let mut c = [1.0f32, 2.0];
    gemm(
        0.0,
        MatRef::row_major(&[f32::NAN], 1, 1),
        MatRef::row_major(&[f32::NAN; 2], 1, 2),
        1.0,
        MatMut::row_major(&mut c, 1, 2),
    );
    assert_eq!(c, [1.0, 2.0]);
}

#[test]
#[should_panic(expected = "dimensions do not match")]
fn mismatched_dims_panic() {
    let a = [0.0f32; 6];
    let mut c = [0.0f32; 4];
    gemm(
        1.0,
        MatRef::row_major(&a, 2, 3),
        MatRef::row_major(&a, 2, 3),
        0.0,
        MatMut::row_major(&mut c, 2, 2),
    );
}

#[test]
#[should_panic(expected = "B view out of bounds")]
fn out_of_bounds_panics() {
    let a = [0.0f64; 6];
    let mut c = [0.0f64; 4];
    let b = MatRef {
        data: &a[..],
        offset: 1,
        rows: 3,
        cols: 2,
        rs: 2,
        cs: 1,
    };
    gemm(
        1.0,
        MatRef::row_major(&a, 2, 3),
        b,
        0.0,
        MatMut::row_major(&mut c, 2, 2),
    );
}

#[test]
#[should_panic(expected = "C view out of bounds")]
fn huge_strides_panic_instead_of_overflowing() {
    let a = [0.0f32; 4];
    let mut c = [0.0f32; 4];
    let c = MatMut {
        data: &mut c[..],
        offset: 0,
        rows: 2,
        cols: 2,
        rs: usize::MAX / 2 + 1,
        cs: 1,
    };
    gemm(
        1.0,
        MatRef::row_major(&a, 2, 2),
        MatRef::row_major(&a, 2, 2),
        0.0,
        c,
    );
}
