//! # recur-derive
//!
//! `#[derive(Module)]` for recur, used as `recur::nn::Module` (the trait and the derive share
//! the name, as serde's `Serialize` does). See [`macro@Module`].

mod attrs;
mod expand;
mod kind;

use proc_macro::TokenStream;

/// Makes a struct (or enum) of modules a `Module`, with PyTorch's `state_dict` names.
///
/// ```
/// use recur::nn::{Linear, Module, Rnn, RnnConfig};
///
/// #[derive(Module)]
/// struct Model {
///     rnn: Rnn<f32>,
///     head: Linear<f32>,
/// }
///
/// let mut rng = recur::seeded_rng(0);
/// let mut model = Model {
///     rnn: Rnn::new(RnnConfig::new(5, 6), &mut rng)?,
///     head: Linear::new(6, 2, &mut rng)?,
/// };
/// let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(
///     names,
///     ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
///      "head.weight", "head.bias"]
/// );
/// model.set_training(false);                       // reaches the RNN (its dropout)
/// assert!(!model.rnn.is_training() && !model.is_training());
/// # Ok::<(), recur::nn::NnError>(())
/// ```
///
/// # Fields
///
/// Fields are visited in declaration order; what a field holds is read from how its type is
/// spelled:
///
/// | field | names (field `f`) | PyTorch |
/// | --- | --- | --- |
/// | a module `M` (`Rnn<T>`, `Linear<T>`, a derived struct, ...) | `f.` + the module's names | a submodule |
/// | `Param<T>` | `f` | an `nn.Parameter` |
/// | `Vec<K>`, `[K; N]` | `f.0.`..., `f.1.`... | `nn.ModuleList` / `nn.ParameterList` |
/// | `Option<K>` | as `K` when `Some`, nothing when `None` | a submodule set to `None` |
/// | `Box<K>` (also `Box<dyn Layer<T>>`) | as `K` | |
///
/// Tuple structs are named by position (`0.weight`). In an enum, a variant holding one
/// unnamed value (`Core::Lstm(Lstm<f32>)`) is that value: its names have no prefix; other
/// variants' fields are named as in a struct.
///
/// Field attributes:
/// - `#[module(skip)]`: not a module (a config, a counter, a random-number generator);
/// - `#[module(rename = "name")]`: named `name` instead of the field's name;
/// - `#[module(flatten)]`: the field's parameters keep their own names, with no prefix
///   (not for a `Param`, which is named by its field).
///
/// A field that is none of these fails to compile at its type:
///
/// ```compile_fail,E0277
/// use recur::nn::{Linear, Module};
///
/// #[derive(Module)]
/// struct Model {
///     head: Linear<f32>,
///     steps: usize, // error: `usize` is not a recur module; mark it `#[module(skip)]`
/// }
/// ```
///
/// # Train and eval mode
///
/// `set_training` reaches every child module (present `Option`s and every list item);
/// `is_training` is true unless a child is in eval mode (true when there are none).
///
/// # The element type
///
/// The generated `impl Module<T>` takes `T`, in this order, from `#[module(float = T)]` on
/// the type; the `T` of the first `Param<T>` field; the type parameter bounded by `Float`
/// (`struct Model<T: Float>`); `f32` or `f64` written in the fields' types (`Rnn<f32>`).
/// With none of these (`struct Wrap<M> { inner: M }`) the impl is generic over every element
/// type the fields are modules of. A field whose type is a bare type parameter (`M`) gets
/// the bound `M: Module<T>` in the impl.
///
/// ```
/// use recur::nn::{Dropout, Linear, Module, Param};
/// use recur::tensor::{Float, Tensor};
///
/// #[derive(Module)]
/// struct Block<T: Float> {
///     scale: Param<T>,
///     layers: Vec<Linear<T>>,
///     drop: Option<Dropout>,
///     #[module(skip)]
///     width: usize,
/// }
///
/// #[derive(Module)]
/// struct Net(Block<f64>, #[module(rename = "out")] Linear<f64>);
///
/// let mut rng = recur::seeded_rng(1);
/// let block = Block {
///     scale: Param::new(Tensor::ones(&[1])),
///     layers: vec![Linear::new(3, 3, &mut rng)?, Linear::new(3, 3, &mut rng)?],
///     drop: None,
///     width: 3,
/// };
/// let net = Net(block, Linear::new(3, 1, &mut rng)?);
/// let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(
///     names,
///     ["0.scale", "0.layers.0.weight", "0.layers.0.bias", "0.layers.1.weight",
///      "0.layers.1.bias", "out.weight", "out.bias"]
/// );
/// # Ok::<(), recur::nn::NnError>(())
/// ```
///
/// # The crate path
///
/// The generated code names `::recur::nn` (a crate depending on `recur`). Inside the
/// `recur-nn` package (its tests and doc tests) it names `::recur_nn`. A crate that depends
/// on `recur-nn` directly, or renames `recur`, says where the crate is with
/// `#[module(crate = path)]`, e.g. `#[module(crate = recur_nn)]`.
#[proc_macro_derive(Module, attributes(module))]
pub fn derive_module(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::expand(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
