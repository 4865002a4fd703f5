//! # recur-conformance
//!
//! A test tool, not part of the library: runs reference cases from PyTorch (the `shared/fixtures` safetensors format: kinds `RNN`,
//! `RNNCell` and `optim`) through recur and measures the disagreement.
//!
//! Agreement is `|ours - theirs| <= atol + rtol * |theirs|` for every element of every
//! reference tensor; [`CaseReport`] carries the largest absolute error and the first tensor
//! that fails.

use recur_autograd::{Grads, Param, Tape, Var};
use recur_nn::checkpoint::load_tensors;
use recur_nn::clip::clip_grad_norm;
use recur_nn::optim::{
    Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, RmsProp,
    RmsPropConfig, Sgd, SgdConfig,
};
use recur_nn::rnn::{Nonlinearity, Rnn, RnnCell, RnnConfig};
use recur_nn::{Module, NnError, Result};
use recur_tensor::{Float, Tensor};
use std::collections::BTreeMap;
use std::path::Path;

/// Tolerances for a comparison.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Absolute part.
    pub atol: f64,
    /// Relative part (times |reference|).
    pub rtol: f64,
}

impl Tolerance {
    /// The conformance runner's default: `1e-9 + 1e-9 * |b|` (f64).
    pub const F64: Tolerance = Tolerance {
        atol: 1e-9,
        rtol: 1e-9,
    };
    /// For runs in f32: `1e-4` relative (with a small absolute floor for values near 0).
    pub const F32: Tolerance = Tolerance {
        atol: 1e-5,
        rtol: 1e-4,
    };
}

/// The outcome of one reference file.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseReport {
    /// The file's stem (`rnn_seed_example`).
    pub name: String,
    /// `RNN`, `RNNCell` or `optim`.
    pub kind: String,
    /// The largest |ours - theirs| over every compared tensor.
    pub max_abs_err: f64,
    /// The first compared tensor outside the tolerance, with its largest error.
    pub failed: Option<(String, f64)>,
    /// How many tensors were compared.
    pub compared: usize,
}

impl CaseReport {
    /// True when every tensor agreed.
    pub fn passed(&self) -> bool {
        self.failed.is_none()
    }
}

/// Runs one reference file in element type `T` (the reference tensors are converted to `T`).
///
/// # Errors
/// When the file cannot be read, its `kind` is unknown, or a tensor the case needs is missing
/// or misshapen.
///
/// ```no_run
/// use recur_conformance::{run_file, Tolerance};
/// let r = run_file::<f64>("nn/tests/fixtures/rnn_seed_example.safetensors", Tolerance::F64)?;
/// println!("{} max_abs_err={:e}", r.name, r.max_abs_err);
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn run_file<T: Float>(path: impl AsRef<Path>, tol: Tolerance) -> Result<CaseReport> {
    let path = path.as_ref();
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (tensors, meta) = load_tensors::<T>(path)?;
    let case = Case {
        path: path.display().to_string(),
        tensors: tensors.into_iter().collect(),
        meta,
    };
    let kind = case.meta.get("kind").cloned().unwrap_or_default();
    let mut cmp = Comparison {
        tol,
        max_abs_err: 0.0,
        failed: None,
        compared: 0,
    };
    match kind.as_str() {
        "RNN" => run_rnn(&case, &mut cmp)?,
        "RNNCell" => run_cell(&case, &mut cmp)?,
        "optim" => run_optim(&case, &mut cmp)?,
        "LSTM" => run_lstm(&case, &mut cmp)?,
        "GRU" => run_gru(&case, &mut cmp)?,
        "LSTMCell" => run_lstm_cell(&case, &mut cmp)?,
        "GRUCell" => run_gru_cell(&case, &mut cmp)?,
        other => {
            return Err(case.err(format!(
                "unknown kind {other:?} (expected RNN, RNNCell, LSTM, GRU, LSTMCell, GRUCell or optim)"
            )));
        }
    }
    Ok(CaseReport {
        name,
        kind,
        max_abs_err: cmp.max_abs_err,
        failed: cmp.failed,
        compared: cmp.compared,
    })
}

