//! char_rnn: a character-level RNN that trains on a text and writes more of it.
//!
//! `cargo run --release --example char_rnn` trains on recur's own sources (embedded in the
//! binary: nothing to download) and prints validation loss and samples as it goes. See
//! `--help` for every option; `--data FILE` trains on any UTF-8 text, `--sample CHECKPOINT`
//! generates text from a saved model without training.
//!
//! The last line of a run:
//! `final step=N train_loss=X val_loss=Y val_bpc=Z elapsed_s=S`.

mod data;
mod model;

use clap::Parser;
use data::{Batch, Corpus, DEFAULT_CORPUS, random_windows, windows};
use indicatif::{ProgressBar, ProgressStyle};
use model::CharModel;
use rand::SeedableRng;
use recur::autograd::Tape;
use recur::nn::checkpoint::{load_tensors, load_training_state, save_training_state};
use recur::nn::clip::clip_grad_norm;
use recur::nn::optim::{Adagrad, Adam, Optimizer, RmsProp, Sgd};
use recur::nn::{Module, Nonlinearity, RnnConfig};
use recur::plot::{Chart, PALETTE, Series, grid, write_atomic};
use recur::tensor::Tensor;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

type Error = Box<dyn std::error::Error>;

/// Train a character-level RNN and sample text from it.
#[derive(Parser, Debug, Clone)]
#[command(version, about, allow_negative_numbers = true)]
struct Args {
    /// UTF-8 text to train on (default: recur's own sources, embedded).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Characters per training window (BPTT length).
    #[arg(long, default_value_t = 64)]
    seq: usize,
    /// Windows per step.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Carry the hidden state across consecutive windows (char-rnn's contiguous batches)
    /// instead of sampling random windows from zero state.
    #[arg(long)]
    tbptt: bool,
    /// Hidden size.
    #[arg(long, default_value_t = 256)]
    hidden: usize,
    /// Stacked RNN layers.
    #[arg(long, default_value_t = 1)]
    layers: usize,
    /// tanh or relu.
    #[arg(long, default_value = "tanh")]
    nonlinearity: String,
    /// Dropout between RNN layers.
    #[arg(long, default_value_t = 0.0)]
    dropout: f64,
    /// Learn an embedding of this size instead of one-hot input.
    #[arg(long)]
    embedding: Option<usize>,
    /// adam, sgd, adagrad or rmsprop.
    #[arg(long, default_value = "adam")]
    optim: String,
    /// Learning rate.
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
    /// Clip the global gradient norm to this (0: no clipping).
    #[arg(long, default_value_t = 5.0)]
    clip: f64,
    /// Seed for initialisation, batches and sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Training steps.
    #[arg(long, default_value_t = 2000)]
    steps: usize,
    /// Stop after this many minutes even if steps remain.
    #[arg(long)]
    minutes: Option<f64>,
    /// Threads for the matrix products (1: no threading at all).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Evaluate (validation loss + a sample) every N steps.
    #[arg(long, default_value_t = 500)]
    eval_every: usize,
    /// Write a checkpoint every N steps (0: only at the end and on Ctrl-C).
    #[arg(long, default_value_t = 500)]
    save_every: usize,
    /// Output directory: checkpoint.safetensors, loss.csv, loss.svg.
    #[arg(long, default_value = "runs/char_rnn")]
    out: PathBuf,
    /// Continue exactly from a checkpoint (same data and settings).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Generate text from this checkpoint instead of training.
    #[arg(long)]
    sample: Option<PathBuf>,
    /// Text to feed the model before sampling.
    #[arg(long, default_value = "\n")]
    prime: String,
    /// Characters to generate (sampling, and each eval's sample).
    #[arg(long, default_value_t = 300)]
    len: usize,
    /// Sampling temperature (lower: more conservative).
    #[arg(long, default_value_t = 0.8)]
    temperature: f32,
    /// Sample only among the k most likely characters.
    #[arg(long)]
    top_k: Option<usize>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = if args.sample.is_some() {
        sample_only(&args)
    } else {
        train(&args)
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// The settings a checkpoint records; a resume must match them.
fn settings(a: &Args) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for (k, v) in [
        ("hidden", a.hidden.to_string()),
        ("layers", a.layers.to_string()),
        ("nonlinearity", a.nonlinearity.clone()),
        ("dropout", a.dropout.to_string()),
        (
            "embedding",
            a.embedding.map_or("none".into(), |e| e.to_string()),
        ),
        ("optim", a.optim.clone()),
        ("lr", a.lr.to_string()),
        ("seq", a.seq.to_string()),
        ("batch", a.batch.to_string()),
        ("clip", a.clip.to_string()),
        ("seed", a.seed.to_string()),
        ("tbptt", a.tbptt.to_string()),
    ] {
        m.insert(k.to_string(), v);
    }
    m
}

fn validate(a: &Args) -> Result<(), Error> {
    let bad = |m: String| -> Result<(), Error> { Err(m.into()) };
    if a.lr <= 0.0 || !a.lr.is_finite() {
        return bad(format!("--lr must be a positive number, got {}", a.lr));
    }
    if a.seq == 0 || a.batch == 0 {
        return bad(format!(
            "--seq and --batch must be at least 1, got {} and {}",
            a.seq, a.batch
        ));
    }
    if a.steps == 0 {
        return bad("--steps must be at least 1".into());
    }
    if a.eval_every == 0 {
        return bad("--eval-every must be at least 1".into());
    }
    if a.clip < 0.0 || a.clip.is_nan() {
        return bad(format!(
            "--clip must be >= 0 (0 disables clipping), got {}",
            a.clip
        ));
    }
    if a.temperature <= 0.0 || a.temperature.is_nan() {
        return bad(format!(
            "--temperature must be positive, got {}",
            a.temperature
        ));
    }
    if a.threads == 0 {
        return bad("--threads must be at least 1".into());
    }
    if a.embedding == Some(0) {
        return bad("--embedding must be at least 1".into());
    }
    a.nonlinearity.parse::<Nonlinearity>()?;
    make_optimizer(&a.optim, a.lr)?;
    Ok(())
}

fn rnn_config(a: &Args, vocab: usize) -> Result<RnnConfig, Error> {
    let input = a.embedding.unwrap_or(vocab);
    let c = RnnConfig::new(input, a.hidden)
        .num_layers(a.layers)
        .nonlinearity(a.nonlinearity.parse()?)
        .dropout(a.dropout);
    c.validate()?;
    Ok(c)
}

fn make_optimizer(name: &str, lr: f64) -> Result<Box<dyn Optimizer<f32>>, Error> {
    Ok(match name {
        "adam" => Box::new(Adam::new(lr)?),
        "sgd" => Box::new(Sgd::new(lr)?),
        "adagrad" => Box::new(Adagrad::new(lr)?),
        "rmsprop" => Box::new(RmsProp::new(lr)?),
        other => {
            return Err(
                format!("--optim must be adam, sgd, adagrad or rmsprop, got {other:?}").into(),
            );
        }
    })
}

/// Reads the corpus: a UTF-8 file, or the embedded default.
fn load_text(path: Option<&Path>) -> Result<String, Error> {
    let Some(p) = path else {
        return Ok(DEFAULT_CORPUS
            .iter()
            .map(|(name, text)| format!("// ===== {name} =====\n{text}\n"))
            .collect());
    };
    let bytes =
        std::fs::read(p).map_err(|e| format!("cannot read data file {}: {e}", p.display()))?;
    if bytes.is_empty() {
        return Err(format!("data file {} is empty", p.display()).into());
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "data file {} is not UTF-8 text (invalid byte at offset {})",
            p.display(),
            e.utf8_error().valid_up_to()
        )
        .into()
    })
}

