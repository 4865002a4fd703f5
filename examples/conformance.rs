//! Runs PyTorch reference cases (the `shared/fixtures` safetensors format: kinds RNN, RNNCell,
//! LSTM, LSTMCell, GRU, GRUCell, optim) through recur in f64 and prints one line per file:
//!
//! ```text
//! PASS rnn_seed_example max_abs_err=2.2e-16
//! FAIL rnn_long_seq_tanh tensor=grad.weight_hh_l0 max_abs_err=3.1e-7
//! ```
//!
//! Agreement: |a - b| <= 1e-9 + 1e-9 * |b|. Exit status 1 if any file fails.
//!
//! Usage: `cargo run --release --example conformance -- FILE...`

use recur_conformance::{Tolerance, run_file};
use std::process::ExitCode;

fn main() -> ExitCode {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: conformance FILE.safetensors...");
        return ExitCode::from(2);
    }
    let mut failed = false;
    for f in &files {
        let name = std::path::Path::new(f)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| f.clone());
        match run_file::<f64>(f, Tolerance::F64) {
            Ok(r) => match &r.failed {
                None => println!("PASS {} max_abs_err={:.3e}", r.name, r.max_abs_err),
                Some((tensor, _)) => {
                    failed = true;
                    println!(
                        "FAIL {} tensor={} max_abs_err={:.3e}",
                        r.name, tensor, r.max_abs_err
                    );
                }
            },
            Err(e) => {
                failed = true;
                println!("FAIL {name} error={e}");
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
