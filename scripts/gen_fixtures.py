#!/usr/bin/env python3
"""Generates the PyTorch reference cases for recur's LSTM, GRU, LSTMCell and GRUCell.

Run with a venv that has torch (see scripts/README.md), from the workspace root:

    ../anchors-venv/bin/python scripts/gen_fixtures.py [OUT_DIR]

OUT_DIR defaults to nn/tests/fixtures. Deterministic: every case seeds torch itself
(torch.manual_seed), runs in float64 on the CPU, and the files are rewritten byte for byte the
same on the same PyTorch version and CPU (two runs on 2026-12-06 agreed). On another CPU the
long-sequence cases can move in their last bits: regenerated on 2026-12-06 on a Zen 5, they
differ from the committed ones (made on 2026-11-26 on a Zen 3 VM) by 4e-15 at most, far inside
the tests' 1e-10. CI has no torch: the generated files are committed.

The layout is the one of ../shared/fixtures (see its README): safetensors files whose metadata
holds the case's settings as strings (`kind`, `"true"`, `"2"`), parameters under PyTorch's own
names, and the gradients of a weighted-sum loss under `grad.<name>`.

`lstm_*.safetensors` (kind `LSTM`): parameters `weight_ih_l{k}` (4H, in_k), `weight_hh_l{k}`
(4H, H), `bias_ih_l{k}`, `bias_hh_l{k}` (4H), `_reverse` for the second direction; `input`,
`h0` and `c0` (both absent when the case passed no state), `output`, `h_n`, `c_n`;
`grad_output`, `grad_h_n`, `grad_c_n`; `grad.input`, `grad.h0`, `grad.c0`, `grad.<param>` for
the loss `sum(output * grad_output) + sum(h_n * grad_h_n) + sum(c_n * grad_c_n)`.
With metadata `lengths` (a JSON list), the input went through
`pack_padded_sequence(input, lengths, batch_first, enforce_sorted=False)` and `output` is
`pad_packed_sequence(...)` of the result (padded with zeros).

With metadata `proj_size` (LSTM only), `h0`, `h_n`, `output` and `weight_hh_l{k}` have
`proj_size` columns where they had `hidden_size`, and `weight_hr_l{k}` (proj_size, H) follows
each layer's biases.

`gru_*.safetensors` (kind `GRU`): the same with (3H, .) parameters, no `c0` / `c_n`.

`lstmcell_*.safetensors` (kind `LSTMCell`): `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`;
`input`, `hx`, `cx` (absent: no state passed), `h1`, `c1` = cell(input, (hx, cx)); `grad_h1`,
`grad_c1`; `grad.input`, `grad.hx`, `grad.cx`, `grad.<param>` for
`sum(h1 * grad_h1) + sum(c1 * grad_c1)`.

`grucell_*.safetensors` (kind `GRUCell`): as RNNCell's files: `input`, `hx`, `h1`, `grad_h1`,
`grad.*` for `sum(h1 * grad_h1)`.
"""

import json
import os
import sys

import struct

import torch

torch.set_default_dtype(torch.float64)


def meta_value(v):
    """Settings as the shared fixtures store them: JSON for numbers, bools and lists; bare
    strings for strings."""
    return v if isinstance(v, str) else json.dumps(v)


