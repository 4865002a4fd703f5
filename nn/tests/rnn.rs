//! RNN and RNNCell behaviour from RNN-SPEC.md: every error message in its check order,
//! shapes, printed forms, parameters, init, dropout, variable lengths, inference paths.

mod common;

use recur_nn::{Module, Nonlinearity, Rnn, RnnCell, RnnConfig, Tape};
use recur_tensor::Tensor;

fn rnn(c: RnnConfig) -> Rnn<f64> {
    Rnn::new(c, &mut recur_nn::seeded_rng(0)).unwrap()
}

fn fwd_err(r: &Rnn<f64>, x: &[usize], h0: Option<&[usize]>) -> String {
    let tape = Tape::new();
    let x = tape.constant(Tensor::zeros(x));
    let h0 = h0.map(|h| tape.constant(Tensor::zeros(h)));
    r.forward(&x, h0.as_ref()).unwrap_err().to_string()
}

#[test]
fn constructor_errors() {
    let e = |c: RnnConfig| {
        Rnn::<f64>::new(c, &mut recur_nn::seeded_rng(0))
            .unwrap_err()
            .to_string()
    };
    let dropout_msg = "dropout should be a number in range [0, 1] representing the probability of an element being zeroed";
    assert_eq!(e(RnnConfig::new(3, 4).dropout(1.5)), dropout_msg);
    assert_eq!(e(RnnConfig::new(3, 4).dropout(f64::NAN)), dropout_msg);
    assert_eq!(e(RnnConfig::new(3, 4).dropout(-0.1)), dropout_msg);
    assert!(
        Rnn::<f64>::new(
            RnnConfig::new(3, 4).dropout(1.0),
            &mut recur_nn::seeded_rng(0)
        )
        .is_ok()
    );
    assert_eq!(
        e(RnnConfig::new(0, 4)),
        "input_size must be greater than zero"
    );
    assert_eq!(
        e(RnnConfig::new(3, 0)),
        "hidden_size must be greater than zero"
    );
    assert_eq!(
        e(RnnConfig::new(3, 4).num_layers(0)),
        "num_layers must be greater than zero"
    );
    // Dropout is checked first, as in PyTorch.
    assert_eq!(e(RnnConfig::new(0, 0).dropout(2.0)), dropout_msg);
    let bad = "sigmoid".parse::<Nonlinearity>().unwrap_err().to_string();
    assert_eq!(
        bad,
        "Unknown nonlinearity 'sigmoid'. Select from 'tanh' or 'relu'."
    );
}

#[test]
fn forward_errors_in_check_order() {
    let r = rnn(RnnConfig::new(3, 4).num_layers(2).bidirectional(true));
    assert_eq!(
        fwd_err(&r, &[1, 2, 3, 4], None),
        "RNN(3, 4, num_layers=2, bidirectional=True): RNN: Expected input to be 2D or 3D, got 4D tensor instead"
    );
    assert_eq!(
        fwd_err(&r, &[1], None),
        "RNN(3, 4, num_layers=2, bidirectional=True): RNN: Expected input to be 2D or 3D, got 1D tensor instead"
    );
    // Rank of hx before the feature size.
    assert_eq!(
        fwd_err(&r, &[5, 2, 7], Some(&[4, 4])),
        "RNN(3, 4, num_layers=2, bidirectional=True): For batched 3-D input, hx should also be 3-D but got 2-D tensor"
    );
    assert_eq!(
        fwd_err(&r, &[5, 7], Some(&[4, 1, 4])),
        "RNN(3, 4, num_layers=2, bidirectional=True): For unbatched 2-D input, hx should also be 2-D but got 3-D tensor"
    );
    // Feature size before h0 shape.
    assert_eq!(
        fwd_err(&r, &[5, 2, 7], Some(&[2, 2, 4])),
        "RNN(3, 4, num_layers=2, bidirectional=True): input.size(-1) must be equal to input_size. Expected 3, got 7"
    );
    assert_eq!(
        fwd_err(&r, &[5, 2, 3], Some(&[2, 2, 4])),
        "RNN(3, 4, num_layers=2, bidirectional=True): Expected hidden size (4, 2, 4), got [2, 2, 4]"
    );
    assert_eq!(
        fwd_err(&r, &[5, 3], Some(&[2, 4])),
        "RNN(3, 4, num_layers=2, bidirectional=True): Expected hidden size (4, 1, 4), got [2, 1, 4]"
    );
    // h0 shape before seq_len 0.
    assert_eq!(
        fwd_err(&r, &[0, 2, 3], Some(&[2, 2, 4])),
        "RNN(3, 4, num_layers=2, bidirectional=True): Expected hidden size (4, 2, 4), got [2, 2, 4]"
    );
    assert_eq!(
        fwd_err(&r, &[0, 2, 3], None),
        "RNN(3, 4, num_layers=2, bidirectional=True): Expected sequence length to be larger than 0 in RNN"
    );
}

