//! Random LSTM and GRU configurations: gradcheck of
//! sum(output * R) + sum(h_n * S) (+ sum(c_n * U)) with respect to the input, h0 (and c0) and
//! every parameter; and the fused ops equal the composed references to 1e-12, values and
//! gradients. Also the cells, against a one-step module.

use proptest::prelude::*;
use recur_autograd::{GradcheckOptions, Grads, Tape, Var, gradcheck};
use recur_nn::{Gru, GruCell, GruConfig, Lstm, LstmCell, LstmConfig, Module};
use recur_tensor::Tensor;

/// The settings shared by both modules, drawn at random (small, so the check is fast).
#[derive(Clone, Debug)]
struct Case {
    input: usize,
    hidden: usize,
    layers: usize,
    bias: bool,
    batch_first: bool,
    bidirectional: bool,
    steps: usize,
    batch: Option<usize>,
    with_h0: bool,
    lengths: Option<Vec<usize>>,
    seed: u64,
    /// LSTM only: `proj_size` (0: none), below `hidden`.
    proj: usize,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (
            1usize..=3,
            1usize..=3,
            1usize..=2,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
        (
            1usize..=5,
            prop::option::of(1usize..=3),
            any::<bool>(),
            any::<bool>(),
            any::<u64>(),
        ),
    )
        .prop_map(
            |(
                (input, hidden, layers, bias, batch_first, bidirectional),
                (steps, batch, with_h0, packed, seed),
            )| {
                // Variable lengths for batched cases half the time (item 0 always full length).
                let lengths = match (batch, packed) {
                    (Some(b), true) => Some(
                        (0..b)
                            .map(|k| {
                                if k == 0 {
                                    steps
                                } else {
                                    1 + (seed as usize + 3 * k) % steps
                                }
                            })
                            .collect(),
                    ),
                    _ => None,
                };
                Case {
                    input,
                    hidden,
                    layers,
                    bias,
                    batch_first,
                    bidirectional,
                    steps,
                    batch,
                    with_h0,
                    lengths,
                    seed: seed % (1 << 40),
                    proj: (seed as usize / 7) % hidden,
                }
            },
        )
}

impl Case {
    fn lstm(&self) -> Lstm<f64> {
        let c = LstmConfig::new(self.input, self.hidden)
            .num_layers(self.layers)
            .bias(self.bias)
            .batch_first(self.batch_first)
            .bidirectional(self.bidirectional)
            .proj_size(self.proj);
        Lstm::new(c, &mut recur_nn::seeded_rng(self.seed)).unwrap()
    }
    fn gru(&self) -> Gru<f64> {
        let c = GruConfig::new(self.input, self.hidden)
            .num_layers(self.layers)
            .bias(self.bias)
            .batch_first(self.batch_first)
            .bidirectional(self.bidirectional);
        Gru::new(c, &mut recur_nn::seeded_rng(self.seed)).unwrap()
    }
    fn input_dims(&self) -> Vec<usize> {
        match self.batch {
            None => vec![self.steps, self.input],
            Some(b) if self.batch_first => vec![b, self.steps, self.input],
            Some(b) => vec![self.steps, b, self.input],
        }
    }
    fn state_dims(&self) -> Vec<usize> {
        let lead = self.layers * if self.bidirectional { 2 } else { 1 };
        match self.batch {
            None => vec![lead, self.hidden],
            Some(b) => vec![lead, b, self.hidden],
        }
    }
    fn out_dims(&self) -> Vec<usize> {
        let mut d = self.input_dims();
        *d.last_mut().unwrap() = self.hidden * if self.bidirectional { 2 } else { 1 };
        d
    }
    /// The LSTM's `h` width: `proj_size` when it projects.
    fn lstm_h(&self) -> usize {
        if self.proj > 0 {
            self.proj
        } else {
            self.hidden
        }
    }
    fn lstm_h_dims(&self) -> Vec<usize> {
        let mut d = self.state_dims();
        *d.last_mut().unwrap() = self.lstm_h();
        d
    }
    fn lstm_out_dims(&self) -> Vec<usize> {
        let mut d = self.input_dims();
        *d.last_mut().unwrap() = self.lstm_h() * if self.bidirectional { 2 } else { 1 };
        d
    }
}

fn rand(dims: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::uniform(dims, -1.0, 1.0, &mut recur_nn::seeded_rng(seed))
}

/// sum(a * ra) + sum(b * rb) (+ sum(c * rc)): the fixtures' loss.
fn weighted<'t>(pairs: &[(&Var<'t, f64>, &Tensor<f64>)]) -> recur_autograd::Result<Var<'t, f64>> {
    let mut total: Option<Var<'t, f64>> = None;
    for (v, r) in pairs {
        let term = v.mul(&v.tape().constant((*r).clone()))?.sum_all();
        total = Some(match total {
            None => term,
            Some(t) => t.add(&term)?,
        });
    }
    Ok(total.expect("at least one term"))
}

fn max_diff(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    a.sub(b).unwrap().abs().max_all().unwrap_or(0.0)
}

