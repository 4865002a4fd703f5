//! A real training checkpoint (an RNN and a linear head after two Adam steps), mutated as
//! a disk, a careless tool or a hostile user would: truncations, bit flips in the header and
//! in the data, edited metadata, removed tensors. Every mutation must give an error or a
//! load identical to the original, never a panic and never silently different values.

use proptest::prelude::*;
use recur_nn::checkpoint::{load_training_state, save_training_state};
use recur_nn::optim::{Adam, Optimizer, param_names};
use recur_nn::{Linear, Module, Rnn, RnnConfig, Tape};
use recur_tensor::Tensor;
use safetensors::SafeTensors;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::OnceLock;

#[derive(Module)]
struct Model {
    rnn: Rnn<f32>,
    head: Linear<f32>,
}

fn fresh() -> (Model, Adam<f32>) {
    let mut rng = recur_nn::seeded_rng(3);
    let model = Model {
        rnn: Rnn::new(RnnConfig::new(3, 5).num_layers(2), &mut rng).unwrap(),
        head: Linear::new(5, 2, &mut rng).unwrap(),
    };
    (model, Adam::new(0.01).unwrap())
}

/// Everything a load restores: parameters, optimizer state and metadata.
type Loaded = (
    Vec<(String, Vec<f32>)>,
    Vec<(String, Vec<f32>)>,
    BTreeMap<String, String>,
);

fn snapshot(m: &Model, opt: &Adam<f32>, meta: BTreeMap<String, String>) -> Loaded {
    let params = m
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.value().to_vec()))
        .collect();
    let state = opt
        .state_dict(&param_names("", m))
        .into_iter()
        .map(|(n, t)| (n, t.to_vec()))
        .collect();
    (params, state, meta)
}

/// The checkpoint's bytes and what loading it gives.
fn original() -> &'static (Vec<u8>, Loaded) {
    static ORIGINAL: OnceLock<(Vec<u8>, Loaded)> = OnceLock::new();
    ORIGINAL.get_or_init(|| {
        let (mut m, mut opt) = fresh();
        for step in 0..2 {
            let x = Tensor::uniform(&[4, 2, 3], -1.0, 1.0, &mut recur_nn::seeded_rng(step));
            let grads = {
                let tape = Tape::new();
                let (out, _) = m.rnn.forward(&tape.constant(x), None).unwrap();
                let loss = m.head.forward(&out).unwrap().square();
                tape.backward(&loss.mean_all()).unwrap()
            };
            opt.step_modules(&mut [&mut m], &grads).unwrap();
        }
        let meta = BTreeMap::from([
            ("step".to_string(), "2".to_string()),
            ("hidden".to_string(), "5".to_string()),
            ("vocab".to_string(), "abc".to_string()),
        ]);
        let path = tmp("original");
        save_training_state(&path, &m, &opt, &meta).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        (bytes, load(&path).expect("the unmutated checkpoint loads"))
    })
}

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("checkpoint_mutation");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!(
        "{name}-{:?}.safetensors",
        std::thread::current().id()
    ))
}

fn load(path: &std::path::Path) -> Result<Loaded, recur_nn::NnError> {
    let (mut m, mut opt) = fresh();
    let meta = load_training_state(path, &mut m, &mut opt)?;
    Ok(snapshot(&m, &opt, meta))
}

/// Writes `bytes` and loads them: an error, or exactly the original.
fn check(bytes: &[u8], what: &str) -> Result<(), TestCaseError> {
    let path = tmp("mutated");
    std::fs::write(&path, bytes).unwrap();
    if let Ok(got) = load(&path) {
        prop_assert!(got == original().1, "{what}: loaded different values");
    }
    Ok(())
}

/// The header length, the metadata and the tensors' (dtype, shape, bytes) of a file.
fn parts(bytes: &[u8]) -> (usize, HashMap<String, String>, Vec<(String, Raw)>) {
    let (n, meta) = SafeTensors::read_metadata(bytes).unwrap();
    let st = SafeTensors::deserialize(bytes).unwrap();
    let tensors = st
        .tensors()
        .into_iter()
        .map(|(k, v)| {
            let raw = Raw(v.dtype(), v.shape().to_vec(), v.data().to_vec());
            (k, raw)
        })
        .collect();
    (n, meta.metadata().clone().unwrap_or_default(), tensors)
}

struct Raw(safetensors::Dtype, Vec<usize>, Vec<u8>);

impl safetensors::View for &Raw {
    fn dtype(&self) -> safetensors::Dtype {
        self.0
    }
    fn shape(&self) -> &[usize] {
        &self.1
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.2)
    }
    fn data_len(&self) -> usize {
        self.2.len()
    }
}

