"""The mean of two or more checkpoints of one network ("model soup", Wortsman et al.
2022): a fine-tune averaged with the model it started from keeps what the fine-tune
gained and loses less of what the start knew (weights/README.md, photo-net-v2).

    python -m chromahint.train.average_weights A.safetensors B.safetensors -o OUT.safetensors

Floating tensors are averaged in float32 and stored in the first file's dtype; integer
ones (batch-norm counters, the ab bins) are taken from the first file. The metadata says
which files were averaged.
"""

from __future__ import annotations

import argparse
import json
import pathlib

import torch
from safetensors.torch import load_file, save_file


def average(paths: list[pathlib.Path]) -> dict[str, torch.Tensor]:
    states = [load_file(str(p)) for p in paths]
    first = states[0]
    for path, state in zip(paths[1:], states[1:], strict=True):
        if state.keys() != first.keys() or any(state[k].shape != first[k].shape for k in first):
            raise SystemExit(f"{path} is not the same network as {paths[0]}")
    return {
        k: torch.stack([s[k].float() for s in states]).mean(dim=0).to(v.dtype)
        if v.is_floating_point()
        else v
        for k, v in first.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("weights", type=pathlib.Path, nargs="+")
    parser.add_argument("-o", "--out", type=pathlib.Path, required=True)
    args = parser.parse_args()
    if len(args.weights) < 2:
        parser.error("give at least two checkpoints")
    state = average(args.weights)
    meta = {"average_of": json.dumps([str(p) for p in args.weights])}
    save_file(state, str(args.out), metadata=meta)
    print(f"{args.out}: the mean of {len(args.weights)} checkpoints")


if __name__ == "__main__":
    main()