/// The per-step random stream: a function of (seed, step) only, so a resumed run draws
/// exactly the batches an uninterrupted one would.
fn step_rng(seed: u64, step: usize, salt: u64) -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(
        seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt,
    )
}

/// Contiguous streams for truncated BPTT: stream `b` reads `train[b * len ..]` in order.
struct Streams {
    len: usize,
    pos: usize,
    state: Option<Tensor<f32>>,
}

impl Streams {
    fn next(&mut self, train: &[usize], seq: usize, batch: usize) -> Batch {
        if self.pos + seq + 1 > self.len {
            self.pos = 0;
            self.state = None;
        }
        let starts: Vec<usize> = (0..batch).map(|b| b * self.len + self.pos).collect();
        self.pos += seq;
        windows(train, &starts, seq)
    }
}

/// What the training loop records.
#[derive(Default)]
struct History {
    rows: Vec<(usize, f64, Option<f64>)>,
}

impl History {
    fn csv(&self) -> String {
        let mut s = String::from("step,train_loss,val_loss\n");
        for (step, tr, va) in &self.rows {
            s.push_str(&format!(
                "{step},{tr:.6},{}\n",
                va.map_or(String::new(), |v| format!("{v:.6}"))
            ));
        }
        s
    }
    fn load(path: &Path, upto: usize) -> Self {
        let mut h = History::default();
        if let Ok(text) = std::fs::read_to_string(path) {
            for line in text.lines().skip(1) {
                let f: Vec<&str> = line.split(',').collect();
                if let (Some(Ok(step)), Some(Ok(tr))) =
                    (f.first().map(|s| s.parse()), f.get(1).map(|s| s.parse()))
                    && step <= upto
                {
                    h.rows
                        .push((step, tr, f.get(2).and_then(|s| s.parse().ok())));
                }
            }
        }
        h
    }
    fn svg(&self) -> String {
        let train: Vec<(f64, f64)> = self.rows.iter().map(|&(s, t, _)| (s as f64, t)).collect();
        let val: Vec<(f64, f64)> = self
            .rows
            .iter()
            .filter_map(|&(s, _, v)| v.map(|v| (s as f64, v)))
            .collect();
        let series = |label: &str, points, color| Series {
            label: label.into(),
            points,
            color,
            dashed: false,
        };
        let chart = Chart {
            title: "char_rnn loss".into(),
            x_label: "step".into(),
            y_label: "nats/char".into(),
            y_log10: false,
            y_range: None,
            series: vec![
                series("train", train, PALETTE[0]),
                series("validation", val, PALETTE[1]),
            ],
        };
        grid(&[chart], 1, 760.0, 440.0, "")
    }
    fn write(&self, out: &Path) -> Result<(), Error> {
        write_atomic(&out.join("loss.csv"), self.csv().as_bytes())?;
        write_atomic(&out.join("loss.svg"), self.svg().as_bytes())?;
        Ok(())
    }
}

