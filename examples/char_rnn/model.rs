//! The model: one-hot (or embedding) input -> RNN, LSTM or GRU -> Linear -> cross-entropy.
//!
//! The recurrent core is the engine (`Recurrent`) with the cell `--cell` names; its state is
//! carried between windows as one tensor `(layers, batch, P*H)`, the state parts (`h`, and
//! LSTM's `c`) side by side.

use crate::data::Batch;
use crate::states::StateTrace;
use rand::{Rng, RngExt};
use recur::autograd::{Tape, Var};
use recur::nn::gru::GruMath;
use recur::nn::loss::{CrossEntropyOptions, Reduction, cross_entropy, cross_entropy_tensor};
use recur::nn::lstm::LstmMath;
use recur::nn::recurrent::{Cell, Recurrent, RecurrentConfig};
use recur::nn::rnn::RnnMath;
use recur::nn::{Embedding, Linear, Module, NnError};
use recur::tensor::{IndexTensor, Tensor};

/// The recurrent core: the engine with the cell `--cell` chose. As a module it is that
/// engine: its parameters keep the engine's names.
#[derive(Module)]
pub enum Core {
    /// `--cell rnn` (tanh or relu).
    Rnn(Recurrent<RnnMath, f32>),
    /// `--cell lstm`.
    Lstm(Recurrent<LstmMath, f32>),
    /// `--cell gru`.
    Gru(Recurrent<GruMath, f32>),
}

/// Runs `$body` with `$r` bound to the core's engine, whatever its cell.
macro_rules! on_core {
    ($core:expr, $r:ident => $body:expr) => {
        match $core {
            Core::Rnn($r) => $body,
            Core::Lstm($r) => $body,
            Core::Gru($r) => $body,
        }
    };
}

impl Core {
    /// The core for `cell` (`rnn`, `lstm` or `gru`; `rnn` takes `nonlinearity`).
    pub fn new<R: Rng + ?Sized>(
        cell: &str,
        nonlinearity: recur::nn::Nonlinearity,
        config: RecurrentConfig,
        rng: &mut R,
    ) -> Result<Self, NnError> {
        Ok(match cell {
            "lstm" => Core::Lstm(Recurrent::new(LstmMath, config, rng)?),
            "gru" => Core::Gru(Recurrent::new(GruMath, config, rng)?),
            _ => Core::Rnn(Recurrent::new(RnnMath::new(nonlinearity), config, rng)?),
        })
    }

    /// How many dropout masks have been drawn (kept in checkpoints for an exact resume).
    pub fn dropout_calls(&self) -> u64 {
        on_core!(self, r => r.dropout_calls())
    }

    /// Restores the dropout draw counter.
    pub fn set_dropout_calls(&self, n: u64) {
        on_core!(self, r => r.set_dropout_calls(n))
    }

    /// The settings, as PyTorch prints them (`LSTM(65, 256, num_layers=2)`).
    pub fn describe(&self) -> String {
        on_core!(self, r => r.to_string())
    }
}

/// A character-level language model; its parameters are `embedding.weight` (with an
/// embedding), `rnn.weight_ih_l0`, ..., `head.weight`, `head.bias`.
#[derive(Module)]
pub struct CharModel {
    /// `Some` with `--embedding N`; one-hot input otherwise.
    #[module(rename = "embedding")]
    pub embed: Option<Embedding<f32>>,
    /// The recurrent core.
    pub rnn: Core,
    /// Hidden state to logits.
    pub head: Linear<f32>,
    /// Vocabulary size.
    #[module(skip)]
    pub vocab: usize,
}

impl CharModel {
    /// A fresh model, initialised from `rng` as PyTorch would.
    pub fn new<R: Rng + ?Sized>(
        vocab: usize,
        embedding: Option<usize>,
        cell: &str,
        nonlinearity: recur::nn::Nonlinearity,
        config: RecurrentConfig,
        rng: &mut R,
    ) -> Result<Self, NnError> {
        let embed = embedding
            .map(|e| Embedding::new(vocab, e, rng))
            .transpose()?;
        let hidden = config.hidden_size;
        let rnn = Core::new(cell, nonlinearity, config, rng)?;
        let head = Linear::new(hidden, vocab, rng)?;
        Ok(CharModel {
            embed,
            rnn,
            head,
            vocab,
        })
    }

