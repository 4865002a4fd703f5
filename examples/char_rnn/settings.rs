//! The settings of a run, checked before anything is allocated: flag values, sizes against
//! a memory budget, input files; and the same checks for the settings a checkpoint records.

use crate::Error;
use crate::data::Corpus;
use crate::model::CharModel;
use rand::SeedableRng;
use recur::nn::optim::{Adagrad, Adam, Optimizer, RmsProp, Sgd};
use recur::nn::recurrent::RecurrentConfig;
use recur::nn::{Module, Nonlinearity};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The most memory a run may plan for (parameters, gradients, optimizer state and one
/// step's activations): larger settings are refused before anything is allocated.
pub const MEMORY_LIMIT_GIB: f64 = 8.0;

/// The most characters `--len` may ask for.
pub const MAX_LEN: usize = 1 << 24;

/// The model's shape: everything needed to build it, from flags or from a checkpoint.
/// (The one place a model is constructed: a new cell type is a field here.)
#[derive(Clone, Debug)]
pub struct ModelSpec {
    /// The recurrent cell: `rnn`, `lstm` or `gru`.
    pub cell: String,
    /// Hidden size.
    pub hidden: usize,
    /// Stacked layers.
    pub layers: usize,
    /// `tanh` or `relu`.
    pub nonlinearity: String,
    /// Dropout between layers.
    pub dropout: f64,
    /// An embedding of this size, or one-hot input.
    pub embedding: Option<usize>,
}

impl ModelSpec {
    /// The model for a vocabulary of `vocab` characters, initialised from `seed`.
    pub fn build(&self, vocab: usize, seed: u64) -> Result<CharModel, Error> {
        let input = self.embedding.unwrap_or(vocab);
        let config = RecurrentConfig::new(input, self.hidden)
            .num_layers(self.layers)
            .dropout(self.dropout);
        config.validate()?;
        Ok(CharModel::new(
            vocab,
            self.embedding,
            &self.cell,
            self.nonlinearity.parse::<Nonlinearity>()?,
            config,
            &mut recur::seeded_rng(seed),
        )?)
    }

    /// Refuses sizes whose memory estimate exceeds [`MEMORY_LIMIT_GIB`]: `seq * batch`
    /// windows for training, none for sampling. Floating-point arithmetic: no overflow.
    pub fn check_memory(&self, vocab: usize, seq: usize, batch: usize) -> Result<(), Error> {
        let (h, l, v) = (self.hidden as f64, self.layers as f64, vocab as f64);
        // Gate blocks per layer: 1 (RNN), 4 (LSTM), 3 (GRU).
        let g = f64::from(match self.cell.as_str() {
            "lstm" => 4u8,
            "gru" => 3,
            _ => 1,
        });
        let e = self.embedding.map_or(0.0, |e| e as f64);
        let input = if self.embedding.is_some() { e } else { v };
        let params = v * e
            + g * h * (input + h + 2.0)
            + (l - 1.0).max(0.0) * g * h * (2.0 * h + h + 2.0)
            + v * (h + 1.0);
        // Values, gradients and two optimizer buffers; one step's activations on the tape.
        let windows = seq as f64 * batch as f64;
        let acts = windows * (4.0 * g * l * h + 3.0 * v + input);
        let gib = 4.0 * (4.0 * params + acts) / f64::from(1u32 << 30);
        if gib > MEMORY_LIMIT_GIB {
            return Err(format!(
                "these sizes need about {gib:.3e} GiB (hidden {}, layers {}, embedding {}, vocabulary {vocab}, seq {seq}, batch {batch}), more than the {MEMORY_LIMIT_GIB} GiB this example allows",
                self.hidden,
                self.layers,
                self.embedding.map_or("none".into(), |e| e.to_string()),
            )
            .into());
        }
        Ok(())
    }

    fn to_meta(&self, m: &mut BTreeMap<String, String>) {
        m.insert("cell".into(), self.cell.clone());
        m.insert("hidden".into(), self.hidden.to_string());
        m.insert("layers".into(), self.layers.to_string());
        m.insert("nonlinearity".into(), self.nonlinearity.clone());
        m.insert("dropout".into(), self.dropout.to_string());
        m.insert(
            "embedding".into(),
            self.embedding.map_or("none".into(), |e| e.to_string()),
        );
    }

    /// The model a checkpoint's metadata describes (checked like flags).
    pub fn from_meta(meta: &BTreeMap<String, String>) -> Result<Self, Error> {
        let get = |k: &str| {
            meta.get(k)
                .cloned()
                .ok_or_else(|| format!("checkpoint metadata has no {k:?}"))
        };
        let spec = ModelSpec {
            // Checkpoints from before `--cell` hold an RNN.
            cell: meta.get("cell").cloned().unwrap_or_else(|| "rnn".into()),
            hidden: crate::trainer::parse_meta(meta, "hidden")?,
            layers: crate::trainer::parse_meta(meta, "layers")?,
            nonlinearity: get("nonlinearity")?,
            dropout: crate::trainer::parse_meta(meta, "dropout")?,
            embedding: match get("embedding")?.as_str() {
                "none" => None,
                e => Some(
                    e.parse()
                        .map_err(|_| format!("checkpoint metadata: bad embedding {e:?}"))?,
                ),
            },
        };
        spec.check()?;
        Ok(spec)
    }

    /// The width of the carried state: `h`, and LSTM's `c` beside it.
    pub fn state_width(&self) -> usize {
        if self.cell == "lstm" {
            2 * self.hidden
        } else {
            self.hidden
        }
    }

    /// Checks the settings (flags or a checkpoint's metadata).
    pub fn check(&self) -> Result<(), Error> {
        if self.hidden == 0 || self.layers == 0 || self.embedding == Some(0) {
            return Err("hidden, layers and embedding sizes must be at least 1".into());
        }
        if !["rnn", "lstm", "gru"].contains(&self.cell.as_str()) {
            return Err(format!("--cell must be rnn, lstm or gru, got {:?}", self.cell).into());
        }
        if self.cell != "rnn" && self.nonlinearity != "tanh" {
            return Err(format!(
                "--nonlinearity {} is for --cell rnn; {} has its own gates",
                self.nonlinearity,
                self.cell.to_uppercase()
            )
            .into());
        }
        self.nonlinearity.parse::<Nonlinearity>()?;
        if !(0.0..=1.0).contains(&self.dropout) {
            return Err(format!("dropout must be in [0, 1], got {}", self.dropout).into());
        }
        Ok(())
    }
}

/// A run's settings, checked.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The model.
    pub model: ModelSpec,
    /// adam, sgd, adagrad or rmsprop.
    pub optim: String,
    /// Learning rate.
    pub lr: f64,
    /// Window length.
    pub seq: usize,
    /// Windows per step.
    pub batch: usize,
    /// Gradient-norm clip (0: none).
    pub clip: f64,
    /// Seed of everything random.
    pub seed: u64,
    /// Carry the hidden state across windows.
    pub tbptt: bool,
    /// Sampling temperature.
    pub temperature: f32,
    /// Sample among the k most likely characters.
    pub top_k: Option<usize>,
    /// The output directory.
    pub out: PathBuf,
}

