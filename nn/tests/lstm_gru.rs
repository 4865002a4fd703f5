//! LSTM, GRU, LSTMCell and GRUCell behaviour, as read off PyTorch 2.15: every error message in
//! its check order, shapes, printed forms, parameter names / shapes / init, gate order, dropout,
//! variable lengths, the inference paths, and checkpoints.

use recur_nn::{
    Gru, GruCell, GruConfig, Lstm, LstmCell, LstmConfig, Module, Tape, load_module, save_module,
};
use recur_tensor::Tensor;

fn lstm(c: LstmConfig) -> Lstm<f64> {
    Lstm::new(c, &mut recur_nn::seeded_rng(0)).unwrap()
}
fn gru(c: GruConfig) -> Gru<f64> {
    Gru::new(c, &mut recur_nn::seeded_rng(0)).unwrap()
}
fn rand(dims: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::uniform(dims, -1.0, 1.0, &mut recur_nn::seeded_rng(seed))
}
fn max_diff(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    a.sub(b).unwrap().abs().max_all().unwrap_or(0.0)
}

fn lstm_err(m: &Lstm<f64>, x: &[usize], hx: Option<(&[usize], &[usize])>) -> String {
    let tape = Tape::new();
    let x = tape.constant(Tensor::zeros(x));
    let hx = hx.map(|(h, c)| {
        (
            tape.constant(Tensor::zeros(h)),
            tape.constant(Tensor::zeros(c)),
        )
    });
    m.forward(&x, hx.as_ref().map(|(h, c)| (h, c)))
        .unwrap_err()
        .to_string()
}

fn gru_err(m: &Gru<f64>, x: &[usize], h0: Option<&[usize]>) -> String {
    let tape = Tape::new();
    let x = tape.constant(Tensor::zeros(x));
    let h0 = h0.map(|h| tape.constant(Tensor::zeros(h)));
    m.forward(&x, h0.as_ref()).unwrap_err().to_string()
}

#[test]
fn constructor_errors() {
    let dropout_msg = "dropout should be a number in range [0, 1] representing the probability of an element being zeroed";
    let le = |c: LstmConfig| {
        Lstm::<f64>::new(c, &mut recur_nn::seeded_rng(0))
            .unwrap_err()
            .to_string()
    };
    let ge = |c: GruConfig| {
        Gru::<f64>::new(c, &mut recur_nn::seeded_rng(0))
            .unwrap_err()
            .to_string()
    };
    for p in [1.5, -0.1, f64::NAN] {
        assert_eq!(le(LstmConfig::new(3, 4).dropout(p)), dropout_msg);
        assert_eq!(ge(GruConfig::new(3, 4).dropout(p)), dropout_msg);
    }
    assert!(
        Lstm::<f64>::new(
            LstmConfig::new(3, 4).dropout(1.0),
            &mut recur_nn::seeded_rng(0)
        )
        .is_ok()
    );
    // PyTorch's order: dropout, input_size, hidden_size, num_layers.
    assert_eq!(le(LstmConfig::new(0, 0).dropout(2.0)), dropout_msg);
    assert_eq!(
        le(LstmConfig::new(0, 0)),
        "input_size must be greater than zero"
    );
    assert_eq!(
        ge(GruConfig::new(0, 4).num_layers(0)),
        "input_size must be greater than zero"
    );
    assert_eq!(
        le(LstmConfig::new(3, 0).num_layers(0)),
        "hidden_size must be greater than zero"
    );
    assert_eq!(
        ge(GruConfig::new(3, 4).num_layers(0)),
        "num_layers must be greater than zero"
    );
    // The cells accept zero sizes, as PyTorch's do.
    let cell = LstmCell::<f64>::new(0, 4, true, &mut recur_nn::seeded_rng(0)).unwrap();
    assert_eq!(cell.to_string(), "LSTMCell(0, 4)");
    let cell = GruCell::<f64>::new(3, 0, true, &mut recur_nn::seeded_rng(0)).unwrap();
    assert_eq!(cell.num_parameters(), 0);
}

