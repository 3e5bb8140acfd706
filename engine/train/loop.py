"""A training run bounded by wall-clock time: checkpoints with validation every few minutes,
a warm-up, and a cosine learning rate over the planned length (kept across --resume)."""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import time
from collections.abc import Callable
from typing import IO

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

WARMUP_STEPS = 150
LOG_EVERY = 25


class WallClockRun:
    """meta holds the run's progress across sessions: step, elapsed_s, plan_s."""

    def __init__(
        self, meta: dict, minutes: float, ckpt_minutes: float, max_steps: int | None = None
    ) -> None:
        self.meta = meta
        self.minutes, self.ckpt_minutes, self.max_steps = minutes, ckpt_minutes, max_steps
        self.start = self.last_ckpt = time.time()
        self.start_step = meta["step"]
        self.running: list[float] = []

    def due(self) -> tuple[bool, bool]:
        """(time for a checkpoint, the run is over: checkpoint then stop)."""
        now = time.time()
        done = now - self.start >= 60 * self.minutes or (
            self.max_steps is not None and self.meta["step"] - self.start_step >= self.max_steps
        )
        return done or now - self.last_ckpt >= 60 * self.ckpt_minutes, done

    def checkpoint_if_due(
        self,
        net: torch.nn.Module,
        path: pathlib.Path,
        validate: Callable[[torch.nn.Module], dict],
        log: IO[str],
    ) -> bool:
        """When due: validate `net` (in eval mode), log a record (stdout and log.jsonl) and
        save it with meta up to date. True when the run is over."""
        due, done = self.due()
        if not due:
            return False
        now = time.time()
        self.meta["elapsed_s"] += now - self.last_ckpt
        self.last_ckpt = now
        net.eval()
        scores = validate(net)
        record = {**self.meta, "val_psnr": scores, "loss": float(np.mean(self.running or [0]))}
        print(json.dumps(record), flush=True)
        log.write(json.dumps(record) + "\n")
        log.flush()
        save_checkpoint(path, net, self.meta)
        self.running = []
        return done

    def lr_scale(self) -> float:
        elapsed = self.meta["elapsed_s"] + time.time() - self.last_ckpt
        progress = min(elapsed / self.meta["plan_s"], 1.0)
        warm = min(1.0, (self.meta["step"] - self.start_step + 1) / WARMUP_STEPS)
        return warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))

    def step(self, loss: float, details: str) -> None:
        self.meta["step"] += 1
        self.running.append(loss)
        if self.meta["step"] % LOG_EVERY == 0:
            rate = (self.meta["step"] - self.start_step) / (time.time() - self.start)
            mean = np.mean(self.running[-LOG_EVERY:])
            print(f"step {self.meta['step']} loss {mean:.3f} {details} {rate:.2f} it/s", flush=True)


def set_lrs(opt: torch.optim.Optimizer, base_lrs: list[float], scale: float) -> None:
    for group, lr in zip(opt.param_groups, base_lrs, strict=True):
        group["lr"] = lr * scale


def log_file(out: pathlib.Path) -> IO[str]:
    out.mkdir(parents=True, exist_ok=True)
    return (out / "log.jsonl").open("a")


def add_run_arguments(
    parser: argparse.ArgumentParser, out: str, ckpt_minutes: float, val_images: int, threads: int
) -> None:
    """The options every photo training run has (data, budget, batches, checkpoints)."""
    from chromahint.train.data import default_data_dir

    parser.add_argument("--data", type=pathlib.Path, default=default_data_dir())
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path(out))
    parser.add_argument("--minutes", type=float, default=60.0, help="wall-clock budget")
    parser.add_argument(
        "--plan-minutes",
        type=float,
        default=None,
        help="length of the LR schedule (default: --minutes; kept on resume)",
    )
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.safetensors")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=128, help="crop side, a multiple of 32")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--ckpt-minutes", type=float, default=ckpt_minutes)
    parser.add_argument("--val-images", type=int, default=val_images)
    parser.add_argument("--threads", type=int, default=threads)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=None)


def load_checkpoint(path: pathlib.Path) -> tuple[dict[str, torch.Tensor], dict]:
    """A checkpoint's fp32 state and its training metadata (step, elapsed_s, plan_s)."""
    state = load_file(str(path))
    with safe_open(str(path), "pt") as f:
        meta = json.loads(f.metadata()["train"])
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}, meta


def save_checkpoint(path: pathlib.Path, net: torch.nn.Module, meta: dict) -> None:
    state = {
        k: (v.half() if v.is_floating_point() and k != "bins" else v).contiguous()
        for k, v in net.state_dict().items()
    }
    tmp = path.with_suffix(".tmp")
    save_file(state, str(tmp), metadata={"train": json.dumps(meta)})
    tmp.replace(path)
