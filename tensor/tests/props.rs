//! Property tests for the laws the tensor ops obey: broadcasting against naive loops, views
//! against index arithmetic, `matmul` against the naive product, reductions against naive loops,
//! and the adjoint pairs (`broadcast_to`/`sum_to_shape`, `gather`/`scatter_add`,
//! `index_select`/`index_add`) through `<L x, y> == <x, L^T y>`.
//!
//! Shapes and dims come from proptest (so failures shrink to small shapes); element values come
//! from a seeded RNG, which keeps each case cheap.

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use recur_tensor::{IndexTensor, Tensor, broadcast_shapes};

// ------------------------------------------------------------------------------ helpers

/// Each property runs at most this many cases.
const CASES: u32 = 64;

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Uniform values in [-1, 1).
fn rand_t(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::uniform(shape, -1.0, 1.0, &mut rng(seed))
}

/// Small integers in -3..=3 (so that ties happen), as f64.
fn rand_ints(shape: &[usize], seed: u64) -> Tensor<f64> {
    rand_t(shape, seed).map(|v| (v * 3.5).round())
}

/// Every multi-index of `dims` in row-major order.
fn indices(dims: &[usize]) -> Vec<Vec<usize>> {
    let n: usize = dims.iter().product();
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return out;
    }
    let mut idx = vec![0; dims.len()];
    for _ in 0..n {
        out.push(idx.clone());
        for d in (0..dims.len()).rev() {
            idx[d] += 1;
            if idx[d] < dims[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    out
}

/// The index into an operand of shape `dims` that broadcasting maps the output index to.
fn bcast_index(out_idx: &[usize], dims: &[usize]) -> Vec<usize> {
    let lead = out_idx.len() - dims.len();
    dims.iter()
        .enumerate()
        .map(|(i, &s)| if s == 1 { 0 } else { out_idx[lead + i] })
        .collect()
}

/// A named binary tensor op, and the scalar function it applies.
type TensorOp = fn(&Tensor<f64>, &Tensor<f64>) -> recur_tensor::Result<Tensor<f64>>;
type ScalarOp = fn(f64, f64) -> f64;

fn inner(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    a.to_vec().iter().zip(b.to_vec()).map(|(x, y)| x * y).sum()
}

/// `a == b` or both NaN, elementwise, with equal lengths.
fn same_or_nan(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

/// A shape of rank 0..=4 with sizes 0..=3.
fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..=3, 0..=4)
}

/// A shape of rank 1..=4 with sizes 0..=4 and a dim of it.
fn shape_and_dim() -> impl Strategy<Value = (Vec<usize>, usize)> {
    prop::collection::vec(0usize..=4, 1..=4).prop_flat_map(|s| {
        let r = s.len();
        (Just(s), 0..r)
    })
}

/// An output shape and two operand shapes that broadcast to it: each operand drops some
/// leading dims and turns some dims into 1.
fn broadcast_triple() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, Vec<usize>)> {
    shape()
        .prop_flat_map(|out| {
            let r = out.len();
            let operand = (0..=r, prop::collection::vec(any::<bool>(), r));
            (Just(out), operand.clone(), operand)
        })
        .prop_map(|(out, (da, ma), (db, mb))| {
            let derive = |drop: usize, ones: &[bool]| -> Vec<usize> {
                (drop..out.len())
                    .map(|i| if ones[i] { 1 } else { out[i] })
                    .collect()
            };
            let a = derive(da, &ma);
            let b = derive(db, &mb);
            // Where both operands have 1 (or nothing), the broadcast is 1 (or nothing), not out[i].
            let size = |s: &[usize], drop: usize, i: usize| if i < drop { 1 } else { s[i - drop] };
            let out = (da.min(db)..out.len())
                .map(|i| {
                    if size(&a, da, i) == 1 {
                        size(&b, db, i)
                    } else {
                        size(&a, da, i)
                    }
                })
                .collect();
            (out, a, b)
        })
}

/// A strided view of shape `s` over a larger buffer: a contiguous base tensor, narrowed by a
/// random offset in each dim, then permuted into place. The values come from `seed`.
fn strided(s: &[usize], perm: &[usize], pads: &[(usize, usize)], seed: u64) -> Tensor<f64> {
    // Base dim j holds output dim perm[j], padded.
    let base_dims: Vec<usize> = (0..s.len()).map(|j| s[perm[j]] + pads[j].0).collect();
    let mut t = rand_t(&base_dims, seed);
    for (j, &(pad, off)) in pads.iter().enumerate() {
        t = t.narrow(j, off.min(pad), s[perm[j]]).unwrap();
    }
    // Output dim i is base dim j with perm[j] == i.
    let mut inv = vec![0usize; s.len()];
    for (j, &p) in perm.iter().enumerate() {
        inv[p] = j;
    }
    let v = t.permute(&inv).unwrap();
    assert_eq!(v.dims(), s);
    v
}

