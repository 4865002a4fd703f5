//! Vanishing and exploding gradients, measured.
//!
//! Backpropagation through time multiplies the gradient by one Jacobian per step:
//! `dL/dh_{t-1} = W_hh^T (φ'(z_t) ⊙ dL/dh_t)`, so
//! `‖dL/dh_{t-1}‖ <= ‖W_hh‖₂ · max|φ'(z_t)| · ‖dL/dh_t‖`, with `|tanh'| <= 1`, `relu' ∈ {0, 1}`
//! (and `σ' <= 1/4` for a sigmoid). Over `T` steps that is a geometric sequence: below 1 the
//! gradient vanishes, above 1 it can explode, in `f32` up to `inf` and then `NaN`.
//!
//! This example runs a vanilla RNN (recur's composed reference, so every `h_t` is a var) over a
//! long random sequence with `W_hh = s · Q` (`Q` orthogonal, so the spectral radius and
//! `‖W_hh‖₂` are both `s`), takes `L = v · h_T`, asks the tape to retain `dL/dh_t` for every
//! step, and prints `‖dL/dh_t‖` for t = T..1 for tanh and relu and several `s`, with the
//! measured per-step rate next to its bound. Then it trains an exploding configuration for a
//! few SGD steps with and without `clip_grad_norm`: without, the parameters become `NaN`;
//! with, every update stays finite.
//!
//! ```text
//! cargo run --release --example gradient_flow                 # T = 300, H = 64
//! cargo run --release --example gradient_flow -- --quick      # CI smoke run, a second
//! ```
//!
//! Writes `gradient_flow.svg` and `norms.csv` into `--out` (default `runs/gradient_flow/`).

use recur::plot;

use clap::Parser;
use recur::nn::optim::{Optimizer, Sgd};
use recur::nn::{Module, Nonlinearity, Rnn, RnnConfig, Tape, clip_grad_norm};
use recur::tensor::Tensor;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(about = "Measure dL/dh_t over a long sequence: vanishing, exploding, and clipping")]
struct Args {
    /// Sequence length T.
    #[arg(long, default_value_t = 300)]
    steps: usize,
    /// Hidden size.
    #[arg(long, default_value_t = 64)]
    hidden: usize,
    /// Input size (inputs are N(0, 1)).
    #[arg(long, default_value_t = 8)]
    input: usize,
    /// Scales s of W_hh = s * Q (Q orthogonal): the spectral radius.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.5,0.9,1.0,1.1,1.5,2.0,3.0"
    )]
    scales: Vec<f64>,
    /// Seed for the weights, the input and v.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory for the SVG and the CSV.
    #[arg(long, default_value = "runs/gradient_flow")]
    out: PathBuf,
    /// A smoke run: T = 40, H = 16, three scales, three training steps.
    #[arg(long)]
    quick: bool,
    /// Activation of the clipping demo (tanh or relu).
    #[arg(long, default_value = "relu")]
    clip_act: String,
    /// Scale s of the clipping demo.
    #[arg(long, default_value_t = 1.5)]
    clip_scale: f64,
    /// max_norm for clip_grad_norm.
    #[arg(long, default_value_t = 1.0)]
    max_norm: f64,
    /// SGD learning rate of the clipping demo.
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
    /// SGD steps of the clipping demo.
    #[arg(long, default_value_t = 10)]
    train_steps: usize,
}

