//! [`Tensors`]: the named tensors of a checkpoint, looked up by name.

use super::ck;
use crate::error::{NnError, Result};
use recur_tensor::{Float, Tensor};
use std::collections::BTreeMap;
use std::collections::btree_map;

/// The tensors of a checkpoint by name (sorted), as [`load_tensors`](super::load_tensors) and
/// [`Checkpoint::tensors`](super::Checkpoint::tensors) return them. Look-ups that miss are an
/// error naming the file and listing the names it has.
///
/// ```
/// use recur_nn::checkpoint::{tensors_from_bytes, tensors_to_bytes};
/// use recur_tensor::Tensor;
/// use std::collections::BTreeMap;
/// let bytes = tensors_to_bytes(
///     &[("weight", Tensor::<f32>::ones(&[2, 2])), ("bias", Tensor::zeros(&[2]))],
///     &BTreeMap::new(),
/// )?;
/// let (tensors, _) = tensors_from_bytes::<f64>(&bytes)?;
/// assert_eq!(tensors.get("bias")?.dims(), &[2]);
/// assert_eq!(tensors.names().collect::<Vec<_>>(), ["bias", "weight"]);
/// let e = tensors.get("weight_ih_l0").unwrap_err();
/// assert_eq!(
///     e.to_string(),
///     "checkpoint <memory>: no tensor named `weight_ih_l0`; the file has `bias`, `weight`"
/// );
/// # Ok::<(), recur_nn::NnError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Tensors<T: Float> {
    path: String,
    map: BTreeMap<String, Tensor<T>>,
}

/// At most this many names are listed in a missing-name error.
const LISTED: usize = 32;

/// The error for a look-up of `name` among `names` (sorted) in the file `path`.
pub(super) fn no_such_tensor<'a>(
    path: &str,
    name: &str,
    names: impl ExactSizeIterator<Item = &'a str>,
) -> NnError {
    let total = names.len();
    if total == 0 {
        return ck(path, format!("no tensor named `{name}`; the file has none"));
    }
    let mut list: Vec<String> = names.take(LISTED).map(|n| format!("`{n}`")).collect();
    if total > LISTED {
        list.push(format!("and {} more", total - LISTED));
    }
    ck(
        path,
        format!("no tensor named `{name}`; the file has {}", list.join(", ")),
    )
}

impl<T: Float> Tensors<T> {
    pub(super) fn new(path: &str, map: BTreeMap<String, Tensor<T>>) -> Self {
        Tensors {
            path: path.to_string(),
            map,
        }
    }

    /// The tensor called `name`.
    ///
    /// # Errors
    /// [`NnError::Checkpoint`] when there is none: `no tensor named `x`; the file has `a`,
    /// `b`` (at most 32 names listed).
    pub fn get(&self, name: &str) -> Result<&Tensor<T>> {
        self.map.get(name).ok_or_else(|| self.missing(name))
    }

    /// The tensor called `name`, to change it in place.
    ///
    /// # Errors
    /// As for [`Tensors::get`].
    pub fn get_mut(&mut self, name: &str) -> Result<&mut Tensor<T>> {
        if !self.map.contains_key(name) {
            return Err(self.missing(name));
        }
        let path = &self.path;
        self.map
            .get_mut(name)
            .ok_or_else(|| ck(path, format!("no tensor named `{name}`")))
    }

    /// Takes the tensor called `name` out.
    ///
    /// # Errors
    /// As for [`Tensors::get`].
    pub fn remove(&mut self, name: &str) -> Result<Tensor<T>> {
        match self.map.remove(name) {
            Some(t) => Ok(t),
            None => Err(self.missing(name)),
        }
    }

    fn missing(&self, name: &str) -> NnError {
        no_such_tensor(&self.path, name, self.map.keys().map(String::as_str))
    }

    /// Whether there is a tensor called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// The names, sorted.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// `(name, tensor)` pairs, sorted by name.
    pub fn iter(&self) -> btree_map::Iter<'_, String, Tensor<T>> {
        self.map.iter()
    }

    /// How many tensors there are.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The `(name, tensor)` pairs, sorted by name: what [`save_tensors`](super::save_tensors)
    /// takes.
    pub fn into_vec(self) -> Vec<(String, Tensor<T>)> {
        self.map.into_iter().collect()
    }

    /// The tensors as a map.
    pub fn into_map(self) -> BTreeMap<String, Tensor<T>> {
        self.map
    }
}

impl<T: Float> IntoIterator for Tensors<T> {
    type Item = (String, Tensor<T>);
    type IntoIter = btree_map::IntoIter<String, Tensor<T>>;
    fn into_iter(self) -> Self::IntoIter {
        self.map.into_iter()
    }
}

impl<'a, T: Float> IntoIterator for &'a Tensors<T> {
    type Item = (&'a String, &'a Tensor<T>);
    type IntoIter = btree_map::Iter<'a, String, Tensor<T>>;
    fn into_iter(self) -> Self::IntoIter {
        self.map.iter()
    }
}