/// A shape with a permutation and per-dim (pad, offset), for [`strided`].
fn strided_spec(
    s: impl Strategy<Value = Vec<usize>>,
) -> impl Strategy<Value = (Vec<usize>, Vec<usize>, Vec<(usize, usize)>)> {
    s.prop_flat_map(|s| {
        let r = s.len();
        let perm = Just((0..r).collect::<Vec<usize>>()).prop_shuffle();
        let pads = prop::collection::vec((0usize..=2, 0usize..=2), r);
        (Just(s), perm, pads)
    })
}

/// A shape with a random subset of its dims (in random order).
fn shape_and_dims() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    prop::collection::vec(0usize..=3, 0..=4).prop_flat_map(|s| {
        let r = s.len();
        let dims = Just((0..r).collect::<Vec<usize>>())
            .prop_shuffle()
            .prop_flat_map(move |p| (0..=r).prop_map(move |k| p[..k].to_vec()));
        (Just(s), dims)
    })
}

/// Naive reduction of `x` over `dims` (empty = all): returns the lanes of the output in
/// row-major order, each lane listing its elements in row-major order of the input.
fn naive_lanes(x: &Tensor<f64>, dims: &[usize]) -> (Vec<usize>, Vec<Vec<f64>>) {
    let all = dims.is_empty();
    let reduced = |d: usize| all || dims.contains(&d);
    let out_dims: Vec<usize> = (0..x.rank())
        .filter(|&d| !reduced(d))
        .map(|d| x.dims()[d])
        .collect();
    let n_out: usize = out_dims.iter().product();
    let mut lanes = vec![Vec::new(); n_out];
    for idx in indices(x.dims()) {
        let oi: Vec<usize> = (0..x.rank())
            .filter(|&d| !reduced(d))
            .map(|d| idx[d])
            .collect();
        let flat = oi
            .iter()
            .zip(&out_dims)
            .fold(0, |acc, (&i, &s)| acc * s + i);
        lanes[flat].push(x.get(&idx).unwrap());
    }
    (out_dims, lanes)
}

/// The output shape of a reduction over `dims` (empty = all) with `keepdim`.
fn reduced_shape(dims_in: &[usize], dims: &[usize], keepdim: bool) -> Vec<usize> {
    let all = dims.is_empty();
    (0..dims_in.len())
        .filter_map(|d| {
            if all || dims.contains(&d) {
                keepdim.then_some(1)
            } else {
                Some(dims_in[d])
            }
        })
        .collect()
}