    /// The recurrent core over `ids` (`(seq, batch)`) from the packed state `h0`
    /// (`(layers, batch, P*H)`, zeros if `None`): one-hot input goes in as token indices (the
    /// first layer looks up columns of `W_ih`), an embedding's output as a dense tensor.
    /// Returns the output and the packed final state.
    fn rnn_forward<'t>(
        &self,
        tape: &'t Tape<f32>,
        ids: &[usize],
        seq: usize,
        batch: usize,
        h0: Option<&Tensor<f32>>,
    ) -> Result<(Var<'t, f32>, Tensor<f32>), NnError> {
        let idx = IndexTensor::from_vec(ids.iter().map(|&i| i as i64).collect(), &[seq, batch])?;
        on_core!(&self.rnn, r => run_core(r, self.embed.as_ref(), tape, &idx, h0))
    }

    /// Mean cross-entropy over a batch on `tape`, from hidden state `h0` (zeros if `None`);
    /// also returns the final hidden state (for truncated BPTT).
    pub fn loss<'t>(
        &self,
        tape: &'t Tape<f32>,
        b: &Batch,
        seq: usize,
        batch: usize,
        h0: Option<&Tensor<f32>>,
    ) -> Result<(Var<'t, f32>, Tensor<f32>), NnError> {
        let (out, h_n) = self.rnn_forward(tape, &b.x, seq, batch, h0)?;
        let logits = self
            .head
            .forward(&out)?
            .reshape(&[seq * batch, self.vocab])?;
        let loss = cross_entropy(&logits, &b.y, CrossEntropyOptions::default())?;
        Ok((loss, h_n))
    }

    /// Loss in nats per character over `ids` in order, batch 1, state carried from zeros
    /// (no tape, eval mode).
    pub fn eval_loss(&mut self, ids: &[usize]) -> Result<f64, NnError> {
        self.set_training(false);
        let mut h: Option<Tensor<f32>> = None;
        let (mut total, mut count) = (0.0f64, 0usize);
        let chunk = 256;
        let mut s = 0;
        while s + 1 < ids.len() {
            let n = chunk.min(ids.len() - 1 - s);
            let x_ids = &ids[s..s + n];
            let y: Vec<i64> = ids[s + 1..s + 1 + n].iter().map(|&i| i as i64).collect();
            let (out, h_n) = {
                // A throwaway tape (eval mode: no dropout); nothing is differentiated.
                let tape = Tape::new();
                let (out, h_n) = self.rnn_forward(&tape, x_ids, n, 1, h.as_ref())?;
                (out.value().clone(), h_n)
            };
            let logits = self
                .head
                .forward_tensor(&out.reshape(&[n, out.dims()[2]])?)?;
            let opts = CrossEntropyOptions {
                reduction: Reduction::Sum,
                ..Default::default()
            };
            total += cross_entropy_tensor(&logits, &IndexTensor::from_vec(y, &[n])?, opts)?
                .item()? as f64;
            count += n;
            h = Some(h_n);
            s += n;
        }
        self.set_training(true);
        Ok(total / count.max(1) as f64)
    }

    /// Generates `len` characters after feeding `prime` (ids), at `temperature`, optionally
    /// keeping only the `top_k` most likely characters at each step.
    pub fn sample<R: Rng + ?Sized>(
        &self,
        prime: &[usize],
        len: usize,
        temperature: f32,
        top_k: Option<usize>,
        rng: &mut R,
    ) -> Result<Vec<usize>, crate::Error> {
        self.sample_traced(prime, len, temperature, top_k, rng, None)
    }

    /// [`CharModel::sample`], recording into `trace` (if given) every layer's `h` after each
    /// character of the prime and of the sample (the last sampled character is fed too, so
    /// the trace has `prime.len() + len` steps). The sampled text does not depend on tracing.
    pub fn sample_traced<R: Rng + ?Sized>(
        &self,
        prime: &[usize],
        len: usize,
        temperature: f32,
        top_k: Option<usize>,
        rng: &mut R,
        trace: Option<&mut StateTrace>,
    ) -> Result<Vec<usize>, crate::Error> {
        if trace.is_some() && prime.is_empty() {
            return Err("tracing the hidden state needs a non-empty prime".into());
        }
        on_core!(&self.rnn, r => sample_with(r, self, prime, len, temperature, top_k, rng, trace))
    }

    /// `(layers, hidden)` of the recurrent core.
    pub fn core_size(&self) -> (usize, usize) {
        on_core!(&self.rnn, r => (r.config().num_layers, r.config().hidden_size))
    }
}

