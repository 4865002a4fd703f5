//! Checkpoints that rebuild their module: `Rnn::save` / `Rnn::load` (and LSTM, GRU) round
//! trips over every setting in f32 and f64, refusal of another module's file and of a
//! missing, malformed, unknown or invalid config, metadata read from the header alone, and
//! look-up by name with errors that list what the file has.

use recur_nn::checkpoint::{
    Checkpoint, MODULE_KEY, ModuleConfig, SaveOptions, load_module, load_tensors, read_metadata,
    save_module, save_tensors, tensors_from_bytes, tensors_to_bytes,
};
use recur_nn::{Gru, GruConfig, Lstm, LstmConfig, Module, NnError, Nonlinearity, Rnn, RnnConfig};
use recur_tensor::{Float, Tensor};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("checkpoint_config_tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Every parameter's name and values.
fn params<T: Float>(m: &dyn Module<T>) -> Vec<(String, Vec<T>)> {
    m.named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.value().to_vec()))
        .collect()
}

/// An input of `dims` with distinct values.
fn input<T: Float>(dims: &[usize]) -> Tensor<T> {
    let n: usize = dims.iter().product();
    let v = (0..n)
        .map(|i| T::from_f64((i as f64 * 0.37).sin()))
        .collect();
    Tensor::from_vec(v, dims).unwrap()
}

/// The input dims for a config: `(L, N, in)`, or `(N, L, in)` batch-first.
fn dims(input_size: usize, batch_first: bool) -> [usize; 3] {
    if batch_first {
        [2, 5, input_size]
    } else {
        [5, 2, input_size]
    }
}

fn rnn_round_trip<T: Float>(config: RnnConfig, name: &str) {
    let path = tmp(name);
    let a = Rnn::<T>::new(config.clone(), &mut recur_nn::seeded_rng(11)).unwrap();
    a.save(&path).unwrap();
    let b = Rnn::<T>::load(&path).unwrap();
    assert_eq!(b.config(), &config, "{name}");
    assert_eq!(params(&b), params(&a), "{name}");
    let x = input::<T>(&dims(config.input_size, config.batch_first));
    let (ya, ha) = a.forward_tensor(&x, None).unwrap();
    let (yb, hb) = b.forward_tensor(&x, None).unwrap();
    assert_eq!(
        (ya.to_vec(), ha.to_vec()),
        (yb.to_vec(), hb.to_vec()),
        "{name}"
    );
}

fn lstm_round_trip<T: Float>(config: LstmConfig, name: &str) {
    let path = tmp(name);
    let a = Lstm::<T>::new(config.clone(), &mut recur_nn::seeded_rng(12)).unwrap();
    a.save(&path).unwrap();
    let b = Lstm::<T>::load(&path).unwrap();
    assert_eq!(b.config(), &config, "{name}");
    assert_eq!(params(&b), params(&a), "{name}");
    let x = input::<T>(&dims(config.input_size, config.batch_first));
    let (ya, (ha, ca)) = a.forward_tensor(&x, None).unwrap();
    let (yb, (hb, cb)) = b.forward_tensor(&x, None).unwrap();
    assert_eq!(ya.to_vec(), yb.to_vec(), "{name}");
    assert_eq!(
        (ha.to_vec(), ca.to_vec()),
        (hb.to_vec(), cb.to_vec()),
        "{name}"
    );
}

fn gru_round_trip<T: Float>(config: GruConfig, name: &str) {
    let path = tmp(name);
    let a = Gru::<T>::new(config.clone(), &mut recur_nn::seeded_rng(13)).unwrap();
    a.save(&path).unwrap();
    let b = Gru::<T>::load(&path).unwrap();
    assert_eq!(b.config(), &config, "{name}");
    assert_eq!(params(&b), params(&a), "{name}");
    let x = input::<T>(&dims(config.input_size, config.batch_first));
    let (ya, ha) = a.forward_tensor(&x, None).unwrap();
    let (yb, hb) = b.forward_tensor(&x, None).unwrap();
    assert_eq!(
        (ya.to_vec(), ha.to_vec()),
        (yb.to_vec(), hb.to_vec()),
        "{name}"
    );
}

