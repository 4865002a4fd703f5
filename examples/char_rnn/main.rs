//! char_rnn: a character-level RNN that trains on a text and writes more of it.
//!
//! `cargo run --release --example char_rnn` trains on recur's own sources (embedded in the
//! binary: nothing to download) and prints validation loss and samples as it goes. See
//! `--help` for every option; `--data FILE` trains on any UTF-8 text, `--sample CHECKPOINT`
//! generates text from a saved model without training, and `--dump-states FILE.html` shows
//! the hidden state over that text (a page, one character per hidden-unit colour).
//!
//! The last line of a run:
//! `final step=N train_loss=X val_loss=Y val_bpc=Z elapsed_s=S`.

mod data;
mod model;
#[path = "../plot/mod.rs"]
mod plot;
mod settings;
mod states;
mod trainer;

use clap::Parser;
use data::{Corpus, DEFAULT_CORPUS};
use indicatif::{ProgressBar, ProgressStyle};
use model::CharModel;
use recur::nn::Module;
use recur::nn::checkpoint::{load_training_state, read_metadata};
use settings::{ModelSpec, Settings, check_sampling, make_optimizer, regular_file};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use trainer::Trainer;

type Error = Box<dyn std::error::Error>;

/// Train a character-level RNN and sample text from it.
///
/// Trains on recur's own sources (embedded) or on `--data FILE`, printing the validation
/// loss and a sample every `--eval-every` steps, and writes `checkpoint.safetensors`,
/// `loss.csv` and `loss.svg` to `--out`. Ctrl-C or SIGTERM finishes the step, saves and
/// exits (code 130); `--resume` continues exactly. `--sample CHECKPOINT` generates text.
#[derive(Parser, Debug, Clone)]
#[command(version, allow_negative_numbers = true)]
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
    /// The recurrent cell: rnn (tanh or relu), lstm or gru.
    #[arg(long, default_value = "rnn")]
    cell: String,
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
    /// Stop (and save) after this many minutes even if steps remain.
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
    /// Sample only among the k most likely characters (at least 1).
    #[arg(long)]
    top_k: Option<usize>,
    /// Write an HTML page of the hidden state over the primed and sampled text (with
    /// `--sample`, or after training): each character coloured by a chosen unit's h_t, and
    /// each layer's share of saturated units. Self-contained; open it in a browser.
    #[arg(long, value_name = "FILE.html")]
    dump_states: Option<PathBuf>,
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

/// Checks every flag (before anything is read or allocated) and gathers the settings.
fn settings(a: &Args) -> Result<Settings, Error> {
    let bad = |m: String| -> Result<Settings, Error> { Err(m.into()) };
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
    if a.clip < 0.0 || !a.clip.is_finite() {
        return bad(format!(
            "--clip must be a number >= 0 (0 disables clipping), got {}",
            a.clip
        ));
    }
    if let Some(m) = a.minutes
        && (m.is_nan() || m <= 0.0)
    {
        return bad(format!("--minutes must be a positive number, got {m}"));
    }
    if a.threads == 0 {
        return bad("--threads must be at least 1".into());
    }
    if a.embedding == Some(0) {
        return bad("--embedding must be at least 1".into());
    }
    check_sampling(a.temperature, a.top_k, a.len)?;
    let model = ModelSpec {
        cell: a.cell.clone(),
        hidden: a.hidden,
        layers: a.layers,
        nonlinearity: a.nonlinearity.clone(),
        dropout: a.dropout,
        embedding: a.embedding,
    };
    model.check()?;
    make_optimizer(&a.optim, a.lr)?;
    Ok(Settings {
        model,
        optim: a.optim.clone(),
        lr: a.lr,
        seq: a.seq,
        batch: a.batch,
        clip: a.clip,
        seed: a.seed,
        tbptt: a.tbptt,
        temperature: a.temperature,
        top_k: a.top_k,
        out: a.out.clone(),
    })
}

