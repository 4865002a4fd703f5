//! One LSTM and one GRU cell step (forward and backward of the element-wise math, no GEMM) on
//! a block of batch rows, at each instruction set the CPU has: what `vmath::vectorized` buys
//! the cells over the portable (baseline SSE2) build of the same loops.

use criterion::{Criterion, criterion_group, criterion_main};
use recur_nn::gru::GruMath;
use recur_nn::lstm::LstmMath;
use recur_nn::recurrent::{Backward, Cell, Forward, Recurrence};
use recur_tensor::gemm::{Isa, with_isa_cap};
use recur_tensor::vmath::vectorized;
use std::hint::black_box;

/// Buffers for one step of `C` with `rows` rows of hidden size `h`.
struct Step {
    gates: Vec<f32>,
    hidden_gates: Vec<f32>,
    prev: Vec<f32>,
    next: Vec<f32>,
    saved: Vec<f32>,
    d_state: Vec<f32>,
    d_gates: Vec<f32>,
    d_hidden: Vec<f32>,
}

impl Step {
    fn new<C: Cell>(h: usize, rows: usize) -> Self {
        let val = |n: usize, s: usize| -> Vec<f32> {
            (0..n)
                .map(|i| ((i * 7919 + s * 104_729) % 2003) as f32 / 333.0 - 3.0)
                .collect()
        };
        let (gw, sw) = (C::GATES * h, C::STATE_PARTS * h);
        let separate = C::RECURRENCE == Recurrence::Separate;
        Step {
            gates: val(rows * gw, 1),
            hidden_gates: if separate {
                val(rows * gw, 2)
            } else {
                Vec::new()
            },
            prev: val(rows * sw, 3),
            next: vec![0.0; rows * sw],
            saved: vec![0.0; rows * C::SAVED * h],
            d_state: val(rows * sw, 4),
            d_gates: vec![0.0; rows * gw],
            d_hidden: vec![0.0; if separate { rows * gw } else { 0 }],
        }
    }

    /// One forward and backward step from `start`'s values (copied in first, so that repeated
    /// runs do not drift into subnormal numbers).
    fn run<C: Cell>(&mut self, start: &Step, cell: &C, h: usize, rows: usize) {
        self.gates.copy_from_slice(&start.gates);
        self.d_state.copy_from_slice(&start.d_state);
        vectorized(
            #[inline(always)]
            || {
                cell.forward(Forward {
                    hidden: h,
                    rows,
                    gates: &mut self.gates,
                    hidden_gates: &self.hidden_gates,
                    prev: &self.prev,
                    next: &mut self.next,
                    saved: &mut self.saved,
                })
            },
        );
        vectorized(
            #[inline(always)]
            || {
                cell.backward(Backward {
                    hidden: h,
                    rows,
                    gates: &self.gates,
                    saved: &self.saved,
                    prev: &self.prev,
                    next: &self.next,
                    d_state: &mut self.d_state,
                    d_gates: &mut self.d_gates,
                    d_hidden_gates: &mut self.d_hidden,
                })
            },
        );
        black_box(&self.d_gates);
    }
}

fn bench_cell<C: Cell>(c: &mut Criterion, cell: C) {
    let (h, rows) = (512, 32);
    let mut g = c.benchmark_group(format!("{}_step_h{h}_rows{rows}", C::NAME));
    for isa in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
        if !isa.is_supported() {
            continue;
        }
        let start = Step::new::<C>(h, rows);
        let mut step = Step::new::<C>(h, rows);
        g.bench_function(isa.name(), |b| {
            b.iter(|| with_isa_cap(isa, || step.run(&start, &cell, h, rows)))
        });
    }
    g.finish();
}

fn cells(c: &mut Criterion) {
    bench_cell(c, LstmMath);
    bench_cell(c, GruMath);
}

criterion_group!(benches, cells);
criterion_main!(benches);
