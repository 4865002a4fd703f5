//! Every differentiable op, gradient-checked in f64 on random shapes (size-1 broadcast dims,
//! transposed and narrowed inputs), at least 64 cases each.

use proptest::prelude::*;
use recur_autograd::{GradcheckOptions, Result, Tape, Var, gradcheck};
use recur_tensor::{IndexTensor, Tensor};

const CASES: u32 = 64;

/// How an input reaches the op: as given, as a transposed view, or as a narrowed view.
#[derive(Clone, Copy, Debug)]
enum Via {
    Plain,
    Transposed,
    Narrowed,
}

fn via() -> impl Strategy<Value = Via> {
    prop_oneof![Just(Via::Plain), Just(Via::Transposed), Just(Via::Narrowed)]
}

/// The leaf's shape such that `view(leaf, via)` has shape `dims`.
fn leaf_dims(dims: &[usize], via: Via) -> Vec<usize> {
    let mut d = dims.to_vec();
    match via {
        Via::Transposed if d.len() >= 2 => {
            let r = d.len();
            d.swap(r - 1, r - 2);
        }
        Via::Narrowed if !d.is_empty() => d[0] += 2,
        _ => {}
    }
    d
}

/// The strided view of a leaf with shape `dims` (see [`leaf_dims`]).
fn view<'t>(v: &Var<'t, f64>, dims: &[usize], via: Via) -> Result<Var<'t, f64>> {
    match via {
        Via::Transposed if dims.len() >= 2 => v.transpose(-1isize, -2),
        Via::Narrowed if !dims.is_empty() => v.narrow(0usize, 1, dims[0]),
        _ => Ok(v.clone()),
    }
}

/// Values in [lo, hi] with magnitude at least `gap` away from `avoid` (kinks of abs, relu...).
fn values(n: usize, lo: f64, hi: f64, avoid: Option<f64>) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(lo..hi, n).prop_map(move |mut v| {
        if let Some(k) = avoid {
            for x in &mut v {
                if (*x - k).abs() < 0.1 {
                    *x = k + if *x >= k { 0.1 } else { -0.1 };
                }
            }
        }
        v
    })
}

fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..4, 0..4)
}

/// A leaf tensor for `dims` reached `via`, with values from `lo..hi`.
fn input(
    dims: Vec<usize>,
    via: Via,
    lo: f64,
    hi: f64,
    avoid: Option<f64>,
) -> impl Strategy<Value = (Tensor<f64>, Vec<usize>, Via)> {
    let ld = leaf_dims(&dims, via);
    let n = ld.iter().product();
    values(n, lo, hi, avoid)
        .prop_map(move |v| (Tensor::from_vec(v, &ld).unwrap(), dims.clone(), via))
}

fn check(
    f: impl for<'t> Fn(&'t Tape<f64>, &[Var<'t, f64>]) -> Result<Var<'t, f64>>,
    inputs: &[Tensor<f64>],
) -> std::result::Result<(), TestCaseError> {
    gradcheck(f, inputs, &GradcheckOptions::default())
        .map(|_| ())
        .map_err(|e| TestCaseError::fail(e.to_string()))
}

macro_rules! unary_props {
    ($($name:ident: ($lo:expr, $hi:expr, $avoid:expr) => |$v:ident| $body:expr;)*) => {$(
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(CASES))]
            #[test]
            fn $name((x, dims, via) in (shape(), via()).prop_flat_map(|(s, v)| input(s, v, $lo, $hi, $avoid))) {
                check(|_, vs| { let $v = view(&vs[0], &dims, via)?; Ok($body) }, &[x])?;
            }
        }
    )*};
}

