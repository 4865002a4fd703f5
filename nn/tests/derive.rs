//! `#[derive(Module)]`: the names and order a hand-written impl gives (PyTorch's
//! `state_dict` names), mutable access that optimizers and checkpoints write through,
//! train/eval propagation, nesting, lists, options, skipped fields, enums, concrete and
//! generic structs, and a checkpoint round trip.

use recur_nn::checkpoint::{load_module, save_module};
use recur_nn::optim::{Optimizer, Sgd};
use recur_nn::{
    Dropout, Grads, Layer, Linear, Lstm, LstmConfig, Module, Param, ParamId, Rnn, RnnConfig,
    Sequential, Tanh, prefixed, prefixed_mut,
};
use recur_tensor::{Float, Tensor};
use std::path::PathBuf;

#[derive(Module)]
struct Model {
    rnn: Rnn<f32>,
    head: Linear<f32>,
}

impl Model {
    fn new(seed: u64) -> Model {
        let mut rng = recur_nn::seeded_rng(seed);
        let config = RnnConfig::new(3, 5).num_layers(2).dropout(0.25);
        Model {
            rnn: Rnn::new(config, &mut rng).unwrap(),
            head: Linear::new(5, 2, &mut rng).unwrap(),
        }
    }
}

/// The generic form, with a direct parameter, a list, an option and skipped fields.
#[derive(Module)]
struct Generic<T: Float> {
    scale: Param<T>,
    rnn: Rnn<T>,
    layers: Vec<Linear<T>>,
    extra: Option<Linear<T>>,
    #[module(skip)]
    steps: usize,
    #[module(skip)]
    _rng: rand::rngs::StdRng,
}

impl<T: Float> Generic<T> {
    fn new(extra: bool) -> Self {
        let mut rng = recur_nn::seeded_rng(5);
        let layers = (0..3)
            .map(|_| Linear::new(4, 4, &mut rng).unwrap())
            .collect();
        Generic {
            scale: Param::new(Tensor::ones(&[4])),
            rnn: Rnn::new(RnnConfig::new(2, 4).dropout(0.5).num_layers(2), &mut rng).unwrap(),
            layers,
            extra: extra.then(|| Linear::new(4, 1, &mut rng).unwrap()),
            steps: 0,
            _rng: recur_nn::seeded_rng(6),
        }
    }
}

fn names<T: Float>(m: &dyn Module<T>) -> Vec<String> {
    m.named_parameters().into_iter().map(|(n, _)| n).collect()
}

fn ids<T: Float>(v: &[(String, &Param<T>)]) -> Vec<(String, ParamId)> {
    v.iter().map(|(n, p)| (n.clone(), p.id())).collect()
}

fn ids_mut<T: Float>(v: &[(String, &mut Param<T>)]) -> Vec<(String, ParamId)> {
    v.iter().map(|(n, p)| (n.clone(), p.id())).collect()
}