fn decode(corpus_vocab: &[char], ids: &[usize]) -> String {
    ids.iter().map(|&i| corpus_vocab[i]).collect()
}

fn train(a: &Args) -> Result<ExitCode, Error> {
    // Everything is checked before anything is written.
    validate(a)?;
    let text = load_text(a.data.as_deref())?;
    let corpus = Corpus::new(&text);
    if corpus.train.len() < a.seq + 2 || corpus.val.len() < 2 {
        return Err(format!(
            "the corpus is too short: {} characters give a training split of {} (need at least --seq + 2 = {}) and a validation split of {}",
            text.chars().count(),
            corpus.train.len(),
            a.seq + 2,
            corpus.val.len()
        )
        .into());
    }
    if a.tbptt && corpus.train.len() / a.batch < a.seq + 1 {
        return Err(format!(
            "--tbptt: {} streams of {} characters are shorter than --seq + 1",
            a.batch,
            corpus.train.len() / a.batch
        )
        .into());
    }
    recur::tensor::gemm::set_num_threads(a.threads);
    let vocab: String = corpus.vocab.iter().collect();
    let mut model = CharModel::new(
        corpus.vocab.len(),
        a.embedding,
        rnn_config(a, corpus.vocab.len())?,
        &mut recur::seeded_rng(a.seed),
    )?;
    let mut opt = make_optimizer(&a.optim, a.lr)?;
    let mut streams = Streams {
        len: corpus.train.len() / a.batch,
        pos: 0,
        state: None,
    };
    let mut start_step = 0usize;
    let mut elapsed_before = 0.0f64;
    let mut history = History::default();
    if let Some(ck) = &a.resume {
        // Check the settings first, for a clear message rather than a shape mismatch.
        let (_, meta) = load_tensors::<f32>(ck)?;
        check_resume(ck, &meta, a, &vocab)?;
        load_training_state(ck, &mut model, opt.as_mut())?;
        start_step = parse_meta(&meta, "step")?;
        elapsed_before = meta
            .get("elapsed_s")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        model
            .rnn
            .set_dropout_calls(parse_meta(&meta, "dropout_calls")?);
        if a.tbptt {
            streams.pos = parse_meta(&meta, "tbptt_pos")?;
            streams.state = parse_state(&meta, a)?;
        }
        history = History::load(&a.out.join("loss.csv"), start_step);
        println!("resumed from {} at step {start_step}", ck.display());
    }
    std::fs::create_dir_all(&a.out)
        .map_err(|e| format!("cannot create {}: {e}", a.out.display()))?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // A second Ctrl-C while saving is ignored; the first one finishes the step and saves.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }

    println!(
        "corpus: {} chars ({} train, {} val), vocab {}, unigram entropy {:.4} nats/char",
        corpus.train.len() + corpus.val.len(),
        corpus.train.len(),
        corpus.val.len(),
        corpus.vocab.len(),
        corpus.unigram_entropy()
    );
    println!(
        "model: {} + Linear({}, {}), {} parameters",
        model.rnn.config(),
        a.hidden,
        corpus.vocab.len(),
        model.num_parameters()
    );

    let pb = ProgressBar::new(a.steps as u64);
    pb.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_position(start_step as u64);
    let t0 = Instant::now();
    let elapsed = || elapsed_before + t0.elapsed().as_secs_f64();
    let mut last_val = (f64::NAN, String::new());
    let mut step = start_step;
    let mut interrupted = false;
    let save = |model: &CharModel,
                opt: &dyn Optimizer<f32>,
                step: usize,
                streams: &Streams,
                elapsed: f64|
     -> Result<(), Error> {
        let mut meta = settings(a);
        meta.insert("format".into(), "recur-char-rnn/1".into());
        meta.insert("vocab".into(), vocab.clone());
        meta.insert("step".into(), step.to_string());
        meta.insert("elapsed_s".into(), format!("{elapsed:.3}"));
        meta.insert(
            "dropout_calls".into(),
            model.rnn.dropout_calls().to_string(),
        );
        meta.insert("tbptt_pos".into(), streams.pos.to_string());
        if let Some(s) = &streams.state {
            meta.insert(
                "tbptt_state".into(),
                s.to_vec()
                    .iter()
                    .map(|v| format!("{v:?}"))
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        save_training_state(a.out.join("checkpoint.safetensors"), model, opt, &meta)?;
        Ok(())
    };

    while step < a.steps {
        if stop.load(Ordering::SeqCst) {
            interrupted = true;
            break;
        }
        if a.minutes.is_some_and(|m| elapsed() >= m * 60.0) {
            break;
        }
        let ts = Instant::now();
        let mut rng = step_rng(a.seed, step, 0);
        let batch = if a.tbptt {
            streams.next(&corpus.train, a.seq, a.batch)
        } else {
            random_windows(&corpus.train, a.seq, a.batch, &mut rng)
        };
        // The tape lives only for forward and backward: dropped before the update, so the
        // optimizer updates parameters in place (no copy-on-write of values the tape holds).
        let (l, h_n, mut grads) = {
            let tape = Tape::new();
            let (loss, h_n) = model.loss(&tape, &batch, a.seq, a.batch, streams.state.as_ref())?;
            let grads = tape.backward(&loss)?;
            (loss.value().item()? as f64, h_n, grads)
        };
        if a.clip > 0.0 {
            clip_grad_norm(&mut grads, a.clip, 2.0, false)?;
        }
        opt.step_modules(&mut [&mut model], &grads)?;
        if a.tbptt {
            streams.state = Some(h_n);
        }
        step += 1;
        let cps = (a.seq * a.batch) as f64 / ts.elapsed().as_secs_f64();
        pb.set_position(step as u64);
        pb.set_message(format!("loss {l:.4} {cps:.0} chars/s"));
        let mut val = None;
        if step.is_multiple_of(a.eval_every) || step == a.steps {
            let v = model.eval_loss(&corpus.val)?;
            let ids = model.sample(
                &[corpus.train[0]],
                200.min(a.len),
                a.temperature,
                a.top_k,
                &mut step_rng(a.seed, step, 1),
            )?;
            let sample = decode(&corpus.vocab, &ids);
            say(
                &pb,
                format!(
                    "step {step} train {l:.4} val {v:.4} nats/char ({:.4} bpc) elapsed {:.1}s\n--- sample ---\n{sample}\n--------------",
                    v / std::f64::consts::LN_2,
                    elapsed()
                ),
            );
            last_val = (v, sample);
            val = Some(v);
        }
        history.rows.push((step, l, val));
        if val.is_some() {
            history.write(&a.out)?;
        }
        if a.save_every > 0 && step.is_multiple_of(a.save_every) {
            save(&model, opt.as_ref(), step, &streams, elapsed())?;
        }
    }
    pb.finish_and_clear();
    if last_val.0.is_nan() || history.rows.last().is_none_or(|r| r.2.is_none()) {
        let v = model.eval_loss(&corpus.val)?;
        last_val.0 = v;
        if let Some(r) = history.rows.last_mut() {
            r.2 = Some(v);
        }
    }
    save(&model, opt.as_ref(), step, &streams, elapsed())?;
    history.write(&a.out)?;
    // Mean training loss over the last 100 steps (across a resume too: the history is reloaded).
    let tail: Vec<f64> = history.rows.iter().rev().take(100).map(|r| r.1).collect();
    let train_loss = if tail.is_empty() {
        f64::NAN
    } else {
        tail.iter().sum::<f64>() / tail.len() as f64
    };
    if interrupted {
        println!(
            "interrupted: checkpoint saved to {}",
            a.out.join("checkpoint.safetensors").display()
        );
    }
    println!(
        "final step={step} train_loss={train_loss:.4} val_loss={:.4} val_bpc={:.4} elapsed_s={:.1}",
        last_val.0,
        last_val.0 / std::f64::consts::LN_2,
        elapsed()
    );
    Ok(if interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints a line above the progress bar (or plainly when the bar is hidden, e.g. not a TTY).
fn say(pb: &ProgressBar, line: String) {
    if pb.is_hidden() {
        println!("{line}");
    } else {
        pb.println(line);
    }
}

fn parse_meta<V: std::str::FromStr>(
    meta: &BTreeMap<String, String>,
    key: &str,
) -> Result<V, Error> {
    meta.get(key)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("checkpoint metadata has no valid {key:?}").into())
}

fn parse_state(meta: &BTreeMap<String, String>, a: &Args) -> Result<Option<Tensor<f32>>, Error> {
    let Some(s) = meta.get("tbptt_state") else {
        return Ok(None);
    };
    let v: Result<Vec<f32>, _> = s.split(',').map(str::parse).collect();
    let v = v.map_err(|_| "checkpoint metadata tbptt_state is not a list of numbers")?;
    Ok(Some(Tensor::from_vec(v, &[a.layers, a.batch, a.hidden])?))
}

/// A resume must use the same corpus and settings as the run that wrote the checkpoint.
fn check_resume(
    path: &Path,
    meta: &BTreeMap<String, String>,
    a: &Args,
    vocab: &str,
) -> Result<(), Error> {
    if meta.get("vocab").map(String::as_str) != Some(vocab) {
        return Err(format!(
            "checkpoint {} was trained on another vocabulary (another corpus)",
            path.display()
        )
        .into());
    }
    let mut diffs = Vec::new();
    for (k, v) in settings(a) {
        match meta.get(&k) {
            Some(m) if *m == v => {}
            Some(m) => diffs.push(format!("--{k} {m} (this run: {v})")),
            None => diffs.push(format!("--{k} missing from the checkpoint")),
        }
    }
    if !diffs.is_empty() {
        return Err(format!(
            "checkpoint {} was trained with other settings: {}",
            path.display(),
            diffs.join(", ")
        )
        .into());
    }
    Ok(())
}

fn sample_only(a: &Args) -> Result<ExitCode, Error> {
    let path = a.sample.as_ref().expect("sample mode");
    if a.temperature <= 0.0 || a.temperature.is_nan() {
        return Err(format!("--temperature must be positive, got {}", a.temperature).into());
    }
    let (_, meta) = load_tensors::<f32>(path)?;
    let vocab: Vec<char> = meta
        .get("vocab")
        .ok_or("checkpoint has no vocabulary (not a char_rnn checkpoint?)")?
        .chars()
        .collect();
    let get = |k: &str| {
        meta.get(k)
            .cloned()
            .ok_or_else(|| format!("checkpoint metadata has no {k:?}"))
    };
    let mut saved = a.clone();
    saved.hidden = parse_meta(&meta, "hidden")?;
    saved.layers = parse_meta(&meta, "layers")?;
    saved.nonlinearity = get("nonlinearity")?;
    saved.embedding = match get("embedding")?.as_str() {
        "none" => None,
        e => Some(e.parse().map_err(|_| "bad embedding in checkpoint")?),
    };
    saved.dropout = parse_meta(&meta, "dropout")?;
    let mut model = CharModel::new(
        vocab.len(),
        saved.embedding,
        rnn_config(&saved, vocab.len())?,
        &mut recur::seeded_rng(0),
    )?;
    let mut opt = make_optimizer(&get("optim")?, parse_meta(&meta, "lr")?)?;
    load_training_state(path, &mut model, opt.as_mut())?;
    model.set_training(false);
    let index: std::collections::HashMap<char, usize> =
        vocab.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    let mut prime = Vec::new();
    for c in a.prime.chars() {
        prime.push(*index.get(&c).ok_or_else(|| {
            format!("--prime contains {c:?}, which is not in the checkpoint's vocabulary")
        })?);
    }
    if prime.is_empty() {
        return Err("--prime must not be empty".into());
    }
    let ids = model.sample(
        &prime,
        a.len,
        a.temperature,
        a.top_k,
        &mut recur::seeded_rng(a.seed),
    )?;
    println!("{}{}", a.prime, decode(&vocab, &ids));
    Ok(ExitCode::SUCCESS)
}
