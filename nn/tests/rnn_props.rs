//! Random RNN configurations: gradcheck of sum(output * R) + sum(h_n * S) with respect to the
//! input, h0 and every parameter; and the fused op equals the composed reference to 1e-12.

use proptest::prelude::*;
use recur_autograd::{GradcheckOptions, Tape, Var, gradcheck};
use recur_nn::{Module, Nonlinearity, Rnn, RnnConfig};
use recur_tensor::Tensor;

#[derive(Clone, Debug)]
struct Case {
    config: RnnConfig,
    steps: usize,
    batch: Option<usize>,
    with_h0: bool,
    lengths: Option<Vec<usize>>,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (
            1usize..=6,
            1usize..=6,
            1usize..=3,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
        (
            1usize..=8,
            prop::option::of(1usize..=4),
            any::<bool>(),
            any::<bool>(),
            any::<u64>(),
        ),
    )
        .prop_map(
            |((i, h, l, relu, bias, bf, bidir), (steps, batch, with_h0, packed, seed))| {
                let act = if relu {
                    Nonlinearity::Relu
                } else {
                    Nonlinearity::Tanh
                };
                let config = RnnConfig::new(i, h)
                    .num_layers(l)
                    .nonlinearity(act)
                    .bias(bias)
                    .batch_first(bf)
                    .bidirectional(bidir);
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
                    config,
                    steps,
                    batch,
                    with_h0,
                    lengths,
                    seed,
                }
            },
        )
}

impl Case {
    fn input_dims(&self) -> Vec<usize> {
        let i = self.config.input_size;
        match self.batch {
            None => vec![self.steps, i],
            Some(b) if self.config.batch_first => vec![b, self.steps, i],
            Some(b) => vec![self.steps, b, i],
        }
    }
    fn h0_dims(&self) -> Vec<usize> {
        let c = &self.config;
        let lead = c.num_layers * c.directions();
        match self.batch {
            None => vec![lead, c.hidden_size],
            Some(b) => vec![lead, b, c.hidden_size],
        }
    }
    fn out_dims(&self) -> Vec<usize> {
        let mut d = self.input_dims();
        *d.last_mut().unwrap() = self.config.hidden_size * self.config.directions();
        d
    }
}

/// sum(output * r) + sum(h_n * s), the fixtures' loss.
fn weighted<'t>(
    out: &Var<'t, f64>,
    h_n: &Var<'t, f64>,
    r: &Var<'t, f64>,
    s: &Var<'t, f64>,
) -> recur_autograd::Result<Var<'t, f64>> {
    out.mul(r)?.sum_all().add(&h_n.mul(s)?.sum_all())
}

