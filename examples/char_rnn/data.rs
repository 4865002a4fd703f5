//! The corpus: characters (not bytes), a vocabulary, a 90/10 train/validation split, and
//! batches of random windows or contiguous streams.

use rand::{Rng, RngExt};
use recur::tensor::IndexTensor;
use std::collections::HashMap;

/// The default corpus, embedded in the binary: recur's own sources and README, so the
/// samples look like our code. Its last 10 % (the validation split) is ordinary library
/// source like the rest, not a different kind of text.
pub const DEFAULT_CORPUS: &[(&str, &str)] = &[
    ("README.md", include_str!("../../README.md")),
    ("examples/char_rnn/main.rs", include_str!("main.rs")),
    ("examples/char_rnn/model.rs", include_str!("model.rs")),
    ("examples/char_rnn/trainer.rs", include_str!("trainer.rs")),
    (
        "tensor/src/tensor.rs",
        include_str!("../../tensor/src/tensor.rs"),
    ),
    (
        "tensor/src/shape.rs",
        include_str!("../../tensor/src/shape.rs"),
    ),
    (
        "tensor/src/ops/binary.rs",
        include_str!("../../tensor/src/ops/binary.rs"),
    ),
    (
        "tensor/src/ops/unary.rs",
        include_str!("../../tensor/src/ops/unary.rs"),
    ),
    (
        "tensor/src/ops/matmul.rs",
        include_str!("../../tensor/src/ops/matmul.rs"),
    ),
    (
        "tensor/src/ops/reduce.rs",
        include_str!("../../tensor/src/ops/reduce.rs"),
    ),
    (
        "tensor/src/ops/index.rs",
        include_str!("../../tensor/src/ops/index.rs"),
    ),
    (
        "tensor/src/ops/softmax.rs",
        include_str!("../../tensor/src/ops/softmax.rs"),
    ),
    (
        "autograd/src/tape.rs",
        include_str!("../../autograd/src/tape.rs"),
    ),
    (
        "autograd/src/grads.rs",
        include_str!("../../autograd/src/grads.rs"),
    ),
    (
        "autograd/src/gradcheck.rs",
        include_str!("../../autograd/src/gradcheck.rs"),
    ),
    (
        "autograd/src/ops/elementwise.rs",
        include_str!("../../autograd/src/ops/elementwise.rs"),
    ),
    (
        "autograd/src/ops/view.rs",
        include_str!("../../autograd/src/ops/view.rs"),
    ),
    (
        "autograd/src/ops/reduce.rs",
        include_str!("../../autograd/src/ops/reduce.rs"),
    ),
    (
        "autograd/src/ops/index.rs",
        include_str!("../../autograd/src/ops/index.rs"),
    ),
    ("nn/src/rnn/mod.rs", include_str!("../../nn/src/rnn/mod.rs")),
    (
        "nn/src/recurrent/layer.rs",
        include_str!("../../nn/src/recurrent/layer.rs"),
    ),
    (
        "nn/src/rnn/cell.rs",
        include_str!("../../nn/src/rnn/cell.rs"),
    ),
    ("nn/src/linear.rs", include_str!("../../nn/src/linear.rs")),
    ("nn/src/loss.rs", include_str!("../../nn/src/loss.rs")),
    ("nn/src/clip.rs", include_str!("../../nn/src/clip.rs")),
    (
        "nn/src/optim/adam.rs",
        include_str!("../../nn/src/optim/adam.rs"),
    ),
    (
        "nn/src/optim/sgd.rs",
        include_str!("../../nn/src/optim/sgd.rs"),
    ),
    (
        "nn/src/checkpoint.rs",
        include_str!("../../nn/src/checkpoint.rs"),
    ),
    (
        "autograd/src/ops/matmul.rs",
        include_str!("../../autograd/src/ops/matmul.rs"),
    ),
    (
        "tensor/src/ops/mod.rs",
        include_str!("../../tensor/src/ops/mod.rs"),
    ),
    (
        "nn/src/recurrent/composed.rs",
        include_str!("../../nn/src/recurrent/composed.rs"),
    ),
];

/// A text as character ids over its sorted vocabulary.
pub struct Corpus {
    /// The distinct characters, sorted (the vocabulary).
    pub vocab: Vec<char>,
    /// The training split's ids (first 90 %).
    pub train: Vec<usize>,
    /// The validation split's ids (last 10 %).
    pub val: Vec<usize>,
}

impl Corpus {
    /// Splits `text` 90/10 over its own sorted vocabulary.
    pub fn new(text: &str) -> Self {
        let mut vocab: Vec<char> = text
            .chars()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        vocab.sort_unstable();
        Self::with_vocab(text, vocab).expect("every character is in its own vocabulary")
    }

    /// Splits `text` over a given vocabulary (a checkpoint's); `None` if a character is
    /// missing from it.
    pub fn with_vocab(text: &str, vocab: Vec<char>) -> Option<Self> {
        let index: HashMap<char, usize> = vocab.iter().enumerate().map(|(i, &c)| (c, i)).collect();
        let ids: Option<Vec<usize>> = text.chars().map(|c| index.get(&c).copied()).collect();
        let ids = ids?;
        let n = ids.len() * 9 / 10;
        Some(Corpus {
            vocab,
            train: ids[..n].to_vec(),
            val: ids[n..].to_vec(),
        })
    }

    /// The characters of `ids`.
    pub fn decode(&self, ids: &[usize]) -> String {
        ids.iter().map(|&i| self.vocab[i]).collect()
    }

    /// The ids of `text`'s characters, or the first character not in the vocabulary.
    pub fn encode(&self, text: &str) -> Result<Vec<usize>, char> {
        text.chars()
            .map(|c| self.vocab.binary_search(&c).map_err(|_| c))
            .collect()
    }

    /// Entropy of the unigram (character frequency) distribution of the training split, in
    /// nats: the loss of a model that ignores context.
    pub fn unigram_entropy(&self) -> f64 {
        let mut counts = vec![0usize; self.vocab.len()];
        for &i in &self.train {
            counts[i] += 1;
        }
        let n = self.train.len() as f64;
        counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| -(c as f64 / n) * (c as f64 / n).ln())
            .sum()
    }
}

/// One training batch, time-major: `x[t * batch + b]`, targets shifted by one.
pub struct Batch {
    /// Input ids, `(seq, batch)` row-major.
    pub x: Vec<usize>,
    /// Target ids, `(seq, batch)`.
    pub y: IndexTensor,
}

/// `batch` random windows of `seq + 1` characters from `src`.
pub fn random_windows<R: Rng + ?Sized>(
    src: &[usize],
    seq: usize,
    batch: usize,
    rng: &mut R,
) -> Batch {
    let starts: Vec<usize> = (0..batch)
        .map(|_| rng.random_range(0..src.len() - seq))
        .collect();
    windows(src, &starts, seq)
}

/// Windows of `seq + 1` characters starting at `starts`.
pub fn windows(src: &[usize], starts: &[usize], seq: usize) -> Batch {
    let batch = starts.len();
    let mut x = Vec::with_capacity(seq * batch);
    let mut y = Vec::with_capacity(seq * batch);
    for t in 0..seq {
        for &s in starts {
            x.push(src[s + t]);
            y.push(src[s + t + 1] as i64);
        }
    }
    Batch {
        x,
        y: IndexTensor::from_vec(y, &[seq * batch]).expect("seq * batch targets"),
    }
}
