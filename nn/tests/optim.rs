//! Optimizers against PyTorch: the `optim_*.safetensors` fixtures (1e-10 relative, f64),
//! hand-written torch formulas for AdamW and RMSprop, torch-printed values for the other
//! settings, PyTorch's validation messages, and state save → load → continue.

use recur_nn::checkpoint::{load_tensors, save_tensors};
use recur_nn::clip::clip_grad_norm;
use recur_nn::optim::{
    Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, RmsProp,
    RmsPropConfig, Sgd, SgdConfig, param_names,
};
use recur_nn::{Grads, Module, Param, ParamId};
use recur_tensor::{Float, Tensor};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("optim_{name}.safetensors"))
}

/// max |a - b| / |b| over the elements (|b| below 1e-12 counts as absolute error).
fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(1e-12))
        .fold(0.0, f64::max)
}

fn grads_for<T: Float>(p: &Param<T>, g: &[f64]) -> Grads<T> {
    let mut grads = Grads::new();
    let t = Tensor::from_vec(
        g.iter().map(|&v| T::from_f64(v)).collect(),
        p.value().dims(),
    );
    grads.set(p, t.unwrap()).unwrap();
    grads
}

/// Runs one fixture; returns (max relative error of the parameters, of the clip norms).
fn run_fixture(name: &str, opt: &mut dyn Optimizer<f64>) -> (f64, f64) {
    let (tensors, meta) = load_tensors::<f64>(fixture(name)).unwrap();
    assert_eq!(meta["kind"], "optim");
    assert_eq!(meta["name"], name);
    let t: BTreeMap<String, Tensor<f64>> = tensors.into_iter().collect();
    let steps: usize = meta["steps"].parse().unwrap();
    let clip: Option<f64> = meta["clip_max_norm"].parse().ok();
    let mut p = Param::new(t["param.0"].clone());
    let (mut worst, mut worst_norm) = (0.0f64, 0.0f64);
    for k in 1..=steps {
        let mut grads = Grads::new();
        grads.set(&p, t[&format!("grad.{k}")].clone()).unwrap();
        if let Some(max_norm) = clip {
            let total = clip_grad_norm(&mut grads, max_norm).unwrap();
            let want = t[&format!("total_norm.{k}")].to_vec()[0];
            worst_norm = worst_norm.max(max_rel(&[total], &[want]));
        }
        opt.step(&mut [&mut p], &grads).unwrap();
        worst = worst.max(max_rel(
            &p.value().to_vec(),
            &t[&format!("param.{k}")].to_vec(),
        ));
    }
    eprintln!("fixture {name}: {steps} steps, max rel err params {worst:e}, norms {worst_norm:e}");
    (worst, worst_norm)
}

#[test]
fn fixture_sgd_momentum_nesterov_wd() {
    let cfg = SgdConfig::new(0.1)
        .momentum(0.9)
        .nesterov(true)
        .weight_decay(0.01);
    let (e, _) = run_fixture(
        "sgd_momentum_nesterov_wd",
        &mut Sgd::with_config(cfg).unwrap(),
    );
    assert!(e <= 1e-10, "{e:e}");
}

#[test]
fn fixture_adam() {
    let (e, _) = run_fixture("adam", &mut Adam::new(1e-2).unwrap());
    assert!(e <= 1e-10, "{e:e}");
}

#[test]
fn fixture_adagrad() {
    let (e, _) = run_fixture("adagrad", &mut Adagrad::new(0.1).unwrap());
    assert!(e <= 1e-10, "{e:e}");
}

#[test]
fn fixture_adam_clip_norm_5() {
    let (e, en) = run_fixture("adam_clip_norm_5", &mut Adam::new(1e-2).unwrap());
    assert!(e <= 1e-10, "{e:e}");
    assert!(en <= 1e-10, "{en:e}");
}

// ------------------------------------------------------------------ hand-computed references

