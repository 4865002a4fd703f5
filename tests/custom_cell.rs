//! A user's cell through the public `Cell` trait only: `examples/custom_cell`'s minGRU on the
//! fused engine, gradient-checked (finite differences, f64) with respect to the input, the
//! initial state and every parameter, and equal to its composed reference (the same math in
//! `Var` ops, differentiated by the tape) in values and gradients, over random settings.

#[path = "../examples/custom_cell/min_gru.rs"]
mod min_gru;

use min_gru::MinGru;
use proptest::prelude::*;
use recur::autograd::{GradcheckOptions, Tape, Var, gradcheck};
use recur::nn::Module;
use recur::nn::recurrent::{Recurrent, RecurrentConfig, forward_composed};
use recur::tensor::Tensor;

#[derive(Clone, Debug)]
struct Case {
    input: usize,
    hidden: usize,
    layers: usize,
    bias: bool,
    bidirectional: bool,
    steps: usize,
    batch: usize,
    with_h0: bool,
    lengths: Option<Vec<usize>>,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (
            1usize..=3,
            1usize..=3,
            1usize..=2,
            any::<bool>(),
            any::<bool>(),
        ),
        (
            1usize..=5,
            1usize..=3,
            any::<bool>(),
            any::<bool>(),
            any::<u64>(),
        ),
    )
        .prop_map(
            |(
                (input, hidden, layers, bias, bidirectional),
                (steps, batch, with_h0, packed, seed),
            )| {
                let lengths = packed.then(|| {
                    (0..batch)
                        .map(|k| {
                            if k == 0 {
                                steps
                            } else {
                                1 + (seed as usize + 3 * k) % steps
                            }
                        })
                        .collect()
                });
                Case {
                    input,
                    hidden,
                    layers,
                    bias,
                    bidirectional,
                    steps,
                    batch,
                    with_h0,
                    lengths,
                    seed: seed % (1 << 40),
                }
            },
        )
}

impl Case {
    fn model(&self) -> Recurrent<MinGru, f64> {
        let c = RecurrentConfig::new(self.input, self.hidden)
            .num_layers(self.layers)
            .bias(self.bias)
            .bidirectional(self.bidirectional);
        Recurrent::new(MinGru, c, &mut recur::seeded_rng(self.seed)).unwrap()
    }
    fn d(&self) -> usize {
        if self.bidirectional { 2 } else { 1 }
    }
    fn input_dims(&self) -> Vec<usize> {
        vec![self.steps, self.batch, self.input]
    }
    fn state_dims(&self) -> Vec<usize> {
        vec![self.layers * self.d(), self.batch, self.hidden]
    }
    fn out_dims(&self) -> Vec<usize> {
        vec![self.steps, self.batch, self.hidden * self.d()]
    }
}

fn rand(dims: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::uniform(dims, -1.0, 1.0, &mut recur::seeded_rng(seed))
}

/// sum(out * r) + sum(h_n * s).
fn loss<'t>(
    out: &Var<'t, f64>,
    h_n: &Var<'t, f64>,
    r: &Tensor<f64>,
    s: &Tensor<f64>,
) -> recur::autograd::Result<Var<'t, f64>> {
    let tape = out.tape();
    out.mul(&tape.constant(r.clone()))?
        .sum_all()
        .add(&h_n.mul(&tape.constant(s.clone()))?.sum_all())
}

fn max_diff(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    a.sub(b).unwrap().abs().max_all().unwrap_or(0.0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn min_gru_gradcheck_every_input_and_parameter(c in case()) {
        let m = c.model();
        let (r, s) = (rand(&c.out_dims(), c.seed + 3), rand(&c.state_dims(), c.seed + 4));
        let mut inputs = vec![rand(&c.input_dims(), c.seed + 1)];
        if c.with_h0 {
            inputs.push(rand(&c.state_dims(), c.seed + 2));
        }
        let n_fixed = inputs.len();
        inputs.extend(m.named_parameters().iter().map(|(_, p)| p.value().clone()));
        let report = gradcheck(|_, v| {
            let h0 = c.with_h0.then(|| [&v[1]]);
            let (out, state) = m.forward_with_params(&v[0], h0.as_ref().map(|h| &h[..]), c.lengths.as_deref(), &v[n_fixed..])?;
            loss(&out, &state[0], &r, &s)
        }, &inputs, &GradcheckOptions::default());
        prop_assert!(report.is_ok(), "{:?}: {}", c, report.unwrap_err());
    }

    #[test]
    fn min_gru_fused_equals_composed(c in case()) {
        let m = c.model();
        let tape = Tape::new();
        let x = tape.leaf(rand(&c.input_dims(), c.seed + 1));
        let h0 = c.with_h0.then(|| tape.leaf(rand(&c.state_dims(), c.seed + 2)));
        let s0 = h0.as_ref().map(|h| [h]);
        let s0 = s0.as_ref().map(|h| &h[..]);
        let params = m.param_vars(&tape);
        let (out, state) = m.forward_with_params(&x, s0, c.lengths.as_deref(), &params).unwrap();
        let comp = forward_composed(&m, &x, s0, c.lengths.as_deref(), &params).unwrap();
        prop_assert!(max_diff(out.value(), comp.output.value()) <= 1e-12);
        prop_assert!(max_diff(state[0].value(), comp.finals[0].value()) <= 1e-12);
        let (r, s) = (rand(&c.out_dims(), c.seed + 3), rand(&c.state_dims(), c.seed + 4));
        let g1 = tape.backward(&loss(&out, &state[0], &r, &s).unwrap()).unwrap();
        let g2 = tape.backward(&loss(&comp.output, &comp.finals[0], &r, &s).unwrap()).unwrap();
        let mut vars = vec![x.clone()];
        vars.extend(h0.clone());
        for v in &vars {
            prop_assert!(max_diff(g1.of(v).unwrap(), g2.of(v).unwrap()) <= 1e-12, "{:?}", c);
        }
        for (name, p) in m.named_parameters() {
            prop_assert!(max_diff(g1.get(p).unwrap(), g2.get(p).unwrap()) <= 1e-12, "{:?}: {name}", c);
        }
    }
}

/// minGRU has no recurrent weight: PyTorch-style names without `*_hh`, and the one-step
/// sampler equals the whole-sequence forward.
#[test]
fn min_gru_parameters_and_stepper() {
    let m = Recurrent::<MinGru, f64>::new(
        MinGru,
        RecurrentConfig::new(3, 4).num_layers(2),
        &mut recur::seeded_rng(0),
    )
    .unwrap();
    let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["weight_ih_l0", "bias_ih_l0", "weight_ih_l1", "bias_ih_l1"]
    );
    assert_eq!(m.named_parameters()[0].1.value().dims(), &[8, 3]);
    assert_eq!(m.to_string(), "MinGRU(3, 4, num_layers=2)");
    let xs = rand(&[6, 1, 3], 1);
    let (out, _) = m.forward_tensor(&xs, None).unwrap();
    let mut s = m.stepper().unwrap();
    for t in 0..6 {
        let h = s.step(&xs.select(0, t).unwrap().to_vec()).unwrap().to_vec();
        let want = out.select(0, t).unwrap().to_vec();
        assert!(
            h.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-14),
            "step {t}: {h:?} vs {want:?}"
        );
    }
}
