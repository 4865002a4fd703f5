//! Losses: the spec's numbers, PyTorch's error texts, the fused node, and gradchecks of every
//! loss in f64 (proptest, at least 64 cases each).

use proptest::prelude::*;
use recur_autograd::{GradcheckOptions, Tape, gradcheck};
use recur_nn::loss::{
    CrossEntropyOptions, Reduction, cross_entropy, cross_entropy_tensor, mse_loss, nll_loss,
};
use recur_tensor::{IndexTensor, Tensor};

const CASES: u32 = 64;

fn spec_logits() -> Tensor<f64> {
    Tensor::from_vec(vec![2.0, 1.0, 0.1, 0.5, 2.5, 0.3, 1.2, 0.2, 3.1], &[3, 3]).unwrap()
}

fn spec_target() -> IndexTensor {
    IndexTensor::from_vec(vec![0, 1, 2], &[3]).unwrap()
}

fn opts(r: Reduction) -> CrossEntropyOptions {
    CrossEntropyOptions::default().reduction(r)
}

/// The spec's numbers (read off PyTorch in float32) in f32, and PyTorch's float64 values
/// (`F.cross_entropy` on the same logits in `torch.float64`) in f64.
#[test]
fn spec_values_f64_and_f32() {
    let (x, y) = (spec_logits(), spec_target());
    let ce = |x: &Tensor<f64>, o| cross_entropy_tensor(x, &y, o).unwrap().item().unwrap();
    let ign = CrossEntropyOptions::default().ignore_index(1);
    assert!((ce(&x, opts(Reduction::Mean)) - 0.2744067754238431).abs() < 1e-15);
    assert!((ce(&x, opts(Reduction::Sum)) - 0.8232203262715293).abs() < 1e-15);
    assert!((ce(&x, ign) - 0.3015854016254957).abs() < 1e-15);
    let x32 = x.cast::<f32>();
    let ce32 = |o| cross_entropy_tensor(&x32, &y, o).unwrap().item().unwrap();
    assert!(
        (ce32(opts(Reduction::Mean)) - 0.274_406_76).abs() < 1e-7,
        "{}",
        ce32(opts(Reduction::Mean))
    );
    assert!(
        (ce32(opts(Reduction::Sum)) - 0.823_220_25).abs() < 1e-7,
        "{}",
        ce32(opts(Reduction::Sum))
    );
    assert!((ce32(ign) - 0.301_585_38).abs() < 1e-7, "{}", ce32(ign));
    // The Var path gives the same numbers.
    let tape = Tape::new();
    let v = cross_entropy(&tape.leaf(x.clone()), &y, ign).unwrap();
    assert_eq!(v.value().item().unwrap(), ce(&x, ign));
}

#[test]
fn uniform_logits_give_ln_c() {
    let x = Tensor::<f32>::zeros(&[6, 65]);
    let y = IndexTensor::from_vec(vec![0, 1, 2, 30, 63, 64], &[6]).unwrap();
    let l = cross_entropy_tensor(&x, &y, CrossEntropyOptions::default()).unwrap();
    assert!((l.item().unwrap() - 4.174_387_3).abs() < 1e-6);
}

#[test]
fn unreduced_matches_log_softmax() {
    let (x, y) = (spec_logits(), spec_target());
    let l = cross_entropy_tensor(&x, &y, opts(Reduction::None)).unwrap();
    let ls = x.log_softmax(1).unwrap();
    let want: Vec<f64> = (0..3).map(|i| -ls.get(&[i, i]).unwrap()).collect();
    assert_eq!(l.dims(), &[3]);
    for (a, b) in l.to_vec().iter().zip(&want) {
        assert!((a - b).abs() < 1e-15);
    }
    // Ignored rows give 0 unreduced.
    let l = cross_entropy_tensor(&x, &y, opts(Reduction::None).ignore_index(1)).unwrap();
    assert_eq!(l.to_vec()[1], 0.0);
}

