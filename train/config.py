"""Typed training configuration: one frozen dataclass, command-line flags 1:1 with its fields."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from streamcolor.errors import InputError, is_finite_number, is_whole


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run depends on; stored in every checkpoint so a resume is the same run.

    Image sizes are in pixels; ``scale`` is the short side images are resized to before
    cropping (the training scale, which inference should match).
    """

    train_dirs: tuple[str, ...] = ("../shared/data/train/intel",)
    val_dirs: tuple[str, ...] = ("../shared/data/train/val",)
    out: str = "runs/unet"
    model: str = "unet_small"
    model_args: dict[str, Any] = field(default_factory=dict)
    pretrained: bool = False  # start the encoder from ImageNet weights (lite0_unet ...; the train extra)
    # saved generators to start from, in order: each puts in the weights it shares with --model by
    # name and shape, over the earlier ones' (streamcolor.models.transfer); e.g. L1 pre-training before cGAN
    init: tuple[str, ...] = ()
    # submodules (names as in named_modules(), e.g. encoder decoder.0) whose weights and BatchNorm
    # statistics stay as loaded: fine-tune a new head on a trunk without eroding what the trunk knows
    freeze: tuple[str, ...] = ()
    # every BatchNorm keeps its loaded running statistics (eval mode; its scale and shift still train):
    # fine-tuning a weight average without re-estimating, and so undoing, the statistics it was judged with
    freeze_bn: bool = False
    objective: str = "l1"  # l1, mse, cgan (cGAN + lambda_l1 * L1), classification, multitask
    lambda_l1: float = 100.0
    lambda_classification: float = 0.05  # multitask: weight of the bins' cross-entropy beside the rebalanced L1
    discriminator: str = "patchgan70"
    discriminator_args: dict[str, Any] = field(default_factory=dict)
    soft_labels: bool = False  # cgan: real targets U(0.7, 1.2), fake U(0, 0.3)
    label_flip: float = 0.0  # cgan: probability of swapping D's real/fake targets
    instance_noise: float = 0.0  # cgan: std of Gaussian noise on D inputs, annealed to 0
    rebalance_lambda: float = 0.5  # l1_rebalanced: Zhang's lambda, mixing the prior with uniform (1 = plain L1)
    prior_images: int = 500  # classification: images sampled to measure the ab-bin prior
    scale: int = 150
    # augmentation: each photo's short side is drawn uniformly from scale .. scale_max (0: always scale),
    # so objects are seen at more than one size, as whole frames show them at inference
    scale_max: int = 0
    crop: int = 128
    film: float = 0.0  # augmentation: probability of rendering the input L through a random old film stock
    rotate90: bool = False  # augmentation: rotate by +-90 degrees with probability 1/2 (report 002)
    batch_size: int = 16
    lr: float = 2e-4
    lr_schedule: str = "constant"  # or "cosine": lr * (1 + cos(pi * step / steps)) / 2, reaching 0 at the end
    beta1: float = 0.5
    steps: int = 2000
    max_seconds: float = 0.0  # stop earlier once this much training time has passed (0 = no limit)
    checkpoint_every: int = 200
    log_every: int = 20
    val_images: int = 64
    seed: int = 0
    threads: int = 0  # torch intra-op threads; 0 = torch's default
    workers: int = 0  # data-loading processes
    device: str = "auto"  # cpu, cuda, auto (cuda when available; mixed precision there)

    def __post_init__(self) -> None:
        """Raises InputError: a value out of its range (:data:`_RANGES`), or sizes that do not fit."""
        for name, (low, high, what) in _RANGES.items():
            value = getattr(self, name)
            kind_ok = is_whole(value) if isinstance(getattr(TrainConfig, name), int) else is_finite_number(value)
            if not kind_ok or not low <= value <= high:
                raise InputError(f"--{name.replace('_', '-')} must be {what}, got {value!r}")
        if not re.fullmatch(r"cpu|auto|cuda(:\d+)?", self.device):
            raise InputError(f"--device must be cpu, cuda, cuda:N or auto, got {self.device!r}")
        if self.scale < 1 or self.crop < 1:
            raise InputError(f"--scale and --crop must be >= 1 pixel, got {self.scale} and {self.crop}")
        if self.scale_max and self.scale_max < self.scale:
            raise InputError(f"--scale-max must be 0 or >= --scale ({self.scale}), got {self.scale_max}")
        if not 0 <= self.film <= 1:
            raise InputError(f"--film is a probability in [0, 1], got {self.film}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        data = json.loads(text)
        if isinstance(data.get("init"), str):  # checkpoints before init took several folders
            data["init"] = [data["init"]] if data["init"] else []
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


_BELOW_ONE = math.nextafter(1.0, 0.0)

#: field: (lowest, highest, as the error says it); whole numbers where the default is an int
_RANGES: dict[str, tuple[float, float, str]] = {
    "lambda_l1": (0.0, math.inf, "a finite number, 0 or more"),
    "lambda_classification": (0.0, math.inf, "a finite number, 0 or more"),
    "label_flip": (0.0, 1.0, "a probability in [0, 1]"),
    "instance_noise": (0.0, math.inf, "a finite number, 0 or more"),
    "rebalance_lambda": (0.0, 1.0, "in [0, 1] (1 = plain L1)"),
    "prior_images": (1, math.inf, "a whole number, 1 or more"),
    "scale_max": (0, math.inf, "a whole number, 0 or more"),
    "batch_size": (1, math.inf, "a whole number, 1 or more"),
    "lr": (math.ulp(0.0), math.inf, "a finite number above 0"),
    "beta1": (0.0, _BELOW_ONE, "in [0, 1)"),
    "steps": (0, math.inf, "a whole number, 0 or more"),
    "max_seconds": (0.0, math.inf, "a finite number of seconds, 0 (no limit) or more"),
    "checkpoint_every": (1, math.inf, "a whole number, 1 or more"),
    "log_every": (1, math.inf, "a whole number, 1 or more"),
    "val_images": (0, math.inf, "a whole number, 0 or more"),
    "seed": (0, 2**32 - 1, "a whole number, 0 to 2**32 - 1"),
    "threads": (0, math.inf, "a whole number, 0 (torch's default) or more"),
    "workers": (0, math.inf, "a whole number, 0 or more"),
}


def parse_args(argv: list[str] | None = None) -> tuple[TrainConfig, bool]:
    """Build a :class:`TrainConfig` from command-line flags (``--batch-size 8`` etc.).

    Returns the config and whether ``--resume`` was given.
    """
    parser = argparse.ArgumentParser(prog="python -m streamcolor.train", description="Train a colorizer.")
    defaults = TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        if isinstance(default, tuple):
            parser.add_argument(flag, nargs="+", default=list(default))
        elif isinstance(default, dict):
            parser.add_argument(flag, type=json.loads, default=default, help="JSON object")
        elif isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        else:
            parser.add_argument(flag, type=type(default), default=default)
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    args = vars(parser.parse_args(argv))
    resume = args.pop("resume")
    return TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}), resume
