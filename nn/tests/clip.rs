//! Gradient clipping: the spec's example for norm types 2, inf and 1, PyTorch's non-finite
//! error text, NaN/inf handling as PyTorch does it, PyTorch's defaults, and clip_grad_value.

use recur_nn::clip::{
    ClipNormOptions, clip_grad_norm, clip_grad_norm_of, clip_grad_norm_with, clip_grad_value,
    grad_norm,
};
use recur_nn::{Grads, NnError, Param, Tape};
use recur_tensor::Tensor;

/// PyTorch's `norm_type` and `error_if_nonfinite`.
fn opts(norm_type: f64, error_if_nonfinite: bool) -> ClipNormOptions {
    ClipNormOptions {
        norm_type,
        error_if_nonfinite,
    }
}

/// The spec's example: gradients [[3, 0], [0, 4]] and [12, 0, 0].
fn spec() -> (Param<f64>, Param<f64>, Grads<f64>) {
    let a = Param::new(Tensor::zeros(&[2, 2]));
    let b = Param::new(Tensor::zeros(&[3]));
    let mut g = Grads::new();
    g.set(
        &a,
        Tensor::from_vec(vec![3.0, 0.0, 0.0, 4.0], &[2, 2]).unwrap(),
    )
    .unwrap();
    g.set(&b, Tensor::from_vec(vec![12.0, 0.0, 0.0], &[3]).unwrap())
        .unwrap();
    (a, b, g)
}

fn assert_close(got: &[f64], want: &[f64]) {
    for (x, y) in got.iter().zip(want) {
        assert!((x - y).abs() < 1e-7, "got {got:?}, want {want:?}");
    }
}

#[test]
fn spec_example_l2() {
    let (a, b, mut g) = spec();
    let total = clip_grad_norm(&mut g, 1.0).unwrap();
    assert_eq!(total, 13.0);
    let coef = 1.0 / (13.0 + 1e-6);
    assert_eq!(
        g.get(&a).unwrap().to_vec(),
        vec![3.0 * coef, 0.0, 0.0, 4.0 * coef]
    );
    assert_eq!(g.get(&b).unwrap().to_vec(), vec![12.0 * coef, 0.0, 0.0]);
    assert_close(
        &g.get(&a).unwrap().to_vec(),
        &[0.2307692, 0.0, 0.0, 0.3076923],
    );
    assert_close(&g.get(&b).unwrap().to_vec(), &[0.9230769, 0.0, 0.0]);
}

#[test]
fn spec_example_inf_and_l1() {
    let (a, _, mut g) = spec();
    assert_eq!(
        clip_grad_norm_with(&mut g, 1.0, opts(f64::INFINITY, false)).unwrap(),
        12.0
    );
    assert_close(
        &g.get(&a).unwrap().to_vec(),
        &[3.0 / 12.0, 0.0, 0.0, 4.0 / 12.0],
    );
    let (_, b, mut g) = spec();
    assert_eq!(
        clip_grad_norm_with(&mut g, 1.0, opts(1.0, false)).unwrap(),
        19.0
    );
    assert_close(&g.get(&b).unwrap().to_vec(), &[12.0 / 19.0, 0.0, 0.0]);
    // Any p > 0: the p-norm of the per-tensor p-norms is the p-norm of everything.
    let (_, _, g) = spec();
    let p3 = (27.0f64 + 64.0 + 1728.0).powf(1.0 / 3.0);
    assert!((grad_norm(&g, 3.0).unwrap() - p3).abs() < 1e-12);
    let p_half = (3f64.sqrt() + 2.0 + 12f64.sqrt()).powi(2);
    assert!((grad_norm(&g, 0.5).unwrap() - p_half).abs() < 1e-12);
}