const P0: [f64; 3] = [1.0, -2.0, 0.5];
const G: [[f64; 3]; 3] = [[0.1, -0.3, 2.0], [-0.2, 0.4, 1.0], [0.3, 0.0, -1.5]];

fn run_steps(opt: &mut dyn Optimizer<f64>, steps: usize) -> Vec<f64> {
    let mut p = Param::new(Tensor::from_vec(P0.to_vec(), &[3]).unwrap());
    for g in &G[..steps] {
        let grads = grads_for(&p, g);
        opt.step(&mut [&mut p], &grads).unwrap();
    }
    p.value().to_vec()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    let e = max_rel(got, want);
    assert!(e <= tol, "got {got:?}, want {want:?} (rel err {e:e})");
}

/// torch.optim.AdamW, written out (single-tensor path, decoupled weight decay):
/// p *= 1 - lr*wd; m = lerp(m, g, 1-b1); v = b2 v + (1-b2) g²;
/// p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
#[test]
fn adamw_two_steps_by_hand() {
    let (lr, wd, b1, b2, eps) = (0.1, 0.1, 0.9, 0.999, 1e-8);
    let mut want = Vec::new();
    for i in 0..3 {
        let (mut p, mut m, mut v) = (P0[i], 0.0, 0.0);
        for (t, g) in G[..2].iter().map(|g| g[i]).enumerate() {
            let t = (t + 1) as f64;
            p *= 1.0 - lr * wd;
            m += (1.0 - b1) * (g - m);
            v = b2 * v + (1.0 - b2) * g * g;
            let denom = v.sqrt() / (1.0 - f64::powf(b2, t)).sqrt() + eps;
            p -= lr / (1.0 - f64::powf(b1, t)) * (m / denom);
        }
        want.push(p);
    }
    let got = run_steps(
        &mut AdamW::with_config(AdamWConfig::new(lr).weight_decay(wd)).unwrap(),
        2,
    );
    assert_close(&got, &want, 1e-14);
    // And what torch 2.15 printed for the same run.
    assert_close(
        &got,
        &[0.9177103602884887, -1.8805510436663575, 0.2978320372035104],
        1e-14,
    );
}

/// torch.optim.RMSprop, written out: g += wd p; v = a v + (1-a) g²;
/// centered: gbar = lerp(gbar, g, 1-a), d = sqrt(v - gbar²) + eps, else d = sqrt(v) + eps;
/// momentum: b = mom b + g/d, p -= lr b; else p -= lr g/d.
fn rmsprop_by_hand(lr: f64, alpha: f64, eps: f64, wd: f64, mom: f64, centered: bool) -> Vec<f64> {
    (0..3)
        .map(|i| {
            let (mut p, mut v, mut gbar, mut b) = (P0[i], 0.0, 0.0, 0.0);
            for g in G[..2].iter().map(|g| g[i]) {
                let g = g + wd * p;
                v = alpha * v + (1.0 - alpha) * g * g;
                let d = if centered {
                    gbar += (1.0 - alpha) * (g - gbar);
                    (v - gbar * gbar).sqrt() + eps
                } else {
                    v.sqrt() + eps
                };
                if mom > 0.0 {
                    b = mom * b + g / d;
                    p -= lr * b;
                } else {
                    p -= lr * (g / d);
                }
            }
            p
        })
        .collect()
}

#[test]
fn rmsprop_two_steps_by_hand() {
    let got = run_steps(&mut RmsProp::new(0.01).unwrap(), 2);
    assert_close(
        &got,
        &rmsprop_by_hand(0.01, 0.99, 1e-8, 0.0, 0.0, false),
        1e-14,
    );
    assert_close(
        &got,
        &[0.9895323561269267, -1.9801444072456034, 0.355098681509435],
        1e-14,
    );
    let cfg = RmsPropConfig::new(0.01)
        .momentum(0.9)
        .centered(true)
        .weight_decay(0.1);
    let got = run_steps(&mut RmsProp::with_config(cfg).unwrap(), 2);
    assert_close(
        &got,
        &rmsprop_by_hand(0.01, 0.99, 1e-8, 0.1, 0.9, true),
        1e-14,
    );
    assert_close(
        &got,
        &[0.8574740368882782, -1.8479939164483887, 0.2632071794187681],
        1e-14,
    );
}

