//! The public face of a built-in stack (`Rnn`, `Lstm`, `Gru`): its own config type and
//! PyTorch's state forms (`h` or `(h, c)`) over the engine, written once.

/// Declares a recurrent module type over [`Recurrent`](crate::recurrent::Recurrent): the
/// struct, its constructor, and the forward family in PyTorch's state form — `one` (`h0`,
/// returning `(output, h_n)`) or `two` (`(h0, c0)`, returning `(output, (h_n, c_n))`).
macro_rules! recurrent_module {
    ($(#[$doc:meta])* $name:ident, $config:ident, $cell:ty = $make:expr, $torch:literal, $form:ident) => {
        $(#[$doc])*
        pub struct $name<T: Float = f32> {
            config: $config,
            engine: $crate::recurrent::Recurrent<$cell, T>,
        }

        impl<T: Float> std::fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.config)
            }
        }

        impl<T: Float> std::fmt::Display for $name<T> {
            /// PyTorch's printed form (the config's), which also prefixes the module's errors.
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.config)
            }
        }

        impl<T: Float> $crate::layer::Layer<T> for $name<T> {
            /// `forward` from a zero state, returning the output sequence only: the final
            /// state is dropped (what a recurrent layer inside a
            /// [`Sequential`](crate::Sequential) hands on). Call the inherent `forward` for the
            /// final state or a given initial state.
            fn forward<'t>(&self, x: &Var<'t, T>) -> $crate::error::Result<Var<'t, T>> {
                Ok(self.engine.forward(x, None)?.0)
            }
        }

        impl<T: Float> $name<T> {
            #[doc = concat!("A new ", $torch, " with PyTorch's initialisation: every parameter, biases")]
            /// included, from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), drawn in parameter
            /// order from `rng`.
            ///
            /// # Errors
            /// When the config is invalid (`validate`) or its parameters cannot be allocated.
            pub fn new<R: rand::Rng + ?Sized>(config: $config, rng: &mut R) -> $crate::error::Result<Self> {
                let engine =
                    $crate::recurrent::Recurrent::new(($make)(&config), config.recurrent(), rng)?;
                Ok($name { config, engine })
            }

            /// The settings.
            pub fn config(&self) -> &$config {
                &self.config
            }

            /// The engine running this stack (the form every cell shares: state parts as
            /// slices).
            pub fn engine(&self) -> &$crate::recurrent::Recurrent<$cell, T> {
                &self.engine
            }

            /// How many times dropout masks have been drawn: one per layer boundary per
            /// training forward (saved in checkpoints so a resumed run draws the same masks as
            /// an uninterrupted one).
            pub fn dropout_calls(&self) -> u64 {
                self.engine.dropout_calls()
            }

            /// Restores the dropout draw counter (see `dropout_calls`).
            pub fn set_dropout_calls(&self, n: u64) {
                self.engine.set_dropout_calls(n);
            }

            /// The parameters registered on `tape`, in `named_parameters` order.
            pub fn param_vars<'t>(&self, tape: &'t Tape<T>) -> Vec<Var<'t, T>> {
                self.engine.param_vars(tape)
            }

            /// A one-step sampler starting from a zero state (batch 1, unidirectional): the
            /// engine's [`Stepper`](crate::recurrent::Stepper).
            ///
            /// # Errors
            /// When the stack is bidirectional (a reverse direction needs the whole sequence).
            pub fn stepper(&self) -> $crate::error::Result<$crate::recurrent::Stepper<'_, $cell, T>> {
                self.engine.stepper()
            }

            $crate::recurrent::wrapper::recurrent_module!(@$form $torch);
        }

        impl<T: Float> $crate::module::Module<T> for $name<T> {
            fn named_parameters(&self) -> Vec<(String, &Param<T>)> {
                self.engine.named_parameters()
            }
            fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
                self.engine.named_parameters_mut()
            }
            fn set_training(&mut self, training: bool) {
                self.engine.set_training(training);
            }
            fn is_training(&self) -> bool {
                self.engine.is_training()
            }
        }

        $crate::recurrent::wrapper::recurrent_module!(@stored $name, $config);
    };

    (@stored $name:ident, $config:ident) => {
        impl<T: Float> $name<T> {
            /// Saves the parameters under PyTorch's names together with the config (see the
            /// [format](crate::checkpoint#module-configs)), so that `load` rebuilds the module
            /// from the file alone; PyTorch loads the parameters by name as from
            /// [`save_module`](crate::checkpoint::save_module). Written atomically.
            ///
            /// # Errors
            /// As for [`save_module`](crate::checkpoint::save_module).
            pub fn save(&self, path: impl AsRef<std::path::Path>) -> $crate::error::Result<()> {
                self.save_with(path, &$crate::checkpoint::SaveOptions::default())
            }

            /// `save` with [`SaveOptions`](crate::checkpoint::SaveOptions): metadata of your own
            /// beside the config.
            ///
            /// # Errors
            /// As for `save`, and when a metadata key is the config's (`recur.module`,
            /// `recur.config.*`).
            pub fn save_with(
                &self,
                path: impl AsRef<std::path::Path>,
                options: &$crate::checkpoint::SaveOptions,
            ) -> $crate::error::Result<()> {
                $crate::checkpoint::save_with_config(self, &self.config, path.as_ref(), options)
            }

            /// Rebuilds the module saved by `save`: the config from the file's metadata, then
            /// the parameters, strictly and checked against their checksums (values converted
            /// to `T`). The dropout stream starts afresh (to resume training exactly, save
            /// the training state).
            ///
            /// # Errors
            /// [`NnError::Checkpoint`](crate::NnError::Checkpoint) when the file holds no config
            /// or another module's (`the file holds a GRU, not an LSTM`), when a config entry is missing, malformed or invalid, or as for
            /// [`load_module`](crate::checkpoint::load_module).
            ///
            /// ```
            #[doc = concat!("use recur_nn::{", stringify!($name), ", ", stringify!($config), ", Module};")]
            #[doc = concat!("let config = ", stringify!($config), "::new(3, 4).num_layers(2).bidirectional(true);")]
            #[doc = concat!("let m = ", stringify!($name), "::<f64>::new(config.clone(), &mut recur_nn::seeded_rng(0))?;")]
            #[doc = concat!("let path = std::env::temp_dir().join(format!(\"recur_doc_", stringify!($name), "_{}.safetensors\", std::process::id()));")]
            /// m.save(&path)?;
            #[doc = concat!("let back = ", stringify!($name), "::<f64>::load(&path)?;")]
            /// assert_eq!(back.config(), &config);
            /// let values = |m: &dyn Module<f64>| m.named_parameters().iter().map(|(_, p)| p.value().to_vec()).collect::<Vec<_>>();
            /// assert_eq!(values(&back), values(&m));
            /// # std::fs::remove_file(&path).ok();
            /// # Ok::<(), recur_nn::NnError>(())
            /// ```
            pub fn load(path: impl AsRef<std::path::Path>) -> $crate::error::Result<Self> {
                Self::from_checkpoint(&$crate::checkpoint::Checkpoint::open(path)?)
            }

            /// `load` from a checkpoint already opened.
            ///
            /// # Errors
            /// As for `load`.
            pub fn from_checkpoint(
                ck: &$crate::checkpoint::Checkpoint,
            ) -> $crate::error::Result<Self> {
                $crate::checkpoint::build_from(ck, |config: $config| {
                    Self::new(config, &mut $crate::seeded_rng(0))
                })
            }
        }
    };

    (@one $torch:literal) => {
        #[doc = concat!("The training-path forward of `torch.nn.", $torch, "`: `input` is `(L, N, in)`")]
        /// (`(N, L, in)` with `batch_first`, `(L, in)` unbatched), `h0` is
        /// `(layers * D, N, H)` (`(layers * D, H)` unbatched), zeros if `None`. Returns
        /// `(output, h_n)` with PyTorch's shapes. Dropout applies between layers in train mode.
        ///
        /// # Errors
        /// PyTorch's messages, in its order, each after the module's printed form
        /// (`RNN(5, 6): ...`; `Expected input to be 2D or 3D ...`,
        /// `input.size(-1) must be equal to input_size. Expected 5, got 7`, ...).
        pub fn forward<'t>(
            &self,
            input: &Var<'t, T>,
            h0: Option<&Var<'t, T>>,
        ) -> $crate::error::Result<(Var<'t, T>, Var<'t, T>)> {
            let s = h0.as_ref().map(std::slice::from_ref);
            $crate::recurrent::wrapper::one(self.engine.forward(input, s))
        }

        /// Forward over a padded batch of variable-length sequences (what PyTorch does with
        /// a `PackedSequence`): item `b` runs only over its first `lengths[b]` steps; `h_n`
        /// holds each item's state at its own last valid step; padded outputs are zero.
        ///
        /// # Errors
        /// As `forward`, plus PyTorch's checks on the lengths.
        pub fn forward_padded<'t>(
            &self,
            input: &Var<'t, T>,
            lengths: &[usize],
            h0: Option<&Var<'t, T>>,
        ) -> $crate::error::Result<(Var<'t, T>, Var<'t, T>)> {
            let s = h0.as_ref().map(std::slice::from_ref);
            $crate::recurrent::wrapper::one(self.engine.forward_padded(input, lengths, s))
        }

        /// `forward` on the one-hot vectors of `tokens` (`(L, N)`, `(N, L)` with
        /// `batch_first`, `(L)` unbatched) without building them: the first layer's input
        /// projection reads the tokens' columns of `W_ih` (see
        /// [`Recurrent::forward_tokens`](crate::recurrent::Recurrent::forward_tokens)).
        ///
        /// # Errors
        /// A token out of `0..input_size`; otherwise as `forward`.
        pub fn forward_tokens<'t>(
            &self,
            tape: &'t Tape<T>,
            tokens: &recur_tensor::IndexTensor,
            h0: Option<&Var<'t, T>>,
        ) -> $crate::error::Result<(Var<'t, T>, Var<'t, T>)> {
            let s = h0.as_ref().map(std::slice::from_ref);
            $crate::recurrent::wrapper::one(self.engine.forward_tokens(tape, tokens, s))
        }

        /// `forward` (or `forward_padded` with `lengths`) with the parameters given as vars
        /// in `named_parameters` order: the functional form, used to gradient-check with
        /// respect to the weights.
        ///
        /// # Errors
        /// As `forward`, or when `params` does not match the parameter shapes.
        pub fn forward_with_params<'t>(
            &self,
            input: &Var<'t, T>,
            h0: Option<&Var<'t, T>>,
            lengths: Option<&[usize]>,
            params: &[Var<'t, T>],
        ) -> $crate::error::Result<(Var<'t, T>, Var<'t, T>)> {
            let s = h0.as_ref().map(std::slice::from_ref);
            $crate::recurrent::wrapper::one(
                self.engine.forward_with_params(input, s, lengths, params),
            )
        }

        /// The same computation as `forward_with_params` (without dropout) built from
        /// primitive ops, with the cell's math in `Var` ops: the reference the fused path is
        /// tested against, whose per-step states are vars (call `retain_grad` on
        /// `states[0][layer * D + dir][t]` before backward to read dL/dh_t).
        ///
        /// # Errors
        /// As `forward_with_params`.
        pub fn forward_composed<'t>(
            &self,
            input: &Var<'t, T>,
            h0: Option<&Var<'t, T>>,
            lengths: Option<&[usize]>,
            params: &[Var<'t, T>],
        ) -> $crate::error::Result<$crate::recurrent::Composed<'t, T>> {
            let s = h0.as_ref().map(std::slice::from_ref);
            $crate::recurrent::forward_composed(&self.engine, input, s, lengths, params)
        }

        /// No-tape inference on plain tensors (eval semantics: no dropout); same shapes and
        /// errors as `forward`.
        ///
        /// # Errors
        /// As `forward`.
        pub fn forward_tensor(
            &self,
            input: &Tensor<T>,
            h0: Option<&Tensor<T>>,
        ) -> $crate::error::Result<(Tensor<T>, Tensor<T>)> {
            let s = h0.as_ref().map(std::slice::from_ref);
            let (out, mut finals) = self.engine.forward_tensor(input, s)?;
            Ok((out, finals.pop().expect("one state part")))
        }

        /// A zero hidden state for `batch` items: `(layers * D, batch, H)`.
        pub fn zero_state(&self, batch: usize) -> Tensor<T> {
            self.engine.zero_state(batch).pop().expect("one state part")
        }

        /// One time step of every layer, for generation: `x` is `(batch, input_size)`,
        /// `state` is `(layers, batch, H)` and is updated in place; returns the last layer's
        /// new state `(batch, H)`. Unidirectional stacks only.
        ///
        /// # Errors
        /// When the stack is bidirectional or the shapes do not fit.
        pub fn step(&self, x: &Tensor<T>, state: &mut Tensor<T>) -> $crate::error::Result<Tensor<T>> {
            self.engine.step(x, std::slice::from_mut(state))
        }
    };

    (@two $torch:literal) => {
        #[doc = concat!("The training-path forward of `torch.nn.", $torch, "`: `input` is `(L, N, in)`")]
        /// (`(N, L, in)` with `batch_first`, `(L, in)` unbatched); `hx` is `(h0, c0)`, each
        /// `(layers * D, N, H)` (`(layers * D, H)` unbatched), zeros if `None`. Returns
        /// `(output, (h_n, c_n))` with PyTorch's shapes. Dropout applies between layers in
        /// train mode.
        ///
        /// # Errors
        /// PyTorch's messages, in its order, each after the module's printed form
        /// (`LSTM(3, 4): ...`; `LSTM: Expected input to be 2D or 3D, got 4D
        /// instead`, `For batched 3-D input, hx and cx should also be 3-D but got (2-D, 3-D)
        /// tensors`, `Expected hidden[0] size (2, 3, 20), got [2, 1, 20]`, ...).
        pub fn forward<'t>(
            &self,
            input: &Var<'t, T>,
            hx: Option<(&Var<'t, T>, &Var<'t, T>)>,
        ) -> $crate::error::Result<(Var<'t, T>, (Var<'t, T>, Var<'t, T>))> {
            let s = hx.map(|(h, c)| [h, c]);
            $crate::recurrent::wrapper::two(self.engine.forward(input, s.as_ref().map(|s| &s[..])))
        }

        /// Forward over a padded batch of variable-length sequences (what PyTorch does with
        /// a `PackedSequence`): item `b` runs only over its first `lengths[b]` steps; `h_n`
        /// and `c_n` hold each item's states at its own last valid step; padded outputs are
        /// zero.
        ///
        /// # Errors
        /// As `forward`, plus PyTorch's checks on the lengths.
        pub fn forward_padded<'t>(
            &self,
            input: &Var<'t, T>,
            lengths: &[usize],
            hx: Option<(&Var<'t, T>, &Var<'t, T>)>,
        ) -> $crate::error::Result<(Var<'t, T>, (Var<'t, T>, Var<'t, T>))> {
            let s = hx.map(|(h, c)| [h, c]);
            let s = s.as_ref().map(|s| &s[..]);
            $crate::recurrent::wrapper::two(self.engine.forward_padded(input, lengths, s))
        }

        /// `forward` on the one-hot vectors of `tokens` without building them (see
        /// [`Recurrent::forward_tokens`](crate::recurrent::Recurrent::forward_tokens)).
        ///
        /// # Errors
        /// A token out of `0..input_size`; otherwise as `forward`.
        pub fn forward_tokens<'t>(
            &self,
            tape: &'t Tape<T>,
            tokens: &recur_tensor::IndexTensor,
            hx: Option<(&Var<'t, T>, &Var<'t, T>)>,
        ) -> $crate::error::Result<(Var<'t, T>, (Var<'t, T>, Var<'t, T>))> {
            let s = hx.map(|(h, c)| [h, c]);
            let s = s.as_ref().map(|s| &s[..]);
            $crate::recurrent::wrapper::two(self.engine.forward_tokens(tape, tokens, s))
        }

        /// `forward` (or `forward_padded` with `lengths`) with the parameters given as vars
        /// in `named_parameters` order: the functional form, used to gradient-check with
        /// respect to the weights.
        ///
        /// # Errors
        /// As `forward`, or when `params` does not match the parameter shapes.
        pub fn forward_with_params<'t>(
            &self,
            input: &Var<'t, T>,
            hx: Option<(&Var<'t, T>, &Var<'t, T>)>,
            lengths: Option<&[usize]>,
            params: &[Var<'t, T>],
        ) -> $crate::error::Result<(Var<'t, T>, (Var<'t, T>, Var<'t, T>))> {
            let s = hx.map(|(h, c)| [h, c]);
            let s = s.as_ref().map(|s| &s[..]);
            $crate::recurrent::wrapper::two(
                self.engine.forward_with_params(input, s, lengths, params),
            )
        }

        /// The same computation as `forward_with_params` (without dropout) built from
        /// primitive ops, with the cell's math in `Var` ops: the reference the fused path is
        /// tested against, whose per-step states are vars (`states[0]` the `h_t`,
        /// `states[1]` the `c_t`, each `[layer * D + dir][t]`).
        ///
        /// # Errors
        /// As `forward_with_params`.
        pub fn forward_composed<'t>(
            &self,
            input: &Var<'t, T>,
            hx: Option<(&Var<'t, T>, &Var<'t, T>)>,
            lengths: Option<&[usize]>,
            params: &[Var<'t, T>],
        ) -> $crate::error::Result<$crate::recurrent::Composed<'t, T>> {
            let s = hx.map(|(h, c)| [h, c]);
            let s = s.as_ref().map(|s| &s[..]);
            $crate::recurrent::forward_composed(&self.engine, input, s, lengths, params)
        }

        /// No-tape inference on plain tensors (eval semantics: no dropout); same shapes and
        /// errors as `forward`; returns `(output, (h_n, c_n))`.
        ///
        /// # Errors
        /// As `forward`.
        #[allow(clippy::type_complexity)]
        pub fn forward_tensor(
            &self,
            input: &Tensor<T>,
            hx: Option<(&Tensor<T>, &Tensor<T>)>,
        ) -> $crate::error::Result<(Tensor<T>, (Tensor<T>, Tensor<T>))> {
            let s = hx.map(|(h, c)| [h, c]);
            let (out, mut finals) = self.engine.forward_tensor(input, s.as_ref().map(|s| &s[..]))?;
            let c = finals.pop().expect("two state parts");
            let h = finals.pop().expect("two state parts");
            Ok((out, (h, c)))
        }

        /// A zero state `(h, c)` for `batch` items, each `(layers * D, batch, H)`.
        pub fn zero_state(&self, batch: usize) -> (Tensor<T>, Tensor<T>) {
            let mut z = self.engine.zero_state(batch);
            let c = z.pop().expect("two state parts");
            (z.pop().expect("two state parts"), c)
        }

        /// One time step of every layer, for generation: `x` is `(batch, input_size)`,
        /// `state` is `(h, c)`, each `(layers, batch, H)`, updated in place; returns the last
        /// layer's new `h` `(batch, H)`. Unidirectional stacks only.
        ///
        /// # Errors
        /// When the stack is bidirectional or the shapes do not fit.
        pub fn step(
            &self,
            x: &Tensor<T>,
            state: &mut (Tensor<T>, Tensor<T>),
        ) -> $crate::error::Result<Tensor<T>> {
            let mut parts = [state.0.clone(), state.1.clone()];
            let y = self.engine.step(x, &mut parts)?;
            let [h, c] = parts;
            *state = (h, c);
            Ok(y)
        }
    };
}
pub(crate) use recurrent_module;

