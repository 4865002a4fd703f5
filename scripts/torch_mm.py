#!/usr/bin/env python3
"""torch.mm throughput on square products, for comparison with `cargo bench -p recur-tensor
--bench gemm` (same sizes, f32 and f64, 1 and 2 threads). Prints median GFLOP/s.

usage: torch_mm.py   (in a venv with torch, see scripts/README.md)
"""
import time, statistics, torch

for threads in (1, 2):
    torch.set_num_threads(threads)
    for dtype in (torch.float32, torch.float64):
        for n in (64, 128, 256, 512, 1024):
            a = torch.rand(n, n, dtype=dtype) * 2 - 1
            b = torch.rand(n, n, dtype=dtype) * 2 - 1
            reps = max(3, int(2e8 / n**3))
            for _ in range(reps):
                torch.mm(a, b)
            times = []
            for _ in range(11):
                t = time.perf_counter()
                for _ in range(reps):
                    torch.mm(a, b)
                times.append((time.perf_counter() - t) / reps)
            med = statistics.median(times)
            name = "f32" if dtype == torch.float32 else "f64"
            print(f"torch.mm {name} threads={threads} n={n} GFLOP/s={2 * n**3 / med / 1e9:.1f}")