#[test]
fn errors_use_pytorch_text() {
    let x = Tensor::<f64>::zeros(&[4, 3]);
    let t = |v: Vec<i64>| IndexTensor::from_vec(v.clone(), &[v.len()]).unwrap();
    let e = cross_entropy_tensor(&x, &t(vec![0, 1, 3, 0]), CrossEntropyOptions::default());
    assert_eq!(e.unwrap_err().to_string(), "Target 3 is out of bounds.");
    let e = cross_entropy_tensor(&x, &t(vec![0, -1, 0, 0]), CrossEntropyOptions::default());
    assert_eq!(e.unwrap_err().to_string(), "Target -1 is out of bounds.");
    let e = cross_entropy_tensor(&x, &t(vec![0, 1, 2]), CrossEntropyOptions::default());
    assert_eq!(
        e.unwrap_err().to_string(),
        "Expected input batch_size (4) to match target batch_size (3)."
    );
    // The Var path checks the same way, before recording anything.
    let tape = Tape::new();
    let e = cross_entropy(
        &tape.leaf(x.clone()),
        &t(vec![0, 1, 2]),
        CrossEntropyOptions::default(),
    );
    assert_eq!(
        e.unwrap_err().to_string(),
        "Expected input batch_size (4) to match target batch_size (3)."
    );
    assert_eq!(tape.len(), 1);
    let two_d = IndexTensor::from_vec(vec![0; 4], &[4, 1]).unwrap();
    let e = cross_entropy_tensor(&x, &two_d, CrossEntropyOptions::default());
    assert_eq!(
        e.unwrap_err().to_string(),
        "0D or 1D target tensor expected, multi-target not supported"
    );
    let e = cross_entropy_tensor(
        &Tensor::<f64>::zeros(&[2, 3, 5]),
        &t(vec![0, 0]),
        CrossEntropyOptions::default(),
    );
    assert_eq!(
        e.unwrap_err().to_string(),
        "Expected target size [2, 5], got [2]"
    );
    // Classes last, as a batch-first sequence model gives them: PyTorch's words, then the
    // two ways to fit (also with more than one sequence dim, and on the Var path).
    let seq = IndexTensor::from_vec(vec![0; 10], &[2, 5]).unwrap();
    let e = cross_entropy_tensor(
        &Tensor::<f64>::zeros(&[2, 5, 3]),
        &seq,
        opts(Reduction::Mean),
    );
    assert_eq!(
        e.unwrap_err().to_string(),
        "Expected target size [2, 3], got [2, 5] (the classes are dim 1; if they are the last \
         dim, reshape the input to [10, 3] and the target to [10], or permute the input to \
         [2, 3, 5])"
    );
    let grid = IndexTensor::from_vec(vec![0; 24], &[2, 3, 4]).unwrap();
    let e = cross_entropy(
        &tape.leaf(Tensor::<f64>::zeros(&[2, 3, 4, 5])),
        &grid,
        CrossEntropyOptions::default(),
    );
    assert_eq!(
        e.unwrap_err().to_string(),
        "Expected target size [2, 4, 5], got [2, 3, 4] (the classes are dim 1; if they are the \
         last dim, reshape the input to [24, 5] and the target to [24], or permute the input to \
         [2, 5, 3, 4])"
    );
    // The hint's two fixes are accepted and agree.
    let x3 = Tensor::<f64>::from_vec(
        (0..30).map(|i| (i as f64 * 0.37).sin()).collect(),
        &[2, 5, 3],
    )
    .unwrap();
    let seq = IndexTensor::from_vec((0..10).map(|i| i % 3).collect(), &[2, 5]).unwrap();
    let flat = cross_entropy_tensor(
        &x3.reshape(&[10, 3]).unwrap(),
        &seq.reshape(&[10]).unwrap(),
        opts(Reduction::Mean),
    )
    .unwrap();
    let perm = cross_entropy_tensor(
        &x3.permute(&[0, 2, 1]).unwrap(),
        &seq,
        opts(Reduction::Mean),
    )
    .unwrap();
    assert!((flat.item().unwrap() - perm.item().unwrap()).abs() < 1e-15);
    // An out-of-range target equal to ignore_index is fine (-100 is the default).
    let ok = cross_entropy_tensor(&x, &t(vec![-100, 0, 0, 0]), CrossEntropyOptions::default());
    assert!(ok.is_ok());
    let e = nll_loss(
        &tape.leaf(x),
        &t(vec![0, 9, 0, 0]),
        CrossEntropyOptions::default(),
    );
    assert_eq!(e.unwrap_err().to_string(), "Target 9 is out of bounds.");
}

#[test]
fn all_ignored_mean_is_nan_with_zero_gradient() {
    let tape = Tape::new();
    let x = tape.leaf(spec_logits());
    let y = IndexTensor::from_vec(vec![-100, -100, -100], &[3]).unwrap();
    let l = cross_entropy(&x, &y, CrossEntropyOptions::default()).unwrap();
    assert!(l.value().item().unwrap().is_nan());
    let s = cross_entropy(&x, &y, opts(Reduction::Sum)).unwrap();
    assert_eq!(s.value().item().unwrap(), 0.0);
    let g = tape.backward(&l).unwrap();
    assert!(g.of(&x).unwrap().to_vec().iter().all(|&v| v == 0.0));
}