/// An orthogonal matrix (Gram–Schmidt on a Gaussian one), row-major `n x n`.
fn orthogonal(n: usize, seed: u64) -> Vec<f64> {
    let g = Tensor::<f64>::normal(&[n, n], 0.0, 1.0, &mut recur::seeded_rng(seed)).to_vec();
    let mut q: Vec<Vec<f64>> = Vec::with_capacity(n);
    for i in 0..n {
        let mut v = g[i * n..(i + 1) * n].to_vec();
        for _ in 0..2 {
            // twice, for orthogonality to machine precision
            for u in &q {
                let d: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
                for (a, b) in v.iter_mut().zip(u) {
                    *a -= d * b;
                }
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        q.push(v.iter().map(|a| a / norm).collect());
    }
    q.concat()
}

/// ‖W‖₂ by power iteration on W^T W.
fn spectral_norm(w: &[f64], n: usize) -> f64 {
    let mut x = vec![1.0 / (n as f64).sqrt(); n];
    let mut sigma = 0.0;
    for _ in 0..200 {
        let y: Vec<f64> = (0..n)
            .map(|i| (0..n).map(|j| w[i * n + j] * x[j]).sum())
            .collect();
        let z: Vec<f64> = (0..n)
            .map(|j| (0..n).map(|i| w[i * n + j] * y[i]).sum())
            .collect();
        let norm = z.iter().map(|a| a * a).sum::<f64>().sqrt();
        sigma = norm.sqrt();
        x = z.iter().map(|a| a / norm).collect();
    }
    sigma
}

/// An RNN with the example's weights: PyTorch init from `seed`, then `W_hh = s Q`.
fn model(args: &Args, act: Nonlinearity, q: &[f64], s: f64) -> Rnn<f32> {
    let cfg = RnnConfig::new(args.input, args.hidden).nonlinearity(act);
    let mut rnn = Rnn::<f32>::new(cfg, &mut recur::seeded_rng(args.seed)).expect("valid config");
    for (name, p) in rnn.named_parameters_mut() {
        if name == "weight_hh_l0" {
            let w: Vec<f32> = q.iter().map(|v| (s * v) as f32).collect();
            p.set_value(Tensor::from_vec(w, &[args.hidden, args.hidden]).expect("H x H"));
        }
    }
    rnn
}

/// One measured row of the table.
struct Row {
    act: Nonlinearity,
    scale: f64,
    w_norm: f64,
    /// ‖dL/dh_t‖ for t = T, T-1, ..., 1 (index k is t = T - k).
    norms: Vec<f64>,
    /// Geometric mean per-step ratio over the finite, non-zero stretch.
    rate: f64,
    /// Its bound: geometric mean of ‖W_hh‖₂ · max_j |φ'(z_t)_j| over the same steps.
    bound: f64,
    /// Mean |φ'(z)| over all steps and units.
    mean_dphi: f64,
    /// The largest |h_t| of the forward pass (NaN if one is NaN).
    h_max: f64,
    /// The first t (1-based) at which the forward state is not finite.
    h_bad: Option<usize>,
}

fn measure(args: &Args, act: Nonlinearity, q: &[f64], s: f64) -> Row {
    let (t_len, h) = (args.steps, args.hidden);
    let rnn = model(args, act, q, s);
    let x = Tensor::<f32>::normal(
        &[t_len, 1, args.input],
        0.0,
        1.0,
        &mut recur::seeded_rng(args.seed + 1),
    );
    let v = Tensor::<f32>::uniform(&[1, h], -1.0, 1.0, &mut recur::seeded_rng(args.seed + 2));
    let tape = Tape::new();
    let params = rnn.param_vars(&tape);
    let c = rnn
        .forward_composed(&tape, &tape.constant(x), None, None, &params)
        .expect("shapes fit");
    // The retained-gradient API: mark every h_t, then read dL/dh_t from the gradient store.
    let states: Vec<_> = c.states[0][0]
        .iter()
        .map(|s| s.clone().retain_grad())
        .collect();
    let last = states.last().expect("T >= 1");
    let loss = last
        .mul(&tape.constant(v))
        .and_then(|l| l.sum_all())
        .expect("scalar");
    let grads = tape.backward(&loss).expect("backward");
    let norms: Vec<f64> = states
        .iter()
        .rev()
        .map(|s| {
            grads.of(s).map_or(0.0, |g| {
                g.to_vec()
                    .iter()
                    .map(|&a| (a as f64).powi(2))
                    .sum::<f64>()
                    .sqrt()
            })
        })
        .collect();
    // φ'(z_t) from h_t: tanh' = 1 - h², relu' = [h > 0].
    let dphi: Vec<Vec<f64>> = states
        .iter()
        .map(|s| {
            s.value()
                .to_vec()
                .iter()
                .map(|&y| match act {
                    Nonlinearity::Tanh => 1.0 - (y as f64).powi(2),
                    Nonlinearity::Relu => f64::from(u8::from(y > 0.0)),
                })
                .collect()
        })
        .collect();
    let w: Vec<f64> = q.iter().map(|v| s * v).collect();
    let w_norm = spectral_norm(&w, h);
    // The stretch k = 0..=span where the norms are finite and non-zero.
    let span = norms
        .iter()
        .take_while(|n| n.is_finite() && **n > 0.0)
        .count()
        .saturating_sub(1);
    let (rate, bound) = if span > 0 {
        let rate = (norms[span] / norms[0]).powf(1.0 / span as f64);
        // Step k -> k+1 goes from h_t to h_{t-1} through φ'(z_t), t = T - k.
        let log_b: f64 = (0..span)
            .map(|k| {
                let m = dphi[t_len - 1 - k].iter().cloned().fold(0.0, f64::max);
                (w_norm * m).ln()
            })
            .sum();
        (rate, (log_b / span as f64).exp())
    } else {
        (f64::NAN, f64::NAN)
    };
    let all: Vec<f64> = dphi.iter().flatten().copied().collect();
    let mean_dphi = all.iter().sum::<f64>() / all.len().max(1) as f64;
    let hv: Vec<Vec<f32>> = states.iter().map(|s| s.value().to_vec()).collect();
    let h_bad = hv
        .iter()
        .position(|h| h.iter().any(|v| !v.is_finite()))
        .map(|t| t + 1);
    let h_max = hv.iter().flatten().fold(0.0f64, |a, &b| {
        if a.is_nan() || b.is_nan() {
            f64::NAN
        } else {
            a.max(b.abs() as f64)
        }
    });
    Row {
        act,
        scale: s,
        w_norm,
        norms,
        rate,
        bound,
        mean_dphi,
        h_max,
        h_bad,
    }
}

fn sci(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        "inf".into()
    } else if v == 0.0 {
        "0".into()
    } else {
        format!("{v:.1e}")
    }
}

fn verdict(r: &Row) -> String {
    let last = *r.norms.last().expect("T >= 1");
    if let Some(t) = r.h_bad {
        return format!("forward overflows (h_t non-finite from t={t})");
    }
    if r.norms.iter().any(|n| n.is_nan()) {
        "explodes to NaN"
    } else if r.norms.iter().any(|n| n.is_infinite()) {
        "explodes to inf"
    } else if last == 0.0 {
        "vanishes (underflow to 0)"
    } else if r.rate > 1.01 {
        "explodes"
    } else if r.rate < 0.99 {
        "vanishes"
    } else {
        "roughly flat"
    }
    .to_string()
}

/// One SGD run of the clipping demo: per step (loss, total grad norm before clipping,
/// max |param| after the update).
fn train(args: &Args, act: Nonlinearity, q: &[f64], clip: Option<f64>) -> Vec<(f64, f64, f64)> {
    let mut rnn = model(args, act, q, args.clip_scale);
    let mut opt = Sgd::<f32>::new(args.lr).expect("valid lr");
    let x = Tensor::<f32>::normal(
        &[args.steps, 1, args.input],
        0.0,
        1.0,
        &mut recur::seeded_rng(args.seed + 1),
    );
    let target = Tensor::<f32>::full(&[1, 1, args.hidden], 0.5);
    let mut out = Vec::new();
    for _ in 0..args.train_steps {
        let (loss, mut grads) = {
            let tape = Tape::new();
            let (_, h_n) = rnn
                .forward(&tape, &tape.constant(x.clone()), None)
                .expect("shapes fit");
            // L = ½ ‖h_T - y‖²
            let loss = h_n
                .sub(&tape.constant(target.clone()))
                .and_then(|d| d.square())
                .and_then(|d| d.sum_all())
                .and_then(|d| d.mul_scalar(0.5))
                .expect("scalar");
            let grads = tape.backward(&loss).expect("backward");
            (loss.value().to_vec()[0] as f64, grads)
        };
        let norm = match clip {
            Some(m) => clip_grad_norm(&mut grads, m, 2.0, false).expect("valid max_norm"),
            None => total_norm(&grads),
        };
        opt.step_modules(&mut [&mut rnn], &grads)
            .expect("shapes fit");
        let max_p = rnn
            .named_parameters()
            .iter()
            .flat_map(|(_, p)| p.value().to_vec())
            .map(|v| v.abs() as f64)
            .fold(0.0, |a: f64, b| {
                if b.is_nan() || a.is_nan() {
                    f64::NAN
                } else {
                    a.max(b)
                }
            });
        out.push((loss, norm, max_p));
    }
    out
}

fn act_name(a: Nonlinearity) -> &'static str {
    a.as_str()
}

