//! Helpers shared by the benchmark examples (`rnn_bench`, `gemm_bench`).

use std::process::ExitCode;

/// The error printed for a bad `--threads` value.
const THREADS_ERROR: &str = "error: --threads takes numbers >= 1, comma-separated (e.g. 2 or 1,2)";

/// `"2"` or `"1,2"`: thread counts, each >= 1.
fn parse_counts(s: &str) -> Option<Vec<usize>> {
    s.split(',')
        .map(|x| x.trim().parse().ok().filter(|&n: &usize| n >= 1))
        .collect()
}

/// The thread counts given after `--threads` (`value`: the next argument, if any); on a
/// missing or bad value, prints the error and gives the exit code (2) to return.
pub fn threads_arg(value: Option<String>) -> Result<Vec<usize>, ExitCode> {
    value.as_deref().and_then(parse_counts).ok_or_else(|| {
        eprintln!("{THREADS_ERROR}");
        ExitCode::from(2)
    })
}

/// Prints the error for an unknown argument with the program's usage line, and gives the exit
/// code (2) to return.
pub fn bad_argument(arg: &str, usage: &str) -> ExitCode {
    eprintln!("error: unknown argument {arg:?}; usage: {usage}");
    ExitCode::from(2)
}

/// The median (upper middle for an even count) of a non-empty sample.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