struct Case<T: Float> {
    path: String,
    tensors: BTreeMap<String, Tensor<T>>,
    meta: BTreeMap<String, String>,
}

impl<T: Float> Case<T> {
    fn err(&self, msg: String) -> NnError {
        NnError::Checkpoint {
            path: self.path.clone(),
            msg,
        }
    }
    fn tensor(&self, name: &str) -> Result<&Tensor<T>> {
        self.tensors
            .get(name)
            .ok_or_else(|| self.err(format!("missing tensor {name:?}")))
    }
    /// A metadata value; the format stores JSON-encoded strings (`"true"`, `"2"`, `"tanh"`).
    fn meta(&self, key: &str) -> Result<String> {
        let v = self
            .meta
            .get(key)
            .ok_or_else(|| self.err(format!("missing metadata {key:?}")))?;
        Ok(v.trim_matches('"').to_string())
    }
    fn usize(&self, key: &str) -> Result<usize> {
        let v = self.meta(key)?;
        v.parse()
            .map_err(|_| self.err(format!("metadata {key:?} is not a count: {v:?}")))
    }
    /// An optional count (`default` when the key is absent).
    fn usize_or(&self, key: &str, default: usize) -> Result<usize> {
        if self.meta.contains_key(key) {
            self.usize(key)
        } else {
            Ok(default)
        }
    }
    /// An optional boolean (`default` when the key is absent).
    fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        if self.meta.contains_key(key) {
            self.bool(key)
        } else {
            Ok(default)
        }
    }
    /// `betas` as PyTorch's fixtures store them (a JSON pair), or `beta1` / `beta2`, or the
    /// defaults.
    fn betas(&self, default: (f64, f64)) -> Result<(f64, f64)> {
        if let Some(v) = self.meta.get("betas") {
            let parts: Vec<f64> = v
                .trim()
                .trim_matches('"')
                .trim_start_matches(['[', '('])
                .trim_end_matches([']', ')'])
                .split(',')
                .map(|x| x.trim().parse::<f64>())
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| self.err(format!("metadata \"betas\" is not a pair: {v:?}")))?;
            return match parts[..] {
                [a, b] => Ok((a, b)),
                _ => Err(self.err(format!("metadata \"betas\" is not a pair: {v:?}"))),
            };
        }
        Ok((
            self.f64_opt("beta1")?.unwrap_or(default.0),
            self.f64_opt("beta2")?.unwrap_or(default.1),
        ))
    }
    fn bool(&self, key: &str) -> Result<bool> {
        match self.meta(key)?.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            v => Err(self.err(format!("metadata {key:?} is not a boolean: {v:?}"))),
        }
    }
    fn f64_opt(&self, key: &str) -> Result<Option<f64>> {
        match self.meta.get(key).map(|v| v.trim_matches('"')) {
            None | Some("None") | Some("null") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| self.err(format!("metadata {key:?} is not a number: {v:?}"))),
        }
    }
    /// Copies the reference parameters into `module` by name.
    fn load_params(&self, module: &mut dyn Module<T>) -> Result<()> {
        for (name, p) in module.named_parameters_mut() {
            let t = self.tensor(&name)?;
            if t.dims() != p.value().dims() {
                return Err(self.err(format!(
                    "{name}: expected shape {}, got {}",
                    p.value().shape(),
                    t.shape()
                )));
            }
            p.set_value(t.clone());
        }
        Ok(())
    }
}

struct Comparison {
    tol: Tolerance,
    max_abs_err: f64,
    failed: Option<(String, f64)>,
    compared: usize,
}

impl Comparison {
    fn check<T: Float>(&mut self, name: &str, ours: &Tensor<T>, theirs: &Tensor<T>) {
        self.compared += 1;
        if ours.dims() != theirs.dims() {
            self.failed.get_or_insert((
                format!("{name} (shape {} vs {})", ours.shape(), theirs.shape()),
                f64::INFINITY,
            ));
            self.max_abs_err = f64::INFINITY;
            return;
        }
        let (a, b) = (ours.to_vec(), theirs.to_vec());
        let mut worst = 0.0f64;
        let mut bad = false;
        for (&x, &y) in a.iter().zip(&b) {
            let (x, y) = (x.to_f64(), y.to_f64());
            let e = (x - y).abs();
            if e > self.tol.atol + self.tol.rtol * y.abs() || e.is_nan() {
                bad = true;
            }
            worst = if e.is_nan() { f64::NAN } else { worst.max(e) };
        }
        self.max_abs_err = if worst.is_nan() {
            f64::NAN
        } else {
            self.max_abs_err.max(worst)
        };
        if bad && self.failed.is_none() {
            self.failed = Some((name.to_string(), worst));
        }
    }