#[test]
fn shapes_of_every_case() {
    let tape = Tape::new();
    let shapes = |r: &Rnn<f64>, x: &[usize], h0: Option<&[usize]>| {
        let xv = tape.constant(Tensor::ones(x));
        let h = h0.map(|h| tape.constant(Tensor::zeros(h)));
        let (o, hn) = r.forward(&xv, h.as_ref()).unwrap();
        (o.dims().to_vec(), hn.dims().to_vec())
    };
    let r = rnn(RnnConfig::new(3, 4).num_layers(2).bidirectional(true));
    assert_eq!(shapes(&r, &[5, 2, 3], None), (vec![5, 2, 8], vec![4, 2, 4]));
    assert_eq!(shapes(&r, &[5, 3], Some(&[4, 4])), (vec![5, 8], vec![4, 4]));
    let bf = rnn(RnnConfig::new(3, 4).batch_first(true));
    assert_eq!(
        shapes(&bf, &[2, 5, 3], Some(&[1, 2, 4])),
        (vec![2, 5, 4], vec![1, 2, 4])
    );
    let one = rnn(RnnConfig::new(3, 4));
    assert_eq!(
        shapes(&one, &[5, 0, 3], None),
        (vec![5, 0, 4], vec![1, 0, 4])
    );
    // The lesson's example.
    let lesson = rnn(RnnConfig::new(5, 6));
    assert_eq!(
        shapes(&lesson, &[1, 3, 5], Some(&[1, 3, 6])),
        (vec![1, 3, 6], vec![1, 3, 6])
    );
}

#[test]
fn bidirectional_output_halves_are_the_final_states() {
    let r = rnn(RnnConfig::new(3, 4).bidirectional(true));
    let x = Tensor::uniform(&[6, 2, 3], -1.0, 1.0, &mut recur_nn::seeded_rng(5));
    let (out, hn) = r.forward_tensor(&x, None).unwrap();
    // output[-1, :, :H] == h_n[-2] and output[0, :, H:] == h_n[-1]
    assert_eq!(
        out.select(0, 5).unwrap().narrow(1, 0, 4).unwrap().to_vec(),
        hn.select(0, 0).unwrap().to_vec()
    );
    assert_eq!(
        out.select(0, 0).unwrap().narrow(1, 4, 4).unwrap().to_vec(),
        hn.select(0, 1).unwrap().to_vec()
    );
}

#[test]
fn h0_is_never_modified() {
    let r = rnn(RnnConfig::new(2, 3));
    let h0 = Tensor::uniform(&[1, 1, 3], -1.0, 1.0, &mut recur_nn::seeded_rng(1));
    let before = h0.to_vec();
    let _ = r
        .forward_tensor(&Tensor::ones(&[4, 1, 2]), Some(&h0))
        .unwrap();
    assert_eq!(h0.to_vec(), before);
}

