//! The cost of one tape op: recording a small elementwise op, and its share of backward.
//! Tape bookkeeping must stay far below a microsecond so small models are not overhead-bound.

use criterion::{Criterion, criterion_group, criterion_main};
use recur_autograd::Tape;
use recur_tensor::Tensor;
use std::hint::black_box;

fn tape_ops(c: &mut Criterion) {
    let x = Tensor::<f32>::ones(&[4]);
    let mut g = c.benchmark_group("tape");
    // 100 ops recorded on a fresh tape, then one backward through all of them.
    g.bench_function("record 100 ops", |b| {
        b.iter(|| {
            let tape = Tape::new();
            let mut v = tape.leaf(x.clone());
            for _ in 0..100 {
                v = v.mul_scalar(1.0001);
            }
            black_box(v.value().numel())
        })
    });
    g.bench_function("record + backward 100 ops", |b| {
        b.iter(|| {
            let tape = Tape::new();
            let leaf = tape.leaf(x.clone());
            let mut v = leaf.clone();
            for _ in 0..100 {
                v = v.mul_scalar(1.0001);
            }
            let grads = tape.backward(&v.sum_all()).unwrap();
            black_box(grads.of(&leaf).map(|g| g.numel()))
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = tape_ops
}
criterion_main!(benches);
