#!/usr/bin/env python3
"""Anchor: PyTorch CPU train step and sampling for the char-RNN benchmark configs.

Model: one-hot(vocab) -> nn.RNN(vocab, hidden, layers, tanh) (or nn.LSTM / nn.GRU with
--cell) -> Linear(hidden, vocab) -> cross-entropy (mean over T*B), backward, clip, optimizer
step. Prints one line per config:
  config threads ms_per_step gflops samp_us_per_char
usage: torch_rnn_bench.py [tiny|small|large]... [--cell rnn|lstm|gru] [--threads 1[,2]]
With --cell lstm|gru the config name is prefixed (`lstm-small`), and GFLOP/s counts the gates
(4 for LSTM, 3 for GRU) times the RNN's products.
The PyTorch side of `cargo run --release --example rnn_bench` (same configs, same step).
Part of recur (same license); needs torch, see scripts/README.md.
"""
import sys, time, statistics, torch, torch.nn as nn, torch.nn.functional as F

CONFIGS = {  # name: (vocab, hidden, layers, seq, batch, optimizer)
    "tiny":  (65, 100, 1, 25, 1, "adagrad"),   # min-char-rnn
    "small": (65, 128, 2, 50, 50, "adam"),     # char-rnn defaults
    "large": (65, 512, 2, 100, 32, "adam"),    # char-rnn rnn_size 512
}

GATES = {"rnn": 1, "lstm": 4, "gru": 3}

def flops(V, H, L, T, B, cell="rnn"):
    f = 0
    for l in range(L):
        i = V if l == 0 else H
        f += 2 * T * B * GATES[cell] * H * (i + H)
    f += 2 * T * B * H * V
    return 3 * f  # forward + ~2x backward

def run(name, threads, steps, cell="rnn"):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    V, H, L, T, B, opt = CONFIGS[name]
    rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](V, H, L); head = nn.Linear(H, V)
    params = list(rnn.parameters()) + list(head.parameters())
    o = torch.optim.Adagrad(params, lr=0.1) if opt == "adagrad" else torch.optim.Adam(params, lr=2e-3)
    x = torch.randint(0, V, (T, B)); y = torch.randint(0, V, (T, B))
    h0 = torch.zeros(L, B, H)
    if cell == "lstm": h0 = (h0, torch.zeros(L, B, H))
    def step():
        o.zero_grad(set_to_none=True)
        out, hn = rnn(F.one_hot(x, V).float(), h0)
        loss = F.cross_entropy(head(out).reshape(T * B, V), y.reshape(T * B))
        loss.backward()
        nn.utils.clip_grad_norm_(params, 5.0)
        o.step()
    for _ in range(3): step()
    ts = []
    for _ in range(steps):
        t = time.perf_counter(); step(); ts.append(time.perf_counter() - t)
    ms = statistics.median(ts) * 1e3
    # sampling: batch 1, one char at a time, 200 chars
    with torch.no_grad():
        h = torch.zeros(L, 1, H); c = torch.tensor([[0]])
        if cell == "lstm": h = (h, torch.zeros(L, 1, H))
        t = time.perf_counter(); n = 200
        for _ in range(n):
            out, h = rnn(F.one_hot(c, V).float(), h)
            p = torch.softmax(head(out[-1]), -1)
            c = torch.multinomial(p, 1)
        us = (time.perf_counter() - t) / n * 1e6
    label = name if cell == "rnn" else f"{cell}-{name}"
    print(f"{label} threads={threads} ms/step={ms:.3f} GFLOP/s={flops(V,H,L,T,B,cell)/ms/1e6:.1f} sample_us/char={us:.1f}", flush=True)

if __name__ == "__main__":
    args, names, cell, threads = sys.argv[1:], [], "rnn", (1, 2)
    while args:
        a = args.pop(0)
        if a == "--cell": cell = args.pop(0)
        elif a == "--threads": threads = tuple(int(t) for t in args.pop(0).split(","))
        else: names.append(a)
    for th in threads:
        for n in names or list(CONFIGS):
            run(n, th, steps=30 if n != "tiny" else 200, cell=cell)
