//! A module's config as checkpoint metadata: `recur.module` and one `recur.config.<field>`
//! entry per setting (the format is in the [checkpoint docs](super#module-configs)).

use crate::error::{NnError, Result};
use crate::recurrent::RecurrentConfig;
use crate::{GruConfig, LstmConfig, Nonlinearity, RnnConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::str::FromStr;

/// The metadata key naming the module whose config a file stores.
pub const MODULE_KEY: &str = "recur.module";

/// The prefix of the metadata keys holding a module's settings.
pub const CONFIG_PREFIX: &str = "recur.config.";

/// Whether `key` belongs to a stored module config.
pub(crate) fn is_config_key(key: &str) -> bool {
    key == MODULE_KEY || key.starts_with(CONFIG_PREFIX)
}

/// A module's settings that a checkpoint can store in its metadata and give back, so that
/// the file alone rebuilds the module ([`Rnn::load`](crate::Rnn::load)). Implemented by
/// [`RnnConfig`], [`LstmConfig`] and [`GruConfig`].
///
/// ```
/// use recur_nn::checkpoint::ModuleConfig;
/// use recur_nn::LstmConfig;
/// let c = LstmConfig::new(10, 20).num_layers(2).proj_size(5);
/// let meta = c.to_metadata();
/// assert_eq!(meta["recur.module"], "LSTM");
/// assert_eq!(meta["recur.config.hidden_size"], "20");
/// assert_eq!(meta["recur.config.proj_size"], "5");
/// assert_eq!(LstmConfig::from_metadata(&meta)?, c);
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub trait ModuleConfig: Sized {
    /// The module's name under [`MODULE_KEY`]: PyTorch's class name (`"LSTM"`).
    const MODULE: &'static str;

    /// The settings as metadata: [`MODULE_KEY`] and one [`CONFIG_PREFIX`] entry per field.
    fn to_metadata(&self) -> BTreeMap<String, String>;

    /// The settings from metadata written by [`ModuleConfig::to_metadata`] (other keys are
    /// ignored), validated as the constructor would.
    ///
    /// # Errors
    /// [`NnError::Config`] when there is no config, it is another module's, or an entry is
    /// missing, malformed or unknown, or the settings are invalid.
    fn from_metadata(metadata: &BTreeMap<String, String>) -> Result<Self>;
}

/// Reads the `recur.config.*` entries of one module, keeping track of which were used.
struct Fields<'a> {
    metadata: &'a BTreeMap<String, String>,
    used: BTreeSet<&'a str>,
}

impl<'a> Fields<'a> {
    /// The config entries of `module`, after checking that the file stores that module.
    fn of(metadata: &'a BTreeMap<String, String>, module: &str) -> Result<Self> {
        match metadata.get(MODULE_KEY).map(String::as_str) {
            None => Err(NnError::Config(format!(
                "no module config (no {MODULE_KEY:?} metadata: the file was saved without one; \
                 build the {module} and load its parameters with load_module)"
            ))),
            Some(m) if m != module => Err(NnError::Config(format!(
                "the file holds {} {m}, not {} {module}",
                article(m),
                article(module)
            ))),
            Some(_) => Ok(Fields {
                metadata,
                used: BTreeSet::new(),
            }),
        }
    }

    /// The value of `recur.config.<field>`, parsed.
    fn get<V: FromStr>(&mut self, field: &str, kind: &str) -> Result<V> {
        let key = format!("{CONFIG_PREFIX}{field}");
        let Some((k, v)) = self.metadata.get_key_value(&key) else {
            return Err(NnError::Config(format!(
                "module config: {key:?} is missing"
            )));
        };
        self.used.insert(k);
        v.parse()
            .map_err(|_| NnError::Config(format!("module config: {key:?} is {v:?}, not {kind}")))
    }

    /// Refuses config entries no field read (a newer format, or an edited file).
    fn finish(self) -> Result<()> {
        let unknown = self
            .metadata
            .keys()
            .find(|k| k.starts_with(CONFIG_PREFIX) && !self.used.contains(k.as_str()));
        match unknown {
            Some(k) => Err(NnError::Config(format!(
                "module config: unknown entry {k:?}"
            ))),
            None => Ok(()),
        }
    }

