//! Extreme sizes through every public constructor: an `Err` naming the problem, never a
//! wrapped element count, a panic or an allocation abort.
//!
//! Two kinds of size: element counts that overflow `usize` (`2^32 x 2^32`, `2^62 x 4`,
//! `usize::MAX x 2`), and counts that fit but whose buffer cannot exist (`2^50` elements:
//! 4 PiB, more than a 47-bit address space).

use recur::nn::{
    Embedding, Gru, GruCell, GruConfig, Linear, Lstm, LstmCell, LstmConfig, NnError, Nonlinearity,
    Rnn, RnnCell, RnnConfig,
};
use recur::seeded_rng;
use recur::tensor::{IndexTensor, Tensor, TensorError};

/// Shapes whose element count overflows, or whose bytes cannot be allocated.
const SHAPES: &[&[usize]] = &[
    &[1 << 32, 1 << 32],
    &[1 << 62, 4],
    &[usize::MAX, 2],
    &[2, 3, usize::MAX / 4],
    &[1 << 40, 1 << 10],
    &[1 << 25, 1 << 25],
];

/// `(rows, cols)` for the modules: overflowing products, and products too large to allocate.
const SIZES: &[(usize, usize)] = &[
    (1 << 32, 1 << 32),
    (1 << 62, 4),
    (4, 1 << 62),
    (usize::MAX, 2),
    (1 << 40, 1 << 10),
    (1 << 24, 1 << 24),
];

fn tensor_err<T>(what: &str, r: Result<T, TensorError>) {
    let e = r
        .err()
        .unwrap_or_else(|| panic!("{what}: expected an error"));
    let s = e.to_string();
    assert!(
        s.contains("more elements than fit in memory") || s.contains("cannot allocate"),
        "{what}: {s}"
    );
}

fn nn_err<T>(what: &str, r: Result<T, NnError>) {
    assert!(r.is_err(), "{what}: expected an error");
}

#[test]
fn tensor_constructors_refuse_extreme_shapes() {
    let mut rng = seeded_rng(0);
    for &shape in SHAPES {
        tensor_err(
            &format!("try_zeros {shape:?}"),
            Tensor::<f32>::try_zeros(shape),
        );
        tensor_err(
            &format!("try_ones {shape:?}"),
            Tensor::<f64>::try_ones(shape),
        );
        tensor_err(
            &format!("try_full {shape:?}"),
            Tensor::<f32>::try_full(shape, 2.0),
        );
        tensor_err(
            &format!("try_uniform {shape:?}"),
            Tensor::<f32>::try_uniform(shape, -1.0, 1.0, &mut rng),
        );
        tensor_err(
            &format!("try_normal {shape:?}"),
            Tensor::<f64>::try_normal(shape, 0.0, 1.0, &mut rng),
        );
        // from_vec and IndexTensor::from_vec: an error too (a length mismatch at worst).
        assert!(Tensor::<f32>::from_vec(vec![], shape).is_err(), "{shape:?}");
        assert!(
            Tensor::<f32>::from_slice(&[1.0], shape).is_err(),
            "{shape:?}"
        );
        assert!(IndexTensor::from_vec(vec![], shape).is_err(), "{shape:?}");
    }
    for n in [1usize << 32, usize::MAX, 1 << 25] {
        tensor_err(&format!("try_eye {n}"), Tensor::<f32>::try_eye(n));
    }
    assert!(Tensor::<f32>::arange(0.0, 1e30, 1.0).is_err());
    assert!(Tensor::<f64>::arange(0.0, f64::MAX, 1e-300).is_err());
    // A shape that wraps to zero elements is refused, not turned into an empty tensor.
    let wrapped = std::panic::catch_unwind(|| {
        Tensor::<f32>::uniform(&[1 << 32, 1 << 32], -1.0, 1.0, &mut seeded_rng(0)).numel()
    });
    assert!(
        wrapped.is_err(),
        "uniform of 2^64 elements returned {wrapped:?}"
    );
    // Ordinary sizes still work, and the empty shape is not an error.
    assert_eq!(Tensor::<f32>::try_zeros(&[0, 1 << 40]).unwrap().numel(), 0);
    assert_eq!(Tensor::<f32>::try_eye(3).unwrap().to_vec()[4], 1.0);
}

#[test]
fn module_constructors_refuse_extreme_sizes() {
    let mut rng = seeded_rng(0);
    for &(a, b) in SIZES {
        let w = format!("({a}, {b})");
        nn_err(&format!("Linear {w}"), Linear::<f32>::new(a, b, &mut rng));
        nn_err(
            &format!("Linear no bias {w}"),
            Linear::<f32>::with_bias(a, b, false, &mut rng),
        );
        nn_err(
            &format!("Embedding {w}"),
            Embedding::<f32>::new(a, b, &mut rng),
        );
        for bias in [false, true] {
            nn_err(
                &format!("Rnn {w}"),
                Rnn::<f32>::new(RnnConfig::new(a, b).bias(bias), &mut rng),
            );
            nn_err(
                &format!("RnnCell {w}"),
                RnnCell::<f32>::new(a, b, bias, Nonlinearity::Tanh, &mut rng),
            );
            nn_err(
                &format!("Lstm {w}"),
                Lstm::<f32>::new(LstmConfig::new(a, b).bias(bias), &mut rng),
            );
            nn_err(
                &format!("LstmCell {w}"),
                LstmCell::<f32>::new(a, b, bias, &mut rng),
            );
            nn_err(
                &format!("Gru {w}"),
                Gru::<f32>::new(GruConfig::new(a, b).bias(bias), &mut rng),
            );
            nn_err(
                &format!("GruCell {w}"),
                GruCell::<f32>::new(a, b, bias, &mut rng),
            );
        }
    }
    // Gate rows that overflow only once multiplied by the gate count.
    let h = usize::MAX / 3;
    nn_err(
        "LstmCell gates",
        LstmCell::<f32>::new(1, h, false, &mut rng),
    );
    nn_err("GruCell gates", GruCell::<f32>::new(1, h, false, &mut rng));
    // Several layers: the later layers' input is hidden * directions.
    nn_err(
        "Rnn layers",
        Rnn::<f32>::new(
            RnnConfig::new(1, 1 << 33).num_layers(2).bidirectional(true),
            &mut rng,
        ),
    );
}