#[test]
fn lstm_forward_errors_in_check_order() {
    let m = lstm(LstmConfig::new(3, 4).num_layers(2).bidirectional(true));
    assert_eq!(
        lstm_err(&m, &[1, 2, 3, 4], None),
        "LSTM(3, 4, num_layers=2, bidirectional=True): LSTM: Expected input to be 2D or 3D, got 4D instead"
    );
    assert_eq!(
        lstm_err(&m, &[3], None),
        "LSTM(3, 4, num_layers=2, bidirectional=True): LSTM: Expected input to be 2D or 3D, got 1D instead"
    );
    // State ranks before the feature size; both ranks are named.
    assert_eq!(
        lstm_err(&m, &[5, 2, 7], Some((&[4, 4], &[4, 4]))),
        "LSTM(3, 4, num_layers=2, bidirectional=True): For batched 3-D input, hx and cx should also be 3-D but got (2-D, 2-D) tensors"
    );
    assert_eq!(
        lstm_err(&m, &[5, 2, 7], Some((&[4, 2, 4], &[4, 4]))),
        "LSTM(3, 4, num_layers=2, bidirectional=True): For batched 3-D input, hx and cx should also be 3-D but got (3-D, 2-D) tensors"
    );
    assert_eq!(
        lstm_err(&m, &[5, 7], Some((&[4, 4], &[4, 1, 4]))),
        "LSTM(3, 4, num_layers=2, bidirectional=True): For unbatched 2-D input, hx and cx should also be 2-D but got (2-D, 3-D) tensors"
    );
    assert_eq!(
        lstm_err(&m, &[5, 2, 7], Some((&[2, 2, 4], &[2, 2, 4]))),
        "LSTM(3, 4, num_layers=2, bidirectional=True): input.size(-1) must be equal to input_size. Expected 3, got 7"
    );
    // h0 before c0.
    assert_eq!(
        lstm_err(&m, &[5, 2, 3], Some((&[2, 2, 4], &[2, 2, 4]))),
        "LSTM(3, 4, num_layers=2, bidirectional=True): Expected hidden[0] size (4, 2, 4), got [2, 2, 4]"
    );
    assert_eq!(
        lstm_err(&m, &[5, 2, 3], Some((&[4, 2, 4], &[4, 3, 4]))),
        "LSTM(3, 4, num_layers=2, bidirectional=True): Expected hidden[1] size (4, 2, 4), got [4, 3, 4]"
    );
    // Unbatched: both shapes with the batch dim of 1 inserted.
    assert_eq!(
        lstm_err(&m, &[5, 3], Some((&[4, 4], &[4, 5]))),
        "LSTM(3, 4, num_layers=2, bidirectional=True): Expected hidden[1] size (4, 1, 4), got [4, 1, 5]"
    );
    // State shapes before the sequence length.
    let one = lstm(LstmConfig::new(3, 4));
    assert_eq!(
        lstm_err(&one, &[0, 2, 3], Some((&[2, 2, 4], &[2, 2, 4]))),
        "LSTM(3, 4): Expected hidden[0] size (1, 2, 4), got [2, 2, 4]"
    );
    assert_eq!(
        lstm_err(&one, &[0, 2, 3], None),
        "LSTM(3, 4): Expected sequence length to be larger than 0 in RNN"
    );
}

#[test]
fn gru_forward_errors_in_check_order() {
    let m = gru(GruConfig::new(3, 4).num_layers(2).bidirectional(true));
    assert_eq!(
        gru_err(&m, &[1, 2, 3, 4], None),
        "GRU(3, 4, num_layers=2, bidirectional=True): GRU: Expected input to be 2D or 3D, got 4D instead"
    );
    assert_eq!(
        gru_err(&m, &[5, 2, 7], Some(&[4, 4])),
        "GRU(3, 4, num_layers=2, bidirectional=True): For batched 3-D input, hx should also be 3-D but got 2-D tensor"
    );
    assert_eq!(
        gru_err(&m, &[5, 7], Some(&[4, 1, 4])),
        "GRU(3, 4, num_layers=2, bidirectional=True): For unbatched 2-D input, hx should also be 2-D but got 3-D tensor"
    );
    assert_eq!(
        gru_err(&m, &[5, 2, 7], Some(&[2, 2, 4])),
        "GRU(3, 4, num_layers=2, bidirectional=True): input.size(-1) must be equal to input_size. Expected 3, got 7"
    );
    assert_eq!(
        gru_err(&m, &[5, 2, 3], Some(&[2, 2, 4])),
        "GRU(3, 4, num_layers=2, bidirectional=True): Expected hidden size (4, 2, 4), got [2, 2, 4]"
    );
    assert_eq!(
        gru_err(&m, &[5, 3], Some(&[2, 4])),
        "GRU(3, 4, num_layers=2, bidirectional=True): Expected hidden size (4, 1, 4), got [2, 1, 4]"
    );
    assert_eq!(
        gru_err(&m, &[0, 2, 3], None),
        "GRU(3, 4, num_layers=2, bidirectional=True): Expected sequence length to be larger than 0 in RNN"
    );
}