/// [`CharModel::rnn_forward`] for one cell type.
fn run_core<'t, C: Cell>(
    r: &Recurrent<C, f32>,
    embed: Option<&Embedding<f32>>,
    tape: &'t Tape<f32>,
    idx: &IndexTensor,
    h0: Option<&Tensor<f32>>,
) -> Result<(Var<'t, f32>, Tensor<f32>), NnError> {
    // The packed state's parts, each (layers, batch, H).
    let parts: Option<Vec<Var<'t, f32>>> = h0
        .map(|h| {
            let w = h.dims()[2] / C::STATE_PARTS;
            (0..C::STATE_PARTS)
                .map(|k| Ok(tape.constant(h.narrow(2, k * w, w)?.contiguous())))
                .collect::<Result<_, NnError>>()
        })
        .transpose()?;
    let refs: Option<Vec<&Var<'t, f32>>> = parts.as_ref().map(|p| p.iter().collect());
    let (out, finals) = match embed {
        Some(e) => r.forward(&e.forward(tape, idx)?, refs.as_deref())?,
        None => r.forward_tokens(tape, idx, refs.as_deref())?,
    };
    let values: Vec<&Tensor<f32>> = finals.iter().map(|v| v.value()).collect();
    Ok((out, Tensor::concat(&values, 2)?))
}

/// [`CharModel::sample_traced`] for one cell type: one step at a time with preallocated
/// buffers (the engine's stepper); a one-hot input reads the character's column of `W_ih`.
#[allow(clippy::too_many_arguments)]
fn sample_with<C: Cell, R: Rng + ?Sized>(
    r: &Recurrent<C, f32>,
    m: &CharModel,
    prime: &[usize],
    len: usize,
    temperature: f32,
    top_k: Option<usize>,
    rng: &mut R,
    mut trace: Option<&mut StateTrace>,
) -> Result<Vec<usize>, crate::Error> {
    let mut stepper = r.stepper()?;
    let mut logits = vec![0.0f32; m.vocab];
    let mut feed = |c: usize,
                    logits: &mut [f32],
                    trace: Option<&mut StateTrace>|
     -> Result<(), crate::Error> {
        let h = match &m.embed {
            Some(e) => {
                stepper.step(&e.forward_tensor(&IndexTensor::from_usizes(&[c]))?.to_vec())?
            }
            None => stepper.step_token(c)?,
        };
        m.head.forward_slice(h, logits)?;
        if let Some(t) = trace {
            t.push_packed(stepper.state())?;
        }
        Ok(())
    };
    for &c in prime {
        feed(c, &mut logits, trace.as_deref_mut())?;
    }
    let mut out = Vec::with_capacity(len);
    for i in 0..len {
        if i > 0 || prime.is_empty() {
            let c = out.last().copied().or(prime.last().copied()).unwrap_or(0);
            feed(c, &mut logits, trace.as_deref_mut())?;
        }
        out.push(pick(&logits, temperature, top_k, rng));
    }
    // The trace shows the state after every character, the last sampled one included.
    if let (Some(t), Some(&c)) = (trace, out.last()) {
        feed(c, &mut logits, Some(t))?;
    }
    Ok(out)
}

/// Samples an index from `softmax(logits / temperature)`, restricted to the `top_k` largest.
fn pick<R: Rng + ?Sized>(
    logits: &[f32],
    temperature: f32,
    top_k: Option<usize>,
    rng: &mut R,
) -> usize {
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    let keep = top_k.unwrap_or(logits.len()).clamp(1, logits.len());
    let kept = &order[..keep];
    let t = temperature.max(1e-6) as f64;
    let m = logits[kept[0]] as f64;
    let w: Vec<f64> = kept
        .iter()
        .map(|&i| ((logits[i] as f64 - m) / t).exp())
        .collect();
    let total: f64 = w.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (&i, &wi) in kept.iter().zip(&w) {
        if u < wi {
            return i;
        }
        u -= wi;
    }
    kept[keep - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(m: &CharModel) -> Vec<String> {
        m.named_parameters().into_iter().map(|(n, _)| n).collect()
    }

    #[test]
    fn parameters_carry_pytorchs_names_and_eval_mode_reaches_the_core() {
        let mut rng = recur::seeded_rng(0);
        let config = RecurrentConfig::new(4, 6).num_layers(2).dropout(0.5);
        let tanh = recur::nn::Nonlinearity::Tanh;
        let mut m = CharModel::new(9, Some(4), "lstm", tanh, config, &mut rng).unwrap();
        let mut want = vec!["embedding.weight".to_string()];
        for l in 0..2 {
            for p in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] {
                want.push(format!("rnn.{p}_l{l}"));
            }
        }
        want.extend(["head.weight".to_string(), "head.bias".to_string()]);
        assert_eq!(names(&m), want);
        m.set_training(false);
        assert!(!m.is_training());
        assert!(on_core!(&m.rnn, r => !r.is_training()));
        m.set_training(true);
        assert!(on_core!(&m.rnn, r => r.is_training()));
        // One-hot input: no embedding.
        let config = RecurrentConfig::new(9, 6);
        let m = CharModel::new(9, None, "gru", tanh, config, &mut rng).unwrap();
        assert_eq!(names(&m)[0], "rnn.weight_ih_l0");
        assert_eq!(names(&m).len(), 6);
    }
}