/// Settings the fixtures do not cover, against values torch 2.15 printed (3 steps).
#[test]
fn other_settings_match_torch() {
    let adam = AdamConfig::new(0.1).amsgrad(true).weight_decay(0.05);
    assert_close(
        &run_steps(&mut Adam::with_config(adam).unwrap(), 3),
        &[0.8555334236017397, -1.8738626996686625, 0.2813532725506251],
        1e-13,
    );
    let sgd = SgdConfig::new(0.1).momentum(0.9).dampening(0.5);
    assert_close(
        &run_steps(&mut Sgd::with_config(sgd).unwrap(), 3),
        &[0.9769, -1.9567, -0.062],
        1e-13,
    );
    let ada = AdagradConfig::new(0.1)
        .lr_decay(0.5)
        .weight_decay(0.1)
        .initial_accumulator_value(0.2);
    assert_close(
        &run_steps(&mut Adagrad::with_config(ada).unwrap(), 3),
        &[0.9419556629495198, -1.9318125132228856, 0.39917328007666175],
        1e-13,
    );
}

#[test]
fn validation_messages_are_pytorchs() {
    let msg = |r: recur_nn::Result<()>| r.unwrap_err().to_string();
    let sgd = |c: SgdConfig| msg(Sgd::<f32>::with_config(c).map(drop));
    assert_eq!(sgd(SgdConfig::new(-0.1)), "Invalid learning rate: -0.1");
    assert_eq!(
        sgd(SgdConfig::new(0.1).momentum(-1.0)),
        "Invalid momentum value: -1.0"
    );
    assert_eq!(
        sgd(SgdConfig::new(0.1).weight_decay(-1e-5)),
        "Invalid weight_decay value: -1e-05"
    );
    assert_eq!(
        sgd(SgdConfig::new(0.1)
            .momentum(0.9)
            .dampening(0.1)
            .nesterov(true)),
        "Nesterov momentum requires a momentum and zero dampening"
    );
    let adam = |c: AdamConfig| msg(Adam::<f32>::with_config(c).map(drop));
    assert_eq!(
        adam(AdamConfig::new(f64::NAN)),
        "Invalid learning rate: nan"
    );
    assert_eq!(
        adam(AdamConfig::new(1e-3).eps(-1.0)),
        "Invalid epsilon value: -1.0"
    );
    assert_eq!(
        adam(AdamConfig::new(1e-3).betas(1.5, 0.999)),
        "Invalid beta parameter at index 0: 1.5"
    );
    assert_eq!(
        adam(AdamConfig::new(1e-3).betas(0.9, 1.0)),
        "Invalid beta parameter at index 1: 1.0"
    );
    assert_eq!(
        adam(AdamConfig::new(1e-3).weight_decay(-0.5)),
        "Invalid weight_decay value: -0.5"
    );
    assert_eq!(
        msg(AdamW::<f32>::with_config(AdamWConfig::new(-2.0)).map(drop)),
        "Invalid learning rate: -2.0"
    );
    let ada = |c: AdagradConfig| msg(Adagrad::<f32>::with_config(c).map(drop));
    assert_eq!(
        ada(AdagradConfig::new(0.1).lr_decay(-1.0)),
        "Invalid lr_decay value: -1.0"
    );
    assert_eq!(
        ada(AdagradConfig::new(0.1).initial_accumulator_value(-0.1)),
        "Invalid initial_accumulator_value value: -0.1"
    );
    assert_eq!(
        ada(AdagradConfig::new(0.1).eps(-1e-10)),
        "Invalid epsilon value: -1e-10"
    );
    let rms = |c: RmsPropConfig| msg(RmsProp::<f32>::with_config(c).map(drop));
    assert_eq!(
        rms(RmsPropConfig::new(0.1).alpha(-0.9)),
        "Invalid alpha value: -0.9"
    );
    assert_eq!(
        rms(RmsPropConfig::new(0.1).momentum(-0.9)),
        "Invalid momentum value: -0.9"
    );
}