#[test]
fn cell_errors_in_check_order() {
    let tape = Tape::new();
    let z = |d: &[usize]| tape.constant(Tensor::<f64>::zeros(d));
    let cell = LstmCell::<f64>::new(3, 4, true, &mut recur_nn::seeded_rng(0)).unwrap();
    let e = |x: &[usize], h: Option<(&[usize], &[usize])>| {
        let hx = h.map(|(h, c)| (z(h), z(c)));
        cell.forward(&z(x), hx.as_ref().map(|(h, c)| (h, c)))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        e(&[1, 2, 3], None),
        "LSTMCell(3, 4): LSTMCell: Expected input to be 1D or 2D, got 3D instead"
    );
    assert_eq!(
        e(&[2, 3], Some((&[1, 2, 4], &[2, 4]))),
        "LSTMCell(3, 4): LSTMCell: Expected hx[0] to be 1D or 2D, got 3D instead"
    );
    assert_eq!(
        e(&[2, 3], Some((&[2, 4], &[1, 2, 5]))),
        "LSTMCell(3, 4): LSTMCell: Expected hx[1] to be 1D or 2D, got 3D instead"
    );
    assert_eq!(
        e(&[5], Some((&[2, 4], &[2, 4]))),
        "LSTMCell(3, 4): input has inconsistent input_size: got 5 expected 3"
    );
    assert_eq!(
        e(&[2, 3], Some((&[2, 4], &[4]))),
        "LSTMCell(3, 4): Expected 2D hidden1 (batch x hidden_size), but got 1D tensor"
    );
    assert_eq!(
        e(&[3], Some((&[4], &[2, 4]))),
        "LSTMCell(3, 4): Expected 2D hidden1 (batch x hidden_size), but got 3D tensor"
    );
    // hidden0 is checked completely before hidden1.
    assert_eq!(
        e(&[2, 3], Some((&[3, 4], &[4]))),
        "LSTMCell(3, 4): Input batch size 2 doesn't match hidden0 batch size 3"
    );
    assert_eq!(
        e(&[2, 3], Some((&[2, 5], &[3, 4]))),
        "LSTMCell(3, 4): hidden0 has inconsistent hidden_size: got 5, expected 4"
    );
    assert_eq!(
        e(&[2, 3], Some((&[2, 4], &[3, 4]))),
        "LSTMCell(3, 4): Input batch size 2 doesn't match hidden1 batch size 3"
    );
    assert_eq!(
        e(&[2, 3], Some((&[2, 4], &[2, 5]))),
        "LSTMCell(3, 4): hidden1 has inconsistent hidden_size: got 5, expected 4"
    );

    let cell = GruCell::<f64>::new(3, 4, true, &mut recur_nn::seeded_rng(0)).unwrap();
    let e = |x: &[usize], h: Option<&[usize]>| {
        let h = h.map(z);
        cell.forward(&z(x), h.as_ref()).unwrap_err().to_string()
    };
    assert_eq!(
        e(&[1, 2, 3], None),
        "GRUCell(3, 4): GRUCell: Expected input to be 1D or 2D, got 3D instead"
    );
    assert_eq!(
        e(&[2, 3], Some(&[1, 2, 4])),
        "GRUCell(3, 4): GRUCell: Expected hidden to be 1D or 2D, got 3D instead"
    );
    assert_eq!(
        e(&[5], Some(&[2, 4])),
        "GRUCell(3, 4): input has inconsistent input_size: got 5 expected 3"
    );
    assert_eq!(
        e(&[3], Some(&[2, 4])),
        "GRUCell(3, 4): Expected 2D hidden0 (batch x hidden_size), but got 3D tensor"
    );
    assert_eq!(
        e(&[2, 3], Some(&[4])),
        "GRUCell(3, 4): Expected 2D hidden0 (batch x hidden_size), but got 1D tensor"
    );
    assert_eq!(
        e(&[2, 3], Some(&[3, 5])),
        "GRUCell(3, 4): Input batch size 2 doesn't match hidden0 batch size 3"
    );
    assert_eq!(
        e(&[2, 3], Some(&[2, 5])),
        "GRUCell(3, 4): hidden0 has inconsistent hidden_size: got 5, expected 4"
    );
}

