//! Checkpoints: round trips, the on-disk layout PyTorch reads, atomic writes, strict module
//! loading, and a corrupted-file sweep (every truncation, byte flips, absurd headers) that
//! must give errors, never panics.

use recur_nn::checkpoint::{
    NamedTensors, load_module, load_module_from_bytes, load_tensors, load_training_state,
    save_module, save_module_with, save_tensors, save_training_state, tensors_from_bytes,
    tensors_to_bytes,
};
use recur_nn::optim::{Adam, Optimizer};
use recur_nn::{Grads, Module, NnError, Param};
use recur_tensor::{Float, Tensor};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("checkpoint_tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn meta(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A module with `torch.nn.RNN(3, 4)`'s parameter names and shapes.
struct RnnLike<T: Float> {
    params: Vec<(String, Param<T>)>,
}

impl<T: Float> RnnLike<T> {
    fn new(seed: f64) -> Self {
        let shapes: [(&str, &[usize]); 4] = [
            ("weight_ih_l0", &[4, 3]),
            ("weight_hh_l0", &[4, 4]),
            ("bias_ih_l0", &[4]),
            ("bias_hh_l0", &[4]),
        ];
        let params = shapes
            .iter()
            .enumerate()
            .map(|(k, (n, s))| {
                let len: usize = s.iter().product();
                let v = (0..len)
                    .map(|i| T::from_f64(((i + 10 * k) as f64 * 0.7 + seed).sin() * 0.5))
                    .collect();
                (n.to_string(), Param::new(Tensor::from_vec(v, s).unwrap()))
            })
            .collect();
        RnnLike { params }
    }
    fn values(&self) -> Vec<Vec<T>> {
        self.params
            .iter()
            .map(|(_, p)| p.value().to_vec())
            .collect()
    }
}

impl<T: Float> Module<T> for RnnLike<T> {
    fn named_parameters(&self) -> Vec<(String, &Param<T>)> {
        self.params.iter().map(|(n, p)| (n.clone(), p)).collect()
    }
    fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        self.params
            .iter_mut()
            .map(|(n, p)| (n.clone(), p))
            .collect()
    }
}

fn sample_tensors() -> Vec<(String, Tensor<f64>)> {
    vec![
        (
            "w".into(),
            Tensor::from_vec(vec![1.0, -2.5, 3.25, 1e-300, f64::MAX, -0.0], &[2, 3]).unwrap(),
        ),
        ("scalar".into(), Tensor::scalar(7.5)),
        ("empty".into(), Tensor::zeros(&[0, 3])),
        (
            "t".into(),
            Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])
                .unwrap()
                .t()
                .unwrap(),
        ),
    ]
}

#[test]
fn round_trip_f64_f32_and_conversion() {
    let tensors = sample_tensors();
    let m = meta(&[("kind", "test"), ("steps", "\"3\"")]);
    let path = tmp("round_trip.safetensors");
    save_tensors(&path, &tensors, &m).unwrap();
    let (back, m2): NamedTensors<f64> = load_tensors(&path).unwrap();
    assert_eq!(m2, m);
    let mut want = tensors.clone();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(back.len(), want.len());
    for ((n1, t1), (n2, t2)) in back.iter().zip(&want) {
        assert_eq!(n1, n2);
        assert_eq!(t1.dims(), t2.dims());
        assert_eq!(t1.to_vec(), t2.to_vec(), "{n1}");
    }
    // An f64 file read as f32, and an f32 file read as f64.
    let (as32, _) = load_tensors::<f32>(&path).unwrap();
    assert_eq!(as32.get("t").unwrap().to_vec(), vec![1.0f32, 3.0, 2.0, 4.0]);
    let w32 = as32.get("w").unwrap().to_vec();
    assert_eq!((w32[3], w32[4]), (0.0, f32::INFINITY)); // f64 -> f32 rounds as `as` does
    let f32s: Vec<(String, Tensor<f32>)> = tensors
        .iter()
        .map(|(n, t)| (n.clone(), t.cast::<f32>()))
        .collect();
    let bytes = tensors_to_bytes(&f32s, &BTreeMap::new()).unwrap();
    let (back64, m3) = tensors_from_bytes::<f64>(&bytes).unwrap();
    assert!(m3.is_empty());
    assert_eq!(back64.get("w").unwrap().to_vec()[1], -2.5);
}

