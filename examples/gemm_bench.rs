//! gemm_bench: square-product throughput of recur's GEMM, printing the lines of
//! `scripts/torch_mm.py` (`torch.mm` in the anchors' Python environment) with `recur` in place
//! of `torch.mm`:
//!
//! ```text
//! recur kernel: avx512 f32 12x32 f64 12x16
//! recur f32 threads=1 n=1024 GFLOP/s=75.9
//! ```
//!
//! The first line names the kernel that ran ([`kernel_name`]; `RECUR_GEMM_ISA=avx2` or
//! `portable` caps it).
//!
//! Sizes 64..1024, f32 and f64; for each, enough products per batch for ~0.2 GFLOP (at least
//! 3), one warm-up batch, then the median of 11 timed batches, as the script does.
//!
//! Usage: `cargo run --release --example gemm_bench -- [--threads N[,N...]]
//! [--isa ISA[,ISA...]] [--interleave] [--quick]` (no --threads: 1 then 2). `--isa` (names
//! of `recur_tensor::gemm::Isa`: `portable`, `avx2`, `avx512`) times the product with each
//! instruction set capped in turn and adds `isa=...` to the lines. `--interleave` times the
//! configurations' batches in turn (one batch with each thread count and ISA, repeated), so
//! that their ratio is measured under the same machine load; without it each configuration
//! runs all its batches in a row, as the script does.

mod bench_common;
use bench_common::{bad_argument, median, threads_arg};
use recur::tensor::gemm::{
    GemmScalar, Isa, MatMut, MatRef, gemm, kernel_name, set_num_threads, with_isa_cap,
};
use std::hint::black_box;
use std::time::Instant;

const SIZES: [usize; 5] = [64, 128, 256, 512, 1024];

/// Deterministic operands in [-1, 1).
fn operand<T: GemmScalar + From<f32>>(len: usize, seed: usize) -> Vec<T> {
    (0..len)
        .map(|i| T::from(((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.5 - 1.0))
        .collect()
}

/// A thread count and an optional ISA cap.
type Setup = (usize, Option<Isa>);

/// Median seconds per product of `n x n` matrices with each setup in `counts`
/// (interleaved batches or one setup after the other), `batches` timed batches each.
fn time_products<T: GemmScalar + From<f32>>(
    n: usize,
    counts: &[Setup],
    interleave: bool,
    batches: usize,
) -> Vec<f64> {
    let a = operand::<T>(n * n, 1);
    let b = operand::<T>(n * n, 2);
    let mut c = vec![T::ZERO; n * n];
    let reps = (2e8 / (n * n * n) as f64).max(3.0) as usize;
    let mut batch = |(threads, isa): Setup| {
        set_num_threads(threads);
        with_isa_cap(isa.unwrap_or(Isa::Avx512), || {
            let s = Instant::now();
            for _ in 0..reps {
                gemm(
                    T::ONE,
                    MatRef::row_major(black_box(&a), n, n),
                    MatRef::row_major(black_box(&b), n, n),
                    T::ZERO,
                    MatMut::row_major(&mut c, n, n),
                );
            }
            s.elapsed().as_secs_f64() / reps as f64
        })
    };
    let mut times = vec![Vec::with_capacity(batches); counts.len()];
    if interleave {
        for &th in counts {
            batch(th);
        }
        for _ in 0..batches {
            for (&th, t) in counts.iter().zip(&mut times) {
                t.push(batch(th));
            }
        }
    } else {
        for (&th, t) in counts.iter().zip(&mut times) {
            batch(th);
            for _ in 0..batches {
                t.push(batch(th));
            }
        }
    }
    set_num_threads(0);
    times.into_iter().map(median).collect()
}

fn report<T: GemmScalar + From<f32>>(
    name: &str,
    counts: &[Setup],
    interleave: bool,
    batches: usize,
) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    for n in SIZES {
        let secs = time_products::<T>(n, counts, interleave, batches);
        for (&(th, isa), s) in counts.iter().zip(secs) {
            let gflops = 2.0 * (n * n * n) as f64 / s / 1e9;
            let isa = isa.map(|i| format!(" isa={i}")).unwrap_or_default();
            lines.push((
                th,
                format!("recur {name} threads={th}{isa} n={n} GFLOP/s={gflops:.1}"),
            ));
        }
    }
    lines
}

fn main() -> std::process::ExitCode {
    let mut counts = vec![1, 2];
    let mut isas: Vec<Option<Isa>> = vec![None];
    let mut interleave = false;
    let mut quick = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => match threads_arg(args.next()) {
                Ok(n) => counts = n,
                Err(code) => return code,
            },
            "--isa" => {
                let list = args.next().unwrap_or_default();
                let parsed: Option<Vec<Isa>> = list.split(',').map(Isa::parse).collect();
                match parsed {
                    Some(l) if !l.is_empty() => isas = l.into_iter().map(Some).collect(),
                    _ => {
                        eprintln!(
                            "error: --isa takes a comma-separated list of portable, avx2, \
                             avx512, got {list:?}"
                        );
                        return std::process::ExitCode::from(2);
                    }
                }
            }
            "--interleave" => interleave = true,
            "--quick" => quick = true,
            other => {
                return bad_argument(
                    other,
                    "gemm_bench [--threads N[,N...]] [--isa ISA[,ISA...]] [--interleave] [--quick]",
                );
            }
        }
    }
    let batches = if quick { 1 } else { 11 };
    for isa in &isas {
        let name = with_isa_cap(isa.unwrap_or(Isa::Avx512), kernel_name);
        println!("recur kernel: {name}");
    }
    let setups: Vec<Setup> = counts
        .iter()
        .flat_map(|&th| isas.iter().map(move |&isa| (th, isa)))
        .collect();
    // Printed in the script's order: by thread count, then f32 before f64, then size.
    let mut lines = report::<f32>("f32", &setups, interleave, batches);
    lines.extend(report::<f64>("f64", &setups, interleave, batches));
    for &th in &counts {
        for (_, line) in lines.iter().filter(|(t, _)| *t == th) {
            println!("{line}");
        }
    }
    std::process::ExitCode::SUCCESS
}