#[test]
fn shapes_of_every_case() {
    let tape = Tape::new();
    let ls = |m: &Lstm<f64>, x: &[usize], h: Option<&[usize]>| {
        let hx = h.map(|h| {
            (
                tape.constant(Tensor::zeros(h)),
                tape.constant(Tensor::zeros(h)),
            )
        });
        let (o, (h, c)) = m
            .forward(
                &tape.constant(Tensor::ones(x)),
                hx.as_ref().map(|(h, c)| (h, c)),
            )
            .unwrap();
        assert_eq!(h.dims(), c.dims());
        (o.dims().to_vec(), h.dims().to_vec())
    };
    let gs = |m: &Gru<f64>, x: &[usize], h: Option<&[usize]>| {
        let h0 = h.map(|h| tape.constant(Tensor::zeros(h)));
        let (o, h) = m
            .forward(&tape.constant(Tensor::ones(x)), h0.as_ref())
            .unwrap();
        (o.dims().to_vec(), h.dims().to_vec())
    };
    type Case<'a> = (&'a [usize], Option<&'a [usize]>, Vec<usize>, Vec<usize>);
    let cases: [Case<'_>; 3] = [
        (&[5, 2, 3], None, vec![5, 2, 8], vec![4, 2, 4]),
        (&[5, 3], Some(&[4, 4]), vec![5, 8], vec![4, 4]),
        (&[5, 0, 3], Some(&[4, 0, 4]), vec![5, 0, 8], vec![4, 0, 4]),
    ];
    let l = lstm(LstmConfig::new(3, 4).num_layers(2).bidirectional(true));
    let g = gru(GruConfig::new(3, 4).num_layers(2).bidirectional(true));
    for (x, h, o, hn) in cases {
        assert_eq!(ls(&l, x, h), (o.clone(), hn.clone()));
        assert_eq!(gs(&g, x, h), (o, hn));
    }
    // batch_first applies to input and output, not to the states.
    let l = lstm(LstmConfig::new(3, 4).batch_first(true));
    assert_eq!(
        ls(&l, &[2, 5, 3], Some(&[1, 2, 4])),
        (vec![2, 5, 4], vec![1, 2, 4])
    );
    let g = gru(GruConfig::new(3, 4).batch_first(true));
    assert_eq!(
        gs(&g, &[2, 5, 3], Some(&[1, 2, 4])),
        (vec![2, 5, 4], vec![1, 2, 4])
    );
    // The lesson's example, (5, 6, 1) with input (1, 3, 5) and h0 (1, 3, 6).
    assert_eq!(
        ls(&lstm(LstmConfig::new(5, 6)), &[1, 3, 5], Some(&[1, 3, 6])),
        (vec![1, 3, 6], vec![1, 3, 6])
    );
    assert_eq!(
        gs(&gru(GruConfig::new(5, 6)), &[1, 3, 5], Some(&[1, 3, 6])),
        (vec![1, 3, 6], vec![1, 3, 6])
    );
}

#[test]
fn bidirectional_output_halves_are_the_final_states() {
    let x = rand(&[6, 2, 3], 5);
    let l = lstm(LstmConfig::new(3, 4).bidirectional(true));
    let (out, (hn, _)) = l.forward_tensor(&x, None).unwrap();
    let g = gru(GruConfig::new(3, 4).bidirectional(true));
    let (gout, ghn) = g.forward_tensor(&x, None).unwrap();
    for (out, hn) in [(out, hn), (gout, ghn)] {
        assert_eq!(
            out.select(0, 5).unwrap().narrow(1, 0, 4).unwrap().to_vec(),
            hn.select(0, 0).unwrap().to_vec()
        );
        assert_eq!(
            out.select(0, 0).unwrap().narrow(1, 4, 4).unwrap().to_vec(),
            hn.select(0, 1).unwrap().to_vec()
        );
    }
}

#[test]
fn parameters_names_order_shapes_and_init() {
    let expect = |gates: usize| -> Vec<(String, Vec<usize>)> {
        let mut v = Vec::new();
        for (k, input) in [(0, 3), (1, 8)] {
            for sfx in ["", "_reverse"] {
                v.push((format!("weight_ih_l{k}{sfx}"), vec![gates * 4, input]));
                v.push((format!("weight_hh_l{k}{sfx}"), vec![gates * 4, 4]));
                v.push((format!("bias_ih_l{k}{sfx}"), vec![gates * 4]));
                v.push((format!("bias_hh_l{k}{sfx}"), vec![gates * 4]));
            }
        }
        v
    };
    let shapes = |m: &dyn Module<f64>| -> Vec<(String, Vec<usize>)> {
        m.named_parameters()
            .into_iter()
            .map(|(n, p)| (n, p.value().dims().to_vec()))
            .collect()
    };
    let l = lstm(LstmConfig::new(3, 4).num_layers(2).bidirectional(true));
    assert_eq!(shapes(&l), expect(4));
    let g = gru(GruConfig::new(3, 4).num_layers(2).bidirectional(true));
    assert_eq!(shapes(&g), expect(3));
    assert_eq!(
        lstm(LstmConfig::new(3, 4).bias(false))
            .named_parameters()
            .len(),
        2
    );
    // Parameter counts: 4x and 3x an RNN of the same sizes.
    let rnn_count = 4 * 5 + 4 * 4 + 4 + 4;
    assert_eq!(lstm(LstmConfig::new(5, 4)).num_parameters(), 4 * rnn_count);
    assert_eq!(gru(GruConfig::new(5, 4)).num_parameters(), 3 * rnn_count);
    // U(-1/sqrt(H), 1/sqrt(H)) for every parameter, biases included, filling the interval.
    let k = 1.0 / 100f64.sqrt();
    let big_l = Lstm::<f64>::new(LstmConfig::new(30, 100), &mut recur_nn::seeded_rng(2)).unwrap();
    let big_g = Gru::<f64>::new(GruConfig::new(30, 100), &mut recur_nn::seeded_rng(2)).unwrap();
    let cell = LstmCell::<f64>::new(30, 100, true, &mut recur_nn::seeded_rng(2)).unwrap();
    for m in [&big_l as &dyn Module<f64>, &big_g, &cell] {
        for (name, p) in m.named_parameters() {
            let v = p.value().to_vec();
            let (lo, hi) = v
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            assert!(
                lo >= -k && hi <= k && lo < -0.9 * k && hi > 0.9 * k,
                "{name}: {lo} {hi}"
            );
        }
    }
    // The cells' names.
    let names: Vec<String> = cell
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]);
    let gc = GruCell::<f64>::new(3, 4, true, &mut recur_nn::seeded_rng(0)).unwrap();
    assert_eq!(gc.named_parameters()[1].1.value().dims(), &[12, 4]);
}

