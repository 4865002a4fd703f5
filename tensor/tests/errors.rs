//! Every `TensorError` variant, produced by real ops, with its full message: the op's name
//! first, then the shapes involved.

use recur_tensor::{IndexTensor, Tensor, TensorError, broadcast_shapes};

type T = Tensor<f32>;

fn z(shape: &[usize]) -> T {
    Tensor::zeros(shape)
}

fn idx(v: Vec<i64>, shape: &[usize]) -> IndexTensor {
    IndexTensor::from_vec(v, shape).unwrap()
}

/// Asserts the error's full message.
#[track_caller]
fn msg<V: std::fmt::Debug>(r: recur_tensor::Result<V>, want: &str) -> TensorError {
    let e = r.expect_err(want);
    assert_eq!(e.to_string(), want);
    e
}

/// The variant's name, for the coverage check.
fn variant(e: &TensorError) -> &'static str {
    match e {
        TensorError::Broadcast { .. } => "Broadcast",
        TensorError::BroadcastTo { .. } => "BroadcastTo",
        TensorError::ShapeMismatch { .. } => "ShapeMismatch",
        TensorError::MatmulInner { .. } => "MatmulInner",
        TensorError::LengthMismatch { .. } => "LengthMismatch",
        TensorError::DimOutOfRange { .. } => "DimOutOfRange",
        TensorError::IndexOutOfRange { .. } => "IndexOutOfRange",
        TensorError::Rank { .. } => "Rank",
        TensorError::Reshape { .. } => "Reshape",
        TensorError::BadDims { .. } => "BadDims",
        TensorError::EmptyList { .. } => "EmptyList",
        TensorError::EmptyReduction { .. } => "EmptyReduction",
        TensorError::InvalidArgument { .. } => "InvalidArgument",
        _ => "unknown",
    }
}

#[test]
fn every_variant_is_produced_by_some_op() {
    let a = z(&[2, 3]);
    let errs = [
        a.add(&z(&[4])).unwrap_err(),
        a.sum_to_shape(&[2]).unwrap_err(),
        Tensor::concat(&[&a, &z(&[2, 4])], 0).unwrap_err(),
        a.matmul(&z(&[2, 3])).unwrap_err(),
        T::from_vec(vec![0.0; 5], &[2, 3]).unwrap_err(),
        a.sum(&[2], false).unwrap_err(),
        a.select(0, 2).unwrap_err(),
        z(&[3]).t().unwrap_err(),
        a.reshape(&[4]).unwrap_err(),
        a.permute(&[0, 0]).unwrap_err(),
        T::stack(&[], 0).unwrap_err(),
        z(&[0]).max(&[0], false).unwrap_err(),
        a.item().unwrap_err(),
    ];
    let mut names: Vec<&str> = errs.iter().map(variant).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 13, "{names:?}");
    assert!(!names.contains(&"unknown"));
    // Every message starts with the op's name.
    for e in &errs {
        let s = e.to_string();
        assert!(
            s.split(':')
                .next()
                .is_some_and(|op| !op.is_empty() && !op.contains(' ')),
            "{s}"
        );
    }
}

// ------------------------------------------------------------------------------ Broadcast

#[test]
fn broadcast() {
    msg(
        z(&[2, 3]).add(&z(&[4])),
        "add: shapes cannot be broadcast together: [2, 3] and [4]",
    );
    msg(
        z(&[2, 3]).sub(&z(&[3, 3])),
        "sub: shapes cannot be broadcast together: [2, 3] and [3, 3]",
    );
    msg(
        z(&[2]).maximum(&z(&[3])),
        "maximum: shapes cannot be broadcast together: [2] and [3]",
    );
    msg(
        z(&[2]).lt_mask(&z(&[0])),
        "lt: shapes cannot be broadcast together: [2] and [0]",
    );
    msg(
        broadcast_shapes("add", &[2, 1, 3], &[4, 2]),
        "add: shapes cannot be broadcast together: [2, 1, 3] and [4, 2]",
    );
    msg(
        z(&[2, 2, 3]).matmul(&z(&[3, 3, 4])),
        "matmul: shapes cannot be broadcast together: [2, 2, 3] and [3, 3, 4]",
    );
}

#[test]
#[should_panic(expected = "mul: shapes cannot be broadcast together: [2] and [3]")]
fn operators_panic_with_the_same_text() {
    let _ = &z(&[2]) * &z(&[3]);
}

