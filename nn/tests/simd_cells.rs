//! The engine runs every cell's step through `vmath::vectorized`, which compiles it for the
//! CPU's widest instruction set. These tests check that each instruction set this CPU has
//! gives the portable path's results bit for bit, for every built-in cell, forward and
//! backward, in f32 and f64, at sizes that leave vector tails.

use recur_nn::gru::GruMath;
use recur_nn::lstm::LstmMath;
use recur_nn::recurrent::{Backward, Cell, Forward, Recurrence};
use recur_nn::rnn::{Nonlinearity, RnnMath};
use recur_tensor::Float;
use recur_tensor::gemm::{Isa, with_isa_cap};
use recur_tensor::vmath::vectorized;

/// Deterministic values in about [-3, 3], different for each `seed`.
fn values<T: Float>(n: usize, seed: usize) -> Vec<T> {
    (0..n)
        .map(|i| T::from_f64((((i + 1) * 7919 + seed * 104_729) % 2003) as f64 / 333.0 - 3.0))
        .collect()
}

/// Everything one forward and one backward step of `cell` writes, run at `isa`.
fn step<C: Cell, T: Float>(cell: &C, isa: Isa, hidden: usize, rows: usize) -> Vec<Vec<T>> {
    let gw = C::GATES * hidden;
    let sw = C::STATE_PARTS * hidden;
    let separate = C::RECURRENCE == Recurrence::Separate;
    let mut gates = values::<T>(rows * gw, 1);
    let hidden_gates = if separate {
        values::<T>(rows * gw, 2)
    } else {
        Vec::new()
    };
    let prev = values::<T>(rows * sw, 3);
    let mut next = vec![T::ZERO; rows * sw];
    let mut saved = vec![T::ZERO; rows * C::SAVED * hidden];
    let mut d_state = values::<T>(rows * sw, 4);
    let mut d_gates = vec![T::ZERO; rows * gw];
    let mut d_hidden = vec![T::ZERO; if separate { rows * gw } else { 0 }];
    with_isa_cap(isa, || {
        vectorized(
            #[inline(always)]
            || {
                cell.forward(Forward {
                    hidden,
                    rows,
                    gates: &mut gates,
                    hidden_gates: &hidden_gates,
                    prev: &prev,
                    next: &mut next,
                    saved: &mut saved,
                })
            },
        );
        vectorized(
            #[inline(always)]
            || {
                cell.backward(Backward {
                    hidden,
                    rows,
                    gates: &gates,
                    saved: &saved,
                    prev: &prev,
                    next: &next,
                    d_state: &mut d_state,
                    d_gates: &mut d_gates,
                    d_hidden_gates: &mut d_hidden,
                })
            },
        );
    });
    vec![gates, next, saved, d_state, d_gates, d_hidden]
}

fn same_bits<T: Float>(a: &[Vec<T>], b: &[Vec<T>]) -> bool {
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .all(|(x, y)| x.to_f64().to_bits() == y.to_f64().to_bits())
}

fn check<C: Cell, T: Float>(cell: &C) {
    for isa in [Isa::Avx2, Isa::Avx512] {
        if !isa.is_supported() {
            eprintln!("skipped: this CPU has no {isa}");
            continue;
        }
        let mut nonzero = false;
        for (hidden, rows) in [(1, 1), (7, 3), (16, 2), (17, 5), (33, 1), (64, 4)] {
            let portable = step::<C, T>(cell, Isa::Portable, hidden, rows);
            let fast = step::<C, T>(cell, isa, hidden, rows);
            assert!(
                same_bits(&portable, &fast),
                "{} {}: {isa} differs from the portable path at hidden {hidden}, rows {rows}",
                C::NAME,
                T::DTYPE
            );
            nonzero |= portable[1]
                .iter()
                .chain(&portable[4])
                .any(|&x| x != T::ZERO);
        }
        // The steps did something: new states and gate gradients are not all zero.
        assert!(nonzero, "{}: every output zero", C::NAME);
    }
}

#[test]
fn every_cell_matches_the_portable_path_on_every_isa() {
    for act in [Nonlinearity::Tanh, Nonlinearity::Relu] {
        check::<_, f32>(&RnnMath::new(act));
        check::<_, f64>(&RnnMath::new(act));
    }
    check::<_, f32>(&LstmMath);
    check::<_, f64>(&LstmMath);
    check::<_, f32>(&GruMath);
    check::<_, f64>(&GruMath);
}

/// The ReLU keeps NaN and maps both zeros to +0 on every path.
#[test]
fn relu_special_values_on_every_isa() {
    for isa in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
        if !isa.is_supported() {
            continue;
        }
        let mut v = [
            f32::NAN,
            -0.0,
            0.0,
            -1.0,
            2.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ];
        with_isa_cap(isa, || {
            vectorized(
                #[inline(always)]
                || Nonlinearity::Relu.apply(&mut v),
            )
        });
        assert!(v[0].is_nan(), "{isa}");
        assert_eq!(
            v[1..].iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            [0.0f32, 0.0, 0.0, 2.0, f32::INFINITY, 0.0]
                .iter()
                .map(|x| x.to_bits())
                .collect::<Vec<_>>(),
            "{isa}"
        );
    }
}
