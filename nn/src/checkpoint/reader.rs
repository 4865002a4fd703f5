//! [`Checkpoint`]: a checkpoint opened by its header, its tensors read on demand.

use super::config::ModuleConfig;
use super::format::{Entry, Header, decode, header_len, parse_header};
use super::tensors::{Tensors, no_such_tensor};
use super::{MEMORY, ck, io_err};
use crate::error::{NnError, Result};
use crate::module::Module;
use recur_tensor::{Float, Tensor};
use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Mutex;

/// Where the bytes of an opened checkpoint are.
#[derive(Debug)]
enum Source {
    /// An open file: tensors are read from it one at a time (the handle keeps the opened
    /// file even if `path` is replaced meanwhile).
    File(Mutex<fs::File>),
    /// A buffer in memory.
    Bytes(Vec<u8>),
}

/// A checkpoint opened for reading: only its header is read and checked by
/// [`Checkpoint::open`] (names, dtypes, shapes, metadata and its checksum); each tensor's bytes
/// are read when it is asked for, and checked against their checksum then.
///
/// Use it to read the metadata of a large file cheaply, to fetch a few tensors by name, or to
/// rebuild a module whose config the file stores ([`Checkpoint::config`],
/// [`Rnn::load`](crate::Rnn::load)).
///
/// ```
/// use recur_nn::checkpoint::{save_tensors, Checkpoint};
/// use recur_tensor::Tensor;
/// use std::collections::BTreeMap;
/// let path = std::env::temp_dir().join(format!("recur_doc_open_{}.safetensors", std::process::id()));
/// let meta = BTreeMap::from([("step".to_string(), "100".to_string())]);
/// save_tensors(&path, &[("w", Tensor::<f32>::ones(&[2, 3])), ("b", Tensor::zeros(&[2]))], &meta)?;
///
/// let ck = Checkpoint::open(&path)?;                      // reads the header only
/// assert_eq!(ck.metadata()["step"], "100");
/// assert_eq!(ck.names().collect::<Vec<_>>(), ["b", "w"]);
/// assert_eq!(ck.shape("w")?, &[2, 3]);
/// let w = ck.tensor::<f64>("w")?;                         // reads (and checks) `w` only
/// assert_eq!(w.to_vec(), vec![1.0; 6]);
/// let e = ck.tensor::<f32>("weight").unwrap_err().to_string();
/// assert!(e.ends_with("no tensor named `weight`; the file has `b`, `w`"), "{e}");
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), recur_nn::NnError>(())
/// ```
#[derive(Debug)]
pub struct Checkpoint {
    path: String,
    header: Header,
    source: Source,
}

/// Reads and checks the header of a file of `total` bytes from `r`, which is at its start:
/// exactly `8 + header length` bytes are read.
fn read_header(path: &str, r: &mut impl Read, total: u64) -> Result<Header> {
    let io = |e| NnError::Io {
        path: path.to_string(),
        source: e,
    };
    let mut head = [0u8; 8];
    let got = if total >= 8 {
        r.read_exact(&mut head).map_err(io)?;
        8
    } else {
        0
    };
    let n = header_len(path, &head[..got], total)?;
    let mut json = vec![0u8; n];
    r.read_exact(&mut json).map_err(io)?;
    parse_header(path, &json, total)
}

