//! The engine itself: deep chains, reuse, retained gradients, errors, anomaly mode, Debug,
//! custom ops and adjoint identities.

use proptest::prelude::*;
use recur_autograd::{AutogradError, CustomOp, Param, Result, Tape, Var};
use recur_tensor::{IndexTensor, Tensor};

#[test]
fn ten_thousand_node_chain_goes_backward_without_recursion() {
    // Run on a thread with a small stack: a recursive backward would overflow it.
    let h = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let tape = Tape::<f64>::new();
            let x = tape.leaf(Tensor::from_vec(vec![0.5], &[1]).unwrap());
            let mut h = x.clone();
            for _ in 0..10_000 {
                h = h.mul_scalar(1.0001).add_scalar(0.0);
            }
            assert!(tape.len() > 20_000);
            let g = tape.backward(&h.sum_all()).unwrap();
            let expect = 1.0001f64.powi(10_000);
            let got = g.of(&x).unwrap().to_vec()[0];
            assert!((got - expect).abs() < 1e-9 * expect, "{got} vs {expect}");
        })
        .unwrap();
    h.join().unwrap();
}

#[test]
fn a_value_used_many_times_accumulates() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec(vec![2.0, -1.0], &[2]).unwrap());
    // y = x + x + ... (10 times) + x*x: dy/dx = 10 + 2x
    let mut y = x.mul(&x).unwrap();
    for _ in 0..10 {
        y = y.add(&x).unwrap();
    }
    let g = tape.backward(&y.sum_all()).unwrap();
    assert_eq!(g.of(&x).unwrap().to_vec(), vec![14.0, 8.0]);
}

#[test]
fn same_param_registered_twice_sums() {
    let w = Param::new(Tensor::<f64>::from_vec(vec![3.0], &[1]).unwrap());
    let tape = Tape::new();
    let (a, b) = (tape.param(&w), tape.param(&w));
    let g = tape.backward(&a.mul(&b).unwrap().sum_all()).unwrap();
    assert_eq!(g.get(&w).unwrap().to_vec(), vec![6.0]);
}

#[test]
fn retained_intermediate_gradients_per_step() {
    // h_t = tanh(w * h_{t-1}); read dL/dh_t for every t, as gradient_flow will.
    let tape = Tape::<f64>::new();
    let w = tape.leaf(Tensor::from_vec(vec![0.9], &[1]).unwrap());
    let mut h = tape.constant(Tensor::from_vec(vec![1.0], &[1]).unwrap());
    let mut hs = vec![];
    for _ in 0..5 {
        h = w.mul(&h).unwrap().tanh().retain_grad();
        hs.push(h.clone());
    }
    let tmp = hs[2].mul_scalar(1.0); // not retained
    let loss = h.sum_all().add(&tmp.mul_scalar(0.0).sum_all()).unwrap();
    let g = tape.backward(&loss).unwrap();
    assert!(
        g.of(&tmp).is_none(),
        "intermediate gradients are freed unless retained"
    );
    let norms: Vec<f64> = hs.iter().map(|h| g.of(h).unwrap().to_vec()[0]).collect();
    assert_eq!(norms[4], 1.0);
    for t in (0..4).rev() {
        // dL/dh_t = dL/dh_{t+1} * w * (1 - h_{t+1}^2)
        let h1 = hs[t + 1].value().to_vec()[0];
        let expect = norms[t + 1] * 0.9 * (1.0 - h1 * h1);
        assert!((norms[t] - expect).abs() < 1e-15);
    }
}

