//! Linear, Embedding, Dropout, activations and Sequential.

use recur_autograd::{GradcheckOptions, Tape, gradcheck};
use recur_nn::{Dropout, Embedding, Layer, Linear, Module, ReLU, Sequential, Sigmoid, Tanh};
use recur_tensor::{IndexTensor, Tensor};

#[test]
fn linear_init_shapes_and_errors() {
    let lin = Linear::<f64>::new(400, 3, &mut recur_nn::seeded_rng(0)).unwrap();
    let names: Vec<String> = lin.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight", "bias"]);
    assert_eq!(lin.weight().value().dims(), &[3, 400]);
    let k = 1.0 / 400f64.sqrt();
    let w = lin.weight().value().to_vec();
    assert!(w.iter().all(|v| v.abs() <= k));
    assert!(w.iter().any(|&v| v > 0.9 * k) && w.iter().any(|&v| v < -0.9 * k));
    let tape = Tape::new();
    let e = lin
        .forward(&tape.constant(Tensor::zeros(&[5, 4])))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Linear(in_features=400, out_features=3, bias=True): mat1 and mat2 shapes cannot be multiplied (5x4 and 400x3)"
    );
    // Leading dims are kept: (2, 5, 400) -> (2, 5, 3).
    let y = lin
        .forward(&tape.constant(Tensor::zeros(&[2, 5, 400])))
        .unwrap();
    assert_eq!(y.dims(), &[2, 5, 3]);
    assert!(
        Linear::<f64>::with_bias(4, 2, false, &mut recur_nn::seeded_rng(0))
            .unwrap()
            .bias()
            .is_none()
    );
}

#[test]
fn linear_gradcheck_through_the_module() {
    let lin = Linear::<f64>::new(3, 2, &mut recur_nn::seeded_rng(1)).unwrap();
    let x = Tensor::uniform(&[4, 3], -1.0, 1.0, &mut recur_nn::seeded_rng(2));
    let tape = Tape::new();
    let xv = tape.leaf(x.clone());
    let y = lin.forward(&xv).unwrap().tanh().sum_all();
    let g = tape.backward(&y).unwrap();
    // Against gradcheck of the same function written with the op directly.
    let (w, b) = (
        lin.weight().value().clone(),
        lin.bias().unwrap().value().clone(),
    );
    let r = gradcheck(
        |_, v| Ok(v[0].linear(&v[1], Some(&v[2]))?.tanh().sum_all()),
        &[x, w, b],
        &GradcheckOptions::default(),
    );
    assert!(r.is_ok());
    assert_eq!(g.get(lin.weight()).unwrap().dims(), &[2, 3]);
    assert_eq!(g.of(&xv).unwrap().dims(), &[4, 3]);
}

#[test]
fn embedding_lookup_gradient_is_a_scatter_add() {
    let emb = Embedding::<f64>::new(5, 3, &mut recur_nn::seeded_rng(0)).unwrap();
    let tape = Tape::new();
    let idx = IndexTensor::from_vec(vec![1, 4, 1, 1], &[2, 2]).unwrap();
    let y = emb.forward(&tape, &idx).unwrap();
    assert_eq!(y.dims(), &[2, 2, 3]);
    assert_eq!(
        y.value()
            .select(0, 0)
            .unwrap()
            .select(0, 0)
            .unwrap()
            .to_vec(),
        emb.weight().value().select(0, 1).unwrap().to_vec()
    );
    let g = tape.backward(&y.sum_all()).unwrap();
    let gw = g.get(emb.weight()).unwrap();
    assert_eq!(
        gw.to_vec(),
        vec![
            0.0, 0.0, 0.0, 3.0, 3.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0
        ]
    );
    // N(0, 1) init.
    let big = Embedding::<f64>::new(1000, 10, &mut recur_nn::seeded_rng(1)).unwrap();
    let v = big.weight().value().to_vec();
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / v.len() as f64;
    assert!(
        mean.abs() < 0.05 && (var - 1.0).abs() < 0.05,
        "{mean} {var}"
    );
    assert_eq!(
        emb.forward(&tape, &IndexTensor::from_vec(vec![-1], &[1]).unwrap())
            .unwrap_err()
            .to_string(),
        "Embedding(5, 3): index out of range in self"
    );
}