#[test]
fn printed_forms() {
    let l = LstmConfig::new(3, 4)
        .num_layers(2)
        .bias(false)
        .batch_first(true)
        .dropout(0.5)
        .bidirectional(true);
    assert_eq!(
        format!("{:?}", lstm(l)),
        "LSTM(3, 4, num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)"
    );
    let g = GruConfig::new(3, 4)
        .num_layers(2)
        .bias(false)
        .batch_first(true)
        .dropout(0.5)
        .bidirectional(true);
    assert_eq!(
        format!("{:?}", gru(g)),
        "GRU(3, 4, num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)"
    );
    assert_eq!(
        GruConfig::new(3, 4).dropout(0.25).to_string(),
        "GRU(3, 4, dropout=0.25)"
    );
    let c = LstmCell::<f64>::new(3, 4, false, &mut recur_nn::seeded_rng(0)).unwrap();
    assert_eq!(c.to_string(), "LSTMCell(3, 4, bias=False)");
    let c = GruCell::<f64>::new(3, 4, true, &mut recur_nn::seeded_rng(0)).unwrap();
    assert_eq!(c.to_string(), "GRUCell(3, 4)");
}

/// Sets every parameter of `m` to zero except the named bias entries.
fn zero_params_except(m: &mut dyn Module<f64>, name: &str, values: &[(usize, f64)]) {
    for (n, p) in m.named_parameters_mut() {
        let mut v = vec![0.0; p.value().numel()];
        if n == name {
            for &(i, x) in values {
                v[i] = x;
            }
        }
        let dims = p.value().dims().to_vec();
        p.set_value(Tensor::from_vec(v, &dims).unwrap());
    }
}

#[test]
fn gate_order_is_pytorchs() {
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    // LSTM i, f, g, o: with zero weights, the gates are σ(b_i), σ(b_f), tanh(b_g), σ(b_o).
    let mut l = lstm(LstmConfig::new(1, 1));
    zero_params_except(
        &mut l,
        "bias_ih_l0",
        &[(0, 0.3), (1, -0.7), (2, 1.1), (3, 0.5)],
    );
    let c0 = 0.25;
    let (out, (_, cn)) = l
        .forward_tensor(
            &Tensor::zeros(&[1, 1, 1]),
            Some((&Tensor::zeros(&[1, 1, 1]), &Tensor::full(&[1, 1, 1], c0))),
        )
        .unwrap();
    let c1 = sig(-0.7) * c0 + sig(0.3) * 1.1f64.tanh();
    assert!((cn.to_vec()[0] - c1).abs() < 1e-15);
    assert!((out.to_vec()[0] - sig(0.5) * c1.tanh()).abs() < 1e-15);
    // GRU r, z, n with r applied to (W_hn h + b_hn): with zero weights,
    // n = tanh(b_in + σ(b_r) * b_hn) and h' = (1 - σ(b_z)) n + σ(b_z) h.
    let mut g = gru(GruConfig::new(1, 1));
    zero_params_except(&mut g, "bias_hh_l0", &[(0, 0.4), (1, -0.2), (2, 0.9)]);
    let h0 = 0.6;
    let (out, _) = g
        .forward_tensor(
            &Tensor::zeros(&[1, 1, 1]),
            Some(&Tensor::full(&[1, 1, 1], h0)),
        )
        .unwrap();
    let n = (sig(0.4) * 0.9).tanh();
    let z = sig(-0.2);
    assert!((out.to_vec()[0] - ((1.0 - z) * n + z * h0)).abs() < 1e-15);
}