    fn grad<T: Float>(&mut self, case: &Case<T>, name: &str, g: Option<&Tensor<T>>) -> Result<()> {
        let key = format!("grad.{name}");
        let theirs = case.tensor(&key)?;
        let zeros = Tensor::zeros(theirs.dims());
        self.check(&key, g.unwrap_or(&zeros), theirs);
        Ok(())
    }
}

/// sum(a * ga) + sum(b * gb): the fixtures' loss.
fn weighted<'t, T: Float>(
    a: &Var<'t, T>,
    ga: &Tensor<T>,
    b: &Var<'t, T>,
    gb: &Tensor<T>,
) -> Result<Var<'t, T>> {
    let tape = a.tape();
    Ok(a.mul(&tape.constant(ga.clone()))?
        .sum_all()
        .add(&b.mul(&tape.constant(gb.clone()))?.sum_all())?)
}

fn run_rnn<T: Float>(case: &Case<T>, cmp: &mut Comparison) -> Result<()> {
    let act: Nonlinearity = case.meta("nonlinearity")?.parse()?;
    let config = RnnConfig::new(case.usize("input_size")?, case.usize("hidden_size")?)
        .num_layers(case.usize("num_layers")?)
        .nonlinearity(act)
        .bias(case.bool("bias")?)
        .batch_first(case.bool("batch_first")?)
        .bidirectional(case.bool("bidirectional")?);
    let mut rnn = Rnn::<T>::new(config, &mut recur_nn::seeded_rng(0))?;
    rnn.set_training(false);
    case.load_params(&mut rnn)?;
    let tape = Tape::new();
    let x = tape.leaf(case.tensor("input")?.clone());
    let h0 = case.tensors.get("h0").map(|h| tape.leaf(h.clone()));
    let (out, h_n) = rnn.forward(&x, h0.as_ref())?;
    cmp.check("output", out.value(), case.tensor("output")?);
    cmp.check("h_n", h_n.value(), case.tensor("h_n")?);
    let loss = weighted(
        &out,
        case.tensor("grad_output")?,
        &h_n,
        case.tensor("grad_h_n")?,
    )?;
    let grads = tape.backward(&loss)?;
    cmp.grad(case, "input", grads.of(&x))?;
    if let Some(h0) = &h0 {
        cmp.grad(case, "h0", grads.of(h0))?;
    }
    for (name, p) in rnn.named_parameters() {
        cmp.grad(case, &name, grads.get(p))?;
    }
    Ok(())
}

fn run_cell<T: Float>(case: &Case<T>, cmp: &mut Comparison) -> Result<()> {
    let act: Nonlinearity = case.meta("nonlinearity")?.parse()?;
    let mut cell = RnnCell::<T>::new(
        case.usize("input_size")?,
        case.usize("hidden_size")?,
        case.bool("bias")?,
        act,
        &mut recur_nn::seeded_rng(0),
    )?;
    case.load_params(&mut cell)?;
    let tape = Tape::new();
    let x = tape.leaf(case.tensor("input")?.clone());
    let hx = case.tensors.get("hx").map(|h| tape.leaf(h.clone()));
    let h1 = cell.forward(&x, hx.as_ref())?;
    cmp.check("h1", h1.value(), case.tensor("h1")?);
    let loss = h1
        .mul(&tape.constant(case.tensor("grad_h1")?.clone()))?
        .sum_all();
    let grads = tape.backward(&loss)?;
    cmp.grad(case, "input", grads.of(&x))?;
    if let Some(hx) = &hx {
        cmp.grad(case, "hx", grads.of(hx))?;
    }
    for (name, p) in cell.named_parameters() {
        cmp.grad(case, &name, grads.get(p))?;
    }
    Ok(())
}

