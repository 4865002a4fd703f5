//! Checkpoints as [safetensors](https://huggingface.co/docs/safetensors) files: named
//! tensors plus string metadata, readable by `safetensors.torch.load_file`.
//!
//! - [`save_tensors`] / [`load_tensors`]: any named tensors, `F32` or `F64` by `T`; loading
//!   converts `F32`/`F64` files to `T` and gives [`Tensors`], looked up by name.
//!   [`tensors_to_bytes`] / [`tensors_from_bytes`] do the same in memory.
//! - [`Checkpoint`]: a file opened by its header alone — its metadata ([`read_metadata`]),
//!   names and shapes without reading any tensor data, then single tensors by name.
//! - [`save_module`] / [`load_module`]: a module's parameters under PyTorch's names, so the
//!   file loads with `module.load_state_dict(safetensors.torch.load_file(path))`; loading is
//!   strict and all-or-nothing. [`save_module_with`] adds metadata ([`SaveOptions`]).
//! - [`Rnn::save`](crate::Rnn::save) / [`Rnn::load`](crate::Rnn::load) (and the same for
//!   [`Lstm`](crate::Lstm) and [`Gru`](crate::Gru)): the parameters plus the module's config,
//!   so that the file alone rebuilds the module.
//! - [`save_training_state`] / [`load_training_state`]: the module's parameters plus the
//!   optimizer's state under an `optim.` prefix, to resume training in a fresh process.
//!
//! Writes are atomic ([`write_atomic`]): the bytes go to a uniquely named temporary file in
//! the same directory, which is synced and renamed over `path`, so `path` never holds a
//! half-written file; temporaries left by a killed writer are removed by the next write.
//!
//! Every file carries a CRC-32 of each tensor (its dtype, shape and bytes) and of the
//! metadata, under [`CHECKSUM_PREFIX`] keys of the metadata; loading verifies them, so a
//! flipped bit or an edited header is an error, not silently different weights. A file
//! without checksums (older, or written by another tool) still loads.
//!
//! Reads never panic and never allocate more than the file's size: the 8-byte header length
//! is checked against the file size before anything else, and a truncated, corrupted or
//! mismatched file is an [`NnError::Checkpoint`] naming the file and the problem.
//!
//! # Module configs
//!
//! [`Rnn::save`](crate::Rnn::save) (and [`ModuleConfig::to_metadata`] for any config) stores
//! the module's settings as plain metadata strings beside the parameters, one entry per
//! constructor argument under PyTorch's name, the value as Rust prints it:
//!
//! ```text
//! recur.module               = "LSTM"          (or "RNN", "GRU")
//! recur.config.input_size    = "10"
//! recur.config.hidden_size   = "20"
//! recur.config.num_layers    = "2"
//! recur.config.bias          = "true"          ("true" / "false")
//! recur.config.batch_first   = "false"
//! recur.config.dropout       = "0.5"           (shortest text that reads back exactly)
//! recur.config.bidirectional = "true"
//! recur.config.proj_size     = "0"
//! recur.config.nonlinearity  = "tanh"          (RNN only: "tanh" / "relu")
//! ```
//!
//! The parameter names are unchanged, so the file still loads into PyTorch by name
//! (`safetensors.torch.load_file` returns the metadata separately, and `load_state_dict`
//! never sees it); in Python the config reads back as
//! `safe_open(path, "pt").metadata()["recur.config.hidden_size"]`. Loading refuses a file
//! without these keys, with another module's name, or with a missing, malformed, unknown or
//! invalid entry; a file without them still loads into a module built by hand with
//! [`load_module`].
//!
//! ```
//! use recur_nn::{Lstm, LstmConfig, Module};
//! use recur_nn::checkpoint::read_metadata;
//! let path = std::env::temp_dir().join(format!("recur_doc_lstm_{}.safetensors", std::process::id()));
//! let config = LstmConfig::new(3, 8).num_layers(2).proj_size(4).batch_first(true);
//! let lstm = Lstm::<f32>::new(config.clone(), &mut recur_nn::seeded_rng(1))?;
//! lstm.save(&path)?;
//! assert_eq!(read_metadata(&path)?["recur.config.proj_size"], "4");    // header only
//!
//! let back = Lstm::<f32>::load(&path)?;                                // config + weights
//! assert_eq!(back.config(), &config);
//! for ((n1, p1), (n2, p2)) in back.named_parameters().iter().zip(lstm.named_parameters()) {
//!     assert_eq!((n1, p1.value().to_vec()), (&n2, p2.value().to_vec()));
//! }
//! let e = recur_nn::Gru::<f32>::load(&path).unwrap_err().to_string();
//! assert!(e.ends_with("the file holds an LSTM, not a GRU"), "{e}");
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), recur_nn::NnError>(())
//! ```