// ------------------------------------------------------------------------------ BroadcastTo

#[test]
fn broadcast_to() {
    msg(
        z(&[2, 3]).broadcast_to(&[3, 3]),
        "broadcast_to: cannot broadcast [2, 3] to [3, 3]",
    );
    msg(
        z(&[2, 3]).broadcast_to(&[3]),
        "broadcast_to: cannot broadcast [2, 3] to [3]",
    );
    msg(
        z(&[2, 3]).expand(&[2, 4]),
        "broadcast_to: cannot broadcast [2, 3] to [2, 4]",
    );
    msg(
        z(&[2, 3]).sum_to_shape(&[2]),
        "sum_to_shape: cannot broadcast [2] to [2, 3]",
    );
    msg(
        z(&[2, 3]).sum_to_shape(&[1, 2, 3]),
        "sum_to_shape: cannot broadcast [1, 2, 3] to [2, 3]",
    );
    msg(
        z(&[2, 3]).masked_fill(&z(&[3, 3]), 0.0),
        "masked_fill: cannot broadcast [3, 3] to [2, 3]",
    );
    msg(
        z(&[1, 3]).masked_fill(&z(&[2, 3]), 0.0),
        "masked_fill: cannot broadcast [2, 3] to [1, 3]",
    );
}

// ------------------------------------------------------------------------------ ShapeMismatch

#[test]
fn shape_mismatch() {
    msg(
        Tensor::concat(&[&z(&[2, 3]), &z(&[2, 4])], 0),
        "concat: shape mismatch: [2, 3] vs [2, 4] (tensor 1: sizes must match except in dim 0)",
    );
    msg(
        Tensor::concat(&[&z(&[2, 3]), &z(&[2, 3]), &z(&[2, 3, 1])], 1),
        "concat: shape mismatch: [2, 3] vs [2, 3, 1] (tensor 2: sizes must match except in dim 1)",
    );
    msg(
        Tensor::stack(&[&z(&[2, 3]), &z(&[3, 2])], 0),
        "stack: shape mismatch: [2, 3] vs [3, 2] (tensor 1: all tensors must have the same shape)",
    );
    msg(
        z(&[3, 2]).index_add(0, &idx(vec![0, 1], &[2]), &z(&[3, 2])),
        "index_add: shape mismatch: [3, 2] vs [3, 2] (src must match self except in dim 0, where it needs index.numel() = 2)",
    );
    msg(
        z(&[3, 2]).index_add(0, &idx(vec![0, 1], &[2]), &z(&[2, 3])),
        "index_add: shape mismatch: [3, 2] vs [2, 3] (src must match self except in dim 0, where it needs index.numel() = 2)",
    );
    msg(
        z(&[2, 3]).gather(1, &idx(vec![0, 1], &[2])),
        "gather: shape mismatch: [2, 3] vs [2] (index must have the same rank as self)",
    );
    msg(
        z(&[2, 3]).gather(1, &idx(vec![0; 3], &[3, 1])),
        "gather: shape mismatch: [2, 3] vs [3, 1] (index.size(0) = 3 exceeds self.size(0) = 2)",
    );
    msg(
        z(&[2, 3]).scatter_add(1, &idx(vec![0; 4], &[2, 2]), &z(&[2, 1])),
        "scatter_add: shape mismatch: [2, 1] vs [2, 2] (index.size(1) = 2 exceeds src.size(1) = 1)",
    );
    msg(
        z(&[2, 3]).scatter_add(0, &idx(vec![0; 4], &[1, 4]), &z(&[2, 4])),
        "scatter_add: shape mismatch: [2, 3] vs [1, 4] (index.size(1) = 4 exceeds self.size(1) = 3)",
    );
    msg(
        z(&[2, 3]).scatter_add(0, &idx(vec![0; 2], &[1, 2]), &z(&[2])),
        "scatter_add: shape mismatch: [2] vs [1, 2] (index must have the same rank as src)",
    );
    let mut c = z(&[2, 3]);
    msg(
        Tensor::gemm(1.0, &z(&[2, 4]), &z(&[4, 2]), 0.0, &mut c),
        "gemm: shape mismatch: [2, 2] vs [2, 3] (the output must have shape [rows(a), cols(b)])",
    );
}

// ------------------------------------------------------------------------------ MatmulInner