#[test]
fn dropout_scales_masks_independently_and_is_identity_in_eval() {
    let mut d = Dropout::new(0.25, 3).unwrap();
    let tape = Tape::<f64>::new();
    let x = tape.constant(Tensor::ones(&[200_000]));
    let a = d.forward(&x).unwrap().value().to_vec();
    let b = d.forward(&x).unwrap().value().to_vec();
    // Inverted scaling: kept elements are 1/(1-p), so the mean stays 1.
    assert!(
        a.iter()
            .all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-12)
    );
    let kept = a.iter().filter(|&&v| v != 0.0).count() as f64 / a.len() as f64;
    assert!((kept - 0.75).abs() < 0.01, "{kept}");
    let mean = a.iter().sum::<f64>() / a.len() as f64;
    assert!((mean - 1.0).abs() < 0.02, "{mean}");
    // Independent masks: two calls differ, and neighbouring elements are uncorrelated.
    assert_ne!(a, b);
    let both = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| **x != 0.0 && **y != 0.0)
        .count() as f64
        / a.len() as f64;
    assert!((both - 0.75 * 0.75).abs() < 0.01, "{both}");
    // Gradient flows through kept elements only, scaled the same way.
    let xs = tape.leaf(Tensor::ones(&[1000]));
    let y = d.forward(&xs).unwrap();
    let g = tape.backward(&y.sum_all()).unwrap();
    assert_eq!(g.of(&xs).unwrap().to_vec(), y.value().to_vec());
    d.set_training(false);
    assert_eq!(d.forward(&x).unwrap().value().to_vec(), vec![1.0; 200_000]);
    assert!(Dropout::new(1.5, 0).is_err());
    let mut all = Dropout::new(1.0, 0).unwrap();
    Module::<f64>::set_training(&mut all, true);
    assert!(
        all.forward(&tape.constant(Tensor::ones(&[10])))
            .unwrap()
            .value()
            .to_vec()
            .iter()
            .all(|&v| v == 0.0)
    );
}

#[test]
fn activations_and_sequential() {
    let tape = Tape::<f64>::new();
    let x = tape.constant(Tensor::from_vec(vec![-2.0, 0.5], &[2]).unwrap());
    assert_eq!(ReLU.forward(&x).unwrap().value().to_vec(), vec![0.0, 0.5]);
    assert_eq!(
        Tanh.forward(&x).unwrap().value().to_vec(),
        vec![(-2f64).tanh(), 0.5f64.tanh()]
    );
    assert_eq!(
        recur_nn::sigmoid(&x).value().to_vec(),
        Sigmoid.forward(&x).unwrap().value().to_vec()
    );
    let mut rng = recur_nn::seeded_rng(0);
    let mut net = Sequential::<f64>::new()
        .push(Linear::new(2, 4, &mut rng).unwrap())
        .push(ReLU)
        .push(Dropout::new(0.5, 1).unwrap())
        .push(Linear::new(4, 1, &mut rng).unwrap());
    assert_eq!(net.len(), 4);
    let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["0.weight", "0.bias", "3.weight", "3.bias"]);
    assert_eq!(net.num_parameters(), 2 * 4 + 4 + 4 + 1);
    net.set_training(false);
    let x = tape.constant(Tensor::ones(&[3, 2]));
    let a = net.forward(&x).unwrap().value().to_vec();
    let b = net.forward(&x).unwrap().value().to_vec();
    assert_eq!(a, b, "eval mode is deterministic (dropout off)");
}

/// The same stack built twice from the same seed: once in a `Sequential`, once by hand.
fn lstm_and_head(seed: u64) -> (recur_nn::Lstm<f64>, Linear<f64>) {
    let mut rng = recur_nn::seeded_rng(seed);
    let cfg = recur_nn::LstmConfig::new(3, 5)
        .num_layers(2)
        .batch_first(true);
    let lstm = recur_nn::Lstm::new(cfg, &mut rng).unwrap();
    let head = Linear::new(5, 2, &mut rng).unwrap();
    (lstm, head)
}