#[test]
fn clear_errors() {
    let tape = Tape::<f64>::new();
    let other = Tape::<f64>::new();
    let x = tape.leaf(Tensor::ones(&[2, 3]));
    let y = other.leaf(Tensor::ones(&[2, 3]));
    let e = x.add(&y).unwrap_err();
    assert_eq!(e.to_string(), "add: var #0 belongs to a different tape");
    let e = tape.backward(&x).unwrap_err();
    assert!(matches!(e, AutogradError::NonScalarBackward { .. }));
    assert!(e.to_string().contains("[2, 3]"));
    let e = tape.backward_with(&x, Tensor::ones(&[3, 2])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "backward_with: gradient shape mismatch: expected [2, 3], got [3, 2]"
    );
    let e = other.backward(&x.sum_all()).unwrap_err();
    assert!(matches!(
        e,
        AutogradError::ForeignVar { op: "backward", .. }
    ));
    let e = x.matmul(&tape.leaf(Tensor::ones(&[2, 3]))).unwrap_err();
    assert_eq!(e.to_string(), "matmul: inner dims differ: [2, 3] @ [2, 3]");
}

#[test]
fn anomaly_mode_names_the_first_bad_op() {
    let tape = Tape::<f64>::new();
    tape.set_anomaly(true);
    let x = tape.leaf(Tensor::from_vec(vec![1.0, 4.0], &[2]).unwrap());
    let y = x.exp();
    assert!(tape.check_anomaly().is_ok());
    // An infallible op notes the anomaly; a later one (NaN from inf - inf) does not replace it.
    let big = y.mul_scalar(1e308);
    let nan = big.sub(&big);
    let first = AutogradError::Anomaly {
        phase: "forward",
        op: "mul_scalar".into(),
        node: 2,
        input_shapes: "[[2]]".into(),
    };
    // A fallible op fails at once, with the first anomaly, not its own.
    assert_eq!(nan.unwrap_err(), first);
    let loss = big.neg().sum_all();
    assert_eq!(tape.check_anomaly().unwrap_err(), first);
    let e = tape.backward(&loss).unwrap_err();
    assert_eq!(e, first);
    assert_eq!(
        e.to_string(),
        "anomaly: forward of op `mul_scalar` (node #2, input shapes [[2]]) produced a non-finite value"
    );
    // Without anomaly mode the same graph is recorded and differentiated silently.
    let quiet = Tape::<f64>::new();
    let x = quiet.leaf(Tensor::from_vec(vec![1.0, 4.0], &[2]).unwrap());
    let loss = x.exp().mul_scalar(1e308).neg().sum_all();
    assert!(quiet.backward(&loss).is_ok());
}

#[test]
fn anomaly_mode_names_the_op_of_a_bad_gradient() {
    // sqrt at 0 is finite forward, infinite gradient backward.
    let tape = Tape::<f64>::new();
    tape.set_anomaly(true);
    let z = tape.leaf(Tensor::from_vec(vec![0.0, 1.0], &[2]).unwrap());
    let s = z.sqrt().sum_all();
    let e = tape.backward(&s).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "anomaly: backward of op `sqrt` (node #{}, input shapes [[2]]) produced a non-finite value",
            z.node() + 1
        )
    );
}

#[test]
fn debug_prints_one_node_per_line() {
    let tape = Tape::<f32>::new();
    let x = tape.leaf(Tensor::ones(&[32, 64]));
    let w = tape.constant(Tensor::ones(&[64, 128]));
    let _ = x.matmul(&w).unwrap().tanh();
    let s = format!("{tape:?}");
    assert_eq!(
        s,
        "#0 leaf <- [] [32, 64]\n#1 constant <- [] [64, 128]\n#2 matmul <- [#0, #1] [32, 128]\n#3 tanh <- [#2] [32, 128]\n"
    );
}

/// A two-output custom op: (sum of rows, x scaled by 2).
struct TwoOut;
impl CustomOp<f64> for TwoOut {
    fn name(&self) -> &'static str {
        "two_out"
    }
    fn forward(&mut self, inputs: &[&Tensor<f64>]) -> Result<Vec<Tensor<f64>>> {
        Ok(vec![inputs[0].sum(&[0], false)?, inputs[0].mul_scalar(2.0)])
    }
    fn backward(&self, g: &[Option<&Tensor<f64>>], _: &[bool]) -> Result<Vec<Option<Tensor<f64>>>> {
        let shape = [2usize, 3];
        let mut acc = Tensor::zeros(&shape);
        if let Some(g0) = g[0] {
            acc = acc.add(&g0.broadcast_to(&shape)?)?;
        }
        if let Some(g1) = g[1] {
            acc = acc.add(&g1.mul_scalar(2.0))?;
        }
        Ok(vec![Some(acc)])
    }
}