#[test]
fn matmul_inner() {
    msg(
        z(&[32, 65]).matmul(&z(&[128, 64])),
        "matmul: inner dims differ: [32, 65] @ [128, 64]",
    );
    msg(
        z(&[3]).matmul(&z(&[4])),
        "matmul: inner dims differ: [3] @ [4]",
    );
    msg(
        z(&[5, 2, 3]).matmul(&z(&[4])),
        "matmul: inner dims differ: [5, 2, 3] @ [4]",
    );
    let mut c = z(&[2, 2]);
    msg(
        Tensor::gemm(1.0, &z(&[2, 3]), &z(&[4, 2]), 0.0, &mut c),
        "gemm: inner dims differ: [2, 3] @ [4, 2]",
    );
}

// ------------------------------------------------------------------------------ LengthMismatch

#[test]
fn length_mismatch() {
    msg(
        T::from_vec(vec![0.0; 5], &[2, 3]),
        "from_vec: data of length 5 does not fit shape [2, 3] (6 elements)",
    );
    msg(
        T::from_slice(&[], &[]),
        "from_vec: data of length 0 does not fit shape [] (1 elements)",
    );
    msg(
        IndexTensor::from_vec(vec![1, 2, 3], &[2]),
        "IndexTensor::from_vec: data of length 3 does not fit shape [2] (2 elements)",
    );
}

// ------------------------------------------------------------------------------ DimOutOfRange

#[test]
fn dim_out_of_range() {
    let a = z(&[2, 3]);
    msg(
        a.transpose(0, 2),
        "transpose: dim 2 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        a.transpose(-3, 0),
        "transpose: dim -3 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        a.narrow(2, 0, 1),
        "narrow: dim 2 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        a.select(5, 0),
        "select: dim 5 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        a.unsqueeze(4),
        "unsqueeze: dim 4 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        a.squeeze(-3),
        "squeeze: dim -3 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        a.permute(&[0, 2]),
        "permute: dim 2 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        a.dim(2),
        "dim: dim 2 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        a.sum(&[0, 2], false),
        "sum: dim 2 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        a.mean(&[-3], true),
        "mean: dim -3 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        a.max(&[9], false),
        "max: dim 9 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        a.min(&[2], false),
        "min: dim 2 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        a.argmax(2, false),
        "argmax: dim 2 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        a.argmin(-3, false),
        "argmin: dim -3 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        T::scalar(1.0).sum(&[1], false),
        "sum: dim 1 is out of range for shape [] (rank 0)",
    );
    msg(
        a.softmax(2),
        "softmax: dim 2 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        a.log_softmax(-3),
        "log_softmax: dim -3 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        a.logsumexp(2, true),
        "logsumexp: dim 2 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        T::concat(&[&a, &a], 2),
        "concat: dim 2 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        T::stack(&[&a, &a], 3),
        "stack: dim 3 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        T::stack(&[&a, &a], -4),
        "stack: dim -4 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        a.split(1, 2),
        "split: dim 2 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        a.split_sizes(&[1, 1], -3),
        "split_sizes: dim -3 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        a.chunk(2, 2),
        "chunk: dim 2 is out of range for shape [2, 3] (rank 2)",
    );
    let i = idx(vec![0], &[1]);
    msg(
        a.index_select(2, &i),
        "index_select: dim 2 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        a.index_add(2, &i, &a),
        "index_add: dim 2 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        a.gather(2, &idx(vec![0], &[1, 1])),
        "gather: dim 2 is out of range for shape [2, 3] (rank 2)",
    );
    msg(
        a.scatter_add(2, &idx(vec![0], &[1, 1]), &a),
        "scatter_add: dim 2 is out of range for shape [2, 3] (rank 2)",
    );
}

// ------------------------------------------------------------------------------ IndexOutOfRange