    /// The settings every recurrent stack shares.
    fn recurrent(&mut self) -> Result<RecurrentConfig> {
        const COUNT: &str = "a non-negative integer";
        const BOOL: &str = "true or false";
        Ok(RecurrentConfig {
            input_size: self.get("input_size", COUNT)?,
            hidden_size: self.get("hidden_size", COUNT)?,
            num_layers: self.get("num_layers", COUNT)?,
            bias: self.get("bias", BOOL)?,
            batch_first: self.get("batch_first", BOOL)?,
            dropout: self.get("dropout", "a number")?,
            bidirectional: self.get("bidirectional", BOOL)?,
            proj_size: self.get("proj_size", COUNT)?,
        })
    }
}

/// "an" before a vowel sound, as in "an LSTM", "an RNN".
fn article(name: &str) -> &'static str {
    match name.chars().next() {
        Some('A' | 'E' | 'F' | 'H' | 'I' | 'L' | 'M' | 'N' | 'O' | 'R' | 'S' | 'X') => "an",
        _ => "a",
    }
}

/// The metadata of the shared settings of `module`.
fn recurrent_metadata(module: &str, c: &RecurrentConfig) -> BTreeMap<String, String> {
    let fields: [(&str, &dyn Display); 8] = [
        ("input_size", &c.input_size),
        ("hidden_size", &c.hidden_size),
        ("num_layers", &c.num_layers),
        ("bias", &c.bias),
        ("batch_first", &c.batch_first),
        ("dropout", &c.dropout),
        ("bidirectional", &c.bidirectional),
        ("proj_size", &c.proj_size),
    ];
    let mut m: BTreeMap<String, String> = fields
        .iter()
        .map(|(k, v)| (format!("{CONFIG_PREFIX}{k}"), v.to_string()))
        .collect();
    m.insert(MODULE_KEY.into(), module.into());
    m
}

/// The error of an invalid stored config, said to be about the stored config.
fn invalid(e: NnError) -> NnError {
    match e {
        NnError::Config(msg) => NnError::Config(format!("module config: {msg}")),
        other => other,
    }
}

impl ModuleConfig for RnnConfig {
    const MODULE: &'static str = "RNN";

    fn to_metadata(&self) -> BTreeMap<String, String> {
        let mut m = recurrent_metadata(Self::MODULE, &self.recurrent());
        m.insert(
            format!("{CONFIG_PREFIX}nonlinearity"),
            self.nonlinearity.to_string(),
        );
        m
    }

    fn from_metadata(metadata: &BTreeMap<String, String>) -> Result<Self> {
        let mut f = Fields::of(metadata, Self::MODULE)?;
        let r = f.recurrent()?;
        let nonlinearity: Nonlinearity = f.get("nonlinearity", "tanh or relu")?;
        f.finish()?;
        let c = RnnConfig {
            input_size: r.input_size,
            hidden_size: r.hidden_size,
            num_layers: r.num_layers,
            nonlinearity,
            bias: r.bias,
            batch_first: r.batch_first,
            dropout: r.dropout,
            bidirectional: r.bidirectional,
            proj_size: r.proj_size,
        };
        c.validate().map_err(invalid)?;
        Ok(c)
    }
}

/// `ModuleConfig` for a config with only the shared settings.
macro_rules! shared_only {
    ($config:ident, $module:literal) => {
        impl ModuleConfig for $config {
            const MODULE: &'static str = $module;

            fn to_metadata(&self) -> BTreeMap<String, String> {
                recurrent_metadata(Self::MODULE, &self.recurrent())
            }

            fn from_metadata(metadata: &BTreeMap<String, String>) -> Result<Self> {
                let mut f = Fields::of(metadata, Self::MODULE)?;
                let c: $config = f.recurrent()?.into();
                f.finish()?;
                c.validate().map_err(invalid)?;
                Ok(c)
            }
        }
    };
}

shared_only!(LstmConfig, "LSTM");
shared_only!(GruConfig, "GRU");
