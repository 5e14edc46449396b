"""Typed training configuration: one frozen dataclass, command-line flags 1:1 with its fields."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamcolor.argtypes import Parser, json_object
from streamcolor.engine import MIN_SHORT_SIDE
from streamcolor.errors import InputError, is_finite_number, is_whole


def _option(default: Any, text: str) -> Any:
    """A field that is also a flag: ``text`` is its ``--help``."""
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata={"help": text})
    return field(default=default, metadata={"help": text})


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run depends on; stored in every checkpoint so a resume is the same run.

    Image sizes are in pixels; ``scale`` is the short side images are resized to before
    cropping (the training scale, which inference should match).
    """

    train_dirs: tuple[str, ...] = _option(("../shared/data/train/intel",), "folders of colour training photos")
    val_dirs: tuple[str, ...] = _option(("../shared/data/train/val",), "folders of colour validation photos")
    out: str = _option("runs/unet", "folder of the run: checkpoint, log, final model")
    model: str = _option("unet_small", "registered architecture to train (streamcolor models lists them)")
    model_args: dict[str, Any] = _option({}, "JSON object of the model's keyword arguments, e.g. '{\"lam\": 0.5}'")
    pretrained: bool = _option(False, (
        "start the encoder from ImageNet weights (lite0_unet, lite2_unet ...; the train extra); with --init, "
        "the init's weights are laid over them"))
    init: tuple[str, ...] = _option((), (
        "saved models to start from, in order: each puts in the weights it shares with --model by name and "
        "shape, over the earlier ones' (e.g. L1 pre-training before cGAN)"))
    freeze: tuple[str, ...] = _option((), (
        "submodules (as named_modules() names them, e.g. encoder decoder.0) whose weights and BatchNorm "
        "statistics stay as loaded: a new head on a trunk, without eroding what the trunk knows"))
    freeze_bn: bool = _option(False, (
        "every BatchNorm keeps its loaded running statistics (its scale and shift still train): fine-tune a "
        "weight average without re-estimating, and so undoing, the statistics it was judged with"))
    teacher: str = _option("", (
        "a saved model (folder or shipped name) whose ab for the photo's own L replaces the photo's ab as the "
        "target (knowledge distillation): with --film the generator learns to colour a film stock's rendering as "
        "the teacher colours the photo; validation still scores against the photos"))
    objective: str = _option("l1", (
        "l1, l1_rebalanced, mse, cgan (cGAN + lambda_l1 * L1), classification, multitask, perceptual (L1 + "
        "lambda_perceptual * feature and style distances in the ImageNet encoder's early features)"))
    lambda_l1: float = _option(100.0, "cgan: weight of L1 beside the cGAN loss (report 000's lambda; 100 is "
                                          "pix2pix's value, which the report does not give)")
    lambda_classification: float = _option(0.05, "multitask: weight of the ab bins' cross-entropy beside the rebalanced L1")
    lambda_perceptual: float = _option(0.1, "perceptual: weight of the feature and style distances beside L1")
    discriminator: str = _option("patchgan70", (
        "cgan: registered discriminator (PatchGAN; a class of your own says it is one with is_discriminator = True)"))
    discriminator_args: dict[str, Any] = _option({}, "cgan: JSON object of the discriminator's keyword arguments")
    soft_labels: bool = _option(False, "cgan: real targets U(0.7, 1.2), fake U(0, 0.3)")
    label_flip: float = _option(0.0, "cgan: probability of swapping D's real/fake targets")
    instance_noise: float = _option(0.0, "cgan: std of Gaussian noise on D's inputs, annealed to 0")
    rebalance_lambda: float = _option(0.5, (
        "l1_rebalanced, multitask: Zhang et al.'s lambda mixing the ab prior with uniform in L1's pixel weights "
        "(1 = plain L1; a classifier's own is its model argument lam)"))
    prior_images: int = _option(500, "rebalancing and classifiers: training crops sampled to measure the ab-bin prior")
    scale: int = _option(150, "pixels: photos' short side before cropping (the training scale inference should match)")
    scale_max: int = _option(0, (
        "augmentation, pixels: each photo's short side drawn uniformly from --scale to this (0: always --scale), "
        "so objects are seen at more than one size, as whole frames show them"))
    crop: int = _option(128, "pixels: side of the square training crops")
    film: float = _option(0.0, "augmentation: probability of rendering the input L through a random film stock "
                                 "(streamcolor.film.STOCKS, grain and softness)")
    rotate90: bool = _option(False, "augmentation: rotate by +-90 degrees with probability 1/2 (report 002)")
    batch_size: int = _option(16, "photos per step")
    lr: float = _option(2e-4, "Adam's learning rate")
    lr_schedule: str = _option("constant", "constant, or cosine: lr * (1 + cos(pi * step / steps)) / 2, 0 at the end")
    ema: float = _option(0.0, (
        "decay of an exponential moving average of the generator's weights and BatchNorm statistics, which "
        "validation and final/ use (0: off); after n steps the decay is min(DECAY, (1 + n) / (10 + n)), so a run "
        "shorter than about 10 / (1 - DECAY) steps averages roughly its last tenth"))
    beta1: float = _option(0.5, "Adam's beta1")
    steps: int = _option(2000, "optimisation steps of the whole run")
    max_seconds: float = _option(0.0, "stop earlier once this much training time has passed (0: no limit)")
    checkpoint_every: int = _option(200, "steps between checkpoints (a resume starts from the last)")
    log_every: int = _option(20, "steps between rows of the training log")
    val_images: int = _option(64, "validation photos scored at each epoch's end and the run's (0: none)")
    seed: int = _option(0, (
        "seed of everything random in the run: the weights' initialisation, the batch order, the crops, the "
        "augmentation, the validation photos"))
    threads: int = _option(0, "torch intra-op threads (0: torch's default)")
    workers: int = _option(0, "data-loading processes")
    device: str = _option("auto", "cpu, cuda, cuda:N, or auto (cuda when available); on cuda, mixed precision")

    def __post_init__(self) -> None:
        """Raises InputError: a value out of its range (:data:`_RANGES`), or sizes that do not fit."""
        for name, (low, high, what) in _RANGES.items():
            value = getattr(self, name)
            kind_ok = is_whole(value) if isinstance(getattr(TrainConfig, name), int) else is_finite_number(value)
            if not kind_ok or not low <= value <= high:
                raise InputError(f"--{name.replace('_', '-')} must be {what}, got {value!r}")
        for name in ("model_args", "discriminator_args"):
            if not isinstance(getattr(self, name), dict) or "pretrained" in getattr(self, name):
                raise InputError(f"--{name.replace('_', '-')} must be a JSON object of the model's arguments "
                                 f"(--pretrained is a flag of its own), got {getattr(self, name)!r}")
        if not re.fullmatch(r"cpu|auto|cuda(:\d+)?", self.device):
            raise InputError(f"--device must be cpu, cuda, cuda:N or auto, got {self.device!r}")
        if self.scale < MIN_SHORT_SIDE:
            raise InputError(f"--scale must be >= {MIN_SHORT_SIDE} pixels (the smallest a model renders at), "
                             f"got {self.scale}")
        if self.scale > MAX_SCALE or self.scale_max > MAX_SCALE:
            raise InputError(f"--scale and --scale-max must be at most {MAX_SCALE} pixels (photos are made that size "
                             f"before cropping), got {max(self.scale, self.scale_max)}")
        if not 1 <= self.crop <= self.scale:
            raise InputError(f"--crop must be 1 pixel to --scale ({self.scale}): the crop is cut from the photo at "
                             f"the training scale, which inference then matches; got {self.crop}")
        if self.scale_max and self.scale_max < self.scale:
            raise InputError(f"--scale-max must be 0 or >= --scale ({self.scale}), got {self.scale_max}")
        _distinct_folders(self.train_dirs, self.val_dirs)
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


