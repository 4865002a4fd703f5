//! A layer run split over threads by batch rows computes what one thread computes: RNN, LSTM
//! and GRU, values and every gradient.
//!
//! Its own test binary: it changes the process-wide GEMM thread count.

mod common;

use recur_nn::{Gru, GruConfig, Lstm, LstmConfig, Module, Nonlinearity, Rnn, RnnConfig, Tape};
use recur_tensor::Tensor;
use recur_tensor::gemm::set_num_threads;

/// The tests change the process-wide thread count: one at a time.
static THREADS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// 9 steps of a batch of 8 with hidden sizes where `steps * batch * gates * hidden^2` is
/// above the threshold at which a recurrence is split.
const STEPS: usize = 9;
const BATCH: usize = 8;
const INPUT: usize = 5;

/// `(layers, bidirectional, lengths)` of the cases every layer type runs.
fn cases() -> [(usize, bool, Option<Vec<usize>>); 3] {
    [
        (1, false, None),
        (2, true, None),
        (1, true, Some(vec![9, 3, 9, 1, 7, 9, 2, 5])),
    ]
}

/// Runs `run` (returning outputs and gradients) on 1 and on 2 threads and asserts equal
/// results.
fn same_on_two_threads(what: &str, run: impl Fn() -> Vec<Vec<f64>>) {
    set_num_threads(1);
    let one = run();
    set_num_threads(2);
    let two = run();
    set_num_threads(0);
    assert_eq!(one.len(), two.len());
    for (k, (a, b)) in one.iter().zip(&two).enumerate() {
        assert_eq!(a.len(), b.len());
        for (i, (p, q)) in a.iter().zip(b).enumerate() {
            assert!(
                (p - q).abs() <= 1e-13 * (1.0 + p.abs()),
                "{what}: tensor {k}[{i}]: {p} vs {q}"
            );
        }
    }
}

/// The gradients of every parameter of `m`.
fn param_grads(m: &impl Module<f64>, grads: &recur_nn::Grads<f64>) -> Vec<Vec<f64>> {
    m.named_parameters()
        .into_iter()
        .map(|(_, p)| grads.get(p).unwrap().to_vec())
        .collect()
}

/// Input and initial states for `layers * directions` stacked states.
fn inputs(layers: usize, bidir: bool, hidden: usize) -> (Tensor<f64>, Tensor<f64>, Tensor<f64>) {
    let mut rng = recur_nn::seeded_rng(6);
    let x = Tensor::uniform(&[STEPS, BATCH, INPUT], -1.0, 1.0, &mut rng);
    let states = layers * if bidir { 2 } else { 1 };
    let h0 = Tensor::uniform(&[states, BATCH, hidden], -0.5, 0.5, &mut rng);
    let c0 = Tensor::uniform(&[states, BATCH, hidden], -0.5, 0.5, &mut rng);
    (x, h0, c0)
}

#[test]
fn rnn_two_threads_compute_what_one_computes() {
    let _one_at_a_time = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let hidden = 256;
    for ((layers, bidir, lengths), act) in
        cases()
            .into_iter()
            .zip([Nonlinearity::Tanh, Nonlinearity::Relu, Nonlinearity::Tanh])
    {
        let cfg = RnnConfig::new(INPUT, hidden)
            .num_layers(layers)
            .bidirectional(bidir)
            .nonlinearity(act);
        let r: Rnn<f64> = Rnn::new(cfg, &mut recur_nn::seeded_rng(5)).unwrap();
        let (x, h0, _) = inputs(layers, bidir, hidden);
        same_on_two_threads(&format!("RNN {layers} layers, bidir {bidir}"), || {
            let tape = Tape::new();
            let (xv, hv) = (tape.leaf(x.clone()), tape.leaf(h0.clone()));
            let (out, h_n) = match &lengths {
                Some(l) => r.forward_padded(&xv, l, Some(&hv)),
                None => r.forward(&xv, Some(&hv)),
            }
            .unwrap();
            let grads = tape.backward(&common::weighted_loss(&out, &h_n)).unwrap();
            let mut all = vec![out.value().to_vec(), h_n.value().to_vec()];
            all.extend([&xv, &hv].map(|v| grads.of(v).unwrap().to_vec()));
            all.extend(param_grads(&r, &grads));
            all
        });
    }
}

