"""The training loop: an objective, Adam, checkpoints with exact resume, per-epoch validation."""

from __future__ import annotations

import contextlib
import copy
import csv
import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader
from tqdm import tqdm

from streamcolor.backends.base import predict_ab
from streamcolor.color import AB_SCALE
from streamcolor.errors import InputError, ModelArgumentsError, StreamcolorError
from streamcolor.images import list_images, read_rgb
from streamcolor.models import create_model, save_pretrained
from streamcolor.models.io import from_pretrained, load_weights, read_config
from streamcolor.models.transfer import transfer_state
from streamcolor.models.zhang import hard_encode
from streamcolor.train.checkpoint import load_checkpoint, read_metadata, save_checkpoint
from streamcolor.train.config import TrainConfig
from streamcolor.train.datasets import ColorizationDataset, RunSampler
from streamcolor.train.objectives import build_objective
from streamcolor.plots import plot_losses
from streamcolor.train.validation import validate

CHECKPOINT = "checkpoint.safetensors"
#: flags that may differ on --resume: how long and how the run is driven, not what it computes
RESUMABLE_CHANGES = ("steps", "max_seconds", "out", "threads", "workers", "checkpoint_every", "log_every")


def learning_rate(config: TrainConfig, step: int) -> float:
    """The learning rate of training step ``step`` (0-based) under ``config.lr_schedule``.

    Raises:
        InputError: an unknown schedule.
    """
    if config.lr_schedule == "constant":
        return config.lr
    if config.lr_schedule == "cosine":
        return config.lr * (1 + math.cos(math.pi * min(step / max(config.steps, 1), 1.0))) / 2
    raise InputError(f"unknown --lr-schedule {config.lr_schedule!r}; use constant or cosine")


