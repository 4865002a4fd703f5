//! Helpers shared by the benchmark examples (`rnn_bench`, `gemm_bench`).

/// The error printed for a bad `--threads` value.
pub const THREADS_ERROR: &str =
    "error: --threads takes numbers >= 1, comma-separated (e.g. 2 or 1,2)";

/// `"2"` or `"1,2"`: thread counts, each >= 1.
pub fn parse_counts(s: &str) -> Option<Vec<usize>> {
    s.split(',')
        .map(|x| x.trim().parse().ok().filter(|&n: &usize| n >= 1))
        .collect()
}

/// The median (upper middle for an even count) of a non-empty sample.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