#[test]
fn names_and_order_equal_a_hand_written_impl() {
    let mut m = Model::new(0);
    let mut want = prefixed("rnn", m.rnn.named_parameters());
    want.extend(prefixed("head", m.head.named_parameters()));
    let want = ids(&want);
    assert_eq!(ids(&m.named_parameters()), want);
    assert_eq!(ids_mut(&m.named_parameters_mut()), want);
    let mut want_mut = prefixed_mut("rnn", m.rnn.named_parameters_mut());
    want_mut.extend(prefixed_mut("head", m.head.named_parameters_mut()));
    assert_eq!(ids_mut(&want_mut), want);
    // PyTorch's state_dict keys for RNN(3, 5, num_layers=2) + Linear(5, 2).
    let torch: Vec<String> = [
        "rnn.weight_ih_l0",
        "rnn.weight_hh_l0",
        "rnn.bias_ih_l0",
        "rnn.bias_hh_l0",
        "rnn.weight_ih_l1",
        "rnn.weight_hh_l1",
        "rnn.bias_ih_l1",
        "rnn.bias_hh_l1",
        "head.weight",
        "head.bias",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(names(&m), torch);
    assert_eq!(m.num_parameters(), 15 + 25 + 10 + 25 + 25 + 10 + 12);
}

#[test]
fn generic_struct_with_param_list_option_and_skip() {
    let with = Generic::<f64>::new(true);
    let mut want = vec!["scale".to_string()];
    want.extend(
        prefixed("rnn", with.rnn.named_parameters())
            .into_iter()
            .map(|(n, _)| n),
    );
    for i in 0..3 {
        want.push(format!("layers.{i}.weight"));
        want.push(format!("layers.{i}.bias"));
    }
    want.extend(["extra.weight".to_string(), "extra.bias".to_string()]);
    assert_eq!(names(&with), want);
    assert_eq!(with.named_parameters()[0].1.id(), with.scale.id());
    assert_eq!(
        with.named_parameters()[11].1.id(),
        with.layers[1].named_parameters()[0].1.id()
    );
    // `None` has no parameters; the same model in f32.
    let without = Generic::<f32>::new(false);
    want.truncate(want.len() - 2);
    assert_eq!(names(&without), want);
    assert_eq!(without.steps, 0);
}

#[test]
fn an_optimizer_step_writes_through_the_derived_impl() {
    let mut m = Model::new(1);
    let before: Vec<Vec<f32>> = m
        .named_parameters()
        .iter()
        .map(|(_, p)| p.value().to_vec())
        .collect();
    let mut grads = Grads::new();
    for (k, (_, p)) in m.named_parameters().into_iter().enumerate() {
        let g: Vec<f32> = (0..p.value().numel())
            .map(|i| (k * 100 + i) as f32 * 0.01)
            .collect();
        grads
            .set(p, Tensor::from_vec(g, p.value().dims()).unwrap())
            .unwrap();
    }
    let mut opt = Sgd::new(0.5).unwrap();
    opt.step_modules(&mut [&mut m], &grads).unwrap();
    for (k, ((name, p), old)) in m.named_parameters().into_iter().zip(&before).enumerate() {
        let want: Vec<f32> = old
            .iter()
            .enumerate()
            .map(|(i, &v)| v - 0.5 * ((k * 100 + i) as f32 * 0.01))
            .collect();
        assert_eq!(p.value().to_vec(), want, "{name}");
    }
}

#[test]
fn train_and_eval_reach_every_child() {
    let mut m = Generic::<f64>::new(true);
    assert!(m.is_training() && m.rnn.is_training());
    m.set_training(false);
    assert!(!m.rnn.is_training());
    assert!(!m.is_training());
    m.set_training(true);
    assert!(m.rnn.is_training() && m.is_training());
    // A child set to eval alone makes the whole model report eval.
    m.rnn.set_training(false);
    assert!(!m.is_training());
}

/// Nested derives, a tuple struct, a dropout, a boxed layer and an array of modules.
#[derive(Module)]
struct Outer {
    encoder: Model,
    drop: Dropout,
    #[module(rename = "decoder")]
    dec: Option<Model>,
    stack: Box<dyn Layer<f32>>,
    pair: [Linear<f32>; 2],
    #[module(skip)]
    label: String,
}

#[derive(Module)]
struct Pair(Linear<f64>, #[module(skip)] u8, Linear<f64>);

#[test]
fn nested_tuple_boxed_and_array_fields() {
    let mut rng = recur_nn::seeded_rng(2);
    let seq = Sequential::new()
        .push(Linear::<f32>::new(2, 2, &mut rng).unwrap())
        .push(Tanh)
        .push(Linear::new(2, 1, &mut rng).unwrap());
    let mut m = Outer {
        encoder: Model::new(3),
        drop: Dropout::new(0.5, 1).unwrap(),
        dec: Some(Model::new(4)),
        stack: Box::new(seq),
        pair: [
            Linear::new(1, 1, &mut rng).unwrap(),
            Linear::new(1, 1, &mut rng).unwrap(),
        ],
        label: "outer".into(),
    };
    let model = names(&Model::new(0));
    let mut want: Vec<String> = model.iter().map(|n| format!("encoder.{n}")).collect();
    want.extend(model.iter().map(|n| format!("decoder.{n}")));
    want.extend(
        [
            "stack.0.weight",
            "stack.0.bias",
            "stack.2.weight",
            "stack.2.bias",
        ]
        .map(String::from),
    );
    want.extend(
        [
            "pair.0.weight",
            "pair.0.bias",
            "pair.1.weight",
            "pair.1.bias",
        ]
        .map(String::from),
    );
    assert_eq!(names(&m), want);
    assert_eq!(m.label, "outer");
    m.set_training(false);
    assert!(!Module::<f32>::is_training(&m.drop) && !m.encoder.rnn.is_training());
    assert!(!m.dec.as_ref().unwrap().rnn.is_training());
    assert!(!m.is_training());
    m.set_training(true);
    assert!(Module::<f32>::is_training(&m.drop) && m.dec.as_ref().unwrap().is_training());

    let pair = Pair(
        Linear::new(2, 3, &mut rng).unwrap(),
        7,
        Linear::new(3, 1, &mut rng).unwrap(),
    );
    assert_eq!(names(&pair), ["0.weight", "0.bias", "2.weight", "2.bias"]);
    assert_eq!(pair.1, 7);
}

/// An enum of alternatives: a one-value variant is that value (no prefix).
#[derive(Module)]
enum Core<T: Float> {
    Rnn(Rnn<T>),
    Lstm(Lstm<T>),
    Both { first: Rnn<T>, second: Lstm<T> },
    Identity,
}

#[test]
fn enum_variants() {
    let mut rng = recur_nn::seeded_rng(8);
    let rnn = || {
        Rnn::<f64>::new(
            RnnConfig::new(2, 3).dropout(0.5).num_layers(2),
            &mut recur_nn::seeded_rng(1),
        )
        .unwrap()
    };
    let lstm = Lstm::<f64>::new(LstmConfig::new(2, 3), &mut rng).unwrap();
    let rnn_names = names(&rnn());
    assert_eq!(names(&Core::Rnn(rnn())), rnn_names);
    assert_eq!(
        names(&Core::Lstm(lstm)),
        names(&Lstm::<f64>::new(LstmConfig::new(2, 3), &mut rng).unwrap())
    );
    let both = Core::Both {
        first: rnn(),
        second: Lstm::new(LstmConfig::new(3, 3), &mut rng).unwrap(),
    };
    let got = names(&both);
    assert_eq!(got[0], "first.weight_ih_l0");
    assert_eq!(got[rnn_names.len()], "second.weight_ih_l0");
    assert!(names(&Core::<f64>::Identity).is_empty());
    let mut core = Core::Rnn(rnn());
    core.set_training(false);
    assert!(!core.is_training());
    let Core::Rnn(r) = &core else { unreachable!() };
    assert!(!r.is_training());
    assert!(Core::<f32>::Identity.is_training());
}

/// No element type written anywhere: the impl holds for every `T` the field is a module of.
#[derive(Module)]
struct Wrap<M> {
    #[module(flatten)]
    inner: M,
}

#[test]
fn a_wrapper_generic_over_the_module() {
    let mut rng = recur_nn::seeded_rng(9);
    let w64 = Wrap {
        inner: Linear::<f64>::new(2, 2, &mut rng).unwrap(),
    };
    let w32 = Wrap {
        inner: Linear::<f32>::new(2, 2, &mut rng).unwrap(),
    };
    assert_eq!(names(&w64), ["weight", "bias"]);
    assert_eq!(names(&w32), ["weight", "bias"]);
    assert_eq!(
        w64.named_parameters()[0].1.id(),
        w64.inner.named_parameters()[0].1.id()
    );
}

#[test]
fn a_derived_model_round_trips_through_a_checkpoint() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("derive_model_{}.safetensors", std::process::id()));
    let saved = Model::new(10);
    save_module(&saved, &path).unwrap();
    let mut fresh = Model::new(11);
    let value = |m: &Model| -> Vec<Vec<f32>> {
        m.named_parameters()
            .iter()
            .map(|(_, p)| p.value().to_vec())
            .collect()
    };
    assert_ne!(value(&fresh), value(&saved));
    load_module(&mut fresh, &path).unwrap();
    assert_eq!(value(&fresh), value(&saved));
    std::fs::remove_file(&path).ok();
}