#[test]
fn index_out_of_range() {
    let a = z(&[2, 3]);
    msg(
        a.narrow(1, 2, 2),
        "narrow: index 4 is out of range for dim 1 of size 3 in shape [2, 3]",
    );
    msg(
        a.select(0, 2),
        "select: index 2 is out of range for dim 0 of size 2 in shape [2, 3]",
    );
    msg(
        a.get(&[1, 3]),
        "get: index 3 is out of range for dim 1 of size 3 in shape [2, 3]",
    );
    msg(
        a.clone().set(&[2, 0], 1.0),
        "set: index 2 is out of range for dim 0 of size 2 in shape [2, 3]",
    );
    msg(
        a.index_select(1, &idx(vec![0, 3], &[2])),
        "index_select: index 3 is out of range for dim 1 of size 3 in shape [2, 3]",
    );
    msg(
        a.index_select(0, &idx(vec![-1], &[1])),
        "index_select: index -1 is out of range for dim 0 of size 2 in shape [2, 3]",
    );
    msg(
        a.index_add(0, &idx(vec![2], &[1]), &z(&[1, 3])),
        "index_add: index 2 is out of range for dim 0 of size 2 in shape [2, 3]",
    );
    msg(
        a.gather(1, &idx(vec![3], &[1, 1])),
        "gather: index 3 is out of range for dim 1 of size 3 in shape [2, 3]",
    );
    msg(
        a.scatter_add(0, &idx(vec![-2], &[1, 1]), &a),
        "scatter_add: index -2 is out of range for dim 0 of size 2 in shape [2, 3]",
    );
    msg(
        T::one_hot(&idx(vec![0, 3], &[2]), 3),
        "one_hot: index 3 is out of range for dim 1 of size 3 in shape [2, 3]",
    );
    msg(
        T::one_hot(&idx(vec![-1], &[]), 2),
        "one_hot: index -1 is out of range for dim 0 of size 2 in shape [2]",
    );
}

// ------------------------------------------------------------------------------ Rank

#[test]
fn rank() {
    msg(
        z(&[2, 3, 4]).t(),
        "t: expected a 2-D tensor, got shape [2, 3, 4]",
    );
    msg(
        T::scalar(1.0).matmul(&z(&[2])),
        "matmul: expected both operands at least 1-D, got shape []",
    );
    msg(
        z(&[2]).matmul(&T::scalar(1.0)),
        "matmul: expected both operands at least 1-D, got shape []",
    );
    let mut c = z(&[2, 2]);
    msg(
        Tensor::gemm(1.0, &z(&[2]), &z(&[2, 2]), 0.0, &mut c),
        "gemm: expected 2-D operands, got shape [2]",
    );
    msg(
        T::concat(&[&T::scalar(1.0)], 0),
        "concat: expected tensors of at least 1 dim, got shape []",
    );
    msg(
        z(&[3]).index_select(0, &idx(vec![0; 4], &[2, 2])),
        "index_select: expected a 1-D index, got shape [2, 2]",
    );
    msg(
        z(&[3]).index_add(0, &idx(vec![0; 4], &[2, 2]), &z(&[4])),
        "index_add: expected a 1-D index, got shape [2, 2]",
    );
}

// ------------------------------------------------------------------------------ Reshape

#[test]
fn reshape() {
    msg(
        z(&[2, 3]).reshape(&[4]),
        "reshape: cannot reshape [2, 3] (6 elements) into [4]",
    );
    msg(
        z(&[2, 3]).t().unwrap().reshape(&[7]),
        "reshape: cannot reshape [3, 2] (6 elements) into [7]",
    );
    msg(
        idx(vec![0; 6], &[6]).reshape(&[4, 2]),
        "reshape: cannot reshape [6] (6 elements) into [4, 2]",
    );
}

// ------------------------------------------------------------------------------ BadDims

#[test]
fn bad_dims() {
    let a = z(&[2, 3, 4]);
    msg(
        a.permute(&[0, 0, 1]),
        "permute: [0, 0, 1] is not a valid set of dims for shape [2, 3, 4]",
    );
    msg(
        a.permute(&[0, 1]),
        "permute: [0, 1] is not a valid set of dims for shape [2, 3, 4]",
    );
    msg(
        a.permute(&[2, -1, 0]),
        "permute: [2, -1, 0] is not a valid set of dims for shape [2, 3, 4]",
    );
    msg(
        a.sum(&[1, -2], false),
        "sum: [1, -2] is not a valid set of dims for shape [2, 3, 4]",
    );
    msg(
        a.max(&[0, 0], true),
        "max: [0, 0] is not a valid set of dims for shape [2, 3, 4]",
    );
    msg(
        T::scalar(1.0).mean(&[0, -1], false),
        "mean: [0, -1] is not a valid set of dims for shape []",
    );
}

// ------------------------------------------------------------------------------ EmptyList

#[test]
fn empty_list() {
    msg(
        T::concat(&[], 0),
        "concat: expected a non-empty list of tensors",
    );
    msg(
        T::stack(&[], 0),
        "stack: expected a non-empty list of tensors",
    );
}