/// Reads the corpus: a UTF-8 regular file, or the embedded default.
fn load_text(path: Option<&Path>) -> Result<String, Error> {
    let Some(p) = path else {
        return Ok(DEFAULT_CORPUS
            .iter()
            .map(|(name, text)| format!("// ===== {name} =====\n{text}\n"))
            .collect());
    };
    regular_file(p, "--data")?;
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

/// The corpus, checked against the window settings.
fn load_corpus(a: &Args, s: &Settings) -> Result<Corpus, Error> {
    let text = load_text(a.data.as_deref())?;
    let corpus = Corpus::new(&text);
    let need = s.seq as u128 + 2;
    if (corpus.train.len() as u128) < need || corpus.val.len() < 2 {
        return Err(format!(
            "the corpus is too short: {} characters give a training split of {} (need at least --seq + 2 = {need}) and a validation split of {}",
            text.chars().count(),
            corpus.train.len(),
            corpus.val.len()
        )
        .into());
    }
    if s.tbptt && corpus.train.len() / s.batch < s.seq.saturating_add(1) {
        return Err(format!(
            "--tbptt: {} streams of {} characters are shorter than --seq + 1",
            s.batch,
            corpus.train.len() / s.batch
        )
        .into());
    }
    s.model.check_memory(corpus.vocab.len(), s.seq, s.batch)?;
    Ok(corpus)
}

fn train(a: &Args) -> Result<ExitCode, Error> {
    // Everything is checked before anything is allocated or written.
    let s = settings(a)?;
    let corpus = load_corpus(a, &s)?;
    if let Some(path) = &a.dump_states {
        check_dump(a, path, &corpus, s.model.layers, s.model.hidden)?;
    }
    recur::tensor::gemm::set_num_threads(a.threads);
    let mut t = Trainer::new(s, corpus)?;
    if let Some(ck) = &a.resume {
        t.resume(ck)?;
        println!("resumed from {} at step {}", ck.display(), t.step);
    }
    t.start_log()?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // Ctrl-C or SIGTERM: the step finishes and the run saves. A second one while
        // saving is ignored.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    let c = t.corpus();
    println!(
        "corpus: {} chars ({} train, {} val), vocab {}, unigram entropy {:.4} nats/char",
        c.train.len() + c.val.len(),
        c.train.len(),
        c.val.len(),
        c.vocab.len(),
        c.unigram_entropy()
    );
    println!(
        "model: {} + Linear({}, {}), {} parameters",
        t.model().rnn.describe(),
        a.hidden,
        c.vocab.len(),
        t.model().num_parameters()
    );

    let pb = ProgressBar::new(a.steps as u64);
    pb.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_position(t.step as u64);
    let mut last_val = None;
    let mut interrupted = false;
    while t.step < a.steps {
        if stop.load(Ordering::SeqCst) {
            interrupted = true;
            break;
        }
        if a.minutes.is_some_and(|m| t.elapsed() >= m * 60.0) {
            break;
        }
        let r = t.step()?;
        pb.set_position(t.step as u64);
        pb.set_message(format!("loss {:.4} {:.0} chars/s", r.loss, r.chars_per_s));
        if t.step.is_multiple_of(a.eval_every) {
            let (v, sample) = t.evaluate(200.min(a.len), true)?;
            say(
                &pb,
                format!(
                    "step {} train {:.4} val {v:.4} nats/char ({:.4} bpc) elapsed {:.1}s\n--- sample ---\n{sample}\n--------------",
                    t.step,
                    r.loss,
                    v / std::f64::consts::LN_2,
                    t.elapsed()
                ),
            );
            last_val = Some((t.step, v));
        }
        t.log_step()?;
        if a.save_every > 0 && t.step.is_multiple_of(a.save_every) {
            t.save()?;
        }
    }
    pb.finish_and_clear();
    // The summary's validation loss, unless this step was just evaluated. Not recorded:
    // loss.csv depends only on the steps taken, not on where a run stopped or resumed.
    let val = match last_val {
        Some((step, v)) if step == t.step => v,
        _ => t.evaluate(0, false)?.0,
    };
    t.save()?;
    t.write_chart()?;
    if let Some(path) = &a.dump_states {
        let source = format!("after training, step {}", t.step);
        let text = dump_states(t.model(), t.corpus(), a, path, source)?;
        println!("--- states of the sample ---\n{text}\n--------------");
    }
    if interrupted {
        println!(
            "interrupted: checkpoint saved to {}",
            a.out.join("checkpoint.safetensors").display()
        );
    }
    println!(
        "final step={} train_loss={:.4} val_loss={val:.4} val_bpc={:.4} elapsed_s={:.1}",
        t.step,
        t.history.recent_train_loss(100),
        val / std::f64::consts::LN_2,
        t.elapsed()
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

/// `--sample`: text from a checkpoint, its settings checked before the model is built.
fn sample_only(a: &Args) -> Result<ExitCode, Error> {
    let path = a.sample.as_deref().ok_or("no --sample checkpoint")?;
    check_sampling(a.temperature, a.top_k, a.len)?;
    regular_file(path, "--sample")?;
    let meta = read_metadata(path)?;
    let vocab: Vec<char> = meta
        .get("vocab")
        .ok_or("checkpoint has no vocabulary (not a char_rnn checkpoint?)")?
        .chars()
        .collect();
    let spec = ModelSpec::from_meta(&meta)?;
    spec.check_memory(vocab.len(), 0, 0)?;
    let mut model = spec.build(vocab.len(), 0)?;
    let optim = meta.get("optim").map_or("adam", String::as_str);
    let mut opt = make_optimizer(optim, trainer::parse_meta(&meta, "lr")?)?;
    load_training_state(path, &mut model, opt.as_mut())?;
    settings::check_finite(path, &model)?;
    model.set_training(false);
    let corpus = Corpus {
        vocab,
        train: Vec::new(),
        val: Vec::new(),
    };
    let step = meta.get("step").map_or("?", String::as_str);
    if let Some(dump) = &a.dump_states {
        let source = format!("checkpoint {} (step {step})", path.display());
        check_dump(a, dump, &corpus, spec.layers, spec.hidden)?;
        println!("{}", dump_states(&model, &corpus, a, dump, source)?);
        return Ok(ExitCode::SUCCESS);
    }
    let ids = model.sample(
        &encode_prime(&corpus, &a.prime)?,
        a.len,
        a.temperature,
        a.top_k,
        &mut recur::seeded_rng(a.seed),
    )?;
    println!("{}{}", a.prime, corpus.decode(&ids));
    Ok(ExitCode::SUCCESS)
}

/// `--prime` as ids of the vocabulary; refused if empty or outside it.
fn encode_prime(corpus: &Corpus, prime: &str) -> Result<Vec<usize>, Error> {
    let ids = corpus
        .encode(prime)
        .map_err(|c| format!("--prime contains {c:?}, which is not in the model's vocabulary"))?;
    if ids.is_empty() {
        return Err("--prime must not be empty".into());
    }
    Ok(ids)
}

/// The `--dump-states` checks, before any training or sampling: the target, the page's
/// size and the prime.
fn check_dump(
    a: &Args,
    path: &Path,
    corpus: &Corpus,
    layers: usize,
    hidden: usize,
) -> Result<(), Error> {
    states::check_target(path)?;
    let chars = a.prime.chars().count().saturating_add(a.len);
    states::check_size(chars, layers, hidden)?;
    encode_prime(corpus, &a.prime)?;
    Ok(())
}

/// `--dump-states`: samples as `--sample` does (the same text for the same flags) with every
/// layer's `h` traced, writes the page, reports each layer's saturation on stderr and
/// returns the text (prime and sample).
fn dump_states(
    model: &CharModel,
    corpus: &Corpus,
    a: &Args,
    path: &Path,
    source: String,
) -> Result<String, Error> {
    let prime = encode_prime(corpus, &a.prime)?;
    let (layers, hidden) = model.core_size();
    let mut trace = states::StateTrace::new(layers, hidden);
    let ids = model.sample_traced(
        &prime,
        a.len,
        a.temperature,
        a.top_k,
        &mut recur::seeded_rng(a.seed),
        Some(&mut trace),
    )?;
    let text = format!("{}{}", a.prime, corpus.decode(&ids));
    let chars: Vec<char> = text.chars().collect();
    let model_name = format!(
        "{} + Linear({hidden}, {})",
        model.rnn.describe(),
        model.vocab
    );
    let about = [
        ("weights", source),
        (
            "text",
            format!("{} characters of prime, {} sampled", prime.len(), ids.len()),
        ),
        ("temperature", a.temperature.to_string()),
        ("top-k", a.top_k.map_or("all".into(), |k| k.to_string())),
        ("seed", a.seed.to_string()),
    ];
    states::write(
        path,
        &states::Page {
            model: &model_name,
            about: &about,
            text: &chars,
            prime_len: prime.len(),
            trace: &trace,
        },
    )
    .map_err(|e| format!("--dump-states {}: {e}", path.display()))?;
    for (l, s) in states::saturation(&trace).iter().enumerate() {
        eprintln!(
            "states: layer {l}: {:.1} % of h at |h| > 0.99, {:.1} % exactly ±1, {} of {hidden} units saturated on every character",
            s.percent(s.near),
            s.percent(s.exact),
            s.always
        );
    }
    eprintln!("states: wrote {}", path.display());
    Ok(text)
}