/// Declares a built-in gated cell's public types at once: its config (no settings of its
/// own), its stack over the engine and its one-step module, each with its own docs (three
/// doc blocks, `;` between them).
macro_rules! gated_builtin {
    (
        $(#[$cdoc:meta])* ; $(#[$mdoc:meta])* ; $(#[$sdoc:meta])* ;
        $config:ident, $name:ident, $single:ident, $math:ident, $torch:literal, $torch_cell:literal,
        $form:ident
    ) => {
        $crate::recurrent::config::module_config!($(#[$cdoc])* $config, $torch);
        $crate::recurrent::wrapper::recurrent_module!(
            $(#[$mdoc])* $name, $config, $math = |_: &$config| $math, $torch, $form
        );
        $crate::recurrent::single::cell_module!($(#[$sdoc])* $single, $math, $torch_cell, $form);
    };
}
pub(crate) use gated_builtin;

use crate::error::Result;
use recur_autograd::Var;
use recur_tensor::Float;

/// `(output, [h_n])` as `(output, h_n)`.
pub(crate) fn one<'t, T: Float>(
    r: Result<super::RecurrentOutput<'t, T>>,
) -> Result<(Var<'t, T>, Var<'t, T>)> {
    let (out, mut finals) = r?;
    Ok((out, finals.pop().expect("one state part")))
}

/// `(output, [h_n, c_n])` as `(output, (h_n, c_n))`.
#[allow(clippy::type_complexity)]
pub(crate) fn two<'t, T: Float>(
    r: Result<super::RecurrentOutput<'t, T>>,
) -> Result<(Var<'t, T>, (Var<'t, T>, Var<'t, T>))> {
    let (out, mut finals) = r?;
    let c = finals.pop().expect("two state parts");
    let h = finals.pop().expect("two state parts");
    Ok((out, (h, c)))
}
