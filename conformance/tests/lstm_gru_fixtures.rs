//! The PyTorch reference cases for LSTM, GRU, LSTMCell and GRUCell (made by
//! `scripts/gen_fixtures.py`): every file in f64 to 1e-10, in f32 to 1e-4 relative, and a
//! perturbed reference is caught. (`tests/conformance.rs` runs them too, with every other
//! fixture; this file names them and checks that none is missing.)

use recur_conformance::{Tolerance, run_file};
use recur_nn::checkpoint::{load_tensors, save_tensors};
use recur_tensor::Tensor;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../nn/tests/fixtures")
}

/// Every LSTM / GRU / cell fixture, sorted.
fn gated_fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.ends_with(".safetensors")
                && ["lstm_", "gru_", "lstmcell_", "grucell_"]
                    .iter()
                    .any(|pre| name.starts_with(pre))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn all_reference_files_are_present() {
    let names: Vec<String> = gated_fixtures()
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for kind in ["lstm", "gru"] {
        for case in [
            "seed_example",
            "one_layer_seq7",
            "batch_first_bidir_2layer",
            "unbatched_no_h0",
            "unbatched_bidir_h0",
            "three_layer_nobias",
            "long_seq",
            "packed_bidir_2layer",
            "packed_batch_first_no_h0",
        ] {
            let n = format!("{kind}_{case}");
            assert!(names.contains(&n), "missing {n}");
        }
        for case in ["batched", "unbatched_nobias", "no_hx"] {
            let n = format!("{kind}cell_{case}");
            assert!(names.contains(&n), "missing {n}");
        }
    }
    for case in [
        "proj_bidir_2layer",
        "proj_packed_batch_first",
        "proj_unbatched_no_h0",
    ] {
        let n = format!("lstm_{case}");
        assert!(names.contains(&n), "missing {n}");
    }
    assert_eq!(names.len(), 27);
}

#[test]
fn every_gated_fixture_matches_in_f64() {
    let strict = Tolerance {
        atol: 1e-10,
        rtol: 1e-10,
    };
    for f in gated_fixtures() {
        let r = run_file::<f64>(&f, strict).unwrap();
        assert!(
            r.passed(),
            "{}: {:?} (max_abs_err {:e})",
            r.name,
            r.failed,
            r.max_abs_err
        );
        // Values, final states and a gradient for the input and every parameter.
        let min = match r.kind.as_str() {
            "LSTM" => 3 + 1 + 2,
            "GRU" => 2 + 1 + 2,
            "LSTMCell" => 2 + 1 + 2,
            "GRUCell" => 1 + 1 + 2,
            other => panic!("{}: unexpected kind {other}", r.name),
        };
        assert!(
            r.compared >= min,
            "{}: compared only {}",
            r.name,
            r.compared
        );
        assert!(r.max_abs_err < 1e-12, "{}: {:e}", r.name, r.max_abs_err);
    }
}

#[test]
fn every_gated_fixture_matches_in_f32() {
    for f in gated_fixtures() {
        let r = run_file::<f32>(&f, Tolerance::F32).unwrap();
        assert!(
            r.passed(),
            "{}: {:?} (max_abs_err {:e})",
            r.name,
            r.failed,
            r.max_abs_err
        );
    }
}

/// A wrong value in one gate block of a reference gradient is caught and named, for each
/// kind: the runner really compares the new kinds' gradients.
#[test]
fn a_wrong_reference_fails() {
    let tmp = std::env::temp_dir().join(format!("recur-gated-conf-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for (file, tensor) in [
        ("lstm_batch_first_bidir_2layer", "grad.weight_hh_l1_reverse"),
        ("gru_packed_bidir_2layer", "grad.bias_hh_l0"),
        ("lstm_unbatched_bidir_h0", "grad.c0"),
        ("lstmcell_batched", "grad.cx"),
        ("grucell_batched", "grad.weight_ih"),
    ] {
        let (mut tensors, meta) =
            load_tensors::<f64>(dir().join(format!("{file}.safetensors"))).unwrap();
        let t = tensors.get_mut(tensor).unwrap();
        let mut v = t.to_vec();
        let last = v.len() - 1; // the last gate block (o for LSTM, n for GRU)
        v[last] += 1e-6;
        *t = Tensor::from_vec(v, t.dims()).unwrap();
        let bad = tmp.join(format!("{file}.safetensors"));
        save_tensors(&bad, &tensors.into_vec(), &meta).unwrap();
        let r = run_file::<f64>(&bad, Tolerance::F64).unwrap();
        assert_eq!(
            r.failed.as_ref().map(|f| f.0.as_str()),
            Some(tensor),
            "{file}"
        );
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}