fn rand(dims: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::uniform(dims, -1.0, 1.0, &mut recur_nn::seeded_rng(seed))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn gradcheck_every_input_and_parameter(c in case()) {
        // ReLU RNNs have kinks at 0; keep the check away from them by using tanh there
        // with probability 1/2 already, and small inputs otherwise.
        let rnn = Rnn::<f64>::new(c.config.clone(), &mut recur_nn::seeded_rng(c.seed)).unwrap();
        let x = rand(&c.input_dims(), c.seed + 1);
        let h0 = rand(&c.h0_dims(), c.seed + 2);
        if c.config.nonlinearity == Nonlinearity::Relu {
            // Finite differences across relu's kink at 0 are meaningless: skip the (rare)
            // cases with a pre-activation within 1e-4 of it.
            let tape = Tape::new();
            let hv = tape.constant(h0.clone());
            let comp = rnn.forward_composed(&tape.constant(x.clone()), c.with_h0.then_some(&hv), c.lengths.as_deref(), &rnn.param_vars(&tape)).unwrap();
            let closest = comp.gates.iter().flatten().flat_map(|z| z.value().to_vec()).fold(f64::INFINITY, |m, v| m.min(v.abs()));
            prop_assume!(closest > 1e-4);
        }
        let r = rand(&c.out_dims(), c.seed + 3);
        let s = rand(&c.h0_dims(), c.seed + 4);
        let mut inputs = vec![x];
        if c.with_h0 {
            inputs.push(h0);
        }
        let n_fixed = inputs.len();
        inputs.extend(rnn.named_parameters().iter().map(|(_, p)| p.value().clone()));
        let lengths = c.lengths.clone();
        let report = gradcheck(|tape, v| {
            let h0 = if c.with_h0 { Some(&v[1]) } else { None };
            let (out, h_n) = rnn.forward_with_params(&v[0], h0, lengths.as_deref(), &v[n_fixed..])?;
            weighted(&out, &h_n, &tape.constant(r.clone()), &tape.constant(s.clone()))
        }, &inputs, &GradcheckOptions::default());
        prop_assert!(report.is_ok(), "{:?}: {}", c, report.unwrap_err());
    }

    #[test]
    fn fused_equals_composed(c in case()) {
        let rnn = Rnn::<f64>::new(c.config.clone(), &mut recur_nn::seeded_rng(c.seed)).unwrap();
        let tape = Tape::new();
        let x = tape.leaf(rand(&c.input_dims(), c.seed + 1));
        let h0 = c.with_h0.then(|| tape.leaf(rand(&c.h0_dims(), c.seed + 2)));
        let params = rnn.param_vars(&tape);
        let (out, h_n) = rnn.forward_with_params(&x, h0.as_ref(), c.lengths.as_deref(), &params).unwrap();
        let comp = rnn.forward_composed(&x, h0.as_ref(), c.lengths.as_deref(), &params).unwrap();
        let max = |a: &Tensor<f64>, b: &Tensor<f64>| a.sub(b).unwrap().abs().max_all().unwrap_or(0.0);
        prop_assert!(max(out.value(), comp.output.value()) <= 1e-12);
        prop_assert!(max(h_n.value(), comp.finals[0].value()) <= 1e-12);
        // Same gradients for the same upstream.
        let r = tape.constant(rand(&c.out_dims(), c.seed + 3));
        let s = tape.constant(rand(&c.h0_dims(), c.seed + 4));
        let g1 = tape.backward(&weighted(&out, &h_n, &r, &s).unwrap()).unwrap();
        let g2 = tape.backward(&weighted(&comp.output, &comp.finals[0], &r, &s).unwrap()).unwrap();
        let mut vars = vec![x.clone()];
        vars.extend(h0.clone());
        vars.extend(params.iter().cloned());
        for v in &vars {
            // Leaves and params registered as leaves via param_vars: compare by var where
            // tracked as leaf, else by parameter.
            if let (Some(a), Some(b)) = (g1.of(v), g2.of(v)) {
                prop_assert!(max(a, b) <= 1e-12);
            }
        }
        for (_, p) in rnn.named_parameters() {
            let (a, b) = (g1.get(p).unwrap(), g2.get(p).unwrap());
            prop_assert!(max(a, b) <= 1e-12, "{}", max(a, b));
        }
    }
}

#[test]
fn composed_matches_module_forward() {
    let rnn = Rnn::<f64>::new(
        RnnConfig::new(3, 4).num_layers(2),
        &mut recur_nn::seeded_rng(3),
    )
    .unwrap();
    let tape = Tape::new();
    let x = tape.constant(rand(&[5, 2, 3], 9));
    let (out, _) = rnn.forward(&x, None).unwrap();
    let c = rnn
        .forward_composed(&x, None, None, &rnn.param_vars(&tape))
        .unwrap();
    assert!(
        out.value()
            .sub(c.output.value())
            .unwrap()
            .abs()
            .max_all()
            .unwrap()
            < 1e-14
    );
    assert_eq!(c.states[0].len(), 2);
    assert_eq!(c.states[0][0].len(), 5);
}
