//! A layer run split over threads by batch rows computes what one thread computes.
//!
//! Its own test binary: it changes the process-wide GEMM thread count.

mod common;

use recur_nn::{Module, Nonlinearity, Rnn, RnnConfig, Tape};
use recur_tensor::Tensor;
use recur_tensor::gemm::set_num_threads;

type Run = (Vec<f64>, Vec<f64>, Vec<Vec<f64>>);

/// Output, h_n, and the gradients of `common::weighted_loss` w.r.t. the input, h0 and every
/// parameter.
fn run(r: &Rnn<f64>, x: &Tensor<f64>, h0: &Tensor<f64>, lengths: Option<&[usize]>) -> Run {
    let tape = Tape::new();
    let xv = tape.leaf(x.clone());
    let hv = tape.leaf(h0.clone());
    let (out, h_n) = match lengths {
        Some(l) => r.forward_padded(&tape, &xv, l, Some(&hv)).unwrap(),
        None => r.forward(&tape, &xv, Some(&hv)).unwrap(),
    };
    let loss = common::weighted_loss(&out, &h_n);
    let grads = tape.backward(&loss).unwrap();
    let mut gs: Vec<Vec<f64>> = vec![
        grads.of(&xv).unwrap().to_vec(),
        grads.of(&hv).unwrap().to_vec(),
    ];
    gs.extend(
        r.named_parameters()
            .into_iter()
            .map(|(_, p)| grads.get(p).unwrap().to_vec()),
    );
    (out.value().to_vec(), h_n.value().to_vec(), gs)
}

#[test]
fn two_threads_compute_what_one_computes() {
    // 9 steps x batch 8 x 256^2 is above the threshold at which the recurrence is split.
    let (steps, batch, input, hidden) = (9, 8, 5, 256);
    for (layers, bidir, act, lengths) in [
        (1, false, Nonlinearity::Tanh, None),
        (2, true, Nonlinearity::Relu, None),
        (
            1,
            true,
            Nonlinearity::Tanh,
            Some(vec![9usize, 3, 9, 1, 7, 9, 2, 5]),
        ),
    ] {
        let cfg = RnnConfig::new(input, hidden)
            .num_layers(layers)
            .bidirectional(bidir)
            .nonlinearity(act);
        let r: Rnn<f64> = Rnn::new(cfg, &mut recur_nn::seeded_rng(5)).unwrap();
        let mut rng = recur_nn::seeded_rng(6);
        let x = Tensor::uniform(&[steps, batch, input], -1.0, 1.0, &mut rng);
        let d = if bidir { 2 } else { 1 };
        let h0 = Tensor::uniform(&[layers * d, batch, hidden], -0.5, 0.5, &mut rng);
        set_num_threads(1);
        let one = run(&r, &x, &h0, lengths.as_deref());
        set_num_threads(2);
        let two = run(&r, &x, &h0, lengths.as_deref());
        set_num_threads(0);
        let same = |a: &[f64], b: &[f64], what: &str| {
            assert_eq!(a.len(), b.len());
            for (i, (p, q)) in a.iter().zip(b).enumerate() {
                assert!(
                    (p - q).abs() <= 1e-13 * (1.0 + p.abs()),
                    "{what}[{i}]: {p} vs {q} (layers {layers}, bidirectional {bidir})"
                );
            }
        };
        same(&one.0, &two.0, "output");
        same(&one.1, &two.1, "h_n");
        for (k, (a, b)) in one.2.iter().zip(&two.2).enumerate() {
            same(a, b, &format!("gradient {k}"));
        }
    }
}