unary_props! {
    neg: (-2.0, 2.0, None) => |v| v.neg();
    abs: (-2.0, 2.0, Some(0.0)) => |v| v.abs();
    exp: (-2.0, 2.0, None) => |v| v.exp();
    ln: (0.2, 3.0, None) => |v| v.ln();
    sqrt: (0.2, 3.0, None) => |v| v.sqrt();
    tanh: (-3.0, 3.0, None) => |v| v.tanh();
    sigmoid: (-4.0, 4.0, None) => |v| v.sigmoid();
    relu: (-2.0, 2.0, Some(0.0)) => |v| v.relu();
    recip: (0.3, 3.0, None) => |v| v.recip();
    square: (-2.0, 2.0, None) => |v| v.square();
    powf: (0.2, 3.0, None) => |v| v.powf(1.7);
    clamp: (-2.0, 2.0, Some(0.5)) => |v| v.clamp(-0.5 - 0.3, 0.5);
    mul_scalar: (-2.0, 2.0, None) => |v| v.mul_scalar(-1.5);
    div_scalar: (-2.0, 2.0, None) => |v| v.div_scalar(4.0);
    add_scalar: (-2.0, 2.0, None) => |v| v.add_scalar(3.0);
    rsub_scalar: (-2.0, 2.0, None) => |v| v.rsub_scalar(3.0);
    sum_all: (-2.0, 2.0, None) => |v| v.sum_all();
    mean_all: (-2.0, 2.0, None) => |v| v.mean_all();
    flatten: (-2.0, 2.0, None) => |v| v.flatten()?;
}

/// A shape and a broadcast partner: some of its dims set to 1, maybe fewer leading dims.
fn broadcast_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    shape().prop_flat_map(|s| {
        let r = s.len();
        (Just(s), prop::collection::vec(any::<bool>(), r), 0..=r).prop_map(|(s, ones, drop)| {
            let other: Vec<usize> = s
                .iter()
                .zip(&ones)
                .map(|(&d, &o)| if o { 1 } else { d })
                .skip(drop)
                .collect();
            (s, other)
        })
    })
}

macro_rules! binary_props {
    ($($name:ident: ($lo:expr, $hi:expr) => |$a:ident, $b:ident| $body:expr;)*) => {$(
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(CASES))]
            #[test]
            fn $name(
                ((x, dx, vx), (y, dy, vy), swap) in (broadcast_pair(), via(), via()).prop_flat_map(|((s, o), va, vb)| {
                    (input(s, va, $lo, $hi, None), input(o, vb, $lo, $hi, None), any::<bool>())
                })
            ) {
                // Either operand may be the broadcast one.
                let (x, dx, vx, y, dy, vy) = if swap { (y, dy, vy, x, dx, vx) } else { (x, dx, vx, y, dy, vy) };
                check(|_, vs| { let $a = view(&vs[0], &dx, vx)?; let $b = view(&vs[1], &dy, vy)?; $body }, &[x, y])?;
            }
        }
    )*};
}

binary_props! {
    add: (-2.0, 2.0) => |a, b| a.add(&b);
    sub: (-2.0, 2.0) => |a, b| a.sub(&b);
    mul: (-2.0, 2.0) => |a, b| a.mul(&b);
    div: (0.5, 2.0) => |a, b| a.div(&b);
    // Distinct values almost surely; the tie rule is tested separately.
    maximum: (-2.0, 2.0) => |a, b| a.maximum(&b);
    minimum: (-2.0, 2.0) => |a, b| a.minimum(&b);
    where_cond: (-2.0, 2.0) => |a, b| {
        let mask = a.value().gt_mask(&Tensor::scalar(0.0))?;
        Var::where_cond(&mask, &a, &b)
    };
}

