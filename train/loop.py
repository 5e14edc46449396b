"""The training loop: L1 or cGAN + lambda * L1, Adam, checkpoints with exact resume."""

from __future__ import annotations

import csv
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from streamcolor.errors import InputError
from streamcolor.models import create_model, from_pretrained, save_pretrained
from streamcolor.train.checkpoint import load_checkpoint, save_checkpoint
from streamcolor.train.config import TrainConfig
from streamcolor.train.datasets import ColorizationDataset, list_images
from streamcolor.train.evaluate import validate
from streamcolor.train.objectives import GANLoss, l1

CHECKPOINT = "checkpoint.safetensors"


class Trainer:
    """One training run in ``config.out``: ``losses.csv``, ``val.csv``, ``grid_epochNNN.png``,
    ``checkpoint.safetensors`` (+ ``.json``) and, at the end, ``final/`` (save_pretrained)."""

    def __init__(self, config: TrainConfig) -> None:
        if config.objective not in ("l1", "cgan"):
            raise InputError(f"objective must be 'l1' or 'cgan', got {config.objective!r}")
        if config.threads:
            torch.set_num_threads(config.threads)
        self.config = config
        self.out = Path(config.out)
        torch.manual_seed(config.seed)
        self.generator = create_model(config.model, **config.model_args)
        if config.init:
            self.generator.load_state_dict(from_pretrained(config.init).state_dict())
        self.models: dict[str, nn.Module] = {"G": self.generator}
        betas = (config.beta1, 0.999)
        self.optimizers = {"G": torch.optim.Adam(self.generator.parameters(), lr=config.lr, betas=betas)}
        if config.objective == "cgan":
            self.models["D"] = create_model(config.discriminator)
            self.optimizers["D"] = torch.optim.Adam(self.models["D"].parameters(), lr=config.lr, betas=betas)
            self.gan_loss = GANLoss()
        self.data = ColorizationDataset(config.train_dirs, config.scale, config.crop, config.seed)
        self.val_files = self._val_subset(list_images(config.val_dirs))
        self.step = 0
        self.started = time.time()
        self.elapsed_before = 0.0

    def _val_subset(self, files: list[Path]) -> list[Path]:
        rng = np.random.default_rng(self.config.seed)
        return [files[i] for i in sorted(rng.permutation(len(files))[: self.config.val_images])]

    @property
    def steps_per_epoch(self) -> int:
        return len(self.data) // self.config.batch_size

    def resume(self) -> None:
        """Load the last checkpoint of this run. The config must be the run's own, except
        ``steps``, which may be raised to train the same run longer."""
        path = self.out / CHECKPOINT
        if not path.is_file():
            raise InputError(f"nothing to resume: no {CHECKPOINT} in {str(self.out)!r}")
        meta = load_checkpoint(path, self.models, self.optimizers)
        saved = TrainConfig.from_json(meta["config"])
        if dataclasses.replace(saved, steps=self.config.steps) != self.config:
            raise InputError(f"--resume: the flags differ from the run in {str(self.out)!r}; use the same ones")
        self.step = meta["step"]
        self.elapsed_before = meta["elapsed_s"]

    def _batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, pos = divmod(step, self.steps_per_epoch)
        self.data.epoch = epoch
        order = torch.randperm(len(self.data), generator=torch.Generator().manual_seed(self.config.seed + epoch))
        idx = order[pos * self.config.batch_size : (pos + 1) * self.config.batch_size].tolist()
        L, ab = zip(*(self.data[i] for i in idx))
        return torch.stack(L), torch.stack(ab)

    def train_step(self, L: torch.Tensor, ab: torch.Tensor) -> dict[str, float]:
        """One optimisation step; returns the losses."""
        fake = self.generator(L)
        losses = {}
        if self.config.objective == "cgan":
            D, opt_D = self.models["D"], self.optimizers["D"]
            opt_D.zero_grad()
            loss_D = 0.5 * (self.gan_loss(D(torch.cat([L, fake.detach()], 1)), False)
                            + self.gan_loss(D(torch.cat([L, ab], 1)), True))
            loss_D.backward()
            opt_D.step()
            losses["D"] = loss_D.item()
        opt_G = self.optimizers["G"]
        opt_G.zero_grad()
        loss_l1 = l1(fake, ab)
        loss_G = loss_l1 if self.config.objective == "l1" else (
            self.gan_loss(self.models["D"](torch.cat([L, fake], 1)), True) + self.config.lambda_l1 * loss_l1)
        loss_G.backward()
        opt_G.step()
        return {"G": loss_G.item(), "L1": loss_l1.item(), **losses}

    def _checkpoint(self) -> None:
        elapsed = self.elapsed_before + time.time() - self.started
        save_checkpoint(self.out / CHECKPOINT, self.models, self.optimizers,
                        {"config": self.config.to_json(), "step": self.step, "elapsed_s": elapsed})

    def _end_of_epoch(self, epoch: int) -> None:
        scores = validate(self.generator, self.val_files, self.config.scale, self.out / f"grid_epoch{epoch:03d}.png")
        _append_csv(self.out / "val.csv", {"step": self.step, "epoch": epoch, **scores})
        tqdm.write(f"epoch {epoch}: val PSNR {scores['val_psnr']:.2f} dB (grey {scores['val_psnr_grey']:.2f})")

    def fit(self) -> Path:
        """Train to ``config.steps``; returns the folder of the final generator."""
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.json").write_text(self.config.to_json() + "\n")
        self.generator.train()
        bar = tqdm(total=self.config.steps, initial=self.step, desc="train", unit="step")
        while self.step < self.config.steps:
            losses = self.train_step(*self._batch(self.step))
            self.step += 1
            bar.update()
            if self.step % self.config.log_every == 0:
                bar.set_postfix({k: f"{v:.4f}" for k, v in losses.items()})
                _append_csv(self.out / "losses.csv", {"step": self.step, **losses})
            if self.step % self.steps_per_epoch == 0:
                self._end_of_epoch(self.step // self.steps_per_epoch)
            if self.step % self.config.checkpoint_every == 0 or self.step == self.config.steps:
                self._checkpoint()
        bar.close()
        scores = validate(self.generator, self.val_files, self.config.scale, self.out / "grid_final.png")
        elapsed = self.elapsed_before + time.time() - self.started
        return save_pretrained(self.generator.eval(), self.out / "final", inference_short_side=self.config.scale,
                               train_config=self.config.to_json(), train_steps=self.step,
                               train_wall_s=round(elapsed), **scores)


def _append_csv(path: Path, row: dict) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)
