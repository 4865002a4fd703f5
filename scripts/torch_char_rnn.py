#!/usr/bin/env python3
"""Anchor: PyTorch vanilla char-RNN on a text file; val loss (nats/char) vs steps and wall time.

Split 90/10 (train/val) like karpathy/char-rnn. One-hot input -> nn.RNN(tanh) -> Linear.
Truncated BPTT over random windows (no carried state), Adam, clip_grad_norm 5.
usage: torch_char_rnn.py FILE [hidden layers seq batch steps threads]
The PyTorch side of `char_rnn`'s tinyshakespeare comparison in docs/performance.md.
Part of recur (same license); needs torch, see scripts/README.md.
"""
import sys, time, math, torch, torch.nn as nn, torch.nn.functional as F
path = sys.argv[1]
H, L, T, B, STEPS, TH = (int(a) for a in (sys.argv[2:8] + ["256", "2", "64", "32", "2000", "1"][len(sys.argv[2:8]):]))
torch.set_num_threads(TH); torch.manual_seed(1)
text = open(path, encoding="utf-8").read()
chars = sorted(set(text)); V = len(chars); idx = {c: i for i, c in enumerate(chars)}
data = torch.tensor([idx[c] for c in text]); n = int(0.9 * len(data))
train, val = data[:n], data[n:]
rnn = nn.RNN(V, H, L); head = nn.Linear(H, V)
params = list(rnn.parameters()) + list(head.parameters())
opt = torch.optim.Adam(params, lr=2e-3)
def batch(src):
    ix = torch.randint(0, len(src) - T - 1, (B,))
    x = torch.stack([src[i:i+T] for i in ix], 1); y = torch.stack([src[i+1:i+T+1] for i in ix], 1)
    return x, y
@torch.no_grad()
def evaluate():
    # full pass over val in chunks of T with carried hidden state, batch 1
    h = torch.zeros(L, 1, H); tot = 0.0; cnt = 0
    for s in range(0, len(val) - 1, 256):
        x = val[s:s+256]; y = val[s+1:s+257]; x = x[:len(y)]
        out, h = rnn(F.one_hot(x, V).float().unsqueeze(1), h)
        tot += F.cross_entropy(head(out[:, 0]), y, reduction="sum").item(); cnt += len(y)
    return tot / cnt
t0 = time.time()
for step in range(1, STEPS + 1):
    x, y = batch(train)
    out, _ = rnn(F.one_hot(x, V).float(), torch.zeros(L, B, H))
    loss = F.cross_entropy(head(out).reshape(-1, V), y.reshape(-1))
    opt.zero_grad(); loss.backward(); nn.utils.clip_grad_norm_(params, 5.0); opt.step()
    if step % 500 == 0 or step == STEPS:
        print(f"step {step} train {loss.item():.4f} val {evaluate():.4f} nats/char  elapsed {time.time()-t0:.1f}s", flush=True)
