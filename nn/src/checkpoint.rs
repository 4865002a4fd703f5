//! Checkpoints as [safetensors](https://huggingface.co/docs/safetensors) files: named
//! tensors plus string metadata, readable by `safetensors.torch.load_file`.
//!
//! - [`save_tensors`] / [`load_tensors`]: any named tensors, `F32` or `F64` by `T`; loading
//!   converts `F32`/`F64` files to `T`. [`tensors_to_bytes`] / [`tensors_from_bytes`] do the
//!   same in memory.
//! - [`save_module`] / [`load_module`]: a module's parameters under PyTorch's names, so the
//!   file loads with `module.load_state_dict(safetensors.torch.load_file(path))`; loading is
//!   strict and all-or-nothing.
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

use crate::error::{NnError, Result};
use crate::module::Module;
use crate::optim::{Optimizer, param_names};
use recur_tensor::{Float, Tensor};
use safetensors::tensor::{Dtype, SafeTensors, View};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// The checksum entry for the metadata itself.
const META_SUM: &str = "__metadata__";

/// CRC-32 (IEEE 802.3, the zlib/PNG one), table-driven.
fn crc32_update(mut crc: u32, bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    crc = !crc;
    for &b in bytes {
        crc = TABLE[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// The checksum of one tensor: its dtype, shape and little-endian bytes.
fn tensor_sum(dtype: Dtype, shape: &[usize], bytes: &[u8]) -> String {
    let mut c = crc32_update(0, format!("{dtype:?}{shape:?}").as_bytes());
    c = crc32_update(c, bytes);
    format!("{c:08x}")
}

/// The checksum of the metadata entries (checksum entries excluded), in key order.
fn meta_sum<'a>(entries: impl Iterator<Item = (&'a String, &'a String)>) -> String {
    let mut c = 0;
    for (k, v) in entries {
        for part in [k.as_bytes(), &[0], v.as_bytes(), &[0]] {
            c = crc32_update(c, part);
        }
    }
    format!("{c:08x}")
}

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

/// One tensor's little-endian bytes, as safetensors writes them.
struct Raw {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Raw {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn to_raw<T: Float>(t: &Tensor<T>) -> Raw {
    let values = t.contiguous();
    let values = values.as_slice().unwrap_or(&[]);
    let (dtype, bytes) = if T::DTYPE == "float64" {
        let b = values
            .iter()
            .flat_map(|v| v.to_f64().to_le_bytes())
            .collect();
        (Dtype::F64, b)
    } else {
        let b = values
            .iter()
            .flat_map(|v| (v.to_f64() as f32).to_le_bytes())
            .collect();
        (Dtype::F32, b)
    };
    Raw {
        dtype,
        shape: t.dims().to_vec(),
        bytes,
    }
}

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
/// assert_eq!(tensors[0].0, "weight");
/// assert_eq!(tensors[0].1.to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
/// assert_eq!(meta2, meta);
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn tensors_to_bytes<T: Float, N: AsRef<str>>(
    tensors: &[(N, Tensor<T>)],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    to_bytes_at(MEMORY, tensors, metadata)
}

fn to_bytes_at<T: Float, N: AsRef<str>>(
    path: &str,
    tensors: &[(N, Tensor<T>)],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let mut seen = std::collections::BTreeSet::new();
    for (name, _) in tensors {
        let name = name.as_ref();
        if name.is_empty() || name == "__metadata__" {
            return Err(ck(path, format!("invalid tensor name {name:?}")));
        }
        if !seen.insert(name) {
            return Err(ck(path, format!("tensor name `{name}` appears twice")));
        }
    }
    if let Some(k) = metadata.keys().find(|k| k.starts_with(CHECKSUM_PREFIX)) {
        return Err(ck(
            path,
            format!("metadata key `{k}` uses the reserved prefix {CHECKSUM_PREFIX:?}"),
        ));
    }
    let raws: Vec<(&str, Raw)> = tensors
        .iter()
        .map(|(n, t)| (n.as_ref(), to_raw(t)))
        .collect();
    let mut info: HashMap<String, String> = metadata
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    info.insert(
        format!("{CHECKSUM_PREFIX}{META_SUM}"),
        meta_sum(metadata.iter()),
    );
    for (name, r) in &raws {
        info.insert(
            format!("{CHECKSUM_PREFIX}{name}"),
            tensor_sum(r.dtype, &r.shape, &r.bytes),
        );
    }
    safetensors::serialize(raws.iter().map(|(n, r)| (*n, r)), Some(info))
        .map_err(|e| ck(path, format!("cannot serialise: {e}")))
}

/// Parses safetensors bytes into named tensors (sorted by name) and metadata, converting
/// `F32`/`F64` data to `T`.
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
    from_bytes_at(MEMORY, bytes)
}

/// Named tensors and the file's metadata, as [`load_tensors`] returns them.
pub type NamedTensors<T> = (Vec<(String, Tensor<T>)>, BTreeMap<String, String>);

/// Checks the 8-byte header length against the total size (before anything is parsed).
fn check_header_len(path: &str, head: &[u8], total: u64) -> Result<()> {
    let Some(n) = head.get(..8) else {
        return Err(ck(
            path,
            format!("file is {total} bytes, too short for a safetensors header"),
        ));
    };
    let mut b = [0u8; 8];
    b.copy_from_slice(n);
    let n = u64::from_le_bytes(b);
    if n > total - 8 {
        return Err(ck(
            path,
            format!(
                "header length {n} exceeds the {} bytes after the length field (truncated or not a safetensors file)",
                total - 8
            ),
        ));
    }
    Ok(())
}

fn from_bytes_at<T: Float>(path: &str, bytes: &[u8]) -> Result<NamedTensors<T>> {
    check_header_len(path, bytes, bytes.len() as u64)?;
    let (n, meta) = SafeTensors::read_metadata(bytes).map_err(|e| ck(path, e.to_string()))?;
    let all: BTreeMap<String, String> = meta
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let (sums, metadata): (BTreeMap<String, String>, BTreeMap<String, String>) = all
        .into_iter()
        .partition(|(k, _)| k.starts_with(CHECKSUM_PREFIX));
    let mut sums: BTreeMap<String, String> = sums
        .into_iter()
        .map(|(k, v)| (k[CHECKSUM_PREFIX.len()..].to_string(), v))
        .collect();
    // A file with checksums has one for the metadata and one per tensor; one without any is
    // an older file or another tool's, loaded unchecked.
    let checked = !sums.is_empty();
    if checked {
        match sums.remove(META_SUM) {
            Some(s) if s == meta_sum(metadata.iter()) => {}
            Some(_) => {
                return Err(ck(
                    path,
                    "metadata checksum mismatch (the file is corrupted)",
                ));
            }
            None => return Err(ck(path, "the metadata checksum is missing")),
        }
    }
    let body = bytes.get(8 + n..).unwrap_or(&[]);
    let infos = meta.tensors();
    let mut out = Vec::with_capacity(infos.len());
    for (name, info) in infos {
        let (start, end) = info.data_offsets;
        let Some(data) = body.get(start..end) else {
            return Err(ck(
                path,
                format!("tensor `{name}`: data offsets out of range"),
            ));
        };
        if checked {
            match sums.remove(name.as_str()) {
                Some(s) if s == tensor_sum(info.dtype, &info.shape, data) => {}
                Some(_) => {
                    return Err(ck(
                        path,
                        format!("tensor `{name}`: checksum mismatch (the file is corrupted)"),
                    ));
                }
                None => return Err(ck(path, format!("tensor `{name}` has no checksum"))),
            }
        }
        let values: Vec<T> = match info.dtype {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|c| T::from_f64(f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64))
                .collect(),
            Dtype::F64 => data
                .chunks_exact(8)
                .map(|c| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(c);
                    T::from_f64(f64::from_le_bytes(b))
                })
                .collect(),
            other => {
                return Err(ck(
                    path,
                    format!("tensor `{name}` has dtype {other:?}; only F32 and F64 can be loaded"),
                ));
            }
        };
        let t = Tensor::from_vec(values, &info.shape)
            .map_err(|e| ck(path, format!("tensor `{name}`: {e}")))?;
        out.push((name.to_string(), t));
    }
    if let Some(name) = sums.keys().next() {
        return Err(ck(
            path,
            format!("tensor `{name}` has a checksum but is missing from the file"),
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((out, metadata))
}

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
/// assert_eq!(loaded[0].1.to_vec(), vec![0.5, -1.5]);
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

/// Writes `bytes` to `path` atomically: to a temporary sibling, synced, then renamed over
/// `path` (and the directory synced), so `path` holds either its old content or all of
/// `bytes`, whatever happens (kill -9, a full disk).
///
/// The temporary is named `.<file name>.tmp-<pid>-<nanos>-<n>`: unique even when a later
/// process gets the PID of a killed one (PID 1 in every container), and retried under a
/// new name if it exists anyway. Temporaries of `path` left by another process (a writer
/// killed mid-write) are removed first: one process writes a given path at a time.
///
/// # Errors
/// [`NnError::Io`] when the file cannot be written; the temporary is removed then and
/// `path` is untouched.
///
/// ```
/// use recur_nn::checkpoint::write_atomic;
/// let path = std::env::temp_dir().join(format!("recur_doc_atomic_{}.txt", std::process::id()));
/// write_atomic(&path, b"step,loss\n")?;
/// assert_eq!(std::fs::read(&path)?, b"step,loss\n");
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let path = path.as_ref();
    let Some(file_name) = path.file_name() else {
        return Err(ck(&path.display().to_string(), "not a file path"));
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // This process's part of the name: the PID alone repeats across containers and reboots.
    let token = TOKEN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{}-{nanos}", std::process::id())
    });
    let stem = format!(".{}.tmp-", file_name.to_string_lossy());
    remove_stale_temporaries(dir, &stem, token);
    let written = (|| -> std::io::Result<()> {
        let (tmp, mut f) = loop {
            let tmp = dir.join(format!(
                "{stem}{token}-{}",
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
            {
                Ok(f) => break (tmp, f),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        };
        let r = (|| {
            f.write_all(bytes)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, path)
        })();
        if r.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        r
    })();
    written.map_err(|e| io_err(path, e))?;
    // Make the rename itself durable (best effort: not every platform can sync a directory).
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes `dir/<stem>*` files not written by this process (`token`): temporaries of a
/// writer that was killed before its rename. Best effort.
fn remove_stale_temporaries(dir: &Path, stem: &str, token: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if let Some(rest) = name.strip_prefix(stem)
            && !rest.starts_with(&format!("{token}-"))
            && e.file_type().is_ok_and(|t| t.is_file())
        {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Reads a safetensors file: named tensors (sorted by name) converted to `T`, and the
/// metadata.
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
    let path = path.as_ref();
    let bytes = read_checked(path)?;
    from_bytes_at(&path.display().to_string(), &bytes)
}

/// Reads a whole file after checking its header length against its size.
fn read_checked(path: &Path) -> Result<Vec<u8>> {
    let shown = path.display().to_string();
    let mut f = fs::File::open(path).map_err(|e| io_err(path, e))?;
    let len = f.metadata().map_err(|e| io_err(path, e))?.len();
    let mut head = [0u8; 8];
    let got = if len >= 8 {
        f.read_exact(&mut head).map_err(|e| io_err(path, e))?;
        8
    } else {
        0
    };
    check_header_len(&shown, &head[..got], len)?;
    let size = usize::try_from(len).map_err(|_| ck(&shown, "file too large"))?;
    let mut bytes = Vec::with_capacity(size);
    bytes.extend_from_slice(&head);
    // `take` bounds the read by the size checked above, even if the file grows meanwhile.
    f.take(len - 8)
        .read_to_end(&mut bytes)
        .map_err(|e| io_err(path, e))?;
    Ok(bytes)
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
/// use std::collections::BTreeMap;
/// #[derive(Module)]
/// struct Bias(#[module(rename = "bias")] Param<f32>);
/// let path = std::env::temp_dir().join(format!("recur_doc_module_{}.safetensors", std::process::id()));
/// let m = Bias(Param::new(Tensor::from_vec(vec![1.0, 2.0], &[2])?));
/// save_module(&m, &path, &BTreeMap::from([("epoch".into(), "3".into())]))?;
/// let mut fresh = Bias(Param::new(Tensor::zeros(&[2])));
/// let meta = load_module(&mut fresh, &path)?;
/// assert_eq!(fresh.0.value().to_vec(), vec![1.0, 2.0]);
/// assert_eq!(meta["epoch"], "3");
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn save_module<T: Float>(
    module: &dyn Module<T>,
    path: impl AsRef<Path>,
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    save_tensors(path, &module_tensors(module), metadata)
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
    let path = path.as_ref();
    let shown = path.display().to_string();
    let (tensors, meta) = load_tensors::<T>(path)?;
    let plan = plan_module_load(&shown, &*module, tensors)?;
    apply_module_load(module, plan);
    Ok(meta)
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
    let plan = plan_module_load(MEMORY, &*module, tensors)?;
    apply_module_load(module, plan);
    Ok(meta)
}

/// Matches file tensors to the module's parameters; on success, the new value for each
/// parameter (by position in `named_parameters`).
fn plan_module_load<T: Float>(
    path: &str,
    module: &dyn Module<T>,
    tensors: Vec<(String, Tensor<T>)>,
) -> Result<Vec<Tensor<T>>> {
    let params = module.named_parameters();
    let mut by_name: BTreeMap<String, Tensor<T>> = tensors.into_iter().collect();
    let mut plan = Vec::with_capacity(params.len());
    let (mut missing, mut sizes) = (Vec::new(), Vec::new());
    for (name, p) in &params {
        match by_name.remove(name) {
            None => missing.push(format!("\"{name}\"")),
            Some(t) if t.dims() != p.value().dims() => sizes.push(format!(
                "size mismatch for {name}: the file has {}, the module has {}",
                t.shape(),
                p.value().shape()
            )),
            Some(t) => plan.push(t),
        }
    }
    let unexpected: Vec<String> = by_name.keys().map(|k| format!("\"{k}\"")).collect();
    if missing.is_empty() && unexpected.is_empty() && sizes.is_empty() {
        return Ok(plan);
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
/// assert_eq!(extra[0].0, "h");
/// assert_eq!(extra[0].1.to_vec(), vec![0.5, 0.5]);
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
/// [`EXTRA_PREFIX`], sorted).
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
    let extra: Vec<(String, Tensor<T>)> = extra
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
    Ok((extra, meta))
}