// ------------------------------------------------------------------------------ EmptyReduction

#[test]
fn empty_reduction() {
    let e = z(&[2, 0]);
    msg(
        e.max(&[1], false),
        "max: cannot reduce over a zero-sized dim in shape [2, 0]",
    );
    msg(
        e.min::<usize>(&[], true),
        "min: cannot reduce over a zero-sized dim in shape [2, 0]",
    );
    msg(
        e.argmax(1, false),
        "argmax: cannot reduce over a zero-sized dim in shape [2, 0]",
    );
    msg(
        e.argmin(-1, true),
        "argmin: cannot reduce over a zero-sized dim in shape [2, 0]",
    );
    msg(
        e.max_all(),
        "max_all: cannot reduce over a zero-sized dim in shape [2, 0]",
    );
    msg(
        e.min_all(),
        "min_all: cannot reduce over a zero-sized dim in shape [2, 0]",
    );
    // Reducing over the non-empty dim is fine: the result is empty.
    assert_eq!(z(&[0, 2]).max(&[1], false).unwrap().dims(), &[0]);
}

// ------------------------------------------------------------------------------ InvalidArgument

#[test]
fn invalid_argument() {
    msg(
        z(&[2]).clamp(1.0, -1.0),
        "clamp: min 1 must not exceed max -1 (shape [2])",
    );
    msg(
        z(&[2]).clamp(f32::NAN, 1.0),
        "clamp: min NaN must not exceed max 1 (shape [2])",
    );
    msg(
        T::arange(0.0, 1.0, -1.0),
        "arange: upper bound and larger bound inconsistent with step sign: start 0, end 1, step -1",
    );
    msg(
        z(&[2, 3]).item(),
        "item: a tensor with 6 elements (shape [2, 3]) cannot be converted to a scalar",
    );
    msg(
        z(&[2, 3]).get(&[1]),
        "get: index [1] has 1 entries for shape [2, 3]",
    );
    msg(
        z(&[2, 5]).split(0, 1),
        "split: split_size can only be 0 if the dim is 0-sized, but dim 1 has size 5 in shape [2, 5]",
    );
    msg(
        z(&[2, 5]).split_sizes(&[2, 2], 1),
        "split_sizes: sizes [2, 2] must sum to 5, the size of dim 1 in shape [2, 5]",
    );
    msg(
        z(&[2, 5]).chunk(0, 1),
        "chunk: chunks must be greater than 0, got 0 (shape [2, 5])",
    );
    msg(
        T::one_hot(&idx(vec![0; 2], &[2]), usize::MAX),
        &format!(
            "one_hot: shape [2, {}] has more elements than fit in memory",
            usize::MAX
        ),
    );
}

// ------------------------------------------------------------------------------ never panic

/// `Result` methods fail cleanly on awkward inputs: empty lists, zero-sized dims, huge sizes.
#[test]
fn awkward_inputs_do_not_panic() {
    let e = z(&[3, 0]);
    assert_eq!(e.split(1, 0).unwrap().len(), 3);
    assert_eq!(e.chunk(2, 0).unwrap().len(), 2);
    assert_eq!(e.chunk(5, 1).unwrap().len(), 5);
    assert!(e.chunk(usize::MAX, 1).is_err());
    assert_eq!(e.sum(&[1], false).unwrap().to_vec(), vec![0.0; 3]);
    assert!(
        e.mean(&[1], false)
            .unwrap()
            .to_vec()
            .iter()
            .all(|v| v.is_nan())
    );
    assert_eq!(e.softmax(1).unwrap().dims(), &[3, 0]);
    assert_eq!(
        e.index_select(1, &idx(vec![], &[0])).unwrap().dims(),
        &[3, 0]
    );
    assert!(e.index_select(1, &idx(vec![0], &[1])).is_err());
    assert_eq!(e.gather(0, &idx(vec![], &[0, 0])).unwrap().dims(), &[0, 0]);
    assert_eq!(T::one_hot(&idx(vec![], &[0]), 0).unwrap().dims(), &[0, 0]);
    assert!(T::one_hot(&idx(vec![0], &[1]), 0).is_err());
    assert!(z(&[2]).split_sizes(&[usize::MAX, 3], 0).is_err());
    assert_eq!(T::scalar(2.0).norm(2.0), 2.0);
}