#[test]
fn states_are_never_modified_and_forward_tensor_matches_forward() {
    let l = lstm(LstmConfig::new(2, 3).num_layers(2));
    let (h0, c0) = (rand(&[2, 1, 3], 1), rand(&[2, 1, 3], 2));
    let (hb, cb) = (h0.to_vec(), c0.to_vec());
    let x = rand(&[4, 1, 2], 3);
    let (o, (h, c)) = l.forward_tensor(&x, Some((&h0, &c0))).unwrap();
    assert_eq!((h0.to_vec(), c0.to_vec()), (hb, cb));
    let tape = Tape::new();
    let (o2, (h2, c2)) = l
        .forward(
            &tape.constant(x.clone()),
            Some((&tape.constant(h0.clone()), &tape.constant(c0.clone()))),
        )
        .unwrap();
    assert_eq!(
        (o.to_vec(), h.to_vec(), c.to_vec()),
        (
            o2.value().to_vec(),
            h2.value().to_vec(),
            c2.value().to_vec()
        )
    );
    let g = gru(GruConfig::new(2, 3));
    let h0 = rand(&[1, 1, 3], 4);
    let before = h0.to_vec();
    let (o, h) = g.forward_tensor(&x, Some(&h0)).unwrap();
    assert_eq!(h0.to_vec(), before);
    let (o2, h2) = g
        .forward(&tape.constant(x), Some(&tape.constant(h0)))
        .unwrap();
    assert_eq!(
        (o.to_vec(), h.to_vec()),
        (o2.value().to_vec(), h2.value().to_vec())
    );
}

#[test]
fn dropout_between_layers_only_in_training() {
    let x = rand(&[4, 2, 3], 1);
    let mut l = lstm(LstmConfig::new(3, 5).num_layers(3).dropout(0.5));
    let run = |l: &Lstm<f64>| {
        let tape = Tape::new();
        let (o, _) = l.forward(&tape.constant(x.clone()), None).unwrap();
        o.value().to_vec()
    };
    assert_ne!(run(&l), run(&l), "independent masks per call");
    assert_eq!(
        l.dropout_calls(),
        4,
        "two masks (after layers 0 and 1) per call"
    );
    l.set_training(false);
    assert_eq!(run(&l), run(&l), "eval is deterministic");
    assert_eq!(run(&l), l.forward_tensor(&x, None).unwrap().0.to_vec());
    // Reproducible and resumable: the same seed and counter give the same masks.
    let a = lstm(LstmConfig::new(3, 5).num_layers(2).dropout(0.3));
    let b = lstm(LstmConfig::new(3, 5).num_layers(2).dropout(0.3));
    let _ = run(&a);
    b.set_dropout_calls(a.dropout_calls());
    assert_eq!(run(&a), run(&b));

    let mut g = gru(GruConfig::new(3, 5).num_layers(2).dropout(1.0));
    // p = 1: the second layer sees zeros, so its output is that of a 1-layer GRU on zeros.
    let tape = Tape::new();
    let (o1, _) = g.forward(&tape.constant(x.clone()), None).unwrap();
    g.set_training(false);
    let mut one = gru(GruConfig::new(5, 5));
    let src: Vec<Tensor<f64>> = g.named_parameters()[4..]
        .iter()
        .map(|(_, p)| p.value().clone())
        .collect();
    for ((_, p), v) in one.named_parameters_mut().into_iter().zip(src) {
        p.set_value(v);
    }
    let single = one
        .forward_tensor(&Tensor::zeros(&[4, 2, 5]), None)
        .unwrap()
        .0;
    assert!(max_diff(o1.value(), &single) < 1e-15);
    // A single layer never applies dropout.
    let l1 = lstm(LstmConfig::new(3, 5).dropout(0.9));
    let tape = Tape::new();
    let (o, _) = l1.forward(&tape.constant(x.clone()), None).unwrap();
    assert_eq!(
        o.value().to_vec(),
        l1.forward_tensor(&x, None).unwrap().0.to_vec()
    );
}