/// The optimizer a case names. Settings come from metadata keys (`optimizer`, `lr`,
/// `momentum`, `dampening`, `nesterov`, `weight_decay`, `beta1`, `beta2`, `eps`) when present,
/// else from the documented fixture names.
fn optimizer<T: Float>(case: &Case<T>) -> Result<Box<dyn Optimizer<T>>> {
    let name = case.meta("name").unwrap_or_default();
    let kind = match case.meta.get("optimizer") {
        Some(k) => k.trim_matches('"').to_string(),
        None if name.starts_with("sgd") => "sgd".into(),
        None if name.starts_with("adagrad") => "adagrad".into(),
        None if name.starts_with("adam") => "adam".into(),
        None => {
            return Err(case.err(format!(
                "cannot tell the optimizer of case {name:?} (set metadata \"optimizer\")"
            )));
        }
    };
    let known =
        |key: &str, default: f64| -> Result<f64> { Ok(case.f64_opt(key)?.unwrap_or(default)) };
    // The shared fixtures name their optimizer and leave its settings implicit (documented in
    // their README); a case with metadata `optimizer` has PyTorch's defaults for what it omits.
    let legacy = !case.meta.contains_key("optimizer");
    Ok(match kind.as_str() {
        "sgd" => {
            let fixture = name == "sgd_momentum_nesterov_wd";
            let nesterov = match case.meta.get("nesterov") {
                Some(_) => case.bool("nesterov")?,
                None => fixture,
            };
            Box::new(Sgd::with_config(
                SgdConfig::new(known("lr", 0.1)?)
                    .momentum(known("momentum", if fixture { 0.9 } else { 0.0 })?)
                    .dampening(known("dampening", 0.0)?)
                    .nesterov(nesterov)
                    .weight_decay(known("weight_decay", if fixture { 0.01 } else { 0.0 })?),
            )?)
        }
        "adam" | "adamw" => {
            let (b1, b2) = case.betas((0.9, 0.999))?;
            let amsgrad = case.bool_or("amsgrad", false)?;
            if kind == "adam" {
                Box::new(Adam::with_config(
                    AdamConfig::new(known("lr", if legacy { 1e-2 } else { 1e-3 })?)
                        .betas(b1, b2)
                        .eps(known("eps", 1e-8)?)
                        .weight_decay(known("weight_decay", 0.0)?)
                        .amsgrad(amsgrad),
                )?)
            } else {
                Box::new(AdamW::with_config(
                    AdamWConfig::new(known("lr", 1e-3)?)
                        .betas(b1, b2)
                        .eps(known("eps", 1e-8)?)
                        .weight_decay(known("weight_decay", 1e-2)?)
                        .amsgrad(amsgrad),
                )?)
            }
        }
        "rmsprop" => Box::new(RmsProp::with_config(
            RmsPropConfig::new(known("lr", 1e-2)?)
                .alpha(known("alpha", 0.99)?)
                .eps(known("eps", 1e-8)?)
                .weight_decay(known("weight_decay", 0.0)?)
                .momentum(known("momentum", 0.0)?)
                .centered(case.bool_or("centered", false)?),
        )?),
        "adagrad" => Box::new(Adagrad::with_config(
            AdagradConfig::new(known("lr", if legacy { 0.1 } else { 1e-2 })?)
                .lr_decay(known("lr_decay", 0.0)?)
                .weight_decay(known("weight_decay", 0.0)?)
                .initial_accumulator_value(known("initial_accumulator_value", 0.0)?)
                .eps(known("eps", 1e-10)?),
        )?),
        other => return Err(case.err(format!("unknown optimizer {other:?}"))),
    })
}

