//! The file format: safetensors bytes with a CRC-32 per tensor and for the metadata. Writing,
//! parsing the header alone, and decoding one tensor's bytes.

use super::{CHECKSUM_PREFIX, ck};
use crate::error::Result;
use recur_tensor::{Float, Tensor};
use safetensors::SafeTensorError;
use safetensors::tensor::{Dtype, Metadata, View};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The checksum entry for the metadata itself.
const META_SUM: &str = "__metadata__";

/// The largest header safetensors accepts (its `MAX_HEADER_SIZE`).
const MAX_HEADER: u64 = 100_000_000;

/// CRC-32 (IEEE 802.3, the zlib/PNG one), table-driven.
fn crc32_update(mut crc: u32, bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    crc = !crc;
    for &b in bytes {
        crc = TABLE[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// The checksum of one tensor: its dtype, shape and little-endian bytes.
fn tensor_sum(dtype: Dtype, shape: &[usize], bytes: &[u8]) -> String {
    let mut c = crc32_update(0, format!("{dtype:?}{shape:?}").as_bytes());
    c = crc32_update(c, bytes);
    format!("{c:08x}")
}

/// The checksum of the metadata entries (checksum entries excluded), in key order.
fn meta_sum<'a>(entries: impl Iterator<Item = (&'a String, &'a String)>) -> String {
    let mut c = 0;
    for (k, v) in entries {
        for part in [k.as_bytes(), &[0], v.as_bytes(), &[0]] {
            c = crc32_update(c, part);
        }
    }
    format!("{c:08x}")
}

/// One tensor's little-endian bytes, as safetensors writes them.
struct Raw {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Raw {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn to_raw<T: Float>(t: &Tensor<T>) -> Raw {
    let values = t.contiguous();
    let values = values.as_slice().unwrap_or(&[]);
    let (dtype, bytes) = if T::DTYPE == "float64" {
        let b = values
            .iter()
            .flat_map(|v| v.to_f64().to_le_bytes())
            .collect();
        (Dtype::F64, b)
    } else {
        let b = values
            .iter()
            .flat_map(|v| (v.to_f64() as f32).to_le_bytes())
            .collect();
        (Dtype::F32, b)
    };
    Raw {
        dtype,
        shape: t.dims().to_vec(),
        bytes,
    }
}

/// Serialises named tensors and metadata, adding the checksums; `path` names the target in
/// errors.
pub(super) fn to_bytes_at<T: Float, N: AsRef<str>>(
    path: &str,
    tensors: &[(N, Tensor<T>)],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let mut seen = BTreeSet::new();
    for (name, _) in tensors {
        let name = name.as_ref();
        if name.is_empty() || name == "__metadata__" {
            return Err(ck(path, format!("invalid tensor name {name:?}")));
        }
        if !seen.insert(name) {
            return Err(ck(path, format!("tensor name `{name}` appears twice")));
        }
    }
    if let Some(k) = metadata.keys().find(|k| k.starts_with(CHECKSUM_PREFIX)) {
        return Err(ck(
            path,
            format!("metadata key `{k}` uses the reserved prefix {CHECKSUM_PREFIX:?}"),
        ));
    }
    let raws: Vec<(&str, Raw)> = tensors
        .iter()
        .map(|(n, t)| (n.as_ref(), to_raw(t)))
        .collect();
    let mut info: HashMap<String, String> = metadata
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    info.insert(
        format!("{CHECKSUM_PREFIX}{META_SUM}"),
        meta_sum(metadata.iter()),
    );
    for (name, r) in &raws {
        info.insert(
            format!("{CHECKSUM_PREFIX}{name}"),
            tensor_sum(r.dtype, &r.shape, &r.bytes),
        );
    }
    safetensors::serialize(raws.iter().map(|(n, r)| (*n, r)), Some(info))
        .map_err(|e| ck(path, format!("cannot serialise: {e}")))
}

/// The header length from the first 8 bytes of a file of `total` bytes, checked against the
/// size before anything else is read or allocated.
pub(super) fn header_len(path: &str, head: &[u8], total: u64) -> Result<usize> {
    let Some(n) = head.get(..8) else {
        return Err(ck(
            path,
            format!("file is {total} bytes, too short for a safetensors header"),
        ));
    };
    let mut b = [0u8; 8];
    b.copy_from_slice(n);
    let n = u64::from_le_bytes(b);
    if n > total - 8 {
        return Err(ck(
            path,
            format!(
                "header length {n} exceeds the {} bytes after the length field (truncated or not a safetensors file)",
                total - 8
            ),
        ));
    }
    if n > MAX_HEADER {
        return Err(ck(path, SafeTensorError::HeaderTooLarge.to_string()));
    }
    usize::try_from(n).map_err(|_| ck(path, SafeTensorError::HeaderTooLarge.to_string()))
}

/// Where one tensor's bytes are and how to read them.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    /// Byte offsets from the start of the file.
    pub start: u64,
    pub end: u64,
    /// The CRC-32 the writer recorded (none in a file without checksums).
    pub sum: Option<String>,
}

/// A parsed and checked header: everything but the tensor data.
#[derive(Clone, Debug)]
pub(super) struct Header {
    /// The user's metadata (checksum entries removed), checked against its checksum.
    pub metadata: BTreeMap<String, String>,
    /// The tensors, by name.
    pub entries: BTreeMap<String, Entry>,
}

/// Parses the header text `json` of a file of `total` bytes: the JSON, the data offsets
/// against the file size, the metadata checksum, and that every tensor has a checksum (in a
/// file that has any). Reads no tensor data.
pub(super) fn parse_header(path: &str, json: &[u8], total: u64) -> Result<Header> {
    let text = std::str::from_utf8(json)
        .map_err(|e| ck(path, SafeTensorError::InvalidHeader(e).to_string()))?;
    let meta: Metadata = serde_json::from_str(text).map_err(|e| {
        ck(
            path,
            SafeTensorError::InvalidHeaderDeserialization(e).to_string(),
        )
    })?;
    let data_start = 8 + json.len() as u64;
    let data_len = meta.data_len() as u64;
    if data_start.checked_add(data_len) != Some(total) {
        return Err(ck(
            path,
            format!(
                "the header describes {data_len} bytes of tensor data but the file has {} (truncated or corrupted)",
                total.saturating_sub(data_start)
            ),
        ));
    }
    let all: BTreeMap<String, String> = meta
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let (sums, metadata): (BTreeMap<String, String>, BTreeMap<String, String>) = all
        .into_iter()
        .partition(|(k, _)| k.starts_with(CHECKSUM_PREFIX));
    let mut sums: BTreeMap<String, String> = sums
        .into_iter()
        .map(|(k, v)| (k[CHECKSUM_PREFIX.len()..].to_string(), v))
        .collect();
    // A file with checksums has one for the metadata and one per tensor; one without any is
    // an older file or another tool's, loaded unchecked.
    let checked = !sums.is_empty();
    if checked {
        match sums.remove(META_SUM) {
            Some(s) if s == meta_sum(metadata.iter()) => {}
            Some(_) => {
                return Err(ck(
                    path,
                    "metadata checksum mismatch (the file is corrupted)",
                ));
            }
            None => return Err(ck(path, "the metadata checksum is missing")),
        }
    }
    let infos: BTreeMap<String, _> = meta.tensors().into_iter().collect();
    let mut entries = BTreeMap::new();
    for (name, info) in infos {
        let sum = sums.remove(name.as_str());
        if checked && sum.is_none() {
            return Err(ck(path, format!("tensor `{name}` has no checksum")));
        }
        let (start, end) = info.data_offsets;
        let entry = Entry {
            dtype: info.dtype,
            shape: info.shape.clone(),
            start: data_start + start as u64,
            end: data_start + end as u64,
            sum,
        };
        entries.insert(name, entry);
    }
    if let Some(name) = sums.keys().next() {
        return Err(ck(
            path,
            format!("tensor `{name}` has a checksum but is missing from the file"),
        ));
    }
    Ok(Header { metadata, entries })
}

/// Checks one tensor's bytes against its checksum and converts them to `T`.
pub(super) fn decode<T: Float>(
    path: &str,
    name: &str,
    entry: &Entry,
    data: &[u8],
) -> Result<Tensor<T>> {
    if let Some(sum) = &entry.sum
        && *sum != tensor_sum(entry.dtype, &entry.shape, data)
    {
        return Err(ck(
            path,
            format!("tensor `{name}`: checksum mismatch (the file is corrupted)"),
        ));
    }
    let values: Vec<T> = match entry.dtype {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|c| T::from_f64(f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64))
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                T::from_f64(f64::from_le_bytes(b))
            })
            .collect(),
        other => {
            return Err(ck(
                path,
                format!("tensor `{name}` has dtype {other:?}; only F32 and F64 can be loaded"),
            ));
        }
    };
    Tensor::from_vec(values, &entry.shape).map_err(|e| ck(path, format!("tensor `{name}`: {e}")))
}
