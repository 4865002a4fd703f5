//! GEMM throughput: square products (f32/f64, 1 and 2 threads) and the RNN's small shapes.
//!
//! Throughput is reported in elements = floating-point operations (`2 m n k` per product),
//! so criterion's "Gelem/s" reads as GFLOP/s. Run with `cargo bench -p recur-tensor --bench gemm`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use recur_tensor::gemm::{GemmScalar, MatMut, MatRef, gemm, set_num_threads};
use std::hint::black_box;
use std::time::Duration;

/// Deterministic operands in [-1, 1).
fn operand<T: GemmScalar + From<f32>>(len: usize, seed: usize) -> Vec<T> {
    (0..len)
        .map(|i| T::from(((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.5 - 1.0))
        .collect()
}

fn bench_product<T: GemmScalar + From<f32>>(
    c: &mut Criterion,
    group: &str,
    threads: usize,
    shapes: &[(usize, usize, usize)],
) {
    let mut g = c.benchmark_group(group);
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for &(m, n, k) in shapes {
        let a = operand::<T>(m * k, 1);
        let b = operand::<T>(k * n, 2);
        let mut out = vec![T::ZERO; m * n];
        g.throughput(Throughput::Elements(2 * (m * n * k) as u64));
        let id = if m == n && n == k {
            format!("{n}")
        } else {
            format!("{m}x{k}*{k}x{n}")
        };
        g.bench_function(BenchmarkId::from_parameter(id), |bench| {
            set_num_threads(threads);
            bench.iter(|| {
                gemm(
                    T::ONE,
                    MatRef::row_major(black_box(&a), m, k),
                    MatRef::row_major(black_box(&b), k, n),
                    T::ZERO,
                    MatMut::row_major(&mut out, m, n),
                );
            });
            set_num_threads(0);
        });
    }
    g.finish();
}

const SQUARE: [(usize, usize, usize); 5] = [
    (64, 64, 64),
    (128, 128, 128),
    (256, 256, 256),
    (512, 512, 512),
    (1024, 1024, 1024),
];

fn square(c: &mut Criterion) {
    bench_product::<f32>(c, "gemm_f32_1t", 1, &SQUARE);
    bench_product::<f64>(c, "gemm_f64_1t", 1, &SQUARE);
    bench_product::<f32>(c, "gemm_f32_2t", 2, &SQUARE);
    bench_product::<f64>(c, "gemm_f64_2t", 2, &SQUARE);
}

fn rnn(c: &mut Criterion) {
    // One RNN step with batch 1 and hidden 100; a batch-50 step with hidden 128.
    bench_product::<f32>(c, "gemm_rnn_f32_1t", 1, &[(1, 100, 100), (50, 128, 128)]);
}

criterion_group!(benches, square, rnn);
criterion_main!(benches);