fn run_optim<T: Float>(case: &Case<T>, cmp: &mut Comparison) -> Result<()> {
    let steps = case.usize("steps")?;
    let clip = case.f64_opt("clip_max_norm")?;
    let mut opt = optimizer(case)?;
    let mut p = Param::new(case.tensor("param.0")?.clone());
    for k in 1..=steps {
        let mut grads = Grads::new();
        grads.set(&p, case.tensor(&format!("grad.{k}"))?.clone())?;
        if let Some(max_norm) = clip {
            let total = clip_grad_norm(&mut grads, max_norm)?;
            let key = format!("total_norm.{k}");
            let theirs = case.tensor(&key)?;
            cmp.check(
                &key,
                &Tensor::from_vec(vec![T::from_f64(total)], theirs.dims())?,
                theirs,
            );
        }
        opt.step(&mut [&mut p], &grads)?;
        cmp.check(
            &format!("param.{k}"),
            p.value(),
            case.tensor(&format!("param.{k}"))?,
        );
    }
    Ok(())
}

/// The optional `lengths` metadata of an LSTM / GRU case (a JSON list: the input was packed).
fn gated_lengths<T: Float>(case: &Case<T>) -> Result<Option<Vec<usize>>> {
    let Some(v) = case.meta.get("lengths") else {
        return Ok(None);
    };
    let inner = v
        .trim()
        .trim_matches('"')
        .trim_start_matches('[')
        .trim_end_matches(']');
    inner
        .split(',')
        .map(|s| {
            s.trim().parse().map_err(|_| {
                case.err(format!(
                    "metadata \"lengths\" is not a list of counts: {v:?}"
                ))
            })
        })
        .collect::<Result<Vec<usize>>>()
        .map(Some)
}