#[test]
fn below_the_limit_nothing_changes() {
    let (a, b, mut g) = spec();
    assert_eq!(clip_grad_norm(&mut g, 100.0).unwrap(), 13.0);
    assert_eq!(g.get(&a).unwrap().to_vec(), vec![3.0, 0.0, 0.0, 4.0]);
    assert_eq!(g.get(&b).unwrap().to_vec(), vec![12.0, 0.0, 0.0]);
    // Exactly at the limit the coefficient is 13 / (13 + 1e-6) < 1: PyTorch scales slightly.
    let (a, _, mut g) = spec();
    clip_grad_norm(&mut g, 13.0).unwrap();
    assert!(g.get(&a).unwrap().to_vec()[0] < 3.0);
}

#[test]
fn nonfinite_error_text_and_untouched_grads() {
    let (a, b, mut g) = spec();
    *g.get_mut(&b).unwrap() = Tensor::from_vec(vec![f64::NAN, 1.0, 0.0], &[3]).unwrap();
    let e = clip_grad_norm_with(&mut g, 1.0, opts(2.0, true)).unwrap_err();
    assert!(matches!(e, NnError::Input(_)));
    assert_eq!(
        e.to_string(),
        "The total norm of order 2.0 for gradients from `parameters` is non-finite, so it \
         cannot be clipped. To disable this error and scale the gradients by the non-finite \
         norm anyway, set `error_if_nonfinite=False`"
    );
    assert_eq!(g.get(&a).unwrap().to_vec(), vec![3.0, 0.0, 0.0, 4.0]);
    let mut finite = spec().2;
    let (_, b2, mut g2) = spec();
    *g2.get_mut(&b2).unwrap() = Tensor::from_vec(vec![f64::INFINITY, 1.0, 0.0], &[3]).unwrap();
    let e = clip_grad_norm_with(&mut g2, 1.0, opts(f64::INFINITY, true)).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("The total norm of order inf for gradients")
    );
    // Finite gradients pass with the flag on.
    assert_eq!(
        clip_grad_norm_with(&mut finite, 1.0, opts(2.0, true)).unwrap(),
        13.0
    );
}

#[test]
fn nonfinite_without_error_scales_like_pytorch() {
    // NaN total: the coefficient is NaN, so every gradient becomes NaN.
    let (a, b, mut g) = spec();
    *g.get_mut(&b).unwrap() = Tensor::from_vec(vec![f64::NAN, 1.0, 0.0], &[3]).unwrap();
    assert!(clip_grad_norm(&mut g, 1.0).unwrap().is_nan());
    assert!(g.get(&a).unwrap().to_vec().iter().all(|v| v.is_nan()));
    // Infinite total: the coefficient is 0, finite entries become 0 and inf * 0 = NaN.
    let (a, b, mut g) = spec();
    *g.get_mut(&b).unwrap() = Tensor::from_vec(vec![f64::INFINITY, 1.0, 0.0], &[3]).unwrap();
    assert_eq!(clip_grad_norm(&mut g, 1.0).unwrap(), f64::INFINITY);
    assert_eq!(g.get(&a).unwrap().to_vec(), vec![0.0; 4]);
    let gb = g.get(&b).unwrap().to_vec();
    assert!(gb[0].is_nan() && gb[1] == 0.0);
}

#[test]
fn empty_grads_have_norm_zero() {
    let mut g = Grads::<f32>::new();
    assert_eq!(
        clip_grad_norm_with(&mut g, 1.0, opts(2.0, true)).unwrap(),
        0.0
    );
}

#[test]
fn bad_arguments_are_errors() {
    let (_, _, mut g) = spec();
    for (m, p) in [
        (-1.0, 2.0),
        (f64::NAN, 2.0),
        (1.0, 0.0),
        (1.0, -2.0),
        (1.0, f64::NAN),
    ] {
        assert!(matches!(
            clip_grad_norm_with(&mut g, m, opts(p, false)),
            Err(NnError::Config(_))
        ));
    }
    assert!(matches!(
        clip_grad_value(&mut g, -1.0),
        Err(NnError::Config(_))
    ));
    assert!(matches!(
        clip_grad_value(&mut g, f64::NAN),
        Err(NnError::Config(_))
    ));
}