// ------------------------------------------------------------------------------ broadcasting

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn broadcast_shapes_is_symmetric(a in shape(), b in shape()) {
        let ab = broadcast_shapes("add", &a, &b).map(|s| s.dims().to_vec());
        let ba = broadcast_shapes("add", &b, &a).map(|s| s.dims().to_vec());
        prop_assert_eq!(ab.is_ok(), ba.is_ok());
        if let (Ok(x), Ok(y)) = (ab, ba) {
            prop_assert_eq!(x, y);
        }
    }

    #[test]
    fn binary_ops_match_naive_loops((out, sa, sb) in broadcast_triple(), seed in any::<u64>()) {
        let a = rand_t(&sa, seed);
        let b = rand_t(&sb, seed ^ 1);
        let ops: [(&str, TensorOp, ScalarOp); 3] = [
            ("add", Tensor::add, |x, y| x + y),
            ("mul", Tensor::mul, |x, y| x * y),
            ("maximum", Tensor::maximum, f64::max),
        ];
        for (name, op, f) in ops {
            let got = op(&a, &b).unwrap();
            prop_assert_eq!(got.dims(), &out[..], "{}", name);
            let want: Vec<f64> = indices(&out)
                .iter()
                .map(|i| f(a.get(&bcast_index(i, &sa)).unwrap(), b.get(&bcast_index(i, &sb)).unwrap()))
                .collect();
            prop_assert_eq!(got.to_vec(), want, "{}", name);
        }
    }

    #[test]
    fn strided_operands_match_contiguous_copies(
        (s, perm, pads) in strided_spec(shape()),
        seed in any::<u64>(),
    ) {
        let v = strided(&s, &perm, &pads, seed);
        let c = v.contiguous();
        prop_assert!(c.is_contiguous());
        prop_assert_eq!(v.to_vec(), c.to_vec());
        let other = rand_t(&s, seed ^ 7);
        let mut operands = vec![other.clone()];
        if let Some(&last) = s.last() {
            // A broadcast operand: the last dim narrowed to (at most) 1.
            operands.push(other.narrow(s.len() - 1, 0, last.min(1)).unwrap());
        }
        for w in &operands {
            prop_assert_eq!(v.add(w).unwrap().to_vec(), c.add(w).unwrap().to_vec());
            prop_assert_eq!(v.mul(w).unwrap().to_vec(), c.mul(w).unwrap().to_vec());
            prop_assert_eq!(w.maximum(&v).unwrap().to_vec(), w.maximum(&c).unwrap().to_vec());
        }
        prop_assert_eq!(v.tanh().to_vec(), c.tanh().to_vec());
        if !s.is_empty() {
            let d = s.len() - 1;
            prop_assert!(same_or_nan(&v.softmax(d).unwrap().to_vec(), &c.softmax(d).unwrap().to_vec()));
            match (v.max(&[0], true), c.max(&[0], true)) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a.to_vec(), b.to_vec()),
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                (a, b) => prop_assert!(false, "{:?} vs {:?}", a, b),
            }
            let (a, b) = (v.sum(&[0], false).unwrap(), c.sum(&[0], false).unwrap());
            prop_assert!(a.to_vec().iter().zip(b.to_vec()).all(|(x, y)| close(*x, y, 1e-14)));
        }
    }
}

// ------------------------------------------------------------------------------ views

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn permute_then_inverse_is_identity(
        (s, perm) in shape().prop_flat_map(|s| {
            let r = s.len();
            (Just(s), Just((0..r).collect::<Vec<usize>>()).prop_shuffle())
        }),
        seed in any::<u64>(),
    ) {
        let x = rand_t(&s, seed);
        let p = x.permute(&perm).unwrap();
        for (i, &pi) in perm.iter().enumerate() {
            prop_assert_eq!(p.dims()[i], s[pi]);
        }
        let mut inv = vec![0usize; perm.len()];
        for (i, &pi) in perm.iter().enumerate() {
            inv[pi] = i;
        }
        let back = p.permute(&inv).unwrap();
        prop_assert_eq!(back.dims(), x.dims());
        prop_assert_eq!(back.to_vec(), x.to_vec());
        prop_assert!(back.shares_storage(&x));
        // Element-wise: p[i] = x[i permuted back].
        for idx in indices(p.dims()) {
            let mut xi = vec![0usize; idx.len()];
            for (i, &pi) in perm.iter().enumerate() {
                xi[pi] = idx[i];
            }
            prop_assert_eq!(p.get(&idx).unwrap(), x.get(&xi).unwrap());
        }
    }

    #[test]
    fn reshape_round_trips(
        (s, perm, pads) in strided_spec(shape()),
        split in 0usize..=4,
        seed in any::<u64>(),
    ) {
        let v = strided(&s, &perm, &pads, seed);
        let n = v.numel();
        // Flat, then a 2-D factorisation, then back.
        let flat = v.reshape(&[n]).unwrap();
        prop_assert_eq!(flat.to_vec(), v.to_vec());
        let a = if n == 0 { split } else { (1..=n).filter(|d| n.is_multiple_of(*d)).nth(split % 4).unwrap_or(1) };
        let b = if n == 0 { 0 } else { n / a };
        let two = v.reshape(&[a, b]).unwrap();
        prop_assert_eq!(two.to_vec(), v.to_vec());
        let back = two.reshape(&s).unwrap();
        prop_assert_eq!(back.dims(), &s[..]);
        prop_assert_eq!(back.to_vec(), v.to_vec());
    }

    #[test]
    fn narrow_and_select_agree_with_get(
        (s, d) in shape_and_dim(),
        start in 0usize..=4,
        len in 0usize..=4,
        seed in any::<u64>(),
    ) {
        let x = rand_t(&s, seed);
        let size = s[d];
        match x.narrow(d, start, len) {
            Ok(nr) => {
                prop_assert!(start + len <= size);
                let mut want = s.clone();
                want[d] = len;
                prop_assert_eq!(nr.dims(), &want[..]);
                for idx in indices(nr.dims()) {
                    let mut xi = idx.clone();
                    xi[d] += start;
                    prop_assert_eq!(nr.get(&idx).unwrap(), x.get(&xi).unwrap());
                }
            }
            Err(_) => prop_assert!(start + len > size),
        }
        match x.select(d, start) {
            Ok(sel) => {
                prop_assert!(start < size);
                for idx in indices(sel.dims()) {
                    let mut xi = idx.clone();
                    xi.insert(d, start);
                    prop_assert_eq!(sel.get(&idx).unwrap(), x.get(&xi).unwrap());
                }
            }
            Err(_) => prop_assert!(start >= size),
        }
    }
}