#[test]
fn custom_op_with_two_outputs_and_unused_output() {
    let x =
        Tensor::<f64>::from_vec((0..6).map(|i| f64::from(i) / 10.0).collect(), &[2, 3]).unwrap();
    let report = recur_autograd::gradcheck(
        |tape, v| {
            let outs = tape.custom(TwoOut, &[&v[0]])?;
            outs[0].tanh().sum_all().add(&outs[1].sin_free())
        },
        std::slice::from_ref(&x),
        &Default::default(),
    )
    .unwrap();
    assert!(report.inputs[0].max_abs_err < 1e-7);
    // Only the first output used: the second's gradient arrives as None.
    let tape = Tape::new();
    let v = tape.leaf(x);
    let outs = tape.custom(TwoOut, &[&v]).unwrap();
    let g = tape.backward(&outs[0].sum_all()).unwrap();
    assert_eq!(g.of(&v).unwrap().to_vec(), vec![1.0; 6]);
    assert_eq!(
        format!("{tape:?}"),
        "#0 leaf <- [] [2, 3]\n#1 two_out <- [#0] [3] [2, 3]\n#2 sum <- [#1] []\n"
    );
}

trait SinFree<'t> {
    fn sin_free(&self) -> Var<'t, f64>;
}
impl<'t> SinFree<'t> for Var<'t, f64> {
    /// A smooth scalar of a var built from primitive ops.
    fn sin_free(&self) -> Var<'t, f64> {
        self.square().mul_scalar(0.1).exp().sum_all()
    }
}

use rand::SeedableRng;

/// <L x, y> == <x, L^T y> for the linear ops, with L^T computed by backward.
fn adjoint(
    x: Tensor<f64>,
    y: Tensor<f64>,
    l: impl for<'t> Fn(&Var<'t, f64>) -> Result<Var<'t, f64>>,
) {
    let tape = Tape::new();
    let xv = tape.leaf(x.clone());
    let lx = l(&xv).unwrap();
    assert_eq!(lx.dims(), y.dims());
    let g = tape.backward_with(&lx, y.clone()).unwrap();
    let lhs: f64 = lx.value().mul(&y).unwrap().sum_all().item().unwrap();
    let rhs: f64 = x.mul(g.of(&xv).unwrap()).unwrap().sum_all().item().unwrap();
    assert!(
        (lhs - rhs).abs() <= 1e-10 * (1.0 + lhs.abs()),
        "{lhs} vs {rhs}"
    );
}

fn rand_tensor(dims: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::uniform(
        dims,
        -1.0,
        1.0,
        &mut rand::rngs::StdRng::seed_from_u64(seed),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn adjoint_identities(m in 1usize..5, n in 1usize..5, k in 1usize..5, seed in 0u64..10_000) {
        adjoint(rand_tensor(&[1, n], seed), rand_tensor(&[m, n], seed + 1), |v| v.broadcast_to(&[m, n]));
        adjoint(rand_tensor(&[m, n], seed), rand_tensor(&[n], seed + 1), |v| v.sum(&[0], false));
        adjoint(rand_tensor(&[m, n], seed), rand_tensor(&[n, m], seed + 1), |v| v.t());
        let idx = IndexTensor::from_usizes(&(0..k + 2).map(|i| (i * 3 + seed as usize) % m).collect::<Vec<_>>());
        adjoint(rand_tensor(&[m, n], seed), rand_tensor(&[k + 2, n], seed + 1), |v| v.index_select(0usize, &idx));
        let b = rand_tensor(&[n, k], seed + 2);
        adjoint(rand_tensor(&[m, n], seed), rand_tensor(&[m, k], seed + 1), |v| v.matmul(&v.tape().constant(b.clone())));
    }
}