/// A markdown table row.
fn md_row(cells: &[String]) -> String {
    format!("| {} |", cells.join(" | "))
}

/// The total 2-norm of every parameter gradient (what `clip_grad_norm` measures), without
/// touching them.
fn total_norm(grads: &recur::nn::Grads<f32>) -> f64 {
    grads
        .params()
        .flat_map(|(_, g)| g.to_vec())
        .map(|v| (v as f64).powi(2))
        .sum::<f64>()
        .sqrt()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = Args::parse();
    if args.quick {
        args.steps = 40;
        args.hidden = 16;
        args.scales = vec![0.5, 1.0, 2.0];
        args.train_steps = 3;
    }
    let start = Instant::now();
    let q = orthogonal(args.hidden, args.seed + 3);
    let t_len = args.steps;
    println!(
        "vanilla RNN, T = {t_len}, H = {}, input {} (N(0,1)), W_hh = s·Q with Q orthogonal, L = v·h_T (v ~ U(-1,1)^H), f32",
        args.hidden, args.input
    );
    println!("‖dL/dh_t‖ read from the tape's retained gradients (Var::retain_grad + Grads::of)\n");

    let mut rows = Vec::new();
    for act in [Nonlinearity::Tanh, Nonlinearity::Relu] {
        for &s in &args.scales {
            rows.push(measure(&args, act, &q, s));
        }
    }

    // The table: norms at a few t, the rate, its bound.
    let cols: Vec<usize> = [0usize, 10, 50, 100, 200, t_len - 1]
        .into_iter()
        .filter(|&k| k < t_len)
        .fold(Vec::new(), |mut v, k| {
            if !v.contains(&k) {
                v.push(k);
            }
            v
        });
    let mut head: Vec<String> = ["act", "ρ(W_hh)", "‖W_hh‖₂"].map(String::from).to_vec();
    for &k in &cols {
        head.push(match k {
            0 => "t=T".to_string(),
            k if k == t_len - 1 => "t=1".to_string(),
            k => format!("t=T-{k}"),
        });
    }
    head.extend(
        [
            "rate/step",
            "bound ‖W‖₂·max φ'",
            "mean φ'",
            "max ‖h_t‖∞",
            "verdict",
        ]
        .map(String::from),
    );
    println!("{}", md_row(&head));
    println!("{}", md_row(&vec!["---".to_string(); head.len()]));
    for r in &rows {
        let mut cells = vec![
            act_name(r.act).to_string(),
            format!("{:.2}", r.scale),
            format!("{:.3}", r.w_norm),
        ];
        cells.extend(cols.iter().map(|&k| sci(r.norms[k])));
        let or_dash = |v: f64| {
            if v.is_nan() {
                "-".to_string()
            } else {
                format!("{v:.4}")
            }
        };
        cells.extend([
            or_dash(r.rate),
            or_dash(r.bound),
            format!("{:.3}", r.mean_dphi),
            sci(r.h_max),
            verdict(r),
        ]);
        println!("{}", md_row(&cells));
    }
    let held = rows
        .iter()
        .filter(|r| !r.rate.is_nan())
        .all(|r| r.rate <= r.bound * (1.0 + 1e-4));
    println!(
        "\nrate/step: (‖dL/dh_k‖ / ‖dL/dh_T‖)^(1/(T-k)) over the stretch where the norm is finite and non-zero;"
    );
    println!(
        "bound: geometric mean over the same steps of ‖W_hh‖₂ · max_j φ'(z_t)_j (sup tanh' = sup relu' = 1; a sigmoid's would be 1/4). rate <= bound on every row: {}",
        if held { "yes" } else { "NO" }
    );

    // The clipping demo.
    let clip_act: Nonlinearity = args.clip_act.parse()?;
    let plain = train(&args, clip_act, &q, None);
    let clipped = train(&args, clip_act, &q, Some(args.max_norm));
    println!(
        "\nSGD (lr {}) on L = ½‖h_T - 0.5‖², {} RNN with s = {}, T = {t_len}: without and with clip_grad_norm(max_norm = {})",
        args.lr, args.clip_act, args.clip_scale, args.max_norm
    );
    println!(
        "| step | loss (no clip) | ‖∇‖ (no clip) | ‖θ‖∞ (no clip) | loss (clipped) | ‖∇‖ before clip | ‖θ‖∞ (clipped) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (k, (a, b)) in plain.iter().zip(&clipped).enumerate() {
        println!(
            "| {k} | {} | {} | {} | {} | {} | {} |",
            sci(a.0),
            sci(a.1),
            sci(a.2),
            sci(b.0),
            sci(b.1),
            sci(b.2)
        );
    }
    let finite = clipped.iter().all(|r| r.2.is_finite());
    let broke = plain.iter().any(|r| !r.2.is_finite());
    println!(
        "clipped updates stay finite: {}; unclipped parameters end non-finite: {}",
        if finite { "yes" } else { "NO" },
        if broke { "yes" } else { "no" }
    );

    // SVG: log10 ‖dL/dh_t‖ against steps back from T, one panel per activation; the training
    // runs in a third.
    let mut charts = Vec::new();
    for act in [Nonlinearity::Tanh, Nonlinearity::Relu] {
        let series = rows
            .iter()
            .filter(|r| r.act == act)
            .enumerate()
            .map(|(i, r)| plot::Series {
                label: format!("s = {}", r.scale),
                points: r
                    .norms
                    .iter()
                    .enumerate()
                    .map(|(k, &n)| (k as f64, if n.is_nan() { f64::NAN } else { n.log10() }))
                    .collect(),
                color: plot::PALETTE[i % plot::PALETTE.len()],
                dashed: false,
            })
            .collect();
        charts.push(plot::Chart {
            title: format!("{}: ‖dL/dh_t‖ (W_hh = s·Q, T = {t_len})", act_name(act)),
            x_label: "steps back from T (T - t)".into(),
            y_label: "‖dL/dh_t‖ (log scale)".into(),
            y_log10: true,
            y_range: None,
            series,
        });
    }
    let run = |v: &[(f64, f64, f64)], i: usize| -> Vec<(f64, f64)> {
        v.iter()
            .enumerate()
            .map(|(k, r)| (k as f64, [r.0, r.1, r.2][i].log10()))
            .collect()
    };
    charts.push(plot::Chart {
        title: format!(
            "SGD on {} s = {}: clip_grad_norm({})",
            args.clip_act, args.clip_scale, args.max_norm
        ),
        x_label: "SGD step".into(),
        y_label: "log scale".into(),
        y_log10: true,
        y_range: None,
        series: vec![
            plot::Series {
                label: "‖∇‖, no clip".into(),
                points: run(&plain, 1),
                color: plot::PALETTE[1],
                dashed: false,
            },
            plot::Series {
                label: "‖θ‖∞, no clip".into(),
                points: run(&plain, 2),
                color: plot::PALETTE[1],
                dashed: true,
            },
            plot::Series {
                label: "‖∇‖ before clip".into(),
                points: run(&clipped, 1),
                color: plot::PALETTE[0],
                dashed: false,
            },
            plot::Series {
                label: "‖θ‖∞, clipped".into(),
                points: run(&clipped, 2),
                color: plot::PALETTE[0],
                dashed: true,
            },
        ],
    });
    let svg = plot::grid(
        &charts,
        3,
        560.0,
        380.0,
        "crosses: the first inf/NaN (top) or underflow to 0 (bottom) of a line. recur examples/gradient_flow",
    );
    let svg_path = args.out.join("gradient_flow.svg");
    plot::write_atomic(&svg_path, svg.as_bytes())?;
    let mut csv = String::from("act,scale,t,norm\n");
    for r in &rows {
        for (k, n) in r.norms.iter().enumerate() {
            let _ = writeln!(csv, "{},{},{},{}", act_name(r.act), r.scale, t_len - k, n);
        }
    }
    plot::write_atomic(&args.out.join("norms.csv"), csv.as_bytes())?;
    println!(
        "\nwrote {} and norms.csv in {:.2}s",
        svg_path.display(),
        start.elapsed().as_secs_f64()
    );
    if !held || !finite {
        return Err("a check failed (see above)".into());
    }
    Ok(())
}