// ------------------------------------------------------------------------------ matmul

/// `a @ b` for 2-D f64 tensors by the textbook loop, with the error scale `|a| @ |b|`.
fn naive_2d(a: &Tensor<f64>, b: &Tensor<f64>) -> (Vec<f64>, Vec<f64>) {
    let (m, k, n) = (a.dims()[0], a.dims()[1], b.dims()[1]);
    let (av, bv) = (a.to_vec(), b.to_vec());
    let mut c = vec![0.0; m * n];
    let mut scale = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            for p in 0..k {
                c[i * n + j] += av[i * k + p] * bv[p * n + j];
                scale[i * n + j] += (av[i * k + p] * bv[p * n + j]).abs();
            }
        }
    }
    (c, scale)
}

/// An `[r, c]` operand, as a transposed view of a `[c, r]` tensor when `trans`.
fn operand(r: usize, c: usize, trans: bool, seed: u64) -> Tensor<f64> {
    if trans {
        rand_t(&[c, r], seed).t().unwrap()
    } else {
        rand_t(&[r, c], seed)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn matmul_matches_naive(
        m in 0usize..=67, n in 0usize..=67, k in 0usize..=67,
        ta in any::<bool>(), tb in any::<bool>(), seed in any::<u64>(),
    ) {
        let a = operand(m, k, ta, seed);
        let b = operand(k, n, tb, seed ^ 3);
        let c = a.matmul(&b).unwrap();
        prop_assert_eq!(c.dims(), &[m, n]);
        let r = a.matmul_naive(&b).unwrap();
        let (want, scale) = naive_2d(&a, &b);
        let tol = 1e-12 * k.max(1) as f64;
        for ((&got, &w), (&s, &nv)) in c.to_vec().iter().zip(&want).zip(scale.iter().zip(&r.to_vec())) {
            prop_assert!((got - w).abs() <= tol * s.max(f64::MIN_POSITIVE), "{} vs {} (scale {})", got, w, s);
            prop_assert!((nv - w).abs() <= tol * s.max(f64::MIN_POSITIVE));
        }
    }

    #[test]
    fn batched_matmul_broadcasts_batch_dims(
        (batch, ba, bb) in broadcast_triple().prop_filter("rank <= 3", |t| t.0.len() <= 3),
        m in 0usize..=9, n in 0usize..=9, k in 0usize..=9,
        ta in any::<bool>(), tb in any::<bool>(), seed in any::<u64>(),
    ) {
        let make = |bd: &[usize], r: usize, c: usize, trans: bool, seed: u64| {
            let mut s = bd.to_vec();
            if trans {
                s.extend([c, r]);
                let t = rand_t(&s, seed);
                let rank = s.len();
                t.transpose(rank - 2, rank - 1).unwrap()
            } else {
                s.extend([r, c]);
                rand_t(&s, seed)
            }
        };
        let a = make(&ba, m, k, ta, seed);
        let b = make(&bb, k, n, tb, seed ^ 5);
        let c = a.matmul(&b).unwrap();
        let mut out = batch.clone();
        out.extend([m, n]);
        prop_assert_eq!(c.dims(), &out[..]);
        let tol = 1e-12 * k.max(1) as f64;
        for idx in indices(&out) {
            let (bi, ij) = idx.split_at(batch.len());
            let (mut ia, mut ib) = (bcast_index(bi, &ba), bcast_index(bi, &bb));
            let (mut want, mut scale) = (0.0, 0.0);
            for p in 0..k {
                ia.extend([ij[0], p]);
                ib.extend([p, ij[1]]);
                let prod = a.get(&ia).unwrap() * b.get(&ib).unwrap();
                want += prod;
                scale += prod.abs();
                ia.truncate(ia.len() - 2);
                ib.truncate(ib.len() - 2);
            }
            let got = c.get(&idx).unwrap();
            prop_assert!((got - want).abs() <= tol * scale.max(f64::MIN_POSITIVE), "{:?}: {} vs {}", idx, got, want);
        }
    }

    #[test]
    fn matmul_vector_operands_follow_torch(m in 1usize..=9, k in 0usize..=9, seed in any::<u64>()) {
        let a = rand_t(&[m, k], seed);
        let v = rand_t(&[k], seed ^ 9);
        let mv = a.matmul(&v).unwrap();
        prop_assert_eq!(mv.dims(), &[m]);
        let col = a.matmul(&v.unsqueeze(1).unwrap()).unwrap();
        prop_assert_eq!(mv.to_vec(), col.to_vec());
        let vm = v.matmul(&a.t().unwrap()).unwrap();
        prop_assert_eq!(vm.dims(), &[m]);
        let dot = v.matmul(&v).unwrap();
        prop_assert_eq!(dot.rank(), 0);
        let want: f64 = v.to_vec().iter().map(|x| x * x).sum();
        prop_assert!(close(dot.item().unwrap(), want, 1e-12));
    }
}

// ------------------------------------------------------------------------------ reductions

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn reductions_match_naive_loops(
        (s, dims) in shape_and_dims(),
        keepdim in any::<bool>(),
        transpose in any::<bool>(),
        seed in any::<u64>(),
    ) {
        // Integer values make ties (argmax's first-occurrence rule) and exact sums likely.
        let base = rand_ints(&s, seed);
        // Optionally read a reversed-dims view (strided), then reduce over the same dims.
        let x = if transpose && s.len() >= 2 {
            let rev: Vec<usize> = (0..s.len()).rev().collect();
            base.permute(&rev).unwrap()
        } else {
            base
        };
        let (_, lanes) = naive_lanes(&x, &dims);
        let out_shape = reduced_shape(x.dims(), &dims, keepdim);

        let sum = x.sum(&dims, keepdim).unwrap();
        prop_assert_eq!(sum.dims(), &out_shape[..]);
        let want: Vec<f64> = lanes.iter().map(|l| l.iter().sum()).collect();
        prop_assert_eq!(sum.to_vec(), want);

        let mean = x.mean(&dims, keepdim).unwrap();
        prop_assert_eq!(mean.dims(), &out_shape[..]);
        let want: Vec<f64> = lanes.iter().map(|l| l.iter().sum::<f64>() / l.len() as f64).collect();
        prop_assert!(mean.to_vec().iter().zip(&want).all(|(&a, &b)| close(a, b, 1e-15)));

        let empty_lane = x.dims().iter().enumerate().any(|(d, &n)| n == 0 && (dims.is_empty() || dims.contains(&d)));
        match (x.max(&dims, keepdim), x.min(&dims, keepdim)) {
            (Ok(mx), Ok(mn)) => {
                prop_assert!(!empty_lane);
                prop_assert_eq!(mx.dims(), &out_shape[..]);
                let want: Vec<f64> = lanes.iter().map(|l| l.iter().copied().fold(f64::NEG_INFINITY, f64::max)).collect();
                prop_assert_eq!(mx.to_vec(), want);
                let want: Vec<f64> = lanes.iter().map(|l| l.iter().copied().fold(f64::INFINITY, f64::min)).collect();
                prop_assert_eq!(mn.to_vec(), want);
            }
            (mx, mn) => {
                prop_assert!(empty_lane);
                prop_assert!(mx.is_err() && mn.is_err());
            }
        }

        if dims.len() == 1 {
            let d = dims[0];
            match x.argmax(d, keepdim) {
                Ok(am) => {
                    prop_assert_eq!(am.dims(), &out_shape[..]);
                    let want: Vec<i64> = lanes.iter().map(|l| {
                        let mut best = 0;
                        for (i, &v) in l.iter().enumerate() {
                            if v > l[best] { best = i; }
                        }
                        best as i64
                    }).collect();
                    prop_assert_eq!(am.as_slice(), &want[..]);
                    let amin = x.argmin(d, keepdim).unwrap();
                    let want: Vec<i64> = lanes.iter().map(|l| {
                        let mut best = 0;
                        for (i, &v) in l.iter().enumerate() {
                            if v < l[best] { best = i; }
                        }
                        best as i64
                    }).collect();
                    prop_assert_eq!(amin.as_slice(), &want[..]);
                }
                Err(_) => prop_assert!(empty_lane),
            }
        }
    }

    #[test]
    fn sums_of_real_values_are_close_to_naive(
        (s, dims) in shape_and_dims(),
        transpose in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let base = rand_t(&s, seed);
        let x = if transpose && s.len() >= 2 { base.transpose(0, s.len() - 1).unwrap() } else { base };
        let (_, lanes) = naive_lanes(&x, &dims);
        let got = x.sum(&dims, false).unwrap().to_vec();
        for (g, l) in got.iter().zip(&lanes) {
            let w: f64 = l.iter().sum();
            let scale: f64 = l.iter().map(|v| v.abs()).sum();
            prop_assert!((g - w).abs() <= 1e-14 * scale.max(1.0));
        }
        let all = x.sum_all().item().unwrap();
        let w: f64 = x.to_vec().iter().sum();
        prop_assert!(close(all, w, 1e-13));
    }

    #[test]
    fn nan_propagates_through_max_and_wins_argmax(
        (s, d) in shape_and_dim().prop_filter("non-empty", |(s, _)| s.iter().all(|&n| n > 0)),
        at in any::<prop::sample::Index>(),
        seed in any::<u64>(),
    ) {
        let mut x = rand_ints(&s, seed);
        let all = indices(&s);
        let nan_at = all[at.index(all.len())].clone();
        x.set(&nan_at, f64::NAN).unwrap();
        let mx = x.max(&[d], false).unwrap();
        let am = x.argmax(d, false).unwrap();
        let mut lane_idx = nan_at.clone();
        lane_idx.remove(d);
        prop_assert!(mx.get(&lane_idx).unwrap().is_nan());
        let flat = lane_idx.iter().zip(am.dims()).fold(0, |acc, (&i, &n)| acc * n + i);
        prop_assert_eq!(am.as_slice()[flat], nan_at[d] as i64);
        prop_assert!(x.max_all().unwrap().is_nan() && x.min_all().unwrap().is_nan());
    }

    #[test]
    fn sum_to_shape_is_the_adjoint_of_broadcast_to(
        (out, small, _) in broadcast_triple(),
        seed in any::<u64>(),
    ) {
        let x = rand_t(&small, seed);
        let g = rand_t(&out, seed ^ 11);
        let bx = x.broadcast_to(&out).unwrap();
        let sg = g.sum_to_shape(&small).unwrap();
        prop_assert_eq!(sg.dims(), &small[..]);
        // Naive adjoint: every element of g lands on the element of x it was copied from.
        let mut want = vec![0.0; x.numel()];
        let strides: Vec<usize> = (0..small.len()).map(|i| small[i + 1..].iter().product()).collect();
        for idx in indices(&out) {
            let xi = bcast_index(&idx, &small);
            let flat: usize = xi.iter().zip(&strides).map(|(i, s)| i * s).sum();
            want[flat] += g.get(&idx).unwrap();
        }
        for (a, b) in sg.to_vec().iter().zip(&want) {
            prop_assert!(close(*a, *b, 1e-13));
        }
        prop_assert!(close(inner(&bx, &g), inner(&x, &sg), 1e-12));
        // Equal shapes: no copy.
        prop_assert!(g.sum_to_shape(&out).unwrap().shares_storage(&g));
    }

    #[test]
    fn softmax_lanes_sum_to_one(
        (s, d) in shape_and_dim(),
        scale in prop::sample::select(vec![1.0, 30.0, 1e4]),
        transpose in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let base = rand_t(&s, seed).mul_scalar(scale);
        let x = if transpose && s.len() >= 2 { base.transpose(0, s.len() - 1).unwrap() } else { base };
        let sm = x.softmax(d).unwrap();
        prop_assert_eq!(sm.dims(), x.dims());
        let sums = sm.sum(&[d], false).unwrap();
        for v in sums.to_vec().into_iter().filter(|_| x.dims()[d] > 0) {
            prop_assert!((v - 1.0).abs() < 1e-12, "{}", v);
        }
        prop_assert!(sm.to_vec().iter().all(|&v| (0.0..=1.0).contains(&v)));
        // log_softmax is finite everywhere here, and equals ln(softmax) where that is finite.
        let ls = x.log_softmax(d).unwrap();
        for (l, p) in ls.to_vec().iter().zip(sm.to_vec()) {
            prop_assert!(l.is_finite());
            if p >= f64::MIN_POSITIVE {
                prop_assert!(close(*l, p.ln(), 1e-9), "{} vs {}", l, p.ln());
            }
        }
        // logsumexp: x - log_softmax(x) is constant along the dim and equals it.
        let lse = x.logsumexp(d, true).unwrap();
        let diff = x.sub(&ls).unwrap();
        let back = diff.sub(&lse).unwrap();
        for v in back.to_vec() {
            prop_assert!(v.abs() <= 1e-9 * scale.max(1.0), "{}", v);
        }
    }

    #[test]
    fn log_softmax_is_finite_at_large_magnitudes(
        n in 1usize..=8,
        signs in prop::collection::vec(any::<bool>(), 8),
        seed in any::<u64>(),
    ) {
        // f32 and f64 lanes of +-1e4 (plus noise).
        let noise = rand_t(&[n], seed);
        let x64 = Tensor::from_vec((0..n).map(|i| (if signs[i] { 1e4 } else { -1e4 }) + noise.get(&[i]).unwrap()).collect(), &[n]).unwrap();
        let x32 = x64.cast::<f32>();
        prop_assert!(x64.log_softmax(0).unwrap().to_vec().iter().all(|v| v.is_finite()));
        prop_assert!(x32.log_softmax(0).unwrap().to_vec().iter().all(|v| v.is_finite()));
        prop_assert!(x32.softmax(0).unwrap().to_vec().iter().all(|v| v.is_finite()));
        prop_assert!(x32.logsumexp(0, false).unwrap().item().unwrap().is_finite());
    }
}