/// A module type parameter gets its `M: Module<T>` bound from the derive; a list of
/// parameters is PyTorch's `ParameterList`; a flattened list is named `0.`, `1.`, ...
#[derive(Module)]
#[module(crate = recur_nn)]
struct Stack<T: Float, M> {
    first: M,
    gains: Vec<Param<T>>,
    #[module(flatten)]
    rest: Vec<Linear<T>>,
}

/// The element type named, and the crate path as a string.
#[derive(Module)]
#[module(float = f64, crate = "recur_nn")]
struct Named {
    inner: Wrap<Linear<f64>>,
    maybe: Option<Param<f64>>,
}

#[test]
fn type_parameters_parameter_lists_and_type_attributes() {
    let mut rng = recur_nn::seeded_rng(12);
    let stack = Stack {
        first: Model::new(13),
        gains: (0..2).map(|_| Param::new(Tensor::ones(&[2]))).collect(),
        rest: vec![Linear::new(2, 2, &mut rng).unwrap()],
    };
    let mut want: Vec<String> = names(&Model::new(0))
        .iter()
        .map(|n| format!("first.{n}"))
        .collect();
    want.extend(["gains.0", "gains.1", "0.weight", "0.bias"].map(String::from));
    assert_eq!(names(&stack), want);
    let gains: Vec<ParamId> = stack.gains.iter().map(Param::id).collect();
    let got: Vec<ParamId> = stack.named_parameters()[10..12]
        .iter()
        .map(|(_, p)| p.id())
        .collect();
    assert_eq!(got, gains);

    let mut named = Named {
        inner: Wrap {
            inner: Linear::new(2, 1, &mut rng).unwrap(),
        },
        maybe: Some(Param::new(Tensor::zeros(&[3]))),
    };
    assert_eq!(names(&named), ["inner.weight", "inner.bias", "maybe"]);
    named.maybe = None;
    assert_eq!(names(&named), ["inner.weight", "inner.bias"]);
}

/// The `Float` bound in a `where` clause, and a lifetime parameter.
#[derive(Module)]
struct Bounded<'a, T>
where
    T: Float,
{
    head: Linear<T>,
    #[module(skip)]
    label: &'a str,
}

#[test]
fn where_clauses_and_lifetimes() {
    let m = Bounded {
        head: Linear::<f64>::new(2, 1, &mut recur_nn::seeded_rng(14)).unwrap(),
        label: "b",
    };
    assert_eq!(names(&m), ["head.weight", "head.bias"]);
    assert_eq!(m.label, "b");
}
