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

/// `println!` that ends the program quietly when stdout is closed (`... | head`), as a
/// command-line tool should, instead of panicking on the broken pipe.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(141); // 128 + SIGPIPE, what a shell reports for a closed pipe
        }
    }};
}

use clap::Parser;
use recur_conformance::{Tolerance, run_file};
use std::process::ExitCode;

/// Check recur against PyTorch: run reference cases (safetensors files written by the
/// fixture scripts: RNN, RNNCell, LSTM, LSTMCell, GRU, GRUCell, optim) through recur in f64
/// and print PASS or FAIL per file.
///
/// Agreement: |a - b| <= 1e-9 + 1e-9 * |b| for every output and gradient. Exit status 0 if
/// every file passes, 1 if one fails or cannot be read, 2 on a usage error.
///
/// Example: conformance nn/tests/fixtures/*.safetensors
#[derive(Parser, Debug)]
#[command(name = "conformance", verbatim_doc_comment)]
struct Args {
    /// Fixture files (.safetensors), one PASS/FAIL line each.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
}

fn main() -> ExitCode {
    let files = Args::parse().files;
    let mut failed = false;
    for f in &files {
        let name = std::path::Path::new(f)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| f.clone());
        match run_file::<f64>(f, Tolerance::F64) {
            Ok(r) => match &r.failed {
                None => say!("PASS {} max_abs_err={:.3e}", r.name, r.max_abs_err),
                Some((tensor, _)) => {
                    failed = true;
                    say!(
                        "FAIL {} tensor={} max_abs_err={:.3e}",
                        r.name,
                        tensor,
                        r.max_abs_err
                    );
                }
            },
            Err(e) => {
                failed = true;
                say!("FAIL {name} error={e}");
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