// ------------------------------------------------------------------------------ indexing

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn split_then_concat_round_trips(
        (s, d) in shape_and_dim(),
        split_size in 1usize..=5,
        chunks in 1usize..=5,
        seed in any::<u64>(),
    ) {
        let x = rand_t(&s, seed);
        let parts = x.split(split_size, d).unwrap();
        prop_assert!(parts.iter().all(|p| p.shares_storage(&x)));
        prop_assert!(parts.iter().rev().skip(1).all(|p| p.dims()[d] == split_size));
        let refs: Vec<&Tensor<f64>> = parts.iter().collect();
        let back = Tensor::concat(&refs, d).unwrap();
        prop_assert_eq!(back.dims(), x.dims());
        prop_assert_eq!(back.to_vec(), x.to_vec());

        let cs = x.chunk(chunks, d).unwrap();
        prop_assert!(cs.len() <= chunks);
        let refs: Vec<&Tensor<f64>> = cs.iter().collect();
        prop_assert_eq!(Tensor::concat(&refs, d).unwrap().to_vec(), x.to_vec());

        // split_sizes with the sizes the int split produced.
        let sizes: Vec<usize> = parts.iter().map(|p| p.dims()[d]).collect();
        let again = x.split_sizes(&sizes, d).unwrap();
        for (a, b) in again.iter().zip(&parts) {
            prop_assert_eq!(a.to_vec(), b.to_vec());
        }
    }

    #[test]
    fn stack_equals_concat_of_unsqueezed(
        s in shape(),
        count in 1usize..=3,
        at in any::<prop::sample::Index>(),
        seed in any::<u64>(),
    ) {
        let ts: Vec<Tensor<f64>> = (0..count).map(|i| rand_t(&s, seed ^ i as u64)).collect();
        let refs: Vec<&Tensor<f64>> = ts.iter().collect();
        let d = at.index(s.len() + 1);
        let st = Tensor::stack(&refs, d).unwrap();
        let mut want = s.clone();
        want.insert(d, count);
        prop_assert_eq!(st.dims(), &want[..]);
        for (i, t) in ts.iter().enumerate() {
            prop_assert_eq!(st.select(d, i).unwrap().to_vec(), t.to_vec());
        }
    }

    #[test]
    fn gather_and_scatter_add_are_adjoint(
        (s, d) in shape_and_dim().prop_filter("dim non-empty", |(s, d)| s[*d] > 0),
        shrink in prop::collection::vec(0usize..=1, 4),
        extra in 0usize..=3,
        seed in any::<u64>(),
    ) {
        // Index shape: <= self in every dim but `d`, which may be longer (indices repeat).
        let ishape: Vec<usize> = s.iter().enumerate()
            .map(|(i, &n)| if i == d { extra + 1 } else { n.saturating_sub(shrink[i]) })
            .collect();
        let mut r = rng(seed ^ 13);
        let idx_vals: Vec<i64> = Tensor::<f64>::uniform(&ishape, 0.0, s[d] as f64, &mut r)
            .to_vec().iter().map(|v| v.floor() as i64).collect();
        let idx = IndexTensor::from_vec(idx_vals, &ishape).unwrap();
        let x = rand_t(&s, seed);
        let g = x.gather(d, &idx).unwrap();
        prop_assert_eq!(g.dims(), &ishape[..]);
        for i in indices(&ishape) {
            let flat = i.iter().zip(&ishape).fold(0, |acc, (&v, &n)| acc * n + v);
            let mut xi = i.clone();
            xi[d] = idx.as_slice()[flat] as usize;
            prop_assert_eq!(g.get(&i).unwrap(), x.get(&xi).unwrap());
        }
        let y = rand_t(&ishape, seed ^ 17);
        let sy = Tensor::zeros(&s).scatter_add(d, &idx, &y).unwrap();
        prop_assert!(close(inner(&g, &y), inner(&x, &sy), 1e-12));
        // A strided source of scatter_add gives the same as its contiguous copy.
        let yt = if ishape.len() >= 2 {
            let mut p: Vec<usize> = (0..ishape.len()).collect();
            p.reverse();
            let rev_shape: Vec<usize> = ishape.iter().rev().copied().collect();
            rand_t(&rev_shape, seed ^ 19).permute(&p).unwrap()
        } else {
            y.clone()
        };
        prop_assert_eq!(
            Tensor::zeros(&s).scatter_add(d, &idx, &yt).unwrap().to_vec(),
            Tensor::zeros(&s).scatter_add(d, &idx, &yt.contiguous()).unwrap().to_vec()
        );
    }

    #[test]
    fn index_select_and_index_add_are_adjoint(
        (s, d) in shape_and_dim().prop_filter("dim non-empty", |(s, d)| s[*d] > 0),
        k in 0usize..=6,
        seed in any::<u64>(),
    ) {
        let mut r = rng(seed ^ 23);
        let idx_vals: Vec<i64> = Tensor::<f64>::uniform(&[k], 0.0, s[d] as f64, &mut r)
            .to_vec().iter().map(|v| v.floor() as i64).collect();
        let idx = IndexTensor::from_vec(idx_vals.clone(), &[k]).unwrap();
        let x = rand_t(&s, seed);
        let sel = x.index_select(d, &idx).unwrap();
        let mut want = s.clone();
        want[d] = k;
        prop_assert_eq!(sel.dims(), &want[..]);
        for (j, &i) in idx_vals.iter().enumerate() {
            prop_assert_eq!(sel.narrow(d, j, 1).unwrap().to_vec(), x.narrow(d, i as usize, 1).unwrap().to_vec());
        }
        let y = rand_t(&want, seed ^ 29);
        let ay = Tensor::zeros(&s).index_add(d, &idx, &y).unwrap();
        prop_assert!(close(inner(&sel, &y), inner(&x, &ay), 1e-12));
        // index_add adds onto self.
        let base = rand_t(&s, seed ^ 31);
        let sum = base.index_add(d, &idx, &y).unwrap();
        let sep = base.add(&ay).unwrap();
        for (a, b) in sum.to_vec().iter().zip(sep.to_vec()) {
            prop_assert!(close(*a, b, 1e-15));
        }
    }

    #[test]
    fn one_hot_and_masked_fill_match_naive(
        s in shape(),
        classes in 1usize..=5,
        seed in any::<u64>(),
    ) {
        let mut r = rng(seed);
        let vals: Vec<i64> = Tensor::<f64>::uniform(&s, 0.0, classes as f64, &mut r)
            .to_vec().iter().map(|v| v.floor() as i64).collect();
        let idx = IndexTensor::from_vec(vals.clone(), &s).unwrap();
        let oh = Tensor::<f32>::one_hot(&idx, classes).unwrap();
        let mut want_shape = s.clone();
        want_shape.push(classes);
        prop_assert_eq!(oh.dims(), &want_shape[..]);
        let want: Vec<f32> = vals.iter().flat_map(|&v| (0..classes).map(move |c| if c as i64 == v { 1.0 } else { 0.0 })).collect();
        prop_assert_eq!(oh.to_vec(), want);

        let x = rand_t(&s, seed ^ 37);
        let mask = rand_ints(&s[s.len().min(1)..], seed ^ 41).map(|v| if v > 0.0 { 1.0 } else { 0.0 });
        let y = x.masked_fill(&mask, -5.0).unwrap();
        for i in indices(&s) {
            let m = mask.get(&bcast_index(&i, mask.dims())).unwrap();
            let want = if m != 0.0 { -5.0 } else { x.get(&i).unwrap() };
            prop_assert_eq!(y.get(&i).unwrap(), want);
        }
    }
}