#[test]
fn padded_batch_equals_each_sequence_alone() {
    let x = rand(&[5, 3, 3], 3);
    let lengths = [2usize, 5, 3];
    for bidir in [false, true] {
        let l = lstm(LstmConfig::new(3, 4).num_layers(2).bidirectional(bidir));
        let g = gru(GruConfig::new(3, 4).num_layers(2).bidirectional(bidir));
        let tape = Tape::new();
        let (lo, (lh, lc)) = l
            .forward_padded(&tape.constant(x.clone()), &lengths, None)
            .unwrap();
        let (go, gh) = g
            .forward_padded(&tape.constant(x.clone()), &lengths, None)
            .unwrap();
        for (b, &len) in lengths.iter().enumerate() {
            let item = x.select(1, b).unwrap().narrow(0, 0, len).unwrap();
            let (o1, (h1, c1)) = l.forward_tensor(&item, None).unwrap();
            let (go1, gh1) = g.forward_tensor(&item, None).unwrap();
            for (got, want) in [(lo.value(), &o1), (go.value(), &go1)] {
                let got = got.select(1, b).unwrap();
                assert!(max_diff(&got.narrow(0, 0, len).unwrap(), want) < 1e-14);
                if len < 5 {
                    assert!(
                        got.narrow(0, len, 5 - len)
                            .unwrap()
                            .to_vec()
                            .iter()
                            .all(|&v| v == 0.0)
                    );
                }
            }
            assert!(max_diff(&lh.value().select(1, b).unwrap(), &h1) < 1e-14);
            assert!(max_diff(&lc.value().select(1, b).unwrap(), &c1) < 1e-14);
            assert!(max_diff(&gh.value().select(1, b).unwrap(), &gh1) < 1e-14);
        }
    }
    let l = lstm(LstmConfig::new(3, 4));
    let tape = Tape::new();
    let x = tape.constant(Tensor::zeros(&[5, 2, 3]));
    assert_eq!(
        l.forward_padded(&x, &[3, 0], None).unwrap_err().to_string(),
        "LSTM(3, 4): Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0"
    );
    assert!(l.forward_padded(&x, &[6, 1], None).is_err());
    let g = gru(GruConfig::new(3, 4));
    assert!(g.forward_padded(&x, &[1], None).is_err());
}

#[test]
fn step_api_matches_the_sequence_forward_and_rejects_bad_input() {
    let x = rand(&[6, 2, 3], 4);
    let l = lstm(LstmConfig::new(3, 4).num_layers(2));
    let (out, (hn, cn)) = l.forward_tensor(&x, None).unwrap();
    let mut state = l.zero_state(2);
    for t in 0..6 {
        let y = l.step(&x.select(0, t).unwrap(), &mut state).unwrap();
        assert!(max_diff(&y, &out.select(0, t).unwrap()) < 1e-14);
    }
    assert!(max_diff(&state.0, &hn) < 1e-14 && max_diff(&state.1, &cn) < 1e-14);
    assert!(l.step(&Tensor::zeros(&[2, 5]), &mut state).is_err());
    let mut wrong = (Tensor::zeros(&[2, 2, 4]), Tensor::zeros(&[2, 3, 4]));
    assert_eq!(
        l.step(&Tensor::zeros(&[2, 3]), &mut wrong)
            .unwrap_err()
            .to_string(),
        "LSTM(3, 4, num_layers=2): step: Expected hidden[1] size (2, 2, 4), got [2, 3, 4]"
    );
    let g = gru(GruConfig::new(3, 4).num_layers(2));
    let (out, hn) = g.forward_tensor(&x, None).unwrap();
    let mut state = g.zero_state(2);
    for t in 0..6 {
        let y = g.step(&x.select(0, t).unwrap(), &mut state).unwrap();
        assert!(max_diff(&y, &out.select(0, t).unwrap()) < 1e-14);
    }
    assert!(max_diff(&state, &hn) < 1e-14);
    let bl = lstm(LstmConfig::new(3, 4).bidirectional(true));
    assert!(
        bl.step(&Tensor::zeros(&[1, 3]), &mut bl.zero_state(1))
            .is_err()
    );
    let bg = gru(GruConfig::new(3, 4).bidirectional(true));
    assert!(
        bg.step(&Tensor::zeros(&[1, 3]), &mut bg.zero_state(1))
            .is_err()
    );
}