def _distinct_folders(train_dirs: tuple[str, ...], val_dirs: tuple[str, ...]) -> None:
    """Raises InputError: a folder given twice (its photos would count double), or one both
    for training and validation (validation would score photos the model learnt)."""
    for flag, dirs in (("--train-dirs", train_dirs), ("--val-dirs", val_dirs)):
        resolved = [Path(d).resolve() for d in dirs]
        twice = sorted({d for d, r in zip(dirs, resolved) if resolved.count(r) > 1})
        if twice:
            raise InputError(f"{flag} names {', '.join(twice)} twice")
    both = sorted({d for d in val_dirs if Path(d).resolve() in {Path(t).resolve() for t in train_dirs}})
    if both:
        raise InputError(f"{', '.join(both)} is in both --train-dirs and --val-dirs: validation would score "
                         "photos the model was trained on")


_BELOW_ONE = math.nextafter(1.0, 0.0)
#: pixels: the largest --scale (a 4K frame's short side)
MAX_SCALE = 2160

#: field: (lowest, highest, as the error says it); whole numbers where the default is an int
_RANGES: dict[str, tuple[float, float, str]] = {
    "lambda_l1": (0.0, math.inf, "a finite number, 0 or more"),
    "lambda_classification": (0.0, math.inf, "a finite number, 0 or more"),
    "lambda_perceptual": (0.0, math.inf, "a finite number, 0 or more"),
    "label_flip": (0.0, 1.0, "a probability in [0, 1]"),
    "instance_noise": (0.0, math.inf, "a finite number, 0 or more"),
    "rebalance_lambda": (0.0, 1.0, "in [0, 1] (1 = plain L1)"),
    "prior_images": (1, math.inf, "a whole number, 1 or more"),
    "scale_max": (0, math.inf, "a whole number, 0 or more"),
    "batch_size": (1, math.inf, "a whole number, 1 or more"),
    "lr": (math.ulp(0.0), math.inf, "a finite number above 0"),
    "beta1": (0.0, _BELOW_ONE, "in [0, 1)"),
    "ema": (0.0, _BELOW_ONE, "in [0, 1) (0 = off)"),
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
    parser = Parser(prog="python -m streamcolor.train", description="Train a colorizer.",
                    formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    defaults = TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        flag, default, text = "--" + f.name.replace("_", "-"), getattr(defaults, f.name), f.metadata["help"]
        if isinstance(default, tuple):
            parser.add_argument(flag, nargs="+", default=list(default), help=text)
        elif isinstance(default, dict):
            parser.add_argument(flag, type=json_object, default=default, help=text)
        elif isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=text)
        else:
            parser.add_argument(flag, type=type(default), default=default, help=text)
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    args = vars(parser.parse_args(argv))
    resume = args.pop("resume")
    return TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}), resume