impl Checkpoint {
    /// Opens a checkpoint file, reading and checking its header only (not its tensor data).
    ///
    /// # Errors
    /// [`NnError::Io`] when the file cannot be read; [`NnError::Checkpoint`] when its header
    /// is not a valid safetensors header for the file's size (truncated, corrupted, not JSON),
    /// or the metadata does not match its checksum.
    ///
    /// ```
    /// use recur_nn::checkpoint::Checkpoint;
    /// let e = Checkpoint::open("/nonexistent/model.safetensors").unwrap_err();
    /// assert!(e.to_string().starts_with("/nonexistent/model.safetensors: "));
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let mut f = fs::File::open(path).map_err(|e| io_err(path, e))?;
        let total = f.metadata().map_err(|e| io_err(path, e))?.len();
        let header = read_header(&shown, &mut f, total)?;
        Ok(Checkpoint {
            path: shown,
            header,
            source: Source::File(Mutex::new(f)),
        })
    }

    /// A checkpoint in memory (errors name it `<memory>`).
    ///
    /// # Errors
    /// As for [`Checkpoint::open`].
    ///
    /// ```
    /// use recur_nn::checkpoint::{tensors_to_bytes, Checkpoint};
    /// use recur_tensor::Tensor;
    /// use std::collections::BTreeMap;
    /// let bytes = tensors_to_bytes(&[("h", Tensor::<f64>::ones(&[3]))], &BTreeMap::new())?;
    /// let ck = Checkpoint::from_bytes(bytes)?;
    /// assert_eq!(ck.tensor::<f64>("h")?.to_vec(), vec![1.0; 3]);
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        let header = read_header(MEMORY, &mut bytes.as_slice(), bytes.len() as u64)?;
        Ok(Checkpoint {
            path: MEMORY.to_string(),
            header,
            source: Source::Bytes(bytes),
        })
    }

    /// The file's path as errors show it (`<memory>` for [`Checkpoint::from_bytes`]).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The metadata (without the checksum entries), checked against its checksum.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.header.metadata
    }

    /// The tensor names, sorted.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &str> {
        self.header.entries.keys().map(String::as_str)
    }

    /// Whether the file has a tensor called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.header.entries.contains_key(name)
    }

    /// How many tensors the file has.
    pub fn len(&self) -> usize {
        self.header.entries.len()
    }

    /// Whether the file has no tensors.
    pub fn is_empty(&self) -> bool {
        self.header.entries.is_empty()
    }

    /// The shape of the tensor called `name`, from the header.
    ///
    /// # Errors
    /// When there is no such tensor (the message lists the names there are).
    pub fn shape(&self, name: &str) -> Result<&[usize]> {
        Ok(&self.entry(name)?.shape)
    }

    fn entry(&self, name: &str) -> Result<&Entry> {
        self.header
            .entries
            .get(name)
            .ok_or_else(|| no_such_tensor(&self.path, name, self.names()))
    }

    /// Reads the tensor called `name`, checks it against its checksum and converts it to `T`.
    ///
    /// # Errors
    /// When there is no such tensor (the message lists the names there are), its bytes do not
    /// match their checksum, its dtype is not `F32`/`F64`, or the file cannot be read.
    pub fn tensor<T: Float>(&self, name: &str) -> Result<Tensor<T>> {
        let entry = self.entry(name)?;
        let bytes = self.read(entry)?;
        decode(&self.path, name, entry, &bytes)
    }

    /// Reads every tensor (sorted by name), each checked as by [`Checkpoint::tensor`].
    ///
    /// # Errors
    /// As for [`Checkpoint::tensor`].
    pub fn tensors<T: Float>(&self) -> Result<Tensors<T>> {
        let mut map = BTreeMap::new();
        for (name, entry) in &self.header.entries {
            let bytes = self.read(entry)?;
            map.insert(name.clone(), decode(&self.path, name, entry, &bytes)?);
        }
        Ok(Tensors::new(&self.path, map))
    }

    /// One tensor's bytes.
    fn read(&self, entry: &Entry) -> Result<Vec<u8>> {
        let (start, end) = (entry.start, entry.end);
        match &self.source {
            Source::Bytes(b) => usize::try_from(start)
                .ok()
                .zip(usize::try_from(end).ok())
                .and_then(|(s, e)| b.get(s..e))
                .map(<[u8]>::to_vec)
                .ok_or_else(|| ck(&self.path, "data offsets out of range")),
            Source::File(f) => {
                let io = |e| NnError::Io {
                    path: self.path.clone(),
                    source: e,
                };
                let len =
                    usize::try_from(end - start).map_err(|_| ck(&self.path, "tensor too large"))?;
                let mut buf = vec![0u8; len];
                // A poisoned lock only means another read panicked; the file is still fine.
                let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
                f.seek(SeekFrom::Start(start)).map_err(io)?;
                f.read_exact(&mut buf).map_err(io)?;
                Ok(buf)
            }
        }
    }

    /// Loads every parameter of `module` from this file, strictly and all-or-nothing, as
    /// [`load_module`](super::load_module) does.
    ///
    /// # Errors
    /// As for [`load_module`](super::load_module).
    pub fn load_module<T: Float>(&self, module: &mut dyn Module<T>) -> Result<()> {
        // Names and shapes from the header first: a file that does not fit is refused
        // without reading its data.
        let shapes = self
            .header
            .entries
            .iter()
            .map(|(n, e)| (n.as_str(), e.shape.as_slice()))
            .collect();
        super::check_module_fit(&self.path, &*module, &shapes)?;
        let plan = module
            .named_parameters()
            .iter()
            .map(|(name, _)| self.tensor(name))
            .collect::<Result<Vec<Tensor<T>>>>()?;
        super::apply_module_load(module, plan);
        Ok(())
    }

    /// The name of the module whose config the file stores (`recur.module`: `"RNN"`,
    /// `"LSTM"`, `"GRU"`), if it stores one.
    pub fn module_name(&self) -> Option<&str> {
        self.metadata()
            .get(super::config::MODULE_KEY)
            .map(String::as_str)
    }

    /// The module config stored in the metadata (see the [format](super#module-configs)).
    ///
    /// # Errors
    /// [`NnError::Checkpoint`] when the file stores no config, the config of another module
    /// (`the file holds a GRU, not an LSTM`), or a config with a missing, malformed, unknown
    /// or invalid entry.
    ///
    /// ```
    /// use recur_nn::checkpoint::Checkpoint;
    /// use recur_nn::{Gru, GruConfig, LstmConfig};
    /// let path = std::env::temp_dir().join(format!("recur_doc_config_{}.safetensors", std::process::id()));
    /// let gru = Gru::<f32>::new(GruConfig::new(3, 4).num_layers(2), &mut recur_nn::seeded_rng(0))?;
    /// gru.save(&path)?;
    /// let ck = Checkpoint::open(&path)?;
    /// assert_eq!(ck.module_name(), Some("GRU"));
    /// assert_eq!(ck.config::<GruConfig>()?, GruConfig::new(3, 4).num_layers(2));
    /// let e = ck.config::<LstmConfig>().unwrap_err().to_string();
    /// assert!(e.ends_with("the file holds a GRU, not an LSTM"), "{e}");
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn config<C: ModuleConfig>(&self) -> Result<C> {
        C::from_metadata(self.metadata()).map_err(|e| self.error(e))
    }

    /// `e` as an error about this file ([`NnError::Config`] becomes [`NnError::Checkpoint`]).
    pub(crate) fn error(&self, e: NnError) -> NnError {
        match e {
            NnError::Config(msg) => ck(&self.path, msg),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::tensors_to_bytes;

    /// A reader that counts the bytes taken from it.
    struct Counting<'a> {
        inner: &'a [u8],
        taken: usize,
    }

    impl Read for Counting<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.taken += n;
            Ok(n)
        }
    }

    #[test]
    fn the_header_read_takes_no_tensor_bytes() {
        let big = Tensor::<f64>::ones(&[256, 256]);
        let meta = BTreeMap::from([("epoch".to_string(), "7".to_string())]);
        let bytes = tensors_to_bytes(&[("w", big.clone()), ("v", big)], &meta).unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let mut r = Counting {
            inner: &bytes,
            taken: 0,
        };
        let header = read_header("x", &mut r, bytes.len() as u64).unwrap();
        assert_eq!(header.metadata["epoch"], "7");
        assert_eq!(r.taken, 8 + n);
        assert!(r.taken < 1000 && bytes.len() > 1_000_000, "{}", r.taken);
    }
}