#[test]
fn rnn_round_trips_every_setting_in_f32_and_f64() {
    let configs = [
        RnnConfig::new(3, 4),
        RnnConfig::new(3, 4).num_layers(3).bidirectional(true),
        RnnConfig::new(2, 6)
            .num_layers(2)
            .batch_first(true)
            .nonlinearity(Nonlinearity::Relu)
            .dropout(0.25),
        RnnConfig::new(3, 5)
            .bias(false)
            .bidirectional(true)
            .batch_first(true),
    ];
    for (i, c) in configs.into_iter().enumerate() {
        rnn_round_trip::<f32>(c.clone(), &format!("rnn_{i}_f32.safetensors"));
        rnn_round_trip::<f64>(c, &format!("rnn_{i}_f64.safetensors"));
    }
}

#[test]
fn lstm_round_trips_every_setting_with_projections() {
    let configs = [
        LstmConfig::new(3, 4),
        LstmConfig::new(3, 6).proj_size(2),
        LstmConfig::new(4, 6)
            .proj_size(3)
            .num_layers(2)
            .bidirectional(true)
            .batch_first(true),
        LstmConfig::new(2, 5).num_layers(2).bias(false).dropout(0.5),
    ];
    for (i, c) in configs.into_iter().enumerate() {
        lstm_round_trip::<f32>(c.clone(), &format!("lstm_{i}_f32.safetensors"));
        lstm_round_trip::<f64>(c, &format!("lstm_{i}_f64.safetensors"));
    }
}

#[test]
fn gru_round_trips_every_setting_in_f32_and_f64() {
    let configs = [
        GruConfig::new(3, 4),
        GruConfig::new(3, 4)
            .num_layers(2)
            .bidirectional(true)
            .batch_first(true),
        GruConfig::new(5, 3).bias(false).dropout(0.1).num_layers(3),
    ];
    for (i, c) in configs.into_iter().enumerate() {
        gru_round_trip::<f32>(c.clone(), &format!("gru_{i}_f32.safetensors"));
        gru_round_trip::<f64>(c, &format!("gru_{i}_f64.safetensors"));
    }
}