mod atomic;
mod config;
mod format;
mod reader;
mod tensors;

pub use atomic::write_atomic;
pub use config::{CONFIG_PREFIX, MODULE_KEY, ModuleConfig};
pub use reader::Checkpoint;
pub use tensors::Tensors;

use crate::error::{NnError, Result};
use crate::module::Module;
use crate::optim::{Optimizer, param_names};
use format::{decode, header_len, parse_header, to_bytes_at};
use recur_tensor::{Float, Tensor};
use std::collections::BTreeMap;
use std::path::Path;

/// The prefix of optimizer state entries in [`save_training_state`] files.
pub const OPTIM_PREFIX: &str = "optim.";

/// The prefix of the extra tensors of [`save_training_state_with`] files (anything the
/// training loop needs to resume beyond parameters and optimizer state).
pub const EXTRA_PREFIX: &str = "extra.";

/// The prefix of the metadata keys holding checksums: `recur.crc32.<tensor name>` for each
/// tensor and `recur.crc32.__metadata__` for the other metadata entries. Reserved: user
/// metadata may not use it, and [`load_tensors`] does not return these keys.
pub const CHECKSUM_PREFIX: &str = "recur.crc32.";

/// The metadata key recording how many optimizer entries a training-state file holds, so a
/// file whose optimizer state was stripped is refused rather than resumed from scratch.
const OPTIM_COUNT_KEY: &str = "recur.optim_entries";

/// The `path` shown in errors about in-memory buffers.
const MEMORY: &str = "<memory>";

fn ck(path: &str, msg: impl Into<String>) -> NnError {
    NnError::Checkpoint {
        path: path.to_string(),
        msg: msg.into(),
    }
}

fn io_err(path: &Path, source: std::io::Error) -> NnError {
    NnError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// What a save writes besides the parameters: for now, string metadata (PyTorch's
/// `save_file(..., metadata=...)`). The default is no metadata.
///
/// ```
/// use recur_nn::checkpoint::SaveOptions;
/// let opts = SaveOptions::new().metadata("epoch", 3).metadata("arch", "RNN(5, 6)");
/// assert_eq!(opts.metadata["epoch"], "3");
/// assert!(SaveOptions::default().metadata.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SaveOptions {
    /// String metadata stored in the file's header (keys under [`CHECKSUM_PREFIX`] are
    /// reserved).
    pub metadata: BTreeMap<String, String>,
}

impl SaveOptions {
    /// No metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the metadata entry `key = value` (replacing an earlier value of `key`).
    pub fn metadata(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.metadata.insert(key.into(), value.to_string());
        self
    }

    /// Adds a module's config (see the [format](self#module-configs)), as
    /// [`Rnn::save`](crate::Rnn::save) does; for a model that holds a recurrent module among
    /// others.
    ///
    /// ```
    /// use recur_nn::checkpoint::SaveOptions;
    /// let opts = SaveOptions::new().config(&recur_nn::GruConfig::new(3, 4));
    /// assert_eq!(opts.metadata["recur.module"], "GRU");
    /// ```
    pub fn config(mut self, config: &impl ModuleConfig) -> Self {
        self.metadata.extend(config.to_metadata());
        self
    }
}

impl From<BTreeMap<String, String>> for SaveOptions {
    fn from(metadata: BTreeMap<String, String>) -> Self {
        SaveOptions { metadata }
    }
}

// ------------------------------------------------------------------ tensors

/// Serialises named tensors and metadata to safetensors bytes (`F32` for `f32` tensors,
/// `F64` for `f64`; row-major, little-endian).
///
/// # Errors
/// When a name repeats, is empty or is `__metadata__` (reserved by the format).
///
/// ```
/// use recur_nn::checkpoint::{tensors_from_bytes, tensors_to_bytes};
/// use recur_tensor::Tensor;
/// use std::collections::BTreeMap;
/// let w = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
/// let meta = BTreeMap::from([("step".to_string(), "10".to_string())]);
/// let bytes = tensors_to_bytes(&[("weight", w.clone())], &meta)?;
/// let (tensors, meta2) = tensors_from_bytes::<f64>(&bytes)?;      // F32 file read as f64
/// assert_eq!(tensors.get("weight")?.to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
/// assert_eq!(meta2, meta);
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn tensors_to_bytes<T: Float, N: AsRef<str>>(
    tensors: &[(N, Tensor<T>)],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    to_bytes_at(MEMORY, tensors, metadata)
}