def save(out_dir, name, tensors, meta):
    """Writes a safetensors file with its header in sorted order, so the same case gives the
    same bytes every run (`safetensors.torch.save_file` orders the metadata by hash)."""
    path = os.path.join(out_dir, name + ".safetensors")
    header = {"__metadata__": {k: meta_value(v) for k, v in sorted(meta.items())}}
    blobs, offset = [], 0
    for k in sorted(tensors):
        t = tensors[k].detach().to(torch.float64).contiguous()
        data = t.numpy().astype("<f8").tobytes()
        header[k] = {"dtype": "F64", "shape": list(t.shape),
                     "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)
    print(f"wrote {path} ({len(tensors)} tensors)")


def rand(*shape, scale=1.0):
    return ((torch.rand(*shape) * 2 - 1) * scale).requires_grad_(True)


def stack_case(out_dir, name, kind, seed, input_size, hidden_size, seq, batch, num_layers=1,
               bias=True, batch_first=False, bidirectional=False, with_h0=True, lengths=None,
               input_scale=1.0, proj_size=0):
    """One LSTM or GRU case. `batch=None` is an unbatched call."""
    torch.manual_seed(seed)
    cls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}[kind]
    extra = {"proj_size": proj_size} if proj_size else {}
    m = cls(input_size, hidden_size, num_layers=num_layers, bias=bias, batch_first=batch_first,
            bidirectional=bidirectional, **extra)
    d = 2 if bidirectional else 1
    h_size = proj_size or hidden_size
    if batch is None:
        x = rand(seq, input_size, scale=input_scale)
        state_shape = (num_layers * d, hidden_size)
        h_shape = (num_layers * d, h_size)
    else:
        x = rand(batch, seq, input_size, scale=input_scale) if batch_first else rand(
            seq, batch, input_size, scale=input_scale)
        state_shape = (num_layers * d, batch, hidden_size)
        h_shape = (num_layers * d, batch, h_size)
    h0 = rand(*h_shape) if with_h0 else None
    c0 = rand(*state_shape) if with_h0 and kind == "LSTM" else None
    hx = None if h0 is None else ((h0, c0) if kind == "LSTM" else h0)

    if lengths is None:
        out, hn = m(x, hx)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
        out, hn = m(packed, hx)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first,
                                                        total_length=seq)
    h_n, c_n = hn if kind == "LSTM" else (hn, None)

    grad_output = torch.rand_like(out) * 2 - 1
    grad_h_n = torch.rand_like(h_n) * 2 - 1
    loss = (out * grad_output).sum() + (h_n * grad_h_n).sum()
    tensors = {"input": x, "output": out, "h_n": h_n, "grad_output": grad_output,
               "grad_h_n": grad_h_n}
    if c_n is not None:
        grad_c_n = torch.rand_like(c_n) * 2 - 1
        loss = loss + (c_n * grad_c_n).sum()
        tensors.update({"c_n": c_n, "grad_c_n": grad_c_n})
    params = dict(m.named_parameters())
    leaves = {"input": x, **params}
    if h0 is not None:
        leaves["h0"] = h0
        tensors["h0"] = h0
    if c0 is not None:
        leaves["c0"] = c0
        tensors["c0"] = c0
    grads = torch.autograd.grad(loss, list(leaves.values()))
    tensors.update(params)
    tensors.update({"grad." + k: g for k, g in zip(leaves, grads)})

    note = "grads are of sum(output*grad_output)+sum(h_n*grad_h_n)"
    if kind == "LSTM":
        note += "+sum(c_n*grad_c_n)"
    meta = {"kind": kind, "input_size": input_size, "hidden_size": hidden_size,
            "num_layers": num_layers, "bias": bias, "batch_first": batch_first,
            "bidirectional": bidirectional, "dtype": "float64", "note": note}
    if proj_size:
        meta["proj_size"] = proj_size
    if lengths is not None:
        meta["lengths"] = list(lengths)
        meta["note"] += "; input packed with pack_padded_sequence(enforce_sorted=False)"
    save(out_dir, name, tensors, meta)


def cell_case(out_dir, name, kind, seed, input_size, hidden_size, batch, bias=True, with_hx=True):
    """One LSTMCell or GRUCell case. `batch=None` is an unbatched call."""
    torch.manual_seed(seed)
    cls = {"LSTMCell": torch.nn.LSTMCell, "GRUCell": torch.nn.GRUCell}[kind]
    m = cls(input_size, hidden_size, bias=bias)
    x = rand(input_size) if batch is None else rand(batch, input_size)
    state_shape = (hidden_size,) if batch is None else (batch, hidden_size)
    leaves = {"input": x}
    tensors = {"input": x}
    if kind == "LSTMCell":
        hx = (rand(*state_shape), rand(*state_shape)) if with_hx else None
        h1, c1 = m(x, hx)
        grad_h1 = torch.rand_like(h1) * 2 - 1
        grad_c1 = torch.rand_like(c1) * 2 - 1
        loss = (h1 * grad_h1).sum() + (c1 * grad_c1).sum()
        tensors.update({"h1": h1, "c1": c1, "grad_h1": grad_h1, "grad_c1": grad_c1})
        if hx is not None:
            leaves.update({"hx": hx[0], "cx": hx[1]})
        note = "grads are of sum(h1*grad_h1)+sum(c1*grad_c1)"
    else:
        hx = rand(*state_shape) if with_hx else None
        h1 = m(x, hx)
        grad_h1 = torch.rand_like(h1) * 2 - 1
        loss = (h1 * grad_h1).sum()
        tensors.update({"h1": h1, "grad_h1": grad_h1})
        if hx is not None:
            leaves["hx"] = hx
        note = "grads are of sum(h1*grad_h1)"
    tensors.update({k: v for k, v in leaves.items()})
    params = dict(m.named_parameters())
    leaves.update(params)
    tensors.update(params)
    grads = torch.autograd.grad(loss, list(leaves.values()))
    tensors.update({"grad." + k: g for k, g in zip(leaves, grads)})
    meta = {"kind": kind, "input_size": input_size, "hidden_size": hidden_size, "bias": bias,
            "dtype": "float64", "note": note}
    save(out_dir, name, tensors, meta)