/// Every tracked var's and every parameter's gradient agree between two backward passes.
fn same_grads<T: Module<f64>>(
    m: &T,
    vars: &[Var<'_, f64>],
    g1: &Grads<f64>,
    g2: &Grads<f64>,
) -> f64 {
    let mut worst = 0.0f64;
    for v in vars {
        match (g1.of(v), g2.of(v)) {
            (Some(a), Some(b)) => worst = worst.max(max_diff(a, b)),
            (None, None) => {}
            _ => return f64::INFINITY,
        }
    }
    for (_, p) in m.named_parameters() {
        match (g1.get(p), g2.get(p)) {
            (Some(a), Some(b)) => worst = worst.max(max_diff(a, b)),
            (None, None) => {}
            _ => return f64::INFINITY,
        }
    }
    worst
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn lstm_gradcheck_every_input_and_parameter(c in case()) {
        let lstm = c.lstm();
        let (r, s, u) = (rand(&c.lstm_out_dims(), c.seed + 3), rand(&c.lstm_h_dims(), c.seed + 4), rand(&c.state_dims(), c.seed + 5));
        let mut inputs = vec![rand(&c.input_dims(), c.seed + 1)];
        if c.with_h0 {
            inputs.push(rand(&c.lstm_h_dims(), c.seed + 2));
            inputs.push(rand(&c.state_dims(), c.seed + 6));
        }
        let n_fixed = inputs.len();
        inputs.extend(lstm.named_parameters().iter().map(|(_, p)| p.value().clone()));
        let lengths = c.lengths.clone();
        let report = gradcheck(|_, v| {
            let hx = c.with_h0.then(|| (&v[1], &v[2]));
            let (out, (h_n, c_n)) = lstm.forward_with_params(&v[0], hx, lengths.as_deref(), &v[n_fixed..])?;
            weighted(&[(&out, &r), (&h_n, &s), (&c_n, &u)])
        }, &inputs, &GradcheckOptions::default());
        prop_assert!(report.is_ok(), "{:?}: {}", c, report.unwrap_err());
    }

    #[test]
    fn gru_gradcheck_every_input_and_parameter(c in case()) {
        let gru = c.gru();
        let (r, s) = (rand(&c.out_dims(), c.seed + 3), rand(&c.state_dims(), c.seed + 4));
        let mut inputs = vec![rand(&c.input_dims(), c.seed + 1)];
        if c.with_h0 {
            inputs.push(rand(&c.state_dims(), c.seed + 2));
        }
        let n_fixed = inputs.len();
        inputs.extend(gru.named_parameters().iter().map(|(_, p)| p.value().clone()));
        let lengths = c.lengths.clone();
        let report = gradcheck(|_, v| {
            let h0 = c.with_h0.then(|| &v[1]);
            let (out, h_n) = gru.forward_with_params(&v[0], h0, lengths.as_deref(), &v[n_fixed..])?;
            weighted(&[(&out, &r), (&h_n, &s)])
        }, &inputs, &GradcheckOptions::default());
        prop_assert!(report.is_ok(), "{:?}: {}", c, report.unwrap_err());
    }

    #[test]
    fn lstm_fused_equals_composed(c in case()) {
        let lstm = c.lstm();
        let tape = Tape::new();
        let x = tape.leaf(rand(&c.input_dims(), c.seed + 1));
        let hx = c.with_h0.then(|| (tape.leaf(rand(&c.lstm_h_dims(), c.seed + 2)), tape.leaf(rand(&c.state_dims(), c.seed + 6))));
        let hx_ref = hx.as_ref().map(|(h, c)| (h, c));
        let params = lstm.param_vars(&tape);
        let (out, (h_n, c_n)) = lstm.forward_with_params(&x, hx_ref, c.lengths.as_deref(), &params).unwrap();
        let comp = lstm.forward_composed(&x, hx_ref, c.lengths.as_deref(), &params).unwrap();
        prop_assert!(max_diff(out.value(), comp.output.value()) <= 1e-12);
        prop_assert!(max_diff(h_n.value(), comp.finals[0].value()) <= 1e-12);
        prop_assert!(max_diff(c_n.value(), comp.finals[1].value()) <= 1e-12);
        let (r, s, u) = (rand(&c.lstm_out_dims(), c.seed + 3), rand(&c.lstm_h_dims(), c.seed + 4), rand(&c.state_dims(), c.seed + 5));
        let g1 = tape.backward(&weighted(&[(&out, &r), (&h_n, &s), (&c_n, &u)]).unwrap()).unwrap();
        let g2 = tape.backward(&weighted(&[(&comp.output, &r), (&comp.finals[0], &s), (&comp.finals[1], &u)]).unwrap()).unwrap();
        let mut vars = vec![x.clone()];
        if let Some((h, cc)) = &hx {
            vars.extend([h.clone(), cc.clone()]);
        }
        let d = same_grads(&lstm, &vars, &g1, &g2);
        prop_assert!(d <= 1e-12, "{:?}: gradients differ by {}", c, d);
    }

    #[test]
    fn gru_fused_equals_composed(c in case()) {
        let gru = c.gru();
        let tape = Tape::new();
        let x = tape.leaf(rand(&c.input_dims(), c.seed + 1));
        let h0 = c.with_h0.then(|| tape.leaf(rand(&c.state_dims(), c.seed + 2)));
        let params = gru.param_vars(&tape);
        let (out, h_n) = gru.forward_with_params(&x, h0.as_ref(), c.lengths.as_deref(), &params).unwrap();
        let comp = gru.forward_composed(&x, h0.as_ref(), c.lengths.as_deref(), &params).unwrap();
        prop_assert!(max_diff(out.value(), comp.output.value()) <= 1e-12);
        prop_assert!(max_diff(h_n.value(), comp.finals[0].value()) <= 1e-12);
        let (r, s) = (rand(&c.out_dims(), c.seed + 3), rand(&c.state_dims(), c.seed + 4));
        let g1 = tape.backward(&weighted(&[(&out, &r), (&h_n, &s)]).unwrap()).unwrap();
        let g2 = tape.backward(&weighted(&[(&comp.output, &r), (&comp.finals[0], &s)]).unwrap()).unwrap();
        let mut vars = vec![x.clone()];
        vars.extend(h0.clone());
        let d = same_grads(&gru, &vars, &g1, &g2);
        prop_assert!(d <= 1e-12, "{:?}: gradients differ by {}", c, d);
    }

    /// A cell step equals a one-layer, one-step module with the same weights.
    #[test]
    fn cells_equal_one_step_modules(
        (input, hidden, bias, batch, seed) in (1usize..=4, 1usize..=4, any::<bool>(), prop::option::of(0usize..=3), any::<u64>())
    ) {
        let seed = seed % (1 << 40);
        let xd: Vec<usize> = match batch { Some(b) => vec![b, input], None => vec![input] };
        let hd: Vec<usize> = match batch { Some(b) => vec![b, hidden], None => vec![hidden] };
        let seq = |d: &[usize]| { let mut v = vec![1]; v.extend_from_slice(d); v };
        let layer = |d: &[usize]| { let mut v = vec![1]; v.extend_from_slice(d); v };
        let (x, h, cc) = (rand(&xd, seed + 1), rand(&hd, seed + 2), rand(&hd, seed + 3));

        let cell = LstmCell::<f64>::new(input, hidden, bias, &mut recur_nn::seeded_rng(seed)).unwrap();
        let lstm = Lstm::<f64>::new(LstmConfig::new(input, hidden).bias(bias), &mut recur_nn::seeded_rng(seed)).unwrap();
        let tape = Tape::new();
        let (h1, c1) = cell.forward(&tape.constant(x.clone()), Some((&tape.constant(h.clone()), &tape.constant(cc.clone())))).unwrap();
        let (out, (_, c_n)) = lstm.forward(&tape.constant(x.reshape(&seq(&xd)).unwrap()),
            Some((&tape.constant(h.reshape(&layer(&hd)).unwrap()), &tape.constant(cc.reshape(&layer(&hd)).unwrap())))).unwrap();
        prop_assert!(max_diff(h1.value(), &out.value().reshape(&hd).unwrap()) <= 1e-14);
        prop_assert!(max_diff(c1.value(), &c_n.value().reshape(&hd).unwrap()) <= 1e-14);

        let cell = GruCell::<f64>::new(input, hidden, bias, &mut recur_nn::seeded_rng(seed)).unwrap();
        let gru = Gru::<f64>::new(GruConfig::new(input, hidden).bias(bias), &mut recur_nn::seeded_rng(seed)).unwrap();
        let h1 = cell.forward(&tape.constant(x.clone()), Some(&tape.constant(h.clone()))).unwrap();
        let (out, _) = gru.forward(&tape.constant(x.reshape(&seq(&xd)).unwrap()), Some(&tape.constant(h.reshape(&layer(&hd)).unwrap()))).unwrap();
        prop_assert!(max_diff(h1.value(), &out.value().reshape(&hd).unwrap()) <= 1e-14);
    }
}

#[test]
fn cells_gradcheck() {
    for bias in [true, false] {
        let cell = LstmCell::<f64>::new(3, 2, bias, &mut recur_nn::seeded_rng(5)).unwrap();
        let mut inputs = vec![rand(&[2, 3], 1), rand(&[2, 2], 2), rand(&[2, 2], 3)];
        inputs.extend(
            cell.named_parameters()
                .iter()
                .map(|(_, p)| p.value().clone()),
        );
        // The cell registers its own parameters; check the inputs and states here, the
        // parameters through the one-step module equality above.
        gradcheck(
            |_, v| {
                let (h1, c1) = cell.forward(&v[0], Some((&v[1], &v[2])))?;
                Ok(h1.mul(&c1)?.sum_all())
            },
            &inputs[..3],
            &GradcheckOptions::default(),
        )
        .unwrap();
        let cell = GruCell::<f64>::new(3, 2, bias, &mut recur_nn::seeded_rng(5)).unwrap();
        gradcheck(
            |_, v| Ok(cell.forward(&v[0], Some(&v[1]))?.square().sum_all()),
            &inputs[..2],
            &GradcheckOptions::default(),
        )
        .unwrap();
    }
}