/// A shape of rank >= 1 and a set of dims to reduce over.
fn reduce_case() -> impl Strategy<Value = (Vec<usize>, Vec<isize>, bool)> {
    prop::collection::vec(1usize..4, 1..4).prop_flat_map(|s| {
        let r = s.len();
        (
            Just(s),
            prop::sample::subsequence((0..r).collect::<Vec<_>>(), 0..=r),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(move |(s, dims, keep, negative)| {
                let dims = dims
                    .into_iter()
                    .map(|d| {
                        if negative {
                            d as isize - r as isize
                        } else {
                            d as isize
                        }
                    })
                    .collect();
                (s, dims, keep)
            })
    })
}

macro_rules! reduce_props {
    ($($name:ident => |$v:ident, $dims:ident, $keep:ident| $body:expr;)*) => {$(
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(CASES))]
            #[test]
            fn $name(((x, s, via), dims, keep) in (reduce_case(), via()).prop_flat_map(|((s, d, k), via)| (input(s, via, -2.0, 2.0, None), Just(d), Just(k)))) {
                let ($dims, $keep) = (dims.clone(), keep);
                check(|_, vs| { let $v = view(&vs[0], &s, via)?; $body }, &[x])?;
            }
        }
    )*};
}

reduce_props! {
    sum => |v, dims, keep| v.sum(&dims, keep);
    mean => |v, dims, keep| v.mean(&dims, keep);
    max => |v, dims, keep| v.max(&dims, keep);
    min => |v, dims, keep| v.min(&dims, keep);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn matmul(
        ((a, da, va), (b, db, vb)) in (1usize..5, 1usize..5, 1usize..5, prop::collection::vec(1usize..3, 0..2), any::<bool>(), via(), via())
            .prop_flat_map(|(m, k, n, batch, bcast, va, vb)| {
                let mut sa = batch.clone(); sa.extend([m, k]);
                // The right operand's batch dims are broadcast (size 1 or absent) half the time.
                let mut sb: Vec<usize> = if bcast { batch.iter().map(|_| 1).collect() } else { batch.clone() };
                sb.extend([k, n]);
                (input(sa, va, -2.0, 2.0, None), input(sb, vb, -2.0, 2.0, None))
            })
    ) {
        check(|_, vs| view(&vs[0], &da, va)?.matmul(&view(&vs[1], &db, vb)?), &[a, b])?;
    }

    #[test]
    fn linear(
        ((x, dx, vx), w, b, with_bias) in (1usize..5, 1usize..5, 1usize..5, via(), any::<bool>()).prop_flat_map(|(n, i, o, vx, bias)| {
            (input(vec![n, i], vx, -2.0, 2.0, None),
             values(o * i, -2.0, 2.0, None).prop_map(move |v| Tensor::from_vec(v, &[o, i]).unwrap()),
             values(o, -2.0, 2.0, None).prop_map(move |v| Tensor::from_vec(v, &[o]).unwrap()),
             Just(bias))
        })
    ) {
        if with_bias {
            check(|_, vs| view(&vs[0], &dx, vx)?.linear(&vs[1], Some(&vs[2])), &[x, w, b])?;
        } else {
            check(|_, vs| view(&vs[0], &dx, vx)?.linear(&vs[1], None), &[x, w])?;
        }
    }

    #[test]
    fn matmul_vectors(
        (a, b, which) in (1usize..5, 1usize..5, 0usize..3).prop_flat_map(|(m, k, which)| {
            let sa = if which == 1 { vec![m, k] } else { vec![k] };
            let sb = if which == 0 { vec![k, m] } else { vec![k] };
            (values(sa.iter().product(), -2.0, 2.0, None).prop_map(move |v| Tensor::from_vec(v, &sa).unwrap()),
             values(sb.iter().product(), -2.0, 2.0, None).prop_map(move |v| Tensor::from_vec(v, &sb).unwrap()), Just(which))
        })
    ) {
        let _ = which;
        check(|_, vs| vs[0].matmul(&vs[1]), &[a, b])?;
    }

    #[test]
    fn softmax_and_log_softmax((x, s, via) in (prop::collection::vec(1usize..5, 1..4), via()).prop_flat_map(|(s, v)| input(s, v, -3.0, 3.0, None)), dim in 0usize..3, log in any::<bool>()) {
        let d = dim % s.len();
        check(|tape, vs| {
            let v = view(&vs[0], &s, via)?;
            // Weight the outputs so the check is not trivially zero (softmax sums to 1).
            let w = tape.constant(Tensor::arange(0.0, v.value().numel() as f64, 1.0)?.reshape(&s)?.sin_like());
            let y = if log { v.log_softmax(d)? } else { v.softmax(d)? };
            y.mul(&w)
        }, &[x])?;
    }

    #[test]
    fn views((x, s, via) in (prop::collection::vec(1usize..4, 2..4), via()).prop_flat_map(|(s, v)| input(s, v, -2.0, 2.0, None)), which in 0usize..7) {
        check(|_, vs| {
            let v = view(&vs[0], &s, via)?;
            let r = s.len();
            match which {
                0 => v.reshape(&[s.iter().product::<usize>()]),
                1 => v.transpose(0usize, r - 1),
                2 => { let p: Vec<usize> = (0..r).rev().collect(); v.permute(&p) }
                3 => v.narrow(r - 1, s[r - 1] / 2, s[r - 1] - s[r - 1] / 2),
                4 => v.select(0usize, s[0] - 1),
                5 => Ok(v.unsqueeze(1usize)?.mul_scalar(2.0)),
                _ => v.broadcast_to(&[2].iter().chain(s.iter()).copied().collect::<Vec<_>>()),
            }
        }, &[x])?;
    }

    #[test]
    fn joins_and_indexing((x, s, via) in (prop::collection::vec(1usize..4, 2..4), via()).prop_flat_map(|(s, v)| input(s, v, -2.0, 2.0, None)), which in 0usize..5, seed in 0u64..1000) {
        check(|tape, vs| {
            let v = view(&vs[0], &s, via)?;
            let n0 = s[0];
            let idx: Vec<usize> = (0..n0 + 2).map(|i| (i * 7 + seed as usize) % n0).collect();
            match which {
                0 => Var::concat(&[&v, &v.tanh()], 1usize),
                1 => Var::stack(&[&v, &v.mul_scalar(0.5)], 0usize),
                2 => { let parts = v.split(2, -1isize)?; Var::concat(&parts.iter().rev().collect::<Vec<_>>(), -1isize) }
                3 => v.index_select(0usize, &IndexTensor::from_usizes(&idx)),
                _ => {
                    let n: usize = s.iter().product();
                    let gi: Vec<i64> = (0..n).map(|i| ((i * 5 + seed as usize) % s[1]) as i64).collect();
                    let _ = tape;
                    v.gather(1usize, &IndexTensor::from_vec(gi, &s)?)
                }
            }
        }, &[x])?;
    }

    #[test]
    fn sum_to_shape_op(((x, s, via), o) in broadcast_pair().prop_flat_map(|(s, o)| (via().prop_flat_map(move |v| input(s.clone(), v, -2.0, 2.0, None)), Just(o)))) {
        check(|_, vs| view(&vs[0], &s, via)?.sum_to_shape(&o), &[x])?;
    }
}

/// `sin` of a tensor's values (a fixed, non-constant weight pattern).
trait SinLike {
    fn sin_like(&self) -> Self;
}
impl SinLike for Tensor<f64> {
    fn sin_like(&self) -> Self {
        self.map(|v| (v * 1.3).sin() + 0.1)
    }
}

#[test]
fn maximum_splits_ties_evenly() {
    let tape = Tape::<f64>::new();
    let a = tape.leaf(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap());
    let b = tape.leaf(Tensor::from_vec(vec![1.0, 5.0, 0.0], &[3]).unwrap());
    let g = tape.backward(&a.maximum(&b).unwrap().sum_all()).unwrap();
    assert_eq!(g.of(&a).unwrap().to_vec(), vec![0.5, 0.0, 1.0]);
    assert_eq!(g.of(&b).unwrap().to_vec(), vec![0.5, 1.0, 0.0]);
}