#[test]
fn recurrent_layers_in_sequential_equal_calling_them_by_hand() {
    let x = Tensor::uniform(&[4, 6, 3], -1.0, 1.0, &mut recur_nn::seeded_rng(1));
    let (lstm, head) = lstm_and_head(7);
    let net = Sequential::new().push(lstm).push(head);
    let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names[0], "0.weight_ih_l0");
    assert_eq!(names[names.len() - 1], "1.bias");

    let tape = Tape::new();
    let xs = tape.leaf(x.clone());
    let ys = net.forward(&xs).unwrap();
    let gs = tape.backward(&ys.square().sum_all()).unwrap();

    let (lstm, head) = lstm_and_head(7);
    let tape = Tape::new();
    let xh = tape.leaf(x);
    let (out, (h_n, _)) = lstm.forward(&xh, None).unwrap();
    assert_eq!(h_n.dims(), &[2, 4, 5]); // the final state the Sequential drops
    let yh = head.forward(&out).unwrap();
    let gh = tape.backward(&yh.square().sum_all()).unwrap();

    assert_eq!(ys.dims(), &[4, 6, 2]);
    assert_eq!(ys.value().to_vec(), yh.value().to_vec());
    assert_eq!(gs.of(&xs).unwrap().to_vec(), gh.of(&xh).unwrap().to_vec());
    // Parameter gradients, matched by position in named_parameters order.
    let by_hand: Vec<&recur_autograd::Param<f64>> = lstm
        .named_parameters()
        .into_iter()
        .chain(head.named_parameters())
        .map(|(_, p)| p)
        .collect();
    for ((name, p), q) in net.named_parameters().into_iter().zip(by_hand) {
        assert_eq!(
            gs.get(p).unwrap().to_vec(),
            gh.get(q).unwrap().to_vec(),
            "{name}"
        );
    }
}

#[test]
fn rnn_and_gru_are_layers_too() {
    let mut rng = recur_nn::seeded_rng(2);
    let rnn = recur_nn::Rnn::<f64>::new(recur_nn::RnnConfig::new(3, 4), &mut rng).unwrap();
    let gru = recur_nn::Gru::<f64>::new(recur_nn::GruConfig::new(4, 2), &mut rng).unwrap();
    let tape = Tape::new();
    let x = tape.constant(Tensor::uniform(&[5, 2, 3], -1.0, 1.0, &mut rng));
    let (h, _) = rnn.forward(&x, None).unwrap();
    let (want, _) = gru.forward(&h, None).unwrap();
    let got = Sequential::new().push(rnn).push(gru).forward(&x).unwrap();
    assert_eq!(got.value().to_vec(), want.value().to_vec());
}

#[test]
fn module_errors_name_the_module() {
    // Two RNNs in a row: the error says which one refused its input.
    let mut rng = recur_nn::seeded_rng(3);
    let cfg = recur_nn::RnnConfig::new(5, 6).num_layers(2);
    let first = recur_nn::Rnn::<f32>::new(cfg, &mut rng).unwrap();
    let second = recur_nn::Rnn::<f32>::new(recur_nn::RnnConfig::new(7, 3), &mut rng).unwrap();
    let net = Sequential::new().push(first).push(second);
    let tape = Tape::new();
    let e = net
        .forward(&tape.constant(Tensor::zeros(&[4, 1, 7])))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "RNN(5, 6, num_layers=2): input.size(-1) must be equal to input_size. Expected 5, got 7"
    );
    let e = net
        .forward(&tape.constant(Tensor::zeros(&[4, 1, 5])))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "RNN(7, 3): input.size(-1) must be equal to input_size. Expected 7, got 6"
    );
    let lin = Linear::<f32>::with_bias(4, 2, false, &mut rng).unwrap();
    assert_eq!(
        lin.to_string(),
        "Linear(in_features=4, out_features=2, bias=False)"
    );
    let mut out = [0.0; 2];
    assert_eq!(
        lin.forward_slice(&[1.0; 3], &mut out)
            .unwrap_err()
            .to_string(),
        "Linear(in_features=4, out_features=2, bias=False): forward_slice: expected 4 inputs and 2 outputs, got 3 and 2"
    );
}