// ------------------------------------------------------------------ state save / restore

/// A two-parameter module with PyTorch-style names.
#[derive(Module)]
struct Toy<T: Float> {
    weight: Param<T>,
    bias: Param<T>,
}

impl<T: Float> Toy<T> {
    fn new() -> Self {
        let w = (0..6).map(|i| T::from_f64(0.3 * i as f64 - 0.7)).collect();
        Toy {
            weight: Param::new(Tensor::from_vec(w, &[2, 3]).unwrap()),
            bias: Param::new(
                Tensor::from_vec(vec![T::from_f64(0.1), T::from_f64(-0.2)], &[2]).unwrap(),
            ),
        }
    }
    fn duplicate(&self) -> Self {
        Toy {
            weight: self.weight.duplicate(),
            bias: self.bias.duplicate(),
        }
    }
    /// Deterministic gradients for step `k` that depend on the current values (like a loss).
    fn grads(&self, k: usize) -> Grads<T> {
        let mut g = Grads::new();
        for p in [&self.weight, &self.bias] {
            let v: Vec<T> = p
                .value()
                .to_vec()
                .iter()
                .enumerate()
                .map(|(i, &x)| x * T::from_f64(0.5) + T::from_f64(((k * 7 + i) as f64).sin()))
                .collect();
            g.set(p, Tensor::from_vec(v, p.value().dims()).unwrap())
                .unwrap();
        }
        g
    }
    fn values(&self) -> Vec<T> {
        let mut v = self.weight.value().to_vec();
        v.extend(self.bias.value().to_vec());
        v
    }
}

fn resume_is_seamless<T: Float>(make: &dyn Fn() -> Box<dyn Optimizer<T>>, label: &str) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("optim_state_{label}_{}.safetensors", T::DTYPE));
    // Uninterrupted: 6 steps.
    let mut a = Toy::<T>::new();
    let mut opt_a = make();
    for k in 0..6 {
        let g = a.grads(k);
        opt_a.step_modules(&mut [&mut a], &g).unwrap();
    }
    // Interrupted after 3: state saved to a file, restored into fresh params + optimizer.
    let mut b = Toy::<T>::new();
    let mut opt_b = make();
    for k in 0..3 {
        let g = b.grads(k);
        opt_b.step_modules(&mut [&mut b], &g).unwrap();
    }
    let names = param_names("", &b);
    let mut tensors: Vec<(String, Tensor<T>)> = b
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.value().clone()))
        .collect();
    tensors.extend(
        opt_b
            .state_dict(&names)
            .into_iter()
            .map(|(k, v)| (format!("optim.{k}"), v)),
    );
    save_tensors(&path, &tensors, &BTreeMap::new()).unwrap();

    let mut c = b.duplicate(); // new ParamIds: "a fresh process"
    assert_ne!(c.weight.id(), b.weight.id());
    let mut opt_c = make();
    let (loaded, _) = load_tensors::<T>(&path).unwrap();
    let state: Vec<(String, Tensor<T>)> = loaded
        .into_iter()
        .filter_map(|(k, v)| k.strip_prefix("optim.").map(|k| (k.to_string(), v)))
        .collect();
    assert!(!state.is_empty(), "{label}: no state saved");
    opt_c.load_state_dict(&param_names("", &c), &state).unwrap();
    for k in 3..6 {
        let g = c.grads(k);
        opt_c.step_modules(&mut [&mut c], &g).unwrap();
    }
    assert_eq!(
        c.values(),
        a.values(),
        "{label} ({}): resumed run differs",
        T::DTYPE
    );
    std::fs::remove_file(&path).ok();
}