impl Settings {
    /// A fresh optimizer.
    pub fn optimizer(&self) -> Result<Box<dyn Optimizer<f32>>, Error> {
        make_optimizer(&self.optim, self.lr)
    }

    /// What a checkpoint records (a resume must match all but `vocab`'s source).
    pub fn to_meta(&self, corpus: &Corpus) -> BTreeMap<String, String> {
        let mut m = self.recorded();
        m.insert("vocab".into(), corpus.vocab.iter().collect());
        m
    }

    /// The settings a resume must repeat.
    fn recorded(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        self.model.to_meta(&mut m);
        for (k, v) in [
            ("optim", self.optim.clone()),
            ("lr", self.lr.to_string()),
            ("seq", self.seq.to_string()),
            ("batch", self.batch.to_string()),
            ("clip", self.clip.to_string()),
            ("seed", self.seed.to_string()),
            ("tbptt", self.tbptt.to_string()),
        ] {
            m.insert(k.into(), v);
        }
        m
    }

    /// A resume must use the same corpus and settings as the run that wrote the checkpoint.
    pub fn check_resume(
        &self,
        path: &Path,
        meta: &BTreeMap<String, String>,
        corpus: &Corpus,
    ) -> Result<(), Error> {
        let vocab: String = corpus.vocab.iter().collect();
        if meta.get("vocab") != Some(&vocab) {
            return Err(format!(
                "checkpoint {} was trained on another vocabulary (another corpus)",
                path.display()
            )
            .into());
        }
        let mut diffs = Vec::new();
        for (k, v) in self.recorded() {
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
}

/// The optimizer called `name`.
pub fn make_optimizer(name: &str, lr: f64) -> Result<Box<dyn Optimizer<f32>>, Error> {
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

/// The sampling flags, checked (shared by training's evaluations and `--sample`).
pub fn check_sampling(temperature: f32, top_k: Option<usize>, len: usize) -> Result<(), Error> {
    if temperature <= 0.0 || !temperature.is_finite() {
        return Err(format!("--temperature must be a positive number, got {temperature}").into());
    }
    if top_k == Some(0) {
        return Err("--top-k must be at least 1".into());
    }
    if len > MAX_LEN {
        return Err(format!("--len must be at most {MAX_LEN}, got {len}").into());
    }
    Ok(())
}

/// Refuses a path that is not a regular file (a FIFO would block forever, a device never
/// end) before it is opened.
pub fn regular_file(path: &Path, flag: &str) -> Result<(), Error> {
    let m = std::fs::metadata(path).map_err(|e| format!("{flag} {}: {e}", path.display()))?;
    if !m.is_file() {
        return Err(format!(
            "{flag} {}: not a regular file (a directory, FIFO or device)",
            path.display()
        )
        .into());
    }
    Ok(())
}

/// Refuses a model with a NaN or infinite parameter.
pub fn check_finite(path: &Path, model: &CharModel) -> Result<(), Error> {
    for (name, p) in model.named_parameters() {
        if p.value().to_vec().iter().any(|v| !v.is_finite()) {
            return Err(format!(
                "checkpoint {}: parameter {name} has non-finite values",
                path.display()
            )
            .into());
        }
    }
    Ok(())
}

/// The per-step random stream: a function of (seed, step) only, so a resumed run draws
/// exactly the batches an uninterrupted one would.
pub fn step_rng(seed: u64, step: usize, salt: u64) -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(
        seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt,
    )
}