#[test]
fn fused_is_one_node_and_matches_composed_gradient() {
    let tape = Tape::new();
    let x = tape.leaf(spec_logits());
    let n0 = tape.len();
    let l = cross_entropy(&x, &spec_target(), CrossEntropyOptions::default()).unwrap();
    assert_eq!(
        tape.len(),
        n0 + 1,
        "cross_entropy on (N, C) is one tape node"
    );
    let g = tape.backward(&l).unwrap().of(&x).unwrap().to_vec();
    // softmax - onehot, over N = 3.
    let sm = spec_logits().softmax(1).unwrap().to_vec();
    for i in 0..3 {
        for c in 0..3 {
            let want = (sm[i * 3 + c] - if i == c { 1.0 } else { 0.0 }) / 3.0;
            assert!((g[i * 3 + c] - want).abs() < 1e-15);
        }
    }
}

#[test]
fn stable_for_huge_logits() {
    let x = Tensor::<f32>::from_vec(vec![1e4, 0.0, -1e4, 1e4], &[2, 2]).unwrap();
    let y = IndexTensor::from_vec(vec![1, 0], &[2]).unwrap();
    let l = cross_entropy_tensor(&x, &y, opts(Reduction::None))
        .unwrap()
        .to_vec();
    assert_eq!(l, vec![1e4, 2e4]);
}

#[test]
fn unbatched_and_spatial_shapes() {
    // (C) with a 0-D target.
    let x = Tensor::<f64>::from_vec(vec![2.0, 1.0, 0.1], &[3]).unwrap();
    let y = IndexTensor::from_vec(vec![0], &[]).unwrap();
    let l = cross_entropy_tensor(&x, &y, opts(Reduction::None)).unwrap();
    assert_eq!(l.rank(), 0);
    let row = cross_entropy_tensor(&spec_logits(), &spec_target(), opts(Reduction::None))
        .unwrap()
        .to_vec()[0];
    assert!((l.item().unwrap() - row).abs() < 1e-15);
    // (N, C, L) agrees with the (N*L, C) form.
    let x3 = Tensor::<f64>::from_vec(
        (0..24).map(|v| (v as f64 * 0.37).sin()).collect(),
        &[2, 3, 4],
    )
    .unwrap();
    let y3 = IndexTensor::from_vec(vec![0, 1, 2, 1, 2, 2, 0, -100], &[2, 4]).unwrap();
    let l3 = cross_entropy_tensor(&x3, &y3, opts(Reduction::None)).unwrap();
    assert_eq!(l3.dims(), &[2, 4]);
    let flat = x3
        .permute(&[0usize, 2, 1])
        .unwrap()
        .reshape(&[8, 3])
        .unwrap();
    let y2 = y3.reshape(&[8]).unwrap();
    let l2 = cross_entropy_tensor(&flat, &y2, opts(Reduction::None)).unwrap();
    assert_eq!(l3.to_vec(), l2.to_vec());
    let tape = Tape::new();
    let v = cross_entropy(&tape.leaf(x3.clone()), &y3, opts(Reduction::Mean)).unwrap();
    let t = cross_entropy_tensor(&x3, &y3, opts(Reduction::Mean)).unwrap();
    assert_eq!(v.value().item().unwrap(), t.item().unwrap());
}

#[test]
fn nll_of_log_softmax_equals_cross_entropy() {
    let tape = Tape::new();
    let x = tape.leaf(spec_logits());
    for r in [Reduction::Mean, Reduction::Sum, Reduction::None] {
        let o = opts(r).ignore_index(2);
        let a = nll_loss(&x.log_softmax(1).unwrap(), &spec_target(), o).unwrap();
        let b = cross_entropy(&x, &spec_target(), o).unwrap();
        for (p, q) in a.value().to_vec().iter().zip(b.value().to_vec()) {
            assert!((p - q).abs() < 1e-15);
        }
    }
}