/// Parses safetensors bytes into named tensors and metadata, converting `F32`/`F64` data to
/// `T`.
///
/// # Errors
/// [`NnError::Checkpoint`] for a buffer that is truncated, has a bad header (length out of
/// range, not UTF-8, not JSON), out-of-range or overlapping data offsets, a dtype other
/// than `F32`/`F64`, or a checksum that does not match (a tensor or the metadata changed
/// since it was written). Never panics.
///
/// ```
/// use recur_nn::checkpoint::tensors_from_bytes;
/// let err = tensors_from_bytes::<f32>(&[1, 2, 3]).unwrap_err();
/// assert!(err.to_string().contains("too short"));
/// ```
pub fn tensors_from_bytes<T: Float>(bytes: &[u8]) -> Result<NamedTensors<T>> {
    let total = bytes.len() as u64;
    let n = header_len(MEMORY, bytes, total)?;
    let header = parse_header(MEMORY, bytes.get(8..8 + n).unwrap_or(&[]), total)?;
    let mut map = BTreeMap::new();
    for (name, entry) in &header.entries {
        let data = usize::try_from(entry.start)
            .ok()
            .zip(usize::try_from(entry.end).ok())
            .and_then(|(s, e)| bytes.get(s..e))
            .ok_or_else(|| {
                ck(
                    MEMORY,
                    format!("tensor `{name}`: data offsets out of range"),
                )
            })?;
        map.insert(name.clone(), decode(MEMORY, name, entry, data)?);
    }
    Ok((Tensors::new(MEMORY, map), header.metadata))
}

/// Named tensors and the file's metadata, as [`load_tensors`] returns them.
pub type NamedTensors<T> = (Tensors<T>, BTreeMap<String, String>);

/// Writes named tensors and metadata to `path` as a safetensors file, atomically (a temporary
/// file in the same directory, synced, then renamed over `path`).
///
/// # Errors
/// As for [`tensors_to_bytes`], and [`NnError::Io`] when the file cannot be written (the
/// temporary file is removed then; `path` is untouched).
///
/// ```
/// use recur_nn::checkpoint::{load_tensors, save_tensors};
/// use recur_tensor::Tensor;
/// use std::collections::BTreeMap;
/// let path = std::env::temp_dir().join(format!("recur_doc_save_{}.safetensors", std::process::id()));
/// let t = Tensor::from_vec(vec![0.5f64, -1.5], &[2])?;
/// save_tensors(&path, &[("bias", t)], &BTreeMap::new())?;
/// let (loaded, meta) = load_tensors::<f64>(&path)?;
/// assert_eq!(loaded.get("bias")?.to_vec(), vec![0.5, -1.5]);
/// assert!(meta.is_empty());
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn save_tensors<T: Float, N: AsRef<str>>(
    path: impl AsRef<Path>,
    tensors: &[(N, Tensor<T>)],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let path = path.as_ref();
    let bytes = to_bytes_at(&path.display().to_string(), tensors, metadata)?;
    write_atomic(path, &bytes)
}

/// Reads a safetensors file: its tensors converted to `T`, looked up by name
/// ([`Tensors::get`]), and its metadata. (To read a few tensors of a large file, or only
/// its metadata, use [`Checkpoint`] or [`read_metadata`].)
///
/// # Errors
/// [`NnError::Io`] when the file cannot be read; [`NnError::Checkpoint`] when it is not a
/// valid safetensors file of `F32`/`F64` tensors (see [`tensors_from_bytes`]). The header
/// length is checked against the file size before the rest is read.
///
/// ```
/// use recur_nn::checkpoint::load_tensors;
/// let err = load_tensors::<f32>("/nonexistent/model.safetensors").unwrap_err();
/// assert!(err.to_string().starts_with("/nonexistent/model.safetensors: "));
/// ```
pub fn load_tensors<T: Float>(path: impl AsRef<Path>) -> Result<NamedTensors<T>> {
    let ck = Checkpoint::open(path)?;
    Ok((ck.tensors()?, ck.metadata().clone()))
}

