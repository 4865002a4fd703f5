//! Every PyTorch reference case in tests/fixtures: in f64 to 1e-10, in f32 to 1e-4 relative.

use recur_conformance::{Tolerance, run_file};
use std::path::PathBuf;

fn fixtures() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../nn/tests/fixtures");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_fixture_matches_in_f64() {
    let files = fixtures();
    assert!(
        files.len() >= 12,
        "expected the 12 reference files, found {}",
        files.len()
    );
    let strict = Tolerance {
        atol: 1e-10,
        rtol: 1e-10,
    };
    for f in files {
        let r = run_file::<f64>(&f, strict).unwrap();
        assert!(
            r.passed(),
            "{}: {:?} (max_abs_err {:e})",
            r.name,
            r.failed,
            r.max_abs_err
        );
        assert!(
            r.compared >= 3,
            "{}: compared only {} tensors",
            r.name,
            r.compared
        );
    }
}

#[test]
fn every_fixture_matches_in_f32() {
    for f in fixtures() {
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

#[test]
fn a_wrong_reference_fails() {
    // Perturb one gradient of a fixture and check the runner names it.
    use recur_nn::checkpoint::{load_tensors, save_tensors};
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../nn/tests/fixtures/rnn_seed_example.safetensors");
    let (mut tensors, meta) = load_tensors::<f64>(&src).unwrap();
    let t = tensors.get_mut("grad.weight_hh_l0").unwrap();
    let mut v = t.to_vec();
    v[3] += 1e-6;
    *t = recur_tensor::Tensor::from_vec(v, t.dims()).unwrap();
    let dir = std::env::temp_dir().join(format!("recur-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("perturbed.safetensors");
    save_tensors(&bad, &tensors.into_vec(), &meta).unwrap();
    let r = run_file::<f64>(&bad, Tolerance::F64).unwrap();
    assert_eq!(
        r.failed.as_ref().map(|f| f.0.as_str()),
        Some("grad.weight_hh_l0")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