#[test]
fn parameters_names_order_shapes_and_init() {
    let r = rnn(RnnConfig::new(3, 4).num_layers(2).bidirectional(true));
    let names: Vec<(String, Vec<usize>)> = r
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.value().dims().to_vec()))
        .collect();
    let expect = [
        ("weight_ih_l0", vec![4, 3]),
        ("weight_hh_l0", vec![4, 4]),
        ("bias_ih_l0", vec![4]),
        ("bias_hh_l0", vec![4]),
        ("weight_ih_l0_reverse", vec![4, 3]),
        ("weight_hh_l0_reverse", vec![4, 4]),
        ("bias_ih_l0_reverse", vec![4]),
        ("bias_hh_l0_reverse", vec![4]),
        ("weight_ih_l1", vec![4, 8]),
        ("weight_hh_l1", vec![4, 4]),
        ("bias_ih_l1", vec![4]),
        ("bias_hh_l1", vec![4]),
        ("weight_ih_l1_reverse", vec![4, 8]),
        ("weight_hh_l1_reverse", vec![4, 4]),
        ("bias_ih_l1_reverse", vec![4]),
        ("bias_hh_l1_reverse", vec![4]),
    ];
    assert_eq!(
        names,
        expect
            .iter()
            .map(|(n, d)| (n.to_string(), d.clone()))
            .collect::<Vec<_>>()
    );
    assert_eq!(r.num_parameters(), 2 * (12 + 16 + 8) + 2 * (32 + 16 + 8));
    let nb = rnn(RnnConfig::new(3, 4).bias(false));
    assert_eq!(nb.named_parameters().len(), 2);
    // U(-1/sqrt(H), 1/sqrt(H)) for every parameter, biases included; a large model fills it.
    let big = Rnn::<f64>::new(RnnConfig::new(50, 400), &mut recur_nn::seeded_rng(2)).unwrap();
    let k = 1.0 / 400f64.sqrt();
    for (_, p) in big.named_parameters() {
        let v = p.value().to_vec();
        assert!(v.iter().all(|x| x.abs() <= k));
        let (lo, hi) = v
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        assert!(lo < -0.9 * k && hi > 0.9 * k, "{lo} {hi}");
    }
}

#[test]
fn printed_forms() {
    let c = RnnConfig::new(3, 4)
        .num_layers(2)
        .bias(false)
        .batch_first(true)
        .dropout(0.5)
        .bidirectional(true);
    assert_eq!(
        format!("{:?}", rnn(c)),
        "RNN(3, 4, num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)"
    );
    assert_eq!(RnnConfig::new(3, 4).to_string(), "RNN(3, 4)");
    let cell = RnnCell::<f64>::new(
        3,
        4,
        false,
        Nonlinearity::Relu,
        &mut recur_nn::seeded_rng(0),
    )
    .unwrap();
    assert_eq!(
        cell.to_string(),
        "RNNCell(3, 4, bias=False, nonlinearity=relu)"
    );
}

#[test]
fn cell_errors() {
    let cell =
        RnnCell::<f64>::new(3, 4, true, Nonlinearity::Tanh, &mut recur_nn::seeded_rng(0)).unwrap();
    let tape = Tape::new();
    let e = |x: &[usize], h: Option<&[usize]>| {
        let h = h.map(|h| tape.constant(Tensor::zeros(h)));
        cell.forward(&tape.constant(Tensor::zeros(x)), h.as_ref())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        e(&[1, 2, 3], None),
        "RNNCell(3, 4): RNNCell: Expected input to be 1D or 2D, got 3D instead"
    );
    assert_eq!(
        e(&[2, 3], Some(&[1, 2, 4])),
        "RNNCell(3, 4): RNNCell: Expected hidden to be 1D or 2D, got 3D instead"
    );
    assert_eq!(
        e(&[2, 5], Some(&[3, 4])),
        "RNNCell(3, 4): input has inconsistent input_size: got 5 expected 3"
    );
    assert_eq!(
        e(&[2, 3], Some(&[3, 4])),
        "RNNCell(3, 4): Input batch size 2 doesn't match hidden0 batch size 3"
    );
    assert_eq!(
        e(&[2, 3], Some(&[2, 5])),
        "RNNCell(3, 4): hidden0 has inconsistent hidden_size: got 5, expected 4"
    );
    // Unbatched in, unbatched out.
    let h = cell
        .forward(&tape.constant(Tensor::ones(&[3])), None)
        .unwrap();
    assert_eq!(h.dims(), &[4]);
}

