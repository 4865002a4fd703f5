//! Task 1: the textbook example, as PyTorch's docs write it for `nn.RNN`:
//! `rnn = nn.RNN(5, 6, 1); input = torch.randn(4, 3, 5); h0 = torch.randn(1, 3, 6);
//! output, hn = rnn(input, h0)`.

use recur::nn::{Rnn, RnnConfig, Tape};
use recur::tensor::Tensor;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = recur::seeded_rng(0);
    let rnn = Rnn::<f32>::new(RnnConfig::new(5, 6).num_layers(1), &mut rng)?;
    let tape = Tape::new();
    let input = tape.constant(Tensor::normal(&[4, 3, 5], 0.0, 1.0, &mut rng)); // (L, N, H_in)
    let h0 = tape.constant(Tensor::normal(&[1, 3, 6], 0.0, 1.0, &mut rng)); // (layers, N, H)
    let (output, h_n) = rnn.forward(&input, Some(&h0))?;
    println!("{rnn}: output {:?}, h_n {:?}", output.dims(), h_n.dims());
    assert_eq!(output.dims(), &[4, 3, 6]);
    assert_eq!(h_n.dims(), &[1, 3, 6]);
    // A one-layer RNN's last output is its final hidden state.
    assert_eq!(
        output.value().select(0, 3)?.to_vec(),
        h_n.value().select(0, 0)?.to_vec()
    );
    // A wrong input size is an error naming the module, in PyTorch's words.
    let bad = tape.constant(Tensor::zeros(&[4, 3, 7]));
    let err = rnn.forward(&bad, None).unwrap_err();
    println!("{err}");
    assert!(err.to_string().contains("Expected 5, got 7"));
    Ok(())
}