def _device(name: str) -> torch.device:
    """Raises InputError: a CUDA device this machine or this torch build does not have."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise InputError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s) that "
                         f"torch {torch.__version__} can use")
    return device


def freeze(model: torch.nn.Module, names: tuple[str, ...]) -> list[torch.nn.Module]:
    """Stop training the submodules ``names`` of ``model`` (their parameters get no gradient;
    the caller keeps them in eval mode so BatchNorm statistics stay too). Returns those modules.

    Raises:
        InputError: a name that is not a submodule of ``model``.
    """
    modules = dict(model.named_modules())
    unknown = [name for name in names if not name or name not in modules]
    if unknown:
        tops = ", ".join(name for name, _ in model.named_children())
        raise InputError(f"--freeze: no submodule {', '.join(map(repr, unknown))} in this model (its parts: {tops}; "
                         f"inner ones by dotted name, e.g. decoder.0)")
    for name in names:
        modules[name].requires_grad_(False)
    return [modules[name] for name in names]


def _dry_run(model: nn.Module, channels: int, config: TrainConfig, flag: str, args: dict) -> None:
    """One training-mode pass of two crops through a copy of ``model``, so that arguments it
    cannot run with on ``--crop`` fail now, in one line, and not at the first step.

    Raises:
        InputError: the pass fails.
    """
    x = torch.zeros(2, channels, config.crop, config.crop)
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):  # dropout's draws: a seeded run stays the same
            copy.deepcopy(model).cpu().train()(x)
    except (RuntimeError, ValueError, cv2.error) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{flag} {getattr(model, 'architecture', '')} with {json.dumps(args)} cannot run on "
                         f"{config.crop} px crops: {first}") from exc


def _same_encoder(generator: nn.Module, configs: list[dict]) -> None:
    """Refuse an ``--init`` built on another pretrained encoder: its blocks share names and
    shapes with this one's at other depths, so a transfer by name would mix them silently.

    Raises:
        InputError: an init whose encoder differs from ``generator``'s.
    """
    ours = getattr(generator, "encoder_name", None)
    for config in configs:
        theirs = config["model_args"].get("encoder", "lite0" if config["architecture"].startswith("lite0") else None)
        if ours is not None and theirs is not None and theirs != ours:
            raise InputError(f"{config.get('name', config['architecture'])} is built on the {theirs} encoder, "
                             f"this model on {ours}: their blocks do not correspond")


def batchnorms(model: torch.nn.Module) -> list[torch.nn.Module]:
    """Every BatchNorm layer of ``model`` (held in eval mode by ``--freeze-bn``)."""
    return [module for module in model.modules() if isinstance(module, torch.nn.modules.batchnorm._BatchNorm)]


class Trainer:
    """One training run in ``config.out``: ``losses.csv`` and ``losses.png``, ``val.csv``,
    ``grid_epochNNN.png`` (grey | generated | truth), ``checkpoint.safetensors`` (+ ``.json``)
    and, at the end, ``final/`` (a saved model for ``--model``).

    Raises:
        InputError: bad objective/model pairing, empty image folders, an unknown --lr-schedule,
            --model-args or --discriminator-args the model does not take, a --teacher or --init that
            is no saved model (or a teacher that needs hints), a discriminator as --model, a CUDA
            --device this machine lacks, a --batch-size above the number of training photos.
    """

    def __init__(self, config: TrainConfig) -> None:
        learning_rate(config, 0)  # an unknown schedule fails now, not after the model and data are built
        if config.threads:
            torch.set_num_threads(config.threads)
        self.config = config
        self.out = Path(config.out)
        self.device = _device(config.device)
        torch.manual_seed(config.seed)
        try:
            generator = create_model(config.model, pretrained=config.pretrained, **config.model_args)
        except ModelArgumentsError as exc:
            raise InputError(f"--model-args: {exc}") from exc
        if getattr(generator, "is_discriminator", False):
            raise InputError(f"--model {config.model!r} is a discriminator; give it as --discriminator "
                             f"with --objective cgan")
        if getattr(generator, "needs_pretrained", False) and not (config.pretrained or config.init):
            raise InputError(f"--model {config.model} keeps its ImageNet network frozen: give --pretrained "
                             "(or --init a trained one), or it trains against random features")
        if config.init:
            try:
                weights = [load_weights(path) for path in config.init]
                _same_encoder(generator, [read_config(path) for path in config.init])
            except StreamcolorError as exc:
                raise InputError(f"--init: {exc}") from exc
            state, fresh = transfer_state(generator, *weights)
            generator.load_state_dict(state)
            if fresh:
                tqdm.write(f"init: {len(fresh)} tensors keep their initialisation: {', '.join(fresh)}")
        _dry_run(generator, 1 + getattr(generator, "hint_channels", 0), config, "--model", config.model_args)
        self.frozen = freeze(generator, config.freeze) + (batchnorms(generator) if config.freeze_bn else [])
        self.objective = build_objective(generator.to(self.device), config)
        if "D" in self.objective.models:
            _dry_run(self.objective.models["D"], 3, config, "--discriminator", config.discriminator_args)
        for model in self.objective.models.values():
            model.to(self.device)
        self.generator = generator
        # its buffers too: the BatchNorm statistics must match the averaged weights
        self.ema = AveragedModel(generator, multi_avg_fn=ema_update(config.ema), use_buffers=True) if config.ema else None
        self.teacher = _teacher(config.teacher, self.device) if config.teacher else None
        self.data = ColorizationDataset(config.train_dirs, config.scale, config.crop, config.seed, config.rotate90,
                                        config.film, config.scale_max, photo_L=self.teacher is not None)
        if len(self.data) < config.batch_size:
            raise InputError(f"--batch-size {config.batch_size} is more than the {len(self.data)} training photos")
        self.val_files = self._val_subset(list_images(config.val_dirs))
        self.step = 0
        self.elapsed_before = 0.0

    def _val_subset(self, files: list[Path]) -> list[Path]:
        """``--val-images`` of ``files`` drawn by the seed, each read now: a damaged one is
        passed over with a warning here, not found at the end of the first epoch.

        Raises:
            InputError: none of them can be read.
        """
        rng = np.random.default_rng(self.config.seed)
        chosen = [files[i] for i in sorted(rng.permutation(len(files))[: self.config.val_images])]
        readable = []
        for path in chosen:
            try:
                read_rgb(path)
                readable.append(path)
            except InputError as exc:
                tqdm.write(f"validation: {path} passed over ({exc})")
        if chosen and not readable:
            raise InputError(f"none of the {len(chosen)} validation photos drawn from --val-dirs can be read")
        return readable

    @property
    def models(self) -> dict[str, nn.Module]:
        """What a checkpoint holds: the objective's networks, and the moving average if any."""
        return {**self.objective.models, **({"EMA": self.ema} if self.ema is not None else {})}

    @property
    def generators(self) -> dict[str, torch.Generator]:
        """The run's own random generators, which a checkpoint holds besides torch's global one."""
        return {"hints": self.objective.hint_rng}

    @property
    def result(self) -> nn.Module:
        """The generator that validation scores and ``final/`` stores: the moving average with
        ``--ema``, else the trained weights."""
        return self.ema.module if self.ema is not None and self.ema.n_averaged > 0 else self.generator

    @property
    def steps_per_epoch(self) -> int:
        return len(self.data) // self.config.batch_size

    def resume(self) -> None:
        """Load the last checkpoint of this run. The config must be the run's own, except
        :data:`RESUMABLE_CHANGES` (``steps`` may be raised to train the same run longer,
        ``max_seconds`` to give it more time).

        Raises:
            InputError: no checkpoint, different flags, or ``steps`` below the checkpoint's.
        """
        path = self.out / CHECKPOINT
        if not path.is_file():
            raise InputError(f"nothing to resume: no {CHECKPOINT} in {str(self.out)!r}")
        # the flags first: other flags can mean other networks in the checkpoint (--ema, --objective)
        meta = read_metadata(path)
        saved = TrainConfig.from_json(meta["config"])
        differ = [f"--{f.name.replace('_', '-')} {_as_typed(getattr(saved, f.name))}" for f in dataclasses.fields(saved)
                  if f.name not in RESUMABLE_CHANGES and getattr(saved, f.name) != getattr(self.config, f.name)]
        if differ:
            raise InputError(f"--resume: the run in {str(self.out)!r} was started with {', '.join(differ)}; "
                             f"give the same")
        if meta["step"] > self.config.steps:
            raise InputError(f"--steps {self.config.steps} is below the {meta['step']} steps the run has done")
        meta = load_checkpoint(path, self.models, self.objective.optimizers, self.generators)
        self.step = meta["step"]
        self.elapsed_before = meta["elapsed_s"]

    def _measure_prior(self) -> None:
        """Classification models and the rebalanced objective: ab-bin frequencies of
        ``prior_images`` training crops (a classification model keeps its prior in its weights,
        so only a new run measures it; the objective's is measured again on resume)."""
        if hasattr(self.objective, "set_prior"):
            self.objective.set_prior(self._bin_counts(self.objective.centres))
        if hasattr(self.generator, "set_prior") and self.step == 0:
            self.generator.set_prior(self._bin_counts(self.generator.centres.cpu()))

    def _bin_counts(self, centres: torch.Tensor) -> torch.Tensor:
        counts = torch.zeros(len(centres))
        step = max(1, len(self.data) // self.config.prior_images)
        for index in range(0, len(self.data), step):
            ab = self.data[(0, index)][1]
            ab_small = torch.nn.functional.avg_pool2d(ab[None], 4) * AB_SCALE
            counts += torch.bincount(hard_encode(ab_small, centres).flatten(), minlength=len(centres))
        return counts

    def _checkpoint(self, started: float) -> None:
        save_checkpoint(self.out / CHECKPOINT, self.models, self.objective.optimizers,
                        {"config": self.config.to_json(), "step": self.step,
                         "elapsed_s": self.elapsed_before + time.time() - started}, self.generators)

    def _end_of_epoch(self, epoch: int) -> None:
        if not self.val_files:  # --val-images 0
            return
        scores = validate(self.result, self.val_files, self.config.scale, self.out / f"grid_epoch{epoch:03d}.png")
        _append_csv(self.out / "val.csv", {"step": self.step, "epoch": epoch, **scores})
        tqdm.write(f"epoch {epoch}: val PSNR {scores['val_psnr']:.2f} dB (grey {scores['val_psnr_grey']:.2f})")

    def _loader(self) -> DataLoader:
        sampler = RunSampler(len(self.data), self.config.batch_size, self.config.seed, self.step, self.config.steps)
        # its own generator: creating a loader must not draw from the global RNG (exact resume)
        return DataLoader(self.data, batch_sampler=sampler, num_workers=self.config.workers,
                          pin_memory=self.device.type == "cuda", generator=torch.Generator().manual_seed(0))

    @torch.no_grad()
    def _teach(self, photo_L: torch.Tensor) -> torch.Tensor:
        """The teacher's scaled ab ``(N, 2, H, W)`` for the photos' own L ``(N, 1, H, W)``."""
        return predict_ab(self.teacher, photo_L.to(self.device), self.teacher.multiple).float()

    def fit(self) -> Path:
        """Train to ``config.steps``; returns the folder of the final generator.

        Raises:
            InputError: ``config.out`` cannot be made or written.
        """
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(self.config.to_json() + "\n")
        except OSError as exc:
            raise InputError(f"--out {str(self.out)!r}: cannot write the run there ({exc.strerror})") from exc
        for log in ("losses.csv", "val.csv"):
            _keep_rows_to(self.out / log, self.step)
        self._measure_prior()
        started = time.time()
        for model in self.objective.models.values():
            model.train()
        for module in self.frozen:
            module.eval()
        amp = torch.autocast("cuda", dtype=torch.bfloat16) if self.device.type == "cuda" else contextlib.nullcontext()
        with tqdm(total=self.config.steps, initial=self.step, desc="train", unit="step") as bar:  # closed on Ctrl-C too
            for L, ab, *photo_L in self._loader():
                if self.teacher is not None:
                    ab = self._teach(photo_L[0])
                for optimizer in self.objective.optimizers.values():
                    for group in optimizer.param_groups:
                        group["lr"] = learning_rate(self.config, self.step)
                with amp:
                    losses = self.objective.step(L.to(self.device, non_blocking=True),
                                                 ab.to(self.device, non_blocking=True), self.step / self.config.steps)
                if self.ema is not None:
                    self.ema.update_parameters(self.generator)
                self.step += 1
                bar.update()
                if self.step % self.config.log_every == 0:
                    bar.set_postfix({k: f"{v:.4f}" for k, v in losses.items()})
                    _append_csv(self.out / "losses.csv", {"step": self.step, **losses})
                if self.step % self.steps_per_epoch == 0:
                    self._end_of_epoch(self.step // self.steps_per_epoch)
                out_of_time = 0 < self.config.max_seconds <= self.elapsed_before + time.time() - started
                if self.step % self.config.checkpoint_every == 0 or self.step == self.config.steps or out_of_time:
                    self._checkpoint(started)
                if out_of_time:
                    if self.step < self.config.steps:
                        tqdm.write(f"stopped by --max-seconds at step {self.step} of {self.config.steps}: --resume "
                                   f"with a larger --max-seconds continues the run")
                    break
        if (self.out / "losses.csv").exists():
            plot_losses(self.out / "losses.csv", self.out / "losses.png")
        scores = (validate(self.result, self.val_files, self.config.scale, self.out / "grid_final.png")
                  if self.val_files else {})
        elapsed = self.elapsed_before + time.time() - started
        return save_pretrained(self.result.eval(), self.out / "final", inference_short_side=self.config.scale,
                               train_config=self.config.to_json(), train_steps=self.step,
                               train_wall_s=round(elapsed), **scores)


def _teacher(name: str, device: torch.device) -> nn.Module:
    """The saved model ``--teacher`` names, frozen on ``device``.

    Raises:
        InputError: no such model, or one that needs colour hints besides L.
    """
    try:
        teacher = from_pretrained(name)
    except StreamcolorError as exc:
        raise InputError(f"--teacher: {exc}") from exc
    if teacher.hint_channels:
        raise InputError(f"--teacher {name!r} needs colour hints; a teacher sees L alone")
    return teacher.requires_grad_(False).to(device)


def ema_update(decay: float) -> Callable[[list[torch.Tensor], list[torch.Tensor], torch.Tensor], None]:
    """``multi_avg_fn`` of :class:`torch.optim.swa_utils.AveragedModel` for ``--ema``: each float
    tensor becomes ``d * average + (1 - d) * current`` with ``d = min(decay, (1 + n) / (10 + n))``
    after ``n`` updates (TensorFlow's ExponentialMovingAverage warm-up, so that a short run is not
    an average of its first steps); integer buffers (BatchNorm's batch count, Koalarization's
    ``keep_index``) are copied, which torch's own EMA would round."""
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], updates: torch.Tensor) -> None:
        weight = 1 - min(decay, (1 + float(updates)) / (10 + float(updates)))
        for mean, now in zip(averaged, current):
            if mean.is_floating_point():
                mean.lerp_(now, weight)
            else:
                mean.copy_(now)
    return update


def _as_typed(value: object) -> str:
    """A flag's value as it is typed on the command line (folders apart, a dict as JSON)."""
    if isinstance(value, tuple):
        return " ".join(map(str, value))
    return json.dumps(value) if isinstance(value, dict) else str(value)


def _keep_rows_to(path: Path, step: int) -> None:
    """Drop the rows of the log ``path`` after ``step``: those of steps a resume does again, or
    of an earlier start of a run that never reached its first checkpoint (``step`` 0)."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    kept = [row for row in rows if int(row["step"]) <= step]
    if not kept:
        path.unlink()
    elif len(kept) < len(rows):
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(kept[0]))
            writer.writeheader()
            writer.writerows(kept)


def _append_csv(path: Path, row: dict) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)