/// The metadata of a checkpoint file (checksum entries removed, checked against their
/// checksum), reading only its header: cheap however large the tensors are.
///
/// # Errors
/// As for [`Checkpoint::open`].
///
/// ```
/// use recur_nn::checkpoint::{read_metadata, save_module_with, SaveOptions};
/// use recur_nn::{Linear, Module};
/// let path = std::env::temp_dir().join(format!("recur_doc_meta_{}.safetensors", std::process::id()));
/// let head = Linear::<f32>::new(512, 512, &mut recur_nn::seeded_rng(0))?;
/// save_module_with(&head, &path, &SaveOptions::new().metadata("step", 1200))?;
/// assert_eq!(read_metadata(&path)?["step"], "1200");
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn read_metadata(path: impl AsRef<Path>) -> Result<BTreeMap<String, String>> {
    Ok(Checkpoint::open(path)?.metadata().clone())
}

// ------------------------------------------------------------------ modules

/// The module's parameters as named tensors (PyTorch's names, cheap clones).
fn module_tensors<T: Float>(module: &dyn Module<T>) -> Vec<(String, Tensor<T>)> {
    module
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.value().clone()))
        .collect()
}

/// Saves a module's parameters under their PyTorch names (`weight_ih_l0`, ...), so that
/// `torch_module.load_state_dict(safetensors.torch.load_file(path))` accepts the file.
/// Written atomically, like [`save_tensors`].
///
/// # Errors
/// As for [`save_tensors`].
///
/// ```
/// use recur_nn::checkpoint::{load_module, save_module};
/// use recur_nn::{Module, Param};
/// use recur_tensor::Tensor;
/// #[derive(Module)]
/// struct Bias(#[module(rename = "bias")] Param<f32>);
/// let path = std::env::temp_dir().join(format!("recur_doc_module_{}.safetensors", std::process::id()));
/// let m = Bias(Param::new(Tensor::from_vec(vec![1.0, 2.0], &[2])?));
/// save_module(&m, &path)?;
/// let mut fresh = Bias(Param::new(Tensor::zeros(&[2])));
/// load_module(&mut fresh, &path)?;
/// assert_eq!(fresh.0.value().to_vec(), vec![1.0, 2.0]);
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn save_module<T: Float>(module: &dyn Module<T>, path: impl AsRef<Path>) -> Result<()> {
    save_module_with(module, path, &SaveOptions::default())
}

/// [`save_module`] with [`SaveOptions`]: metadata to store beside the parameters.
///
/// # Errors
/// As for [`save_tensors`] (also when a metadata key uses [`CHECKSUM_PREFIX`]).
///
/// ```
/// use recur_nn::checkpoint::{load_module, save_module_with, SaveOptions};
/// use recur_nn::{Linear, Module};
/// let path = std::env::temp_dir().join(format!("recur_doc_module_with_{}.safetensors", std::process::id()));
/// let head = Linear::<f32>::new(4, 2, &mut recur_nn::seeded_rng(0))?;
/// save_module_with(&head, &path, &SaveOptions::new().metadata("epoch", 3))?;
/// let mut fresh = Linear::<f32>::new(4, 2, &mut recur_nn::seeded_rng(1))?;
/// let meta = load_module(&mut fresh, &path)?;
/// assert_eq!(meta["epoch"], "3");
/// assert_eq!(fresh.named_parameters()[0].1.value().to_vec(), head.named_parameters()[0].1.value().to_vec());
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn save_module_with<T: Float>(
    module: &dyn Module<T>,
    path: impl AsRef<Path>,
    options: &SaveOptions,
) -> Result<()> {
    save_tensors(path, &module_tensors(module), &options.metadata)
}

/// Saves `module` with `config` in the metadata (what the recurrent modules' `save_with`
/// does), refusing user metadata under the config's keys.
pub(crate) fn save_with_config<T: Float>(
    module: &dyn Module<T>,
    config: &impl ModuleConfig,
    path: &Path,
    options: &SaveOptions,
) -> Result<()> {
    if let Some(k) = options.metadata.keys().find(|k| config::is_config_key(k)) {
        return Err(ck(
            &path.display().to_string(),
            format!("metadata key `{k}` is reserved for the module's config"),
        ));
    }
    save_module_with(module, path, &options.clone().config(config))
}