#[test]
fn clip_over_listed_params_only() {
    let (a, b, mut g) = spec();
    let total = clip_grad_norm_of(&mut g, &[a.id()], 1.0, ClipNormOptions::default()).unwrap();
    assert_eq!(total, 5.0);
    let c = 1.0 / (5.0 + 1e-6);
    assert_eq!(
        g.get(&a).unwrap().to_vec(),
        vec![3.0 * c, 0.0, 0.0, 4.0 * c]
    );
    assert_eq!(g.get(&b).unwrap().to_vec(), vec![12.0, 0.0, 0.0]);
}

#[test]
fn clip_value_clamps_and_keeps_nan() {
    let (a, b, mut g) = spec();
    *g.get_mut(&b).unwrap() = Tensor::from_vec(vec![f64::NAN, -7.0, 0.5], &[3]).unwrap();
    clip_grad_value(&mut g, 3.5).unwrap();
    assert_eq!(g.get(&a).unwrap().to_vec(), vec![3.0, 0.0, 0.0, 3.5]);
    let gb = g.get(&b).unwrap().to_vec();
    assert!(gb[0].is_nan());
    assert_eq!(&gb[1..], &[-3.5, 0.5]);
}

#[test]
fn works_on_gradients_from_a_backward_pass_in_f32() {
    // sum() backward yields a broadcast (stride-0) gradient: clipping must handle views.
    let w = Param::new(Tensor::<f32>::ones(&[3, 4]));
    let tape = Tape::new();
    let loss = tape.param(&w).sum_all().mul_scalar(10.0);
    let mut grads = tape.backward(&loss).unwrap();
    let total = clip_grad_norm(&mut grads, 5.0).unwrap();
    assert!((total - (12.0f64 * 100.0).sqrt()).abs() < 1e-4);
    let after = grad_norm(&grads, 2.0).unwrap();
    assert!((after - 5.0).abs() < 1e-4, "{after}");
}

#[test]
fn the_defaults_are_pytorchs() {
    // `clip_grad_norm(g, m)` is `clip_grad_norm_(params, m, norm_type=2.0,
    // error_if_nonfinite=False)`: the same total and the same scaled gradients as the options
    // spelled out, and a NaN total scales rather than fails.
    let (a, b, mut short) = spec();
    let (a2, b2, mut long) = spec();
    let t1 = clip_grad_norm(&mut short, 2.5).unwrap();
    let t2 = clip_grad_norm_with(&mut long, 2.5, opts(2.0, false)).unwrap();
    assert_eq!((t1, t2), (13.0, 13.0));
    for (p, q) in [(&a, &a2), (&b, &b2)] {
        let (s, l) = (
            short.get(p).unwrap().to_vec(),
            long.get(q).unwrap().to_vec(),
        );
        assert_eq!(s, l);
        assert!(s.iter().any(|&v| v != 0.0 && v < 12.0 / 5.0 + 1e-9));
    }
    assert_eq!(ClipNormOptions::default(), opts(2.0, false));
    let (_, b, mut g) = spec();
    *g.get_mut(&b).unwrap() = Tensor::from_vec(vec![f64::NAN, 1.0, 0.0], &[3]).unwrap();
    assert!(clip_grad_norm(&mut g, 1.0).unwrap().is_nan());
    // The subset form takes the same options: inf-norm over `a` only is 4.
    let (a, b, mut g) = spec();
    let inf = ClipNormOptions::default().norm_type(f64::INFINITY);
    assert_eq!(clip_grad_norm_of(&mut g, &[a.id()], 1.0, inf).unwrap(), 4.0);
    assert_eq!(g.get(&b).unwrap().to_vec(), vec![12.0, 0.0, 0.0]);
}