#[test]
fn checkpoints_round_trip() {
    let dir = std::env::temp_dir().join(format!("recur-lstm-gru-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let x = rand(&[3, 2, 3], 9);
    let a = lstm(LstmConfig::new(3, 4).num_layers(2));
    save_module(&a, dir.join("lstm.safetensors")).unwrap();
    let mut b = Lstm::<f64>::new(
        LstmConfig::new(3, 4).num_layers(2),
        &mut recur_nn::seeded_rng(7),
    )
    .unwrap();
    assert_ne!(
        a.forward_tensor(&x, None).unwrap().0.to_vec(),
        b.forward_tensor(&x, None).unwrap().0.to_vec()
    );
    load_module(&mut b, dir.join("lstm.safetensors")).unwrap();
    assert_eq!(
        a.forward_tensor(&x, None).unwrap().0.to_vec(),
        b.forward_tensor(&x, None).unwrap().0.to_vec()
    );
    // A GRU checkpoint does not fit an LSTM (shapes (3H, .) vs (4H, .)).
    let g = gru(GruConfig::new(3, 4).num_layers(2));
    save_module(&g, dir.join("gru.safetensors")).unwrap();
    assert!(load_module(&mut b, dir.join("gru.safetensors")).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn gradients_reach_every_parameter_and_state() {
    let l = lstm(LstmConfig::new(3, 4).num_layers(2).bidirectional(true));
    let tape = Tape::new();
    let x = tape.leaf(rand(&[5, 2, 3], 1));
    let (h0, c0) = (
        tape.leaf(rand(&[4, 2, 4], 2)),
        tape.leaf(rand(&[4, 2, 4], 3)),
    );
    let (out, (_, c_n)) = l.forward(&x, Some((&h0, &c0))).unwrap();
    let loss = out.sum_all().add(&c_n.sum_all()).unwrap();
    let grads = tape.backward(&loss).unwrap();
    for v in [&x, &h0, &c0] {
        assert!(grads.of(v).unwrap().abs().max_all().unwrap() > 0.0);
    }
    for (name, p) in l.named_parameters() {
        assert!(
            grads.get(p).unwrap().abs().max_all().unwrap() > 0.0,
            "{name}"
        );
    }
    // One fused node per layer and direction: the tape stays short for long sequences.
    let g = gru(GruConfig::new(3, 4));
    let tape = Tape::new();
    let (_, _) = g.forward(&tape.leaf(rand(&[500, 1, 3], 1)), None).unwrap();
    assert!(tape.len() < 20, "{} nodes", tape.len());
}

/// PyTorch's `proj_size`: its checks and messages, shapes, names, and the one-step sampler
/// (which projects too) against the whole-sequence forward.
#[test]
fn lstm_projection() {
    use recur_nn::{Gru, GruConfig, Module};
    let mut rng = recur_nn::seeded_rng(0);
    let e = Lstm::<f64>::new(LstmConfig::new(3, 4).proj_size(4), &mut rng).unwrap_err();
    assert_eq!(
        e.to_string(),
        "proj_size has to be smaller than hidden_size"
    );
    let e = Gru::<f64>::new(GruConfig::new(3, 4).proj_size(2), &mut rng).unwrap_err();
    assert_eq!(
        e.to_string(),
        "proj_size argument is only supported for LSTM, not GRU"
    );
    let lstm =
        Lstm::<f64>::new(LstmConfig::new(3, 5).num_layers(2).proj_size(2), &mut rng).unwrap();
    assert_eq!(
        lstm.config().to_string(),
        "LSTM(3, 5, proj_size=2, num_layers=2)"
    );
    let names: Vec<String> = lstm
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names[..5],
        [
            "weight_ih_l0",
            "weight_hh_l0",
            "bias_ih_l0",
            "bias_hh_l0",
            "weight_hr_l0"
        ]
    );
    let p = lstm.named_parameters();
    assert_eq!(
        (
            p[1].1.value().dims(),
            p[4].1.value().dims(),
            p[5].1.value().dims()
        ),
        (&[20, 2][..], &[2, 5][..], &[20, 2][..])
    );
    let tape = Tape::new();
    let x = tape.constant(Tensor::uniform(&[6, 1, 3], -1.0, 1.0, &mut rng));
    let (h0, c0) = (
        tape.constant(Tensor::zeros(&[2, 1, 5])),
        tape.constant(Tensor::zeros(&[2, 1, 5])),
    );
    let e = lstm.forward(&x, Some((&h0, &c0))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "LSTM(3, 5, proj_size=2, num_layers=2): Expected hidden[0] size (2, 1, 2), got [2, 1, 5]"
    );
    let (out, (h_n, c_n)) = lstm.forward(&x, None).unwrap();
    assert_eq!(
        (out.dims(), h_n.dims(), c_n.dims()),
        (&[6, 1, 2][..], &[2, 1, 2][..], &[2, 1, 5][..])
    );
    let mut s = lstm.stepper().unwrap();
    let mut state = lstm.zero_state(1);
    for t in 0..6 {
        let xt = x.value().select(0, t).unwrap();
        let a = s.step(&xt.to_vec()).unwrap().to_vec();
        let b = lstm.step(&xt, &mut state).unwrap().to_vec();
        let want = out.value().select(0, t).unwrap().to_vec();
        for ((a, b), w) in a.iter().zip(&b).zip(&want) {
            assert!((a - w).abs() < 1e-14 && (b - w).abs() < 1e-14, "step {t}");
        }
    }
    assert!(state.1.sub(c_n.value()).unwrap().abs().max_all().unwrap() < 1e-14);
}