#[test]
fn dropout_between_layers_only_in_training() {
    let mut r = rnn(RnnConfig::new(3, 5).num_layers(3).dropout(0.5));
    let x = Tensor::uniform(&[4, 2, 3], -1.0, 1.0, &mut recur_nn::seeded_rng(1));
    let run = |r: &Rnn<f64>| {
        let tape = Tape::new();
        let (o, h) = r.forward(&tape.constant(x.clone()), None).unwrap();
        (o.value().to_vec(), h.value().to_vec())
    };
    let (a, _) = run(&r);
    let (b, _) = run(&r);
    assert_ne!(a, b, "independent masks per call");
    r.set_training(false);
    let (c, hc) = run(&r);
    let (d, _) = run(&r);
    assert_eq!(c, d, "eval is deterministic");
    let (e, he) = r.forward_tensor(&x, None).unwrap();
    assert_eq!(
        (c, hc),
        (e.to_vec(), he.to_vec()),
        "forward_tensor is eval mode"
    );
    // p = 1: everything after layer 0 sees zeros, so the last layer's output is act(b) only.
    let mut all = rnn(RnnConfig::new(3, 5).num_layers(2).dropout(1.0));
    let tape = Tape::new();
    let (o1, _) = all.forward(&tape.constant(x.clone()), None).unwrap();
    let zeros_in = Tensor::<f64>::zeros(&[4, 2, 5]);
    all.set_training(false);
    let single = {
        // The second layer alone on zero input: recompute through a 1-layer RNN with its weights.
        let mut one = rnn(RnnConfig::new(5, 5));
        let src: Vec<Tensor<f64>> = all.named_parameters()[4..]
            .iter()
            .map(|(_, p)| p.value().clone())
            .collect();
        for ((_, p), v) in one.named_parameters_mut().into_iter().zip(src) {
            p.set_value(v);
        }
        one.forward_tensor(&zeros_in, None).unwrap().0
    };
    assert!(o1.value().sub(&single).unwrap().abs().max_all().unwrap() < 1e-15);
}

#[test]
fn padded_batch_equals_each_sequence_alone() {
    for bidir in [false, true] {
        let r = rnn(RnnConfig::new(3, 4).num_layers(2).bidirectional(bidir));
        let d = if bidir { 2 } else { 1 };
        let x = Tensor::uniform(&[5, 3, 3], -1.0, 1.0, &mut recur_nn::seeded_rng(3));
        let lengths = [2usize, 5, 3];
        let tape = Tape::new();
        let (out, hn) = r
            .forward_padded(&tape.constant(x.clone()), &lengths, None)
            .unwrap();
        for (b, &len) in lengths.iter().enumerate() {
            let item = x.select(1, b).unwrap().narrow(0, 0, len).unwrap();
            let (o1, h1) = r.forward_tensor(&item, None).unwrap();
            let got = out.value().select(1, b).unwrap();
            assert!(
                got.narrow(0, 0, len)
                    .unwrap()
                    .sub(&o1)
                    .unwrap()
                    .abs()
                    .max_all()
                    .unwrap()
                    < 1e-14
            );
            if len < 5 {
                assert!(
                    got.narrow(0, len, 5 - len)
                        .unwrap()
                        .to_vec()
                        .iter()
                        .all(|&v| v == 0.0),
                    "padding is zero"
                );
            }
            assert!(
                hn.value()
                    .select(1, b)
                    .unwrap()
                    .sub(&h1)
                    .unwrap()
                    .abs()
                    .max_all()
                    .unwrap()
                    < 1e-14
            );
            assert_eq!(h1.dims(), &[2 * d, 4]);
        }
    }
    let r = rnn(RnnConfig::new(3, 4));
    let tape = Tape::new();
    let x = tape.constant(Tensor::zeros(&[5, 2, 3]));
    let e = r.forward_padded(&x, &[3, 0], None).unwrap_err().to_string();
    assert_eq!(
        e,
        "RNN(3, 4): Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0"
    );
    assert!(r.forward_padded(&x, &[6, 1], None).is_err());
    assert!(r.forward_padded(&x, &[1], None).is_err());
}