#[test]
fn mse_reductions() {
    let tape = Tape::new();
    let a = tape.leaf(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
    let b = tape.leaf(Tensor::from_vec(vec![0.0, 2.0, 5.0, 4.0], &[2, 2]).unwrap());
    let none = mse_loss(&a, &b, Reduction::None).unwrap();
    assert_eq!(none.value().to_vec(), vec![1.0, 0.0, 4.0, 0.0]);
    assert_eq!(
        mse_loss(&a, &b, Reduction::Sum)
            .unwrap()
            .value()
            .item()
            .unwrap(),
        5.0
    );
    let mean = mse_loss(&a, &b, Reduction::Mean).unwrap();
    assert_eq!(mean.value().item().unwrap(), 1.25);
    let g = tape.backward(&mean).unwrap();
    assert_eq!(g.of(&b).unwrap().to_vec(), vec![-0.5, 0.0, 1.0, 0.0]);
}

// ------------------------------------------------------------------ gradchecks

fn reduction() -> impl Strategy<Value = Reduction> {
    prop_oneof![
        Just(Reduction::Mean),
        Just(Reduction::Sum),
        Just(Reduction::None)
    ]
}

/// (n, c, logits, targets) with about one target in five set to the ignore index 7 (when
/// `C <= 7`) and at least one item counted.
fn ce_case() -> impl Strategy<Value = (usize, usize, Vec<f64>, Vec<i64>)> {
    (1usize..5, 1usize..6).prop_flat_map(|(n, c)| {
        (
            Just(n),
            Just(c),
            prop::collection::vec(-4.0f64..4.0, n * c),
            prop::collection::vec(0..(c as i64 + 1), n),
        )
            .prop_map(|(n, c, x, mut y)| {
                for v in &mut y {
                    if *v == c as i64 {
                        *v = 7;
                    }
                }
                y[0] = y[0].min(c as i64 - 1);
                (n, c, x, y)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn gradcheck_cross_entropy((n, c, x, y) in ce_case(), r in reduction()) {
        let target = IndexTensor::from_vec(y, &[n]).unwrap();
        let o = CrossEntropyOptions::default().ignore_index(7).reduction(r);
        let x = Tensor::from_vec(x, &[n, c]).unwrap();
        gradcheck(|_, v| Ok(cross_entropy(&v[0], &target, o)?), &[x], &GradcheckOptions::default())
            .unwrap();
    }

    #[test]
    fn gradcheck_cross_entropy_spatial(
        x in prop::collection::vec(-3.0f64..3.0, 2 * 3 * 4),
        y in prop::collection::vec(0i64..3, 8),
        r in reduction(),
    ) {
        let target = IndexTensor::from_vec(y, &[2, 4]).unwrap();
        let x = Tensor::from_vec(x, &[2, 3, 4]).unwrap();
        let o = CrossEntropyOptions::default().reduction(r);
        gradcheck(|_, v| Ok(cross_entropy(&v[0], &target, o)?), &[x], &GradcheckOptions::default())
            .unwrap();
    }

    #[test]
    fn gradcheck_nll_loss((n, c, x, y) in ce_case(), r in reduction()) {
        let target = IndexTensor::from_vec(y, &[n]).unwrap();
        let o = CrossEntropyOptions::default().ignore_index(7).reduction(r);
        let x = Tensor::from_vec(x, &[n, c]).unwrap();
        // Through log_softmax, as it is used; and on raw inputs (the node alone).
        gradcheck(
            |_, v| Ok(nll_loss(&v[0].log_softmax(1)?, &target, o)?),
            std::slice::from_ref(&x),
            &GradcheckOptions::default(),
        )
        .unwrap();
        gradcheck(|_, v| Ok(nll_loss(&v[0], &target, o)?), &[x], &GradcheckOptions::default())
            .unwrap();
    }

    #[test]
    fn gradcheck_mse_loss(
        (dims, a, b) in prop::collection::vec(1usize..4, 0..3).prop_flat_map(|d| {
            let n = d.iter().product::<usize>();
            (Just(d), prop::collection::vec(-2.0f64..2.0, n), prop::collection::vec(-2.0f64..2.0, n))
        }),
        r in reduction(),
    ) {
        let a = Tensor::from_vec(a, &dims).unwrap();
        let b = Tensor::from_vec(b, &dims).unwrap();
        gradcheck(|_, v| Ok(mse_loss(&v[0], &v[1], r)?), &[a, b], &GradcheckOptions::default())
            .unwrap();
    }
}

#[test]
fn mse_refuses_shapes_that_would_broadcast_unless_asked() {
    let tape = Tape::<f64>::new();
    let a = tape.leaf(Tensor::zeros(&[4, 1]));
    let b = tape.constant(Tensor::ones(&[4]));
    let e = mse_loss(&a, &b, Reduction::Mean).unwrap_err().to_string();
    assert!(
        e.starts_with(
            "mse_loss: Using a target size ([4]) that is different to the input size ([4, 1])"
        ),
        "{e}"
    );
    let none = recur_nn::mse_loss_broadcast(&a, &b, Reduction::None).unwrap();
    assert_eq!(none.value().dims(), &[4, 4]);
    assert_eq!(
        recur_nn::mse_loss_broadcast(&a, &b, Reduction::Mean)
            .unwrap()
            .value()
            .item()
            .unwrap(),
        1.0
    );
}