def optim_case(out_dir, name, seed, optimizer, settings, steps=6, clip_max_norm=None):
    """One optimizer case (kind `optim`): a 3x4 parameter through `steps` steps of
    `torch.optim.<optimizer>(**settings)` under fixed random gradients (clipped to
    `clip_max_norm` first when set); metadata `optimizer` and every setting by name."""
    torch.manual_seed(seed)
    cls = {"adamw": torch.optim.AdamW, "rmsprop": torch.optim.RMSprop, "adam": torch.optim.Adam,
           "adagrad": torch.optim.Adagrad, "sgd": torch.optim.SGD}[optimizer]
    p = torch.nn.Parameter(torch.rand(3, 4, dtype=torch.float64) * 2 - 1)
    opt = cls([p], **settings)
    tensors = {"param.0": p.detach().clone()}
    for k in range(1, steps + 1):
        g = (torch.rand(3, 4, dtype=torch.float64) * 2 - 1) * 3
        tensors[f"grad.{k}"] = g.clone()
        p.grad = g.clone()
        if clip_max_norm is not None:
            tensors[f"total_norm.{k}"] = torch.nn.utils.clip_grad_norm_([p], clip_max_norm).reshape(1)
        opt.step()
        tensors[f"param.{k}"] = p.detach().clone()
    meta = {"kind": "optim", "name": name, "optimizer": optimizer, "steps": steps,
            "dtype": "float64", **settings}
    if clip_max_norm is not None:
        meta["clip_max_norm"] = clip_max_norm
    save(out_dir, "optim_" + name, tensors, meta)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("nn", "tests", "fixtures")
    os.makedirs(out_dir, exist_ok=True)
    for kind in ("LSTM", "GRU"):
        p = kind.lower()
        # The lesson's example: (5, 6, 1), input (1, 3, 5), h0 (1, 3, 6).
        stack_case(out_dir, f"{p}_seed_example", kind, 1, 5, 6, seq=1, batch=3)
        stack_case(out_dir, f"{p}_one_layer_seq7", kind, 2, 3, 4, seq=7, batch=2)
        stack_case(out_dir, f"{p}_batch_first_bidir_2layer", kind, 3, 4, 3, seq=5, batch=2,
                   num_layers=2, batch_first=True, bidirectional=True)
        stack_case(out_dir, f"{p}_unbatched_no_h0", kind, 4, 3, 4, seq=8, batch=None,
                   with_h0=False)
        stack_case(out_dir, f"{p}_unbatched_bidir_h0", kind, 5, 2, 3, seq=6, batch=None,
                   bidirectional=True)
        stack_case(out_dir, f"{p}_three_layer_nobias", kind, 6, 3, 5, seq=6, batch=3,
                   num_layers=3, bias=False)
        stack_case(out_dir, f"{p}_long_seq", kind, 7, 2, 8, seq=120, batch=2, input_scale=2.0)
        stack_case(out_dir, f"{p}_packed_bidir_2layer", kind, 8, 3, 4, seq=5, batch=3,
                   num_layers=2, bidirectional=True, lengths=[3, 5, 2])
        stack_case(out_dir, f"{p}_packed_batch_first_no_h0", kind, 9, 2, 3, seq=6, batch=4,
                   batch_first=True, with_h0=False, lengths=[6, 1, 4, 6])
    # Projections (LSTM only): h_t = W_hr (o * tanh(c_t)), h of size proj_size.
    stack_case(out_dir, "lstm_proj_bidir_2layer", "LSTM", 13, 3, 5, seq=4, batch=2,
               num_layers=2, bidirectional=True, proj_size=2)
    stack_case(out_dir, "lstm_proj_packed_batch_first", "LSTM", 14, 2, 4, seq=5, batch=3,
               batch_first=True, lengths=[5, 2, 4], proj_size=3)
    stack_case(out_dir, "lstm_proj_unbatched_no_h0", "LSTM", 15, 3, 3, seq=6, batch=None,
               with_h0=False, proj_size=1)
    # Every optimizer setting recur implements, reachable from metadata.
    optim_case(out_dir, "adamw_amsgrad", 16, "adamw",
               {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1,
                "amsgrad": True})
    optim_case(out_dir, "rmsprop_centered_momentum", 17, "rmsprop",
               {"lr": 1e-2, "alpha": 0.9, "eps": 1e-7, "weight_decay": 0.01, "momentum": 0.5,
                "centered": True})
    optim_case(out_dir, "rmsprop_plain", 18, "rmsprop", {"lr": 1e-2})
    optim_case(out_dir, "adam_amsgrad_wd", 19, "adam",
               {"lr": 1e-2, "weight_decay": 0.05, "amsgrad": True}, clip_max_norm=2.0)
    optim_case(out_dir, "adagrad_lr_decay", 20, "adagrad",
               {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.02, "initial_accumulator_value": 0.1,
                "eps": 1e-9})
    for kind in ("LSTMCell", "GRUCell"):
        p = kind.lower()
        cell_case(out_dir, f"{p}_batched", kind, 10, 4, 3, batch=5)
        cell_case(out_dir, f"{p}_unbatched_nobias", kind, 11, 3, 4, batch=None, bias=False)
        cell_case(out_dir, f"{p}_no_hx", kind, 12, 2, 3, batch=2, with_hx=False)


if __name__ == "__main__":
    main()