/// Token input (the one-hot lookup done step by step in each thread's rows) and a zero
/// initial state (whose first-step product is skipped), one and two layers.
#[test]
fn rnn_tokens_two_threads_compute_what_one_computes() {
    let _one_at_a_time = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let hidden = 256;
    let ids: Vec<i64> = (0..STEPS * BATCH)
        .map(|i| ((i * 7 + 3) % INPUT) as i64)
        .collect();
    let tokens = recur_tensor::IndexTensor::from_vec(ids, &[STEPS, BATCH]).unwrap();
    for (layers, bidir) in [(1, false), (2, true)] {
        let cfg = RnnConfig::new(INPUT, hidden)
            .num_layers(layers)
            .bidirectional(bidir);
        let r: Rnn<f64> = Rnn::new(cfg, &mut recur_nn::seeded_rng(5)).unwrap();
        same_on_two_threads(
            &format!("RNN tokens {layers} layers, bidir {bidir}"),
            || {
                let tape = Tape::new();
                let (out, h_n) = r.forward_tokens(&tape, &tokens, None).unwrap();
                let grads = tape.backward(&common::weighted_loss(&out, &h_n)).unwrap();
                let mut all = vec![out.value().to_vec(), h_n.value().to_vec()];
                all.extend(param_grads(&r, &grads));
                all
            },
        );
    }
}

#[test]
fn lstm_two_threads_compute_what_one_computes() {
    let _one_at_a_time = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let hidden = 128;
    for (layers, bidir, lengths) in cases() {
        let cfg = LstmConfig::new(INPUT, hidden)
            .num_layers(layers)
            .bidirectional(bidir);
        let lstm: Lstm<f64> = Lstm::new(cfg, &mut recur_nn::seeded_rng(5)).unwrap();
        let (x, h0, c0) = inputs(layers, bidir, hidden);
        same_on_two_threads(&format!("LSTM {layers} layers, bidir {bidir}"), || {
            let tape = Tape::new();
            let (xv, hv, cv) = (
                tape.leaf(x.clone()),
                tape.leaf(h0.clone()),
                tape.leaf(c0.clone()),
            );
            let (out, (h_n, c_n)) = match &lengths {
                Some(l) => lstm.forward_padded(&xv, l, Some((&hv, &cv))),
                None => lstm.forward(&xv, Some((&hv, &cv))),
            }
            .unwrap();
            let loss = common::weighted_loss(&out, &h_n)
                .add(&common::weighted_loss(&c_n, &c_n))
                .unwrap();
            let grads = tape.backward(&loss).unwrap();
            let mut all = [&out, &h_n, &c_n].map(|v| v.value().to_vec()).to_vec();
            all.extend([&xv, &hv, &cv].map(|v| grads.of(v).unwrap().to_vec()));
            all.extend(param_grads(&lstm, &grads));
            all
        });
    }
}

#[test]
fn gru_two_threads_compute_what_one_computes() {
    let _one_at_a_time = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let hidden = 160;
    for (layers, bidir, lengths) in cases() {
        let cfg = GruConfig::new(INPUT, hidden)
            .num_layers(layers)
            .bidirectional(bidir);
        let gru: Gru<f64> = Gru::new(cfg, &mut recur_nn::seeded_rng(5)).unwrap();
        let (x, h0, _) = inputs(layers, bidir, hidden);
        same_on_two_threads(&format!("GRU {layers} layers, bidir {bidir}"), || {
            let tape = Tape::new();
            let (xv, hv) = (tape.leaf(x.clone()), tape.leaf(h0.clone()));
            let (out, h_n) = match &lengths {
                Some(l) => gru.forward_padded(&xv, l, Some(&hv)),
                None => gru.forward(&xv, Some(&hv)),
            }
            .unwrap();
            let grads = tape.backward(&common::weighted_loss(&out, &h_n)).unwrap();
            let mut all = vec![out.value().to_vec(), h_n.value().to_vec()];
            all.extend([&xv, &hv].map(|v| grads.of(v).unwrap().to_vec()));
            all.extend(param_grads(&gru, &grads));
            all
        });
    }
}