#[test]
fn step_api_matches_the_sequence_forward_and_rejects_bad_input() {
    let r = rnn(RnnConfig::new(3, 4).num_layers(2));
    let x = Tensor::uniform(&[6, 2, 3], -1.0, 1.0, &mut recur_nn::seeded_rng(4));
    let (out, hn) = r.forward_tensor(&x, None).unwrap();
    let mut state = r.zero_state(2);
    for t in 0..6 {
        let y = r.step(&x.select(0, t).unwrap(), &mut state).unwrap();
        assert!(
            y.sub(&out.select(0, t).unwrap())
                .unwrap()
                .abs()
                .max_all()
                .unwrap()
                < 1e-14
        );
    }
    assert!(state.sub(&hn).unwrap().abs().max_all().unwrap() < 1e-14);
    assert!(r.step(&Tensor::zeros(&[2, 5]), &mut state).is_err());
    let mut wrong = Tensor::zeros(&[2, 3, 4]);
    assert!(r.step(&Tensor::zeros(&[2, 3]), &mut wrong).is_err());
    let bi = rnn(RnnConfig::new(3, 4).bidirectional(true));
    assert!(
        bi.step(&Tensor::zeros(&[1, 3]), &mut bi.zero_state(1))
            .is_err()
    );
}

/// `forward_tokens` equals `forward` on the one-hot tensor: outputs, final states and every
/// parameter's gradient, for time-major, batch-first and unbatched input, one and two layers,
/// both directions, with and without biases; bad tokens get a clear error.
#[test]
fn forward_tokens_equals_one_hot_forward() {
    let (v, h, l, n) = (5usize, 4usize, 3usize, 2usize);
    let ids: Vec<i64> = vec![1, 4, 0, 2, 4, 3];
    for (layers, bidir, bias, batch_first, unbatched) in [
        (1, false, true, false, false),
        (2, false, true, true, false),
        (2, true, false, false, false),
        (1, true, true, true, false),
        (2, false, true, false, true),
    ] {
        let cfg = RnnConfig::new(v, h)
            .num_layers(layers)
            .bidirectional(bidir)
            .bias(bias)
            .batch_first(batch_first);
        let r = rnn(cfg);
        let (id_dims, ids): (Vec<usize>, Vec<i64>) = if unbatched {
            (vec![l], ids[..l].to_vec())
        } else if batch_first {
            (vec![n, l], ids.clone())
        } else {
            (vec![l, n], ids.clone())
        };
        let tokens = recur_tensor::IndexTensor::from_vec(ids.clone(), &id_dims).unwrap();
        let mut oh_dims = id_dims.clone();
        oh_dims.push(v);
        let onehot: Vec<f64> = ids
            .iter()
            .flat_map(|&t| (0..v).map(move |c| f64::from(t as usize == c)))
            .collect();
        let run = |sparse: bool| {
            let tape = Tape::new();
            let (out, h_n) = if sparse {
                r.forward_tokens(&tape, &tokens, None).unwrap()
            } else {
                let x = tape.constant(Tensor::from_vec(onehot.clone(), &oh_dims).unwrap());
                r.forward(&x, None).unwrap()
            };
            let loss = common::weighted_loss(&out, &h_n);
            let grads = tape.backward(&loss).unwrap();
            let gs: Vec<Vec<f64>> = r
                .named_parameters()
                .into_iter()
                .map(|(_, p)| grads.get(p).unwrap().to_vec())
                .collect();
            (out.value().to_vec(), h_n.value().to_vec(), gs)
        };
        let (o1, h1, g1) = run(true);
        let (o2, h2, g2) = run(false);
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
        assert!(close(&o1, &o2) && close(&h1, &h2), "outputs differ");
        for (a, b) in g1.iter().zip(&g2) {
            assert!(close(a, b), "gradients differ: {a:?} vs {b:?}");
        }
    }
    let r = rnn(RnnConfig::new(v, h));
    let tape = Tape::new();
    let bad = recur_tensor::IndexTensor::from_vec(vec![0, 5], &[2, 1]).unwrap();
    assert_eq!(
        r.forward_tokens(&tape, &bad, None).unwrap_err().to_string(),
        "RNN(5, 4): forward_tokens: index 5 is out of bounds for input_size 5"
    );
}
