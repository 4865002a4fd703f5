//! Task 5: a checkpoint round trip. Save a model (LSTM + linear head), load it into a fresh
//! one, and get the same outputs. The file loads into PyTorch by name:
//! `load_in_torch.py DIR` checks that against the input and output saved here.
//!
//! `05_checkpoint [DIR]` writes `DIR/model.safetensors` and `DIR/io.safetensors` (default
//! DIR: `recur-downstream-05` in the temp dir).

use recur::nn::checkpoint::{load_module, save_module, save_tensors};
use recur::nn::{Linear, Lstm, LstmConfig, Module, NnError, Tape, Var};
use recur::tensor::Tensor;
use std::collections::BTreeMap;

#[derive(Module)]
struct Model {
    lstm: Lstm<f32>,
    head: Linear<f32>,
}

impl Model {
    fn new(seed: u64) -> Result<Self, NnError> {
        let mut rng = recur::seeded_rng(seed);
        let lstm = Lstm::new(LstmConfig::new(3, 8).num_layers(2), &mut rng)?;
        Ok(Model {
            lstm,
            head: Linear::new(8, 2, &mut rng)?,
        })
    }
    fn forward<'t>(&self, x: &Var<'t, f32>) -> Result<Var<'t, f32>, NnError> {
        let (out, _) = self.lstm.forward(x, None)?;
        self.head.forward(&out)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).map_or_else(
        || std::env::temp_dir().join("recur-downstream-05"),
        Into::into,
    );
    std::fs::create_dir_all(&dir)?;
    let x = Tensor::<f32>::uniform(&[5, 2, 3], -1.0, 1.0, &mut recur::seeded_rng(9));
    let outputs = |m: &Model| -> Result<Tensor<f32>, NnError> {
        Ok(m.forward(&Tape::new().constant(x.clone()))?.value().clone())
    };
    let model = Model::new(0)?;
    let y = outputs(&model)?;
    save_module(&model, dir.join("model.safetensors"))?;

    let mut fresh = Model::new(1)?;
    assert_ne!(outputs(&fresh)?.to_vec(), y.to_vec());
    load_module(&mut fresh, dir.join("model.safetensors"))?;
    let after = outputs(&fresh)?;
    assert_eq!(after.to_vec(), y.to_vec());
    save_tensors(
        dir.join("io.safetensors"),
        &[("x", x), ("y", y.clone())],
        &BTreeMap::new(),
    )?;
    let names: Vec<String> = fresh
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    println!("{} parameters: {}", names.len(), names.join(", "));
    println!(
        "round trip: the same {} outputs, y[0, 0, :] = {:?}",
        y.numel(),
        &y.to_vec()[..2]
    );
    println!("wrote {}/{{model,io}}.safetensors", dir.display());
    Ok(())
}