fn rebuild(meta: HashMap<String, String>, tensors: &[(String, Raw)]) -> Vec<u8> {
    safetensors::serialize(tensors.iter().map(|(k, r)| (k.as_str(), r)), Some(meta)).unwrap()
}

/// An edit of the metadata or of the tensor list, re-serialised as a well-formed file.
#[derive(Debug, Clone)]
enum Edit {
    /// Change one metadata value (any key, checksums included).
    SetValue(usize, String),
    /// Remove one metadata key.
    RemoveKey(usize),
    /// Add a key.
    AddKey(String, String),
    /// Remove one tensor (its checksum stays).
    RemoveTensor(usize),
    /// Remove every optimizer tensor, and every checksum.
    StripOptimizer,
    /// Scale one element of one tensor by a factor (bytes rewritten, checksums kept).
    Scale(usize, usize, f32),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), "[0-9a-z.]{0,6}").prop_map(|(i, v)| Edit::SetValue(i, v)),
        any::<usize>().prop_map(Edit::RemoveKey),
        ("[a-z]{1,5}", "[0-9]{1,3}").prop_map(|(k, v)| Edit::AddKey(k, v)),
        any::<usize>().prop_map(Edit::RemoveTensor),
        Just(Edit::StripOptimizer),
        (any::<usize>(), any::<usize>(), -4.0f32..4.0).prop_map(|(t, i, f)| Edit::Scale(t, i, f)),
    ]
}

fn apply(e: &Edit) -> Vec<u8> {
    let (_, mut meta, mut tensors) = parts(&original().0);
    let mut keys: Vec<String> = meta.keys().cloned().collect();
    keys.sort();
    match e {
        Edit::SetValue(i, v) => {
            meta.insert(keys[i % keys.len()].clone(), v.clone());
        }
        Edit::RemoveKey(i) => {
            meta.remove(&keys[i % keys.len()]);
        }
        Edit::AddKey(k, v) => {
            meta.insert(k.clone(), v.clone());
        }
        Edit::RemoveTensor(i) => {
            tensors.remove(i % tensors.len());
        }
        Edit::StripOptimizer => {
            tensors.retain(|(k, _)| !k.starts_with("optim."));
            // As a tool that rewrites the file without our checksums would.
            meta.retain(|k, _| !k.starts_with("recur.crc32."));
        }
        Edit::Scale(t, i, f) => {
            let n = tensors.len();
            let raw = &mut tensors[t % n].1;
            let count = raw.2.len() / 4;
            if count > 0 {
                let at = 4 * (i % count);
                let v = f32::from_le_bytes(raw.2[at..at + 4].try_into().unwrap()) * f;
                raw.2[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
        }
    }
    rebuild(meta, &tensors)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn truncations_are_errors(cut in any::<prop::sample::Index>()) {
        let bytes = &original().0;
        let len = cut.index(bytes.len());
        let path = tmp("truncated");
        std::fs::write(&path, &bytes[..len]).unwrap();
        prop_assert!(load(&path).is_err(), "truncated to {len} of {} bytes", bytes.len());
    }

    #[test]
    fn bit_flips_in_the_header_are_errors_or_identical(
        flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4),
    ) {
        let mut bytes = original().0.clone();
        let (n, _, _) = parts(&bytes);
        for (at, bit) in &flips {
            bytes[8 + at.index(n)] ^= 1 << bit;
        }
        check(&bytes, &format!("header flips {flips:?}"))?;
    }

    #[test]
    fn bit_flips_in_the_data_are_errors_or_identical(
        flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4),
    ) {
        let mut bytes = original().0.clone();
        let (n, _, _) = parts(&bytes);
        let data = bytes.len() - 8 - n;
        for (at, bit) in &flips {
            bytes[8 + n + at.index(data)] ^= 1 << bit;
        }
        check(&bytes, &format!("data flips {flips:?}"))?;
    }

    #[test]
    fn bit_flips_anywhere_are_errors_or_identical(
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let mut bytes = original().0.clone();
        let i = at.index(bytes.len());
        bytes[i] ^= 1 << bit;
        check(&bytes, &format!("flip at {i}"))?;
    }

    #[test]
    fn edited_files_are_errors_or_identical(e in edit()) {
        check(&apply(&e), &format!("edit {e:?}"))?;
    }
}

#[test]
fn a_stripped_optimizer_state_is_refused() {
    let path = tmp("stripped");
    std::fs::write(&path, apply(&Edit::StripOptimizer)).unwrap();
    let e = load(&path).unwrap_err().to_string();
    assert!(e.contains("optimizer state"), "{e}");
}