/// Builds a module from the config stored in `ck` (with `build`) and loads its parameters
/// (what the recurrent modules' `load` does). Errors name the file.
pub(crate) fn build_from<T: Float, C: ModuleConfig, M: Module<T>>(
    ck: &Checkpoint,
    build: impl FnOnce(C) -> Result<M>,
) -> Result<M> {
    let config = ck.config::<C>()?;
    let mut module = build(config).map_err(|e| ck.error(e))?;
    ck.load_module(&mut module)?;
    Ok(module)
}

/// Loads a module's parameters from a file written by [`save_module`] (or by PyTorch's
/// `safetensors.torch.save_file(module.state_dict(), path)`), strictly: every parameter
/// must be present with its shape and no other tensor may be in the file. Values are
/// converted to `T`; parameter ids are kept. Returns the file's metadata.
///
/// # Errors
/// [`NnError::Checkpoint`] listing every missing name, unexpected name and shape mismatch
/// (`size mismatch for weight_ih_l0: the file has [4, 5], the module has [4, 3]`), or the
/// errors of [`load_tensors`]. The module is unchanged unless everything matches.
///
/// ```
/// use recur_nn::checkpoint::{load_module, save_tensors};
/// use recur_nn::{Module, Param};
/// use recur_tensor::Tensor;
/// use std::collections::BTreeMap;
/// #[derive(Module)]
/// struct Bias(#[module(rename = "bias")] Param<f32>);
/// let path = std::env::temp_dir().join(format!("recur_doc_strict_{}.safetensors", std::process::id()));
/// save_tensors(&path, &[("bias", Tensor::<f32>::zeros(&[3]))], &BTreeMap::new())?;
/// let mut m = Bias(Param::new(Tensor::ones(&[2])));
/// let err = load_module(&mut m, &path).unwrap_err();
/// assert!(err.to_string().contains("size mismatch for bias: the file has [3], the module has [2]"));
/// assert_eq!(m.0.value().to_vec(), vec![1.0, 1.0]);                // unchanged
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn load_module<T: Float>(
    module: &mut dyn Module<T>,
    path: impl AsRef<Path>,
) -> Result<BTreeMap<String, String>> {
    let ck = Checkpoint::open(path)?;
    ck.load_module(module)?;
    Ok(ck.metadata().clone())
}

/// [`load_module`] from safetensors bytes in memory.
///
/// # Errors
/// As for [`load_module`].
///
/// ```
/// use recur_nn::checkpoint::{load_module_from_bytes, tensors_to_bytes};
/// use recur_nn::{Module, Param};
/// use recur_tensor::Tensor;
/// use std::collections::BTreeMap;
/// #[derive(Module)]
/// struct Bias(#[module(rename = "bias")] Param<f64>);
/// let bytes = tensors_to_bytes(&[("bias", Tensor::<f64>::ones(&[2]))], &BTreeMap::new())?;
/// let mut m = Bias(Param::new(Tensor::zeros(&[2])));
/// load_module_from_bytes(&mut m, &bytes)?;
/// assert_eq!(m.0.value().to_vec(), vec![1.0, 1.0]);
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn load_module_from_bytes<T: Float>(
    module: &mut dyn Module<T>,
    bytes: &[u8],
) -> Result<BTreeMap<String, String>> {
    let (tensors, meta) = tensors_from_bytes::<T>(bytes)?;
    let plan = plan_module_load(MEMORY, &*module, tensors.into_vec())?;
    apply_module_load(module, plan);
    Ok(meta)
}