/// Compares the gradients of the tracked inputs (those present in the case) and of every
/// parameter of `module`.
fn gated_grads<T: Float>(
    case: &Case<T>,
    cmp: &mut Comparison,
    grads: &Grads<T>,
    inputs: &[(&str, Option<&Var<'_, T>>)],
    module: &dyn Module<T>,
) -> Result<()> {
    for (name, v) in inputs {
        if let Some(v) = v {
            cmp.grad(case, name, grads.of(v))?;
        }
    }
    for (name, p) in module.named_parameters() {
        cmp.grad(case, &name, grads.get(p))?;
    }
    Ok(())
}

fn run_lstm<T: Float>(case: &Case<T>, cmp: &mut Comparison) -> Result<()> {
    let config =
        recur_nn::lstm::LstmConfig::new(case.usize("input_size")?, case.usize("hidden_size")?)
            .num_layers(case.usize("num_layers")?)
            .bias(case.bool("bias")?)
            .batch_first(case.bool("batch_first")?)
            .bidirectional(case.bool("bidirectional")?)
            .proj_size(case.usize_or("proj_size", 0)?);
    let mut lstm = recur_nn::lstm::Lstm::<T>::new(config, &mut recur_nn::seeded_rng(0))?;
    lstm.set_training(false);
    case.load_params(&mut lstm)?;
    let lengths = gated_lengths(case)?;
    let tape = Tape::new();
    let x = tape.leaf(case.tensor("input")?.clone());
    let h0 = case.tensors.get("h0").map(|h| tape.leaf(h.clone()));
    let c0 = case.tensors.get("c0").map(|c| tape.leaf(c.clone()));
    let hx = match (&h0, &c0) {
        (Some(h), Some(c)) => Some((h, c)),
        (None, None) => None,
        _ => return Err(case.err("an LSTM case has both h0 and c0 or neither".into())),
    };
    let (out, (h_n, c_n)) = match &lengths {
        Some(l) => lstm.forward_padded(&x, l, hx)?,
        None => lstm.forward(&x, hx)?,
    };
    cmp.check("output", out.value(), case.tensor("output")?);
    cmp.check("h_n", h_n.value(), case.tensor("h_n")?);
    cmp.check("c_n", c_n.value(), case.tensor("c_n")?);
    let loss = weighted(
        &out,
        case.tensor("grad_output")?,
        &h_n,
        case.tensor("grad_h_n")?,
    )?
    .add(
        &c_n.mul(&tape.constant(case.tensor("grad_c_n")?.clone()))?
            .sum_all(),
    )?;
    let grads = tape.backward(&loss)?;
    let inputs = [
        ("input", Some(&x)),
        ("h0", h0.as_ref()),
        ("c0", c0.as_ref()),
    ];
    gated_grads(case, cmp, &grads, &inputs, &lstm)
}

fn run_gru<T: Float>(case: &Case<T>, cmp: &mut Comparison) -> Result<()> {
    let config =
        recur_nn::gru::GruConfig::new(case.usize("input_size")?, case.usize("hidden_size")?)
            .num_layers(case.usize("num_layers")?)
            .bias(case.bool("bias")?)
            .batch_first(case.bool("batch_first")?)
            .bidirectional(case.bool("bidirectional")?);
    let mut gru = recur_nn::gru::Gru::<T>::new(config, &mut recur_nn::seeded_rng(0))?;
    gru.set_training(false);
    case.load_params(&mut gru)?;
    let lengths = gated_lengths(case)?;
    let tape = Tape::new();
    let x = tape.leaf(case.tensor("input")?.clone());
    let h0 = case.tensors.get("h0").map(|h| tape.leaf(h.clone()));
    let (out, h_n) = match &lengths {
        Some(l) => gru.forward_padded(&x, l, h0.as_ref())?,
        None => gru.forward(&x, h0.as_ref())?,
    };
    cmp.check("output", out.value(), case.tensor("output")?);
    cmp.check("h_n", h_n.value(), case.tensor("h_n")?);
    let loss = weighted(
        &out,
        case.tensor("grad_output")?,
        &h_n,
        case.tensor("grad_h_n")?,
    )?;
    let grads = tape.backward(&loss)?;
    let inputs = [("input", Some(&x)), ("h0", h0.as_ref())];
    gated_grads(case, cmp, &grads, &inputs, &gru)
}

fn run_lstm_cell<T: Float>(case: &Case<T>, cmp: &mut Comparison) -> Result<()> {
    let mut cell = recur_nn::lstm::LstmCell::<T>::new(
        case.usize("input_size")?,
        case.usize("hidden_size")?,
        case.bool("bias")?,
        &mut recur_nn::seeded_rng(0),
    )?;
    case.load_params(&mut cell)?;
    let tape = Tape::new();
    let x = tape.leaf(case.tensor("input")?.clone());
    let hx = case.tensors.get("hx").map(|h| tape.leaf(h.clone()));
    let cx = case.tensors.get("cx").map(|c| tape.leaf(c.clone()));
    let state = match (&hx, &cx) {
        (Some(h), Some(c)) => Some((h, c)),
        (None, None) => None,
        _ => return Err(case.err("an LSTMCell case has both hx and cx or neither".into())),
    };
    let (h1, c1) = cell.forward(&x, state)?;
    cmp.check("h1", h1.value(), case.tensor("h1")?);
    cmp.check("c1", c1.value(), case.tensor("c1")?);
    let loss = weighted(&h1, case.tensor("grad_h1")?, &c1, case.tensor("grad_c1")?)?;
    let grads = tape.backward(&loss)?;
    let inputs = [
        ("input", Some(&x)),
        ("hx", hx.as_ref()),
        ("cx", cx.as_ref()),
    ];
    gated_grads(case, cmp, &grads, &inputs, &cell)
}

fn run_gru_cell<T: Float>(case: &Case<T>, cmp: &mut Comparison) -> Result<()> {
    let mut cell = recur_nn::gru::GruCell::<T>::new(
        case.usize("input_size")?,
        case.usize("hidden_size")?,
        case.bool("bias")?,
        &mut recur_nn::seeded_rng(0),
    )?;
    case.load_params(&mut cell)?;
    let tape = Tape::new();
    let x = tape.leaf(case.tensor("input")?.clone());
    let hx = case.tensors.get("hx").map(|h| tape.leaf(h.clone()));
    let h1 = cell.forward(&x, hx.as_ref())?;
    cmp.check("h1", h1.value(), case.tensor("h1")?);
    let loss = h1
        .mul(&tape.constant(case.tensor("grad_h1")?.clone()))?
        .sum_all();
    let grads = tape.backward(&loss)?;
    let inputs = [("input", Some(&x)), ("hx", hx.as_ref())];
    gated_grads(case, cmp, &grads, &inputs, &cell)
}