#[test]
fn save_load_continue_equals_uninterrupted() {
    fn all<T: Float>() {
        resume_is_seamless::<T>(
            &|| {
                Box::new(
                    Sgd::with_config(SgdConfig::new(0.1).momentum(0.9).nesterov(true)).unwrap(),
                )
            },
            "sgd",
        );
        resume_is_seamless::<T>(
            &|| Box::new(Adam::with_config(AdamConfig::new(0.05).amsgrad(true)).unwrap()),
            "adam",
        );
        resume_is_seamless::<T>(&|| Box::new(AdamW::new(0.05).unwrap()), "adamw");
        resume_is_seamless::<T>(
            &|| Box::new(Adagrad::with_config(AdagradConfig::new(0.1).lr_decay(0.1)).unwrap()),
            "adagrad",
        );
        resume_is_seamless::<T>(
            &|| {
                let c = RmsPropConfig::new(0.01).momentum(0.5).centered(true);
                Box::new(RmsProp::with_config(c).unwrap())
            },
            "rmsprop",
        );
    }
    all::<f64>();
    all::<f32>();
}

#[test]
fn state_dict_uses_names_and_torch_buffer_names() {
    let mut m = Toy::<f64>::new();
    let mut opt = Adam::new(0.01).unwrap();
    let g = m.grads(0);
    opt.step_modules(&mut [&mut m], &g).unwrap();
    let keys: Vec<String> = opt
        .state_dict(&param_names("rnn", &m))
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        keys,
        [
            "rnn.weight.step",
            "rnn.weight.exp_avg",
            "rnn.weight.exp_avg_sq",
            "rnn.bias.step",
            "rnn.bias.exp_avg",
            "rnn.bias.exp_avg_sq"
        ]
    );
    let step = &opt.state_dict(&param_names("", &m))[0].1;
    assert_eq!((step.rank(), step.item().unwrap()), (0, 1.0));
}

#[test]
fn load_state_dict_is_strict_and_atomic() {
    let mut m = Toy::<f64>::new();
    let mut opt = Adam::new(0.01).unwrap();
    let g = m.grads(0);
    opt.step_modules(&mut [&mut m], &g).unwrap();
    let names = param_names("", &m);
    let good = opt.state_dict(&names);

    let mut fresh = Adam::<f64>::new(0.01).unwrap();
    let mut extra = good.clone();
    extra.push(("head.weight.exp_avg".into(), Tensor::zeros(&[2])));
    let e = fresh
        .load_state_dict(&names, &extra)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unexpected entries: head.weight.exp_avg"), "{e}");
    assert!(
        fresh.state_dict(&names).is_empty(),
        "nothing loaded on error"
    );

    let partial: Vec<_> = good
        .iter()
        .filter(|(k, _)| k != "bias.exp_avg_sq")
        .cloned()
        .collect();
    let e = fresh
        .load_state_dict(&names, &partial)
        .unwrap_err()
        .to_string();
    assert!(e.contains("the state of `bias` is incomplete"), "{e}");

    let mut bad_step = good.clone();
    bad_step[0].1 = Tensor::scalar(1.5);
    let e = fresh
        .load_state_dict(&names, &bad_step)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`weight.step` is 1.5, expected a non-negative integer"),
        "{e}"
    );

    // State of the wrong shape is caught at the next step, naming both shapes.
    let mut wrong = good.clone();
    for (k, v) in &mut wrong {
        if k.starts_with("bias.exp") {
            *v = Tensor::zeros(&[5]);
        }
    }
    fresh.load_state_dict(&names, &wrong).unwrap();
    let e = fresh
        .step_modules(&mut [&mut m], &g)
        .unwrap_err()
        .to_string();
    assert!(e.contains("has shape [5], the parameter [2]"), "{e}");

    fresh.load_state_dict(&names, &good).unwrap();
    assert_eq!(fresh.state_dict(&names).len(), good.len());
}