/// Checks that a file holding the tensors `file` (name -> dims) fits the module's
/// parameters exactly: the strict `load_state_dict` report of every missing name,
/// unexpected name and shape mismatch.
fn check_module_fit<T: Float>(
    path: &str,
    module: &dyn Module<T>,
    file: &BTreeMap<&str, &[usize]>,
) -> Result<()> {
    let params = module.named_parameters();
    let (mut missing, mut sizes) = (Vec::new(), Vec::new());
    for (name, p) in &params {
        match file.get(name.as_str()) {
            None => missing.push(format!("\"{name}\"")),
            Some(dims) if *dims != p.value().dims() => sizes.push(format!(
                "size mismatch for {name}: the file has {dims:?}, the module has {:?}",
                p.value().dims()
            )),
            Some(_) => {}
        }
    }
    let known: std::collections::BTreeSet<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
    let unexpected: Vec<String> = file
        .keys()
        .filter(|k| !known.contains(*k))
        .map(|k| format!("\"{k}\""))
        .collect();
    if missing.is_empty() && unexpected.is_empty() && sizes.is_empty() {
        return Ok(());
    }
    let mut parts = vec!["error(s) loading the module's parameters:".to_string()];
    if !missing.is_empty() {
        parts.push(format!("missing key(s): {}.", missing.join(", ")));
    }
    if !unexpected.is_empty() {
        parts.push(format!("unexpected key(s): {}.", unexpected.join(", ")));
    }
    for s in sizes {
        parts.push(format!("{s}."));
    }
    Err(ck(path, parts.join(" ")))
}

/// Matches file tensors to the module's parameters ([`check_module_fit`]); on success, the
/// new value for each parameter (by position in `named_parameters`).
fn plan_module_load<T: Float>(
    path: &str,
    module: &dyn Module<T>,
    tensors: Vec<(String, Tensor<T>)>,
) -> Result<Vec<Tensor<T>>> {
    let mut by_name: BTreeMap<String, Tensor<T>> = tensors.into_iter().collect();
    let shapes = by_name
        .iter()
        .map(|(n, t)| (n.as_str(), t.dims()))
        .collect();
    check_module_fit(path, module, &shapes)?;
    module
        .named_parameters()
        .iter()
        .map(|(name, _)| {
            by_name
                .remove(name)
                .ok_or_else(|| ck(path, format!("missing key(s): \"{name}\".")))
        })
        .collect()
}

fn apply_module_load<T: Float>(module: &mut dyn Module<T>, plan: Vec<Tensor<T>>) {
    for ((_, p), t) in module.named_parameters_mut().into_iter().zip(plan) {
        p.set_value(t);
    }
}
// ------------------------------------------------------------------ training state

/// Saves a module's parameters (plain names) and an optimizer's state (names prefixed with
/// [`OPTIM_PREFIX`], e.g. `optim.weight_ih_l0.exp_avg`) in one file, atomically, to resume
/// training later with [`load_training_state`]. (For PyTorch, save the module alone with
/// [`save_module`]: its strict `load_state_dict` would refuse the `optim.` entries.)
///
/// # Errors
/// As for [`save_tensors`].
///
/// ```
/// use recur_nn::checkpoint::{load_training_state, save_training_state};
/// use recur_nn::optim::{Adam, Optimizer};
/// use recur_nn::{Grads, Module, Param};
/// use recur_tensor::Tensor;
/// use std::collections::BTreeMap;
/// #[derive(Module)]
/// struct Bias(#[module(rename = "bias")] Param<f64>);
/// let path = std::env::temp_dir().join(format!("recur_doc_train_{}.safetensors", std::process::id()));
/// let mut m = Bias(Param::new(Tensor::ones(&[2])));
/// let mut opt = Adam::new(0.1)?;
/// let mut grads = Grads::new();
/// grads.set(&m.0, Tensor::ones(&[2]))?;
/// opt.step_modules(&mut [&mut m], &grads)?;
/// save_training_state(&path, &m, &opt, &BTreeMap::from([("step".into(), "1".into())]))?;
///
/// let mut m2 = Bias(Param::new(Tensor::zeros(&[2])));             // a fresh process
/// let mut opt2 = Adam::new(0.1)?;
/// let meta = load_training_state(&path, &mut m2, &mut opt2)?;
/// assert_eq!(meta["step"], "1");
/// assert_eq!(m2.0.value().to_vec(), m.0.value().to_vec());
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn save_training_state<T: Float>(
    path: impl AsRef<Path>,
    module: &dyn Module<T>,
    optimizer: &dyn Optimizer<T>,
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    save_training_state_with::<T, &str>(path, module, optimizer, &[], metadata)
}

