//! One char-RNN training step (the rnn_bench / torch anchor configs): forward through the
//! fused RNN, Linear head and fused cross-entropy, backward, clip_grad_norm 5, optimizer step.

use criterion::{Criterion, criterion_group, criterion_main};
use rand::RngExt;
use recur_autograd::Tape;
use recur_nn::clip::clip_grad_norm;
use recur_nn::loss::{CrossEntropyOptions, cross_entropy};
use recur_nn::optim::{Adagrad, Adam, Optimizer};
use recur_nn::{Linear, Rnn, RnnConfig};
use recur_tensor::{IndexTensor, Tensor};

/// (name, vocab, hidden, layers, seq, batch, adagrad)
const CONFIGS: [(&str, usize, usize, usize, usize, usize, bool); 3] = [
    ("tiny", 65, 100, 1, 25, 1, true),
    ("small", 65, 128, 2, 50, 50, false),
    ("large", 65, 512, 2, 100, 32, false),
];

fn train_step(c: &mut Criterion) {
    recur_tensor::gemm::set_num_threads(1);
    let mut g = c.benchmark_group("rnn_train_step");
    g.sample_size(10);
    for (name, v, h, l, t, b, adagrad) in CONFIGS {
        let mut rng = recur_nn::seeded_rng(0);
        let mut rnn = Rnn::<f32>::new(RnnConfig::new(v, h).num_layers(l), &mut rng).unwrap();
        let mut head = Linear::<f32>::new(h, v, &mut rng).unwrap();
        let mut opt: Box<dyn Optimizer<f32>> = if adagrad {
            Box::new(Adagrad::new(0.1).unwrap())
        } else {
            Box::new(Adam::new(2e-3).unwrap())
        };
        let ids: Vec<i64> = (0..t * b).map(|_| rng.random_range(0..v as i64)).collect();
        let y = IndexTensor::from_vec(ids.iter().rev().copied().collect(), &[t * b]).unwrap();
        let x = Tensor::one_hot(&IndexTensor::from_vec(ids, &[t, b]).unwrap(), v).unwrap();
        g.bench_function(name, |bench| {
            bench.iter(|| {
                let mut grads = {
                    let tape = Tape::new();
                    let (out, _) = rnn.forward(&tape.constant(x.clone()), None).unwrap();
                    let logits = head.forward(&out).unwrap().reshape(&[t * b, v]).unwrap();
                    let loss = cross_entropy(&logits, &y, CrossEntropyOptions::default()).unwrap();
                    tape.backward(&loss).unwrap()
                };
                clip_grad_norm(&mut grads, 5.0).unwrap();
                opt.step_modules(&mut [&mut rnn, &mut head], &grads)
                    .unwrap();
            })
        });
    }
    g.finish();
}

criterion_group!(benches, train_step);
criterion_main!(benches);
