"""Loads the model that `05_checkpoint` saved into PyTorch, strictly by name, and compares its
output with the one recur computed on the same input.

Usage: load_in_torch.py [DIR]  (DIR as given to 05_checkpoint; default: recur-downstream-05
in the temp dir). Needs torch and safetensors (see ../README.md).
"""

import os
import sys
import tempfile

import torch
from safetensors.torch import load_file


class Model(torch.nn.Module):
    """The same attributes as the Rust struct: `lstm` and `head`."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 8, num_layers=2)
        self.head = torch.nn.Linear(8, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out)


def main():
    default = os.path.join(tempfile.gettempdir(), "recur-downstream-05")
    d = sys.argv[1] if len(sys.argv) > 1 else default
    model = Model()
    model.load_state_dict(load_file(os.path.join(d, "model.safetensors")), strict=True)
    io = load_file(os.path.join(d, "io.safetensors"))
    with torch.no_grad():
        y = model(io["x"])
    err = (y - io["y"]).abs().max().item()
    print(f"torch {torch.__version__}: loaded {len(model.state_dict())} tensors by name; "
          f"max |torch - recur| = {err:.1e} over {y.numel()} outputs")
    assert err < 1e-5, err


if __name__ == "__main__":
    main()