/// [`save_training_state`] plus `extra` tensors (stored under [`EXTRA_PREFIX`]): whatever
/// else the training loop needs to resume exactly, such as a carried hidden state.
///
/// # Errors
/// As for [`save_tensors`].
///
/// ```
/// use recur_nn::checkpoint::{load_training_state_with, save_training_state_with};
/// use recur_nn::optim::Sgd;
/// use recur_nn::{Module, Param};
/// use recur_tensor::Tensor;
/// use std::collections::BTreeMap;
/// #[derive(Module)]
/// struct Bias(#[module(rename = "bias")] Param<f32>);
/// let path = std::env::temp_dir().join(format!("recur_doc_extra_{}.safetensors", std::process::id()));
/// let m = Bias(Param::new(Tensor::ones(&[2])));
/// let state = Tensor::full(&[1, 2], 0.5f32);
/// save_training_state_with(&path, &m, &Sgd::new(0.1)?, &[("h", state)], &BTreeMap::new())?;
/// let mut m2 = Bias(Param::new(Tensor::zeros(&[2])));
/// let (extra, _) = load_training_state_with(&path, &mut m2, &mut Sgd::new(0.1)?)?;
/// assert_eq!(extra.get("h")?.to_vec(), vec![0.5, 0.5]);
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn save_training_state_with<T: Float, N: AsRef<str>>(
    path: impl AsRef<Path>,
    module: &dyn Module<T>,
    optimizer: &dyn Optimizer<T>,
    extra: &[(N, Tensor<T>)],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let mut tensors = module_tensors(module);
    let names = param_names("", module);
    let optim = optimizer.state_dict(&names);
    let mut metadata = metadata.clone();
    metadata.insert(OPTIM_COUNT_KEY.into(), optim.len().to_string());
    tensors.extend(
        optim
            .into_iter()
            .map(|(k, v)| (format!("{OPTIM_PREFIX}{k}"), v)),
    );
    tensors.extend(
        extra
            .iter()
            .map(|(k, v)| (format!("{EXTRA_PREFIX}{}", k.as_ref()), v.clone())),
    );
    save_tensors(path, &tensors, &metadata)
}

/// Restores what [`save_training_state`] wrote: the module's parameters (strictly, as
/// [`load_module`]) and the optimizer's state. Returns the metadata. Either both are
/// restored or neither changes. Extra tensors ([`save_training_state_with`]) are ignored.
///
/// # Errors
/// As for [`load_module`] and [`Optimizer::load_state_dict`]; also when the file records
/// more optimizer entries than it holds (state stripped from the file).
pub fn load_training_state<T: Float>(
    path: impl AsRef<Path>,
    module: &mut dyn Module<T>,
    optimizer: &mut dyn Optimizer<T>,
) -> Result<BTreeMap<String, String>> {
    Ok(load_training_state_with(path, module, optimizer)?.1)
}

/// [`load_training_state`], also returning the extra tensors (names without
/// [`EXTRA_PREFIX`]).
///
/// # Errors
/// As for [`load_training_state`].
pub fn load_training_state_with<T: Float>(
    path: impl AsRef<Path>,
    module: &mut dyn Module<T>,
    optimizer: &mut dyn Optimizer<T>,
) -> Result<NamedTensors<T>> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let (tensors, mut meta) = load_tensors::<T>(path)?;
    let (extra, tensors): (Vec<_>, Vec<_>) = tensors
        .into_iter()
        .partition(|(k, _)| k.starts_with(EXTRA_PREFIX));
    let extra: BTreeMap<String, Tensor<T>> = extra
        .into_iter()
        .map(|(k, v)| (k[EXTRA_PREFIX.len()..].to_string(), v))
        .collect();
    let (optim, params): (Vec<_>, Vec<_>) = tensors
        .into_iter()
        .partition(|(k, _)| k.starts_with(OPTIM_PREFIX));
    if let Some(count) = meta.remove(OPTIM_COUNT_KEY)
        && count != optim.len().to_string()
    {
        return Err(ck(
            &shown,
            format!(
                "optimizer state: the file was written with {count} entries but holds {}",
                optim.len()
            ),
        ));
    }
    let optim: Vec<(String, Tensor<T>)> = optim
        .into_iter()
        .map(|(k, v)| (k[OPTIM_PREFIX.len()..].to_string(), v))
        .collect();
    let plan = plan_module_load(&shown, &*module, params)?;
    let names = param_names("", &*module);
    optimizer
        .load_state_dict(&names, &optim)
        .map_err(|e| match e {
            NnError::Checkpoint { msg, .. } => ck(&shown, format!("optimizer state: {msg}")),
            other => other,
        })?;
    apply_module_load(module, plan);
    Ok((Tensors::new(&shown, extra), meta))
}