#[test]
fn the_file_is_the_module_file_plus_string_metadata() {
    // The tensors are exactly the module's parameters under PyTorch's names (what
    // `load_state_dict` needs); the config is metadata, readable and stable.
    let path = tmp("lstm_for_torch.safetensors");
    let config = LstmConfig::new(3, 6)
        .proj_size(2)
        .num_layers(2)
        .bidirectional(true);
    let lstm = Lstm::<f32>::new(config, &mut recur_nn::seeded_rng(0)).unwrap();
    lstm.save_with(&path, &SaveOptions::new().metadata("epoch", 4))
        .unwrap();
    let (tensors, meta) = load_tensors::<f32>(&path).unwrap();
    let mut names: Vec<String> = lstm
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    names.sort();
    assert_eq!(tensors.names().collect::<Vec<_>>(), names);
    assert!(names.contains(&"weight_hr_l1_reverse".to_string()));
    let want: BTreeMap<String, String> = [
        ("epoch", "4"),
        ("recur.module", "LSTM"),
        ("recur.config.input_size", "3"),
        ("recur.config.hidden_size", "6"),
        ("recur.config.num_layers", "2"),
        ("recur.config.bias", "true"),
        ("recur.config.batch_first", "false"),
        ("recur.config.dropout", "0"),
        ("recur.config.bidirectional", "true"),
        ("recur.config.proj_size", "2"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(meta, want);
    // An RNN adds its nonlinearity.
    let rnn = RnnConfig::new(2, 3).nonlinearity(Nonlinearity::Relu);
    assert_eq!(rnn.to_metadata()["recur.config.nonlinearity"], "relu");
    // Dropout reads back exactly.
    let c = GruConfig::new(2, 3).dropout(0.1 + 0.2);
    assert_eq!(GruConfig::from_metadata(&c.to_metadata()).unwrap(), c);
}

#[test]
fn another_modules_file_is_refused() {
    let path = tmp("an_lstm.safetensors");
    Lstm::<f32>::new(LstmConfig::new(3, 4), &mut recur_nn::seeded_rng(0))
        .unwrap()
        .save(&path)
        .unwrap();
    let e = Gru::<f32>::load(&path).unwrap_err();
    assert!(matches!(e, NnError::Checkpoint { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "checkpoint {}: the file holds an LSTM, not a GRU",
            path.display()
        )
    );
    let e = Rnn::<f64>::load(&path).unwrap_err().to_string();
    assert!(e.ends_with("the file holds an LSTM, not an RNN"), "{e}");
    // A file saved without a config: refused by `load`, still loaded by `load_module`.
    let plain = tmp("no_config.safetensors");
    let gru = Gru::<f32>::new(GruConfig::new(3, 4), &mut recur_nn::seeded_rng(1)).unwrap();
    save_module(&gru, &plain).unwrap();
    let e = Gru::<f32>::load(&plain).unwrap_err().to_string();
    assert!(e.contains("no module config"), "{e}");
    let mut built = Gru::<f32>::new(GruConfig::new(3, 4), &mut recur_nn::seeded_rng(2)).unwrap();
    load_module(&mut built, &plain).unwrap();
    assert_eq!(params(&built), params(&gru));
    // And a file with a config loads into a module built by hand, too.
    let mut by_hand =
        Lstm::<f64>::new(LstmConfig::new(3, 4), &mut recur_nn::seeded_rng(3)).unwrap();
    let meta = load_module(&mut by_hand, &path).unwrap();
    assert_eq!(meta[MODULE_KEY], "LSTM");
}

/// A GRU(3, 4) file whose metadata is `edit`ed (checksums recomputed, as a tool that
/// rewrites the file would), and the error `Gru::load` gives for it.
fn load_edited(name: &str, edit: impl FnOnce(&mut BTreeMap<String, String>)) -> String {
    let gru = Gru::<f32>::new(GruConfig::new(3, 4), &mut recur_nn::seeded_rng(0)).unwrap();
    let path = tmp(name);
    gru.save(&path).unwrap();
    let (tensors, mut meta) = load_tensors::<f32>(&path).unwrap();
    edit(&mut meta);
    save_tensors(&path, &tensors.into_vec(), &meta).unwrap();
    match Gru::<f32>::load(&path) {
        Ok(g) => panic!("{name}: loaded {g:?}"),
        Err(e) => {
            assert!(matches!(e, NnError::Checkpoint { .. }), "{name}: {e:?}");
            e.to_string()
        }
    }
}

#[test]
fn a_missing_malformed_unknown_or_invalid_config_is_refused() {
    // (case, key, new value or None to remove it, what the error says)
    let cases = [
        (
            "missing",
            "recur.config.hidden_size",
            None,
            "module config: \"recur.config.hidden_size\" is missing",
        ),
        (
            "not_a_number",
            "recur.config.hidden_size",
            Some("four"),
            "module config: \"recur.config.hidden_size\" is \"four\", not a non-negative integer",
        ),
        (
            "negative",
            "recur.config.num_layers",
            Some("-1"),
            "\"recur.config.num_layers\" is \"-1\", not a non-negative integer",
        ),
        (
            "bad_bool",
            "recur.config.bidirectional",
            Some("True"),
            "\"recur.config.bidirectional\" is \"True\", not true or false",
        ),
        (
            "bad_float",
            "recur.config.dropout",
            Some("0.5.1"),
            "\"recur.config.dropout\" is \"0.5.1\", not a number",
        ),
        (
            "unknown",
            "recur.config.nonlinearity",
            Some("tanh"),
            "module config: unknown entry \"recur.config.nonlinearity\"",
        ),
        (
            "invalid",
            "recur.config.dropout",
            Some("1.5"),
            "module config: dropout should be a number in range [0, 1]",
        ),
        (
            "zero",
            "recur.config.hidden_size",
            Some("0"),
            "module config: hidden_size must be greater than zero",
        ),
        (
            "gru_projection",
            "recur.config.proj_size",
            Some("2"),
            "proj_size argument is only supported for LSTM, not GRU",
        ),
        ("no_module", MODULE_KEY, None, "no module config"),
        // A valid config that does not fit the weights: the strict load names it.
        (
            "other_shape",
            "recur.config.input_size",
            Some("5"),
            "size mismatch for weight_ih_l0: the file has [12, 3], the module has [12, 5]",
        ),
        (
            "other_layers",
            "recur.config.num_layers",
            Some("2"),
            "missing key(s): \"weight_ih_l1\"",
        ),
    ];
    for (name, key, value, want) in cases {
        let e = load_edited(&format!("edited_{name}.safetensors"), |m| {
            match value {
                Some(v) => m.insert(key.to_string(), v.to_string()),
                None => m.remove(key),
            };
        });
        assert!(e.contains(want), "{name}: {e}");
    }
}

#[test]
fn a_flipped_bit_in_the_config_is_a_checksum_error() {
    let path = tmp("flipped_config.safetensors");
    let rnn = Rnn::<f32>::new(RnnConfig::new(3, 4), &mut recur_nn::seeded_rng(0)).unwrap();
    rnn.save(&path).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(4)
        .position(|w| w == b"tanh")
        .expect("the nonlinearity is in the header");
    bytes[at] ^= 0x20; // "Tanh"
    std::fs::write(&path, &bytes).unwrap();
    let e = Rnn::<f32>::load(&path).unwrap_err().to_string();
    assert!(e.contains("metadata checksum mismatch"), "{e}");
    assert!(read_metadata(&path).is_err());
}

#[test]
fn the_configs_keys_are_reserved_in_save_with() {
    let gru = Gru::<f32>::new(GruConfig::new(3, 4), &mut recur_nn::seeded_rng(0)).unwrap();
    let path = tmp("reserved.safetensors");
    for k in [MODULE_KEY, "recur.config.hidden_size"] {
        let e = gru
            .save_with(&path, &SaveOptions::new().metadata(k, "8"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("metadata key `{k}` is reserved")),
            "{e}"
        );
    }
    assert!(!path.exists(), "nothing written");
}

#[test]
fn metadata_is_read_from_the_header_alone() {
    // Garbage in every tensor byte: the metadata still reads (only the header is read and
    // checked), each tensor is refused by its checksum when asked for.
    let path = tmp("garbled_data.safetensors");
    let lstm = Lstm::<f64>::new(
        LstmConfig::new(16, 32).num_layers(2),
        &mut recur_nn::seeded_rng(0),
    )
    .unwrap();
    lstm.save_with(&path, &SaveOptions::new().metadata("step", 900))
        .unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for b in &mut bytes[8 + n..] {
        *b = !*b;
    }
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(read_metadata(&path).unwrap()["step"], "900");
    let ck = Checkpoint::open(&path).unwrap();
    assert_eq!(ck.config::<LstmConfig>().unwrap(), *lstm.config());
    assert_eq!(ck.shape("weight_hh_l1").unwrap(), &[128, 32]);
    assert_eq!(ck.len(), 8);
    let e = ck.tensor::<f64>("bias_hh_l0").unwrap_err().to_string();
    assert!(e.contains("tensor `bias_hh_l0`: checksum mismatch"), "{e}");
    assert!(Lstm::<f64>::load(&path).is_err());
    // A module that does not fit is refused from the header's names and shapes, before any
    // data is read (so the garbled data is never reached).
    let mut gru = Gru::<f64>::new(
        GruConfig::new(16, 32).num_layers(2),
        &mut recur_nn::seeded_rng(0),
    )
    .unwrap();
    let e = load_module(&mut gru, &path).unwrap_err().to_string();
    assert!(
        e.contains(
            "size mismatch for weight_ih_l0: the file has [128, 16], the module has [96, 16]"
        ),
        "{e}"
    );
    assert!(!e.contains("checksum"), "{e}");
    // A file cut short is refused at open: the header's offsets are checked against the
    // file's size, not by reading the data.
    std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
    let e = read_metadata(&path).unwrap_err().to_string();
    assert!(e.contains("truncated or corrupted"), "{e}");
}

#[test]
fn tensors_are_found_by_name_and_misses_list_the_names() {
    let t = |v: f32| Tensor::<f32>::full(&[2], v);
    let bytes = tensors_to_bytes(
        &[("b", t(2.0)), ("a", t(1.0)), ("c", t(3.0))],
        &BTreeMap::new(),
    )
    .unwrap();
    let (mut tensors, _) = tensors_from_bytes::<f64>(&bytes).unwrap();
    assert_eq!(tensors.get("c").unwrap().to_vec(), vec![3.0, 3.0]);
    assert_eq!(
        tensors.get("d").unwrap_err().to_string(),
        "checkpoint <memory>: no tensor named `d`; the file has `a`, `b`, `c`"
    );
    *tensors.get_mut("a").unwrap() = Tensor::zeros(&[1]);
    assert_eq!(tensors.remove("a").unwrap().dims(), &[1]);
    assert!(!tensors.contains("a") && tensors.len() == 2);
    assert!(
        tensors
            .remove("a")
            .unwrap_err()
            .to_string()
            .ends_with("the file has `b`, `c`")
    );

    // The same from an opened file, and a long list cut short.
    let many: Vec<(String, Tensor<f32>)> = (0..40).map(|i| (format!("t{i:02}"), t(0.0))).collect();
    let path = tmp("many.safetensors");
    save_tensors(&path, &many, &BTreeMap::new()).unwrap();
    let ck = Checkpoint::open(&path).unwrap();
    let e = ck.tensor::<f32>("t40").unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "checkpoint {}: no tensor named `t40`; the file has `t00`, `t01`",
            path.display()
        )),
        "{e}"
    );
    assert!(e.ends_with("`t31`, and 8 more"), "{e}");
    assert!(ck.shape("nope").is_err());
    assert_eq!(ck.tensor::<f64>("t39").unwrap().to_vec(), vec![0.0, 0.0]);
    let empty =
        Checkpoint::from_bytes(tensors_to_bytes::<f32, &str>(&[], &BTreeMap::new()).unwrap())
            .unwrap();
    assert!(empty.is_empty());
    assert!(
        empty
            .tensor::<f32>("x")
            .unwrap_err()
            .to_string()
            .ends_with("the file has none")
    );
}

#[test]
fn a_config_survives_a_model_with_other_parts() {
    // A model holding an LSTM among other modules stores the LSTM's config with
    // `SaveOptions::config`, and reads it back from the header.
    let path = tmp("with_head.safetensors");
    let config = LstmConfig::new(4, 8).batch_first(true);
    let lstm = Lstm::<f32>::new(config.clone(), &mut recur_nn::seeded_rng(0)).unwrap();
    recur_nn::save_module_with(&lstm, &path, &SaveOptions::new().config(&config)).unwrap();
    let ck = Checkpoint::open(&path).unwrap();
    assert_eq!(ck.module_name(), Some("LSTM"));
    assert_eq!(ck.config::<LstmConfig>().unwrap(), config);
    let back = Lstm::<f32>::from_checkpoint(&ck).unwrap();
    assert_eq!(params(&back), params(&lstm));
}