#[test]
fn layout_is_plain_little_endian_row_major() {
    let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])
        .unwrap()
        .t()
        .unwrap(); // a strided view: written in its logical row-major order
    let bytes = tensors_to_bytes(&[("weight", t)], &BTreeMap::new()).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    assert!(
        header.contains(r#""weight":{"dtype":"F32","shape":[3,2],"data_offsets":[0,24]}"#),
        "{header}"
    );
    // The metadata holds a checksum of each tensor and of the metadata.
    assert!(header.contains(r#""recur.crc32.weight":""#), "{header}");
    assert!(
        header.contains(r#""recur.crc32.__metadata__":""#),
        "{header}"
    );
    let data: Vec<f32> = bytes[8 + n..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(data, vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
}

#[test]
fn torch_written_fixture_loads() {
    // The optim fixtures were written by `safetensors.torch.save_file`.
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/optim_adam.safetensors");
    let (t, m) = load_tensors::<f32>(&path).unwrap();
    assert_eq!(m["kind"], "optim");
    assert_eq!(t.len(), 11);
    assert!(t.iter().all(|(_, v)| v.dims() == [3, 4]));
}

#[test]
fn bad_names_are_refused() {
    let z = Tensor::<f32>::zeros(&[1]);
    for names in [vec!["a", "a"], vec![""], vec!["__metadata__"]] {
        let ts: Vec<(&str, Tensor<f32>)> = names.iter().map(|n| (*n, z.clone())).collect();
        assert!(matches!(
            tensors_to_bytes(&ts, &BTreeMap::new()),
            Err(NnError::Checkpoint { .. })
        ));
    }
}

// ------------------------------------------------------------------ atomic writes

#[test]
fn writes_are_atomic_and_leave_no_temporaries() {
    let path = tmp("atomic.safetensors");
    let a = [("x", Tensor::<f32>::ones(&[3]))];
    save_tensors(&path, &a, &BTreeMap::new()).unwrap();
    let b = [("x", Tensor::<f32>::zeros(&[5]))];
    save_tensors(&path, &b, &BTreeMap::new()).unwrap(); // replaces
    let (t, _) = load_tensors::<f32>(&path).unwrap();
    assert_eq!(t.get("x").unwrap().dims(), &[5]);
    let dir = path.parent().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Failing to write (missing directory; a directory in the way) is an I/O error and
    // leaves whatever was at the path untouched.
    let missing = tmp("no_such_dir").join("x.safetensors");
    assert!(matches!(
        save_tensors(&missing, &a, &BTreeMap::new()),
        Err(NnError::Io { .. })
    ));
    let blocker = tmp("a_directory.safetensors");
    std::fs::create_dir_all(&blocker).unwrap();
    assert!(save_tensors(&blocker, &a, &BTreeMap::new()).is_err());
    assert!(blocker.is_dir());
    assert!(
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .all(|e| !e.file_name().to_string_lossy().contains(".tmp-"))
    );
}

// ------------------------------------------------------------------ modules

#[test]
fn module_round_trip_keeps_ids() {
    let path = tmp("module.safetensors");
    let m = RnnLike::<f32>::new(0.0);
    save_module_with(&m, &path, &meta(&[("arch", "RNN(3, 4)")]).into()).unwrap();
    let mut fresh = RnnLike::<f32>::new(1.0);
    let ids: Vec<_> = fresh.params.iter().map(|(_, p)| p.id()).collect();
    let md = load_module(&mut fresh, &path).unwrap();
    assert_eq!(md["arch"], "RNN(3, 4)");
    assert_eq!(fresh.values(), m.values());
    assert_eq!(
        fresh.params.iter().map(|(_, p)| p.id()).collect::<Vec<_>>(),
        ids
    );
    // f32 file into an f64 module.
    let mut wide = RnnLike::<f64>::new(2.0);
    load_module(&mut wide, &path).unwrap();
    assert_eq!(
        wide.params[0].1.value().to_vec()[0],
        m.values()[0][0] as f64
    );
}

/// This writes the file checked by hand with PyTorch:
/// `torch.nn.RNN(3, 4).load_state_dict(safetensors.torch.load_file(path))`.
#[test]
fn module_file_for_torch() {
    let path = tmp("rnn_3_4_for_torch.safetensors");
    let m = RnnLike::<f32>::new(0.25);
    save_module(&m, &path).unwrap();
    let (t, _) = load_tensors::<f32>(&path).unwrap();
    let names: Vec<&str> = t.names().collect();
    assert_eq!(
        names,
        ["bias_hh_l0", "bias_ih_l0", "weight_hh_l0", "weight_ih_l0"]
    );
}

#[test]
fn module_load_is_strict_and_all_or_nothing() {
    let m = RnnLike::<f32>::new(0.0);
    let mut target = RnnLike::<f32>::new(3.0);
    let before = target.values();
    let good: Vec<(String, Tensor<f32>)> = m
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.value().clone()))
        .collect();

    // Missing + unexpected + wrong shape, all reported together.
    let mut bad = good.clone();
    bad.retain(|(n, _)| n != "bias_hh_l0");
    bad.push(("bias_hh_l1".into(), Tensor::zeros(&[4])));
    bad[0].1 = Tensor::zeros(&[4, 5]); // weight_ih_l0
    let bytes = tensors_to_bytes(&bad, &BTreeMap::new()).unwrap();
    let e = load_module_from_bytes(&mut target, &bytes).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, NnError::Checkpoint { .. }));
    assert!(msg.contains("missing key(s): \"bias_hh_l0\""), "{msg}");
    assert!(msg.contains("unexpected key(s): \"bias_hh_l1\""), "{msg}");
    assert!(
        msg.contains("size mismatch for weight_ih_l0: the file has [4, 5], the module has [4, 3]"),
        "{msg}"
    );
    assert_eq!(target.values(), before, "nothing modified on error");

    let bytes = tensors_to_bytes(&good, &BTreeMap::new()).unwrap();
    load_module_from_bytes(&mut target, &bytes).unwrap();
    assert_eq!(target.values(), m.values());
}

#[test]
fn training_state_round_trip_and_atomic_failure() {
    let path = tmp("training.safetensors");
    let mut m = RnnLike::<f64>::new(0.0);
    let mut opt = Adam::new(0.01).unwrap();
    let mut grads = Grads::new();
    for (_, p) in &m.params {
        grads.set(p, p.value().mul_scalar(0.5)).unwrap();
    }
    opt.step_modules(&mut [&mut m], &grads).unwrap();
    save_training_state(&path, &m, &opt, &meta(&[("step", "1")])).unwrap();

    let mut m2 = RnnLike::<f64>::new(5.0);
    let mut opt2 = Adam::new(0.01).unwrap();
    assert_eq!(
        load_training_state(&path, &mut m2, &mut opt2).unwrap()["step"],
        "1"
    );
    assert_eq!(m2.values(), m.values());
    let names = recur_nn::optim::param_names("", &m2);
    assert_eq!(opt2.state_dict(&names).len(), 12);

    // Optimizer state that does not fit (AMSGrad expects one more buffer): neither changes.
    let mut m3 = RnnLike::<f64>::new(6.0);
    let before = m3.values();
    let mut ams = Adam::with_config(recur_nn::optim::AdamConfig::new(0.01).amsgrad(true)).unwrap();
    let e = load_training_state(&path, &mut m3, &mut ams).unwrap_err();
    assert!(e.to_string().contains("optimizer state"), "{e}");
    assert_eq!(m3.values(), before);
}

// ------------------------------------------------------------------ corrupted files

fn small_file() -> Vec<u8> {
    let t = [
        (
            "a",
            Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap(),
        ),
        (
            "b",
            Tensor::<f32>::from_vec(vec![4.0, 5.0], &[1, 2]).unwrap(),
        ),
    ];
    tensors_to_bytes(&t, &meta(&[("k", "v")])).unwrap()
}

#[test]
fn every_truncation_is_an_error() {
    let full = small_file();
    assert!(tensors_from_bytes::<f32>(&full).is_ok());
    for len in 0..full.len() {
        let r = tensors_from_bytes::<f32>(&full[..len]);
        assert!(
            matches!(r, Err(NnError::Checkpoint { .. })),
            "truncated at {len}"
        );
    }
    // The same through the file path (the header check runs before the read).
    let path = tmp("truncated.safetensors");
    for len in [0, 3, 8, 9, full.len() / 2, full.len() - 1] {
        std::fs::write(&path, &full[..len]).unwrap();
        assert!(
            load_tensors::<f32>(&path).is_err(),
            "truncated file at {len}"
        );
    }
}

#[test]
fn byte_flips_are_errors_or_valid_loads() {
    let full = small_file();
    let n = u64::from_le_bytes(full[..8].try_into().unwrap()) as usize;
    let data_start = 8 + n;
    let (orig, _) = tensors_from_bytes::<f32>(&full).unwrap();
    let mut errors = 0;
    for pos in 0..full.len() {
        for mask in [0x01u8, 0x02, 0x10, 0x20, 0x80, 0xff] {
            let mut b = full.clone();
            b[pos] ^= mask;
            match tensors_from_bytes::<f32>(&b) {
                Err(NnError::Checkpoint { .. }) => errors += 1,
                Err(e) => panic!("flip at {pos}: unexpected error kind {e:?}"),
                Ok((t, _)) => {
                    assert!(pos >= 8, "a flipped length field must fail (pos {pos})");
                    if pos >= data_start {
                        // Data flips load, with the same names and shapes.
                        assert_eq!(t.len(), orig.len());
                        for ((n1, t1), (n2, t2)) in t.iter().zip(&orig) {
                            assert_eq!((n1, t1.dims()), (n2, t2.dims()));
                        }
                    }
                }
            }
        }
    }
    assert!(errors > 0);
}

/// A file with the given header text and data bytes.
fn craft(header: &str, data: &[u8]) -> Vec<u8> {
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(header.as_bytes());
    b.extend_from_slice(data);
    b
}

#[test]
fn malformed_headers_are_clear_errors() {
    let err = |b: &[u8]| tensors_from_bytes::<f32>(b).unwrap_err().to_string();
    // Absurd header lengths: refused from the 8-byte field alone.
    for n in [1u64 << 60, u64::MAX, 1 << 40] {
        let mut b = n.to_le_bytes().to_vec();
        b.extend_from_slice(b"{}");
        let e = err(&b);
        assert!(e.contains(&format!("header length {n} exceeds")), "{e}");
    }
    let path = tmp("absurd.safetensors");
    let mut b = (1u64 << 60).to_le_bytes().to_vec();
    b.extend_from_slice(&[b' '; 64]);
    std::fs::write(&path, &b).unwrap();
    assert!(
        load_tensors::<f32>(&path)
            .unwrap_err()
            .to_string()
            .contains("exceeds")
    );

    assert!(err(&craft("not json", &[])).contains("JSON"));
    assert!(
        err(&craft("\u{0}\u{ff}", &[])).contains("JSON")
            || err(&craft("\u{0}\u{ff}", &[])).contains("UTF")
    );
    let mut bad_utf8 = 2u64.to_le_bytes().to_vec();
    bad_utf8.extend_from_slice(&[0xff, 0xfe]);
    assert!(err(&bad_utf8).contains("UTF-8"), "{}", err(&bad_utf8));
    // Offsets past the data, overlapping, or not matching the shape.
    let off = |s: &str| {
        craft(
            &format!(r#"{{"a":{{"dtype":"F32","shape":[2],"data_offsets":{s}}}}}"#),
            &[0; 8],
        )
    };
    assert!(tensors_from_bytes::<f32>(&off("[0,8]")).is_ok());
    for s in [
        "[0,16]",
        "[4,12]",
        "[0,4]",
        "[8,0]",
        "[0,18446744073709551615]",
    ] {
        assert!(tensors_from_bytes::<f32>(&off(s)).is_err(), "{s}");
    }
    // Shapes whose element count overflows.
    let huge = craft(
        r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}}"#,
        &[0; 8],
    );
    assert!(tensors_from_bytes::<f32>(&huge).is_err());
    // A dtype other than F32/F64.
    let i64s = craft(
        r#"{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#,
        &[0; 8],
    );
    assert_eq!(
        err(&i64s),
        "checkpoint <memory>: tensor `a` has dtype I64; only F32 and F64 can be loaded"
    );
    let unknown = craft(
        r#"{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,8]}}"#,
        &[0; 8],
    );
    assert!(tensors_from_bytes::<f32>(&unknown).is_err());
    // Metadata that is not a string map.
    let md = craft(r#"{"__metadata__":{"k":3}}"#, &[]);
    assert!(tensors_from_bytes::<f32>(&md).is_err());
    // Empty file, and an empty (valid) one.
    assert!(err(&[]).contains("too short"));
    let (t, m) = tensors_from_bytes::<f64>(&craft("{}", &[])).unwrap();
    assert!(t.is_empty() && m.is_empty());
}

#[test]
fn a_module_load_from_a_corrupted_file_changes_nothing() {
    let path = tmp("corrupt_module.safetensors");
    let m = RnnLike::<f32>::new(0.0);
    save_module(&m, &path).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() - 3);
    std::fs::write(&path, &bytes).unwrap();
    let mut target = RnnLike::<f32>::new(1.0);
    let before = target.values();
    assert!(load_module(&mut target, &path).is_err());
    assert_eq!(target.values(), before);
}

#[test]
fn temporaries_of_a_killed_writer_neither_block_nor_stay() {
    // A writer killed before its rename leaves `.<name>.tmp-<pid>-<n>`; a later process may
    // get the same PID (PID 1 in every container). Its saves must still work, and the
    // leftovers must go.
    let dir = tmp("stale_temporaries");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ck.safetensors");
    let pid = std::process::id();
    for n in 0..256 {
        std::fs::write(
            dir.join(format!(".ck.safetensors.tmp-{pid}-{n}")),
            b"partial",
        )
        .unwrap();
    }
    std::fs::write(dir.join(".ck.safetensors.tmp-1-0"), b"partial").unwrap();
    // Another file's temporaries are not this path's business.
    std::fs::write(dir.join(".other.tmp-1-0"), b"keep").unwrap();
    for step in 0..3 {
        let t = [("x", Tensor::<f32>::full(&[2], step as f32))];
        save_tensors(&path, &t, &BTreeMap::new()).unwrap();
    }
    assert_eq!(
        load_tensors::<f32>(&path)
            .unwrap()
            .0
            .get("x")
            .unwrap()
            .to_vec(),
        vec![2.0, 2.0]
    );
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert_eq!(left, vec![".other.tmp-1-0".to_string()]);
}