// ------------------------------------------------------------------ step semantics

#[test]
fn params_without_grads_are_skipped() {
    let mut a = Param::new(Tensor::<f64>::ones(&[2]));
    let mut b = Param::new(Tensor::<f64>::ones(&[2]));
    let grads = grads_for(&a, &[1.0, 1.0]);
    let mut opt = Sgd::with_config(SgdConfig::new(0.5).momentum(0.5)).unwrap();
    opt.step(&mut [&mut a, &mut b], &grads).unwrap();
    assert_eq!(a.value().to_vec(), vec![0.5, 0.5]);
    assert_eq!(b.value().to_vec(), vec![1.0, 1.0]);
    assert!(
        opt.state_dict(&[("b".into(), b.id())]).is_empty(),
        "no state for a parameter that never had a gradient"
    );
    assert_eq!(opt.state_dict(&[("a".into(), a.id())]).len(), 1);
}

#[test]
fn gradient_shape_mismatch_is_an_error() {
    let mut a = Param::new(Tensor::<f64>::ones(&[2]));
    let mut grads = Grads::new();
    grads.set(&a, Tensor::ones(&[2])).unwrap();
    *grads.get_mut(&a).unwrap() = Tensor::ones(&[3]); // bypasses Grads::set's check
    let e = Adam::new(0.1)
        .unwrap()
        .step(&mut [&mut a], &grads)
        .unwrap_err()
        .to_string();
    assert!(e.contains("has shape [3], the parameter [2]"), "{e}");
    assert_eq!(a.value().to_vec(), vec![1.0, 1.0]);
}

#[test]
fn updates_are_in_place_in_steady_state() {
    fn check(opt: &mut dyn Optimizer<f32>, label: &str) {
        let mut p = Param::new(Tensor::<f32>::ones(&[64, 64]));
        let grads = grads_for(&p, &vec![0.25; 64 * 64]);
        opt.step(&mut [&mut p], &grads).unwrap();
        let ptr = p.value().storage().as_ptr();
        for _ in 0..5 {
            opt.step(&mut [&mut p], &grads).unwrap();
        }
        assert_eq!(
            p.value().storage().as_ptr(),
            ptr,
            "{label}: parameter buffer reallocated"
        );
    }
    check(
        &mut Sgd::with_config(SgdConfig::new(0.1).momentum(0.9)).unwrap(),
        "sgd",
    );
    check(
        &mut Adam::with_config(AdamConfig::new(0.1).amsgrad(true)).unwrap(),
        "adam",
    );
    check(&mut AdamW::new(0.1).unwrap(), "adamw");
    check(&mut Adagrad::new(0.1).unwrap(), "adagrad");
    let c = RmsPropConfig::new(0.1).momentum(0.9).centered(true);
    check(&mut RmsProp::with_config(c).unwrap(), "rmsprop");
}

#[test]
fn set_lr_changes_the_next_step() {
    let mut p = Param::new(Tensor::<f64>::ones(&[1]));
    let grads = grads_for(&p, &[1.0]);
    let mut opt = Sgd::new(0.1).unwrap();
    assert_eq!(opt.lr(), 0.1);
    opt.set_lr(0.5);
    opt.step(&mut [&mut p], &grads).unwrap();
    assert_eq!(p.value().to_vec(), vec![0.5]);
}

#[test]
fn ids_differ_between_processes_but_names_do_not() {
    // A sanity check of the test's model of "a fresh process": new ids, same names.
    let m = Toy::<f32>::new();
    let n = m.duplicate();
    let a: Vec<(String, ParamId)> = param_names("", &m);
    let b = param_names("", &n);
    assert_eq!(
        a.iter().map(|x| &x.0).collect::<Vec<_>>(),
        b.iter().map(|x| &x.0).collect::<Vec<_>>()
    );
    assert!(a.iter().zip(&b).all(|(x, y)| x.1 != y.1));
}
