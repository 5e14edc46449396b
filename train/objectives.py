"""Training objectives. Each owns the networks and optimizers it trains and makes one
optimisation step per batch; :data:`OBJECTIVES` maps the ``--objective`` names to them.

- ``l1`` / ``mse``: regression on scaled ab.
- ``cgan``: pix2pix, discriminator step then generator step, loss cGAN + λ·L1 (λ = 100),
  with the reports' tricks as options: soft labels (real 0.7-1.2, fake 0.0-0.3), label
  flips with probability p, Gaussian instance noise on D's inputs annealed to 0.
- ``l1_rebalanced``: L1 with each pixel weighted by Zhang et al.'s class-rebalancing weight of
  its true colour's ab bin, so rare saturated colours count as much as the common browns that
  plain L1 averages everything into.
- ``classification``: cross-entropy over ab bins with class rebalancing (Zhang et al. 2016).
- ``multitask``: a two-head model's regression (rebalanced L1) and bin classifier (rebalanced
  cross-entropy, weight ``lambda_classification``) trained together, so the shared trunk learns
  from both.
- ``perceptual``: L1 plus ``lambda_perceptual`` times feature and style (Gram matrix) distances
  of the predicted and the true colour image in the frozen ImageNet EfficientNet-Lite0's early
  features (Johnson et al. 2016; DeOldify's generator pre-training uses such a loss on VGG-16).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from streamcolor.color import AB_SCALE, denormalize_ab, denormalize_L, lab_to_rgb
from streamcolor.errors import InputError, ModelArgumentsError, StreamcolorError
from streamcolor.backends.base import predict_ab
from streamcolor.models import create_model
from streamcolor.models.efficientnet import pretrained_lite0
from streamcolor.models.zhang import ab_bins, hard_encode, rebalancing_weights, soft_encode
from streamcolor.train.config import TrainConfig
from streamcolor.train.hints import sample_hints


def _adam(model: nn.Module, config: TrainConfig) -> torch.optim.Adam:
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise InputError(f"nothing left to train: --freeze {' '.join(config.freeze)} covers the whole model")
    return torch.optim.Adam(trainable, lr=config.lr, betas=(config.beta1, 0.999))


class Objective:
    """Base: trains the generator ``G`` with ``loss(G(L), ab)``."""

    def __init__(self, generator: nn.Module, config: TrainConfig) -> None:
        self.config = config
        self.models: dict[str, nn.Module] = {"G": generator}
        self.optimizers: dict[str, torch.optim.Optimizer] = {"G": _adam(generator, config)}
        self.hint_rng = torch.Generator().manual_seed(config.seed)

    def generate(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """G's scaled ab for a batch; a hint model also gets hints sampled from ``ab``
        (:func:`streamcolor.train.hints.sample_hints`)."""
        G = self.models["G"]
        if G.hint_channels:
            hints = G.hint_input(denormalize_L(L[:, 0]).detach().float().cpu().numpy(), sample_hints(ab, self.hint_rng))
            L = torch.cat([L, hints.to(L.device, L.dtype)], 1)
        return predict_ab(G, L, G.multiple)

    def loss(self, L: torch.Tensor, ab: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def step(self, L: torch.Tensor, ab: torch.Tensor, progress: float) -> dict[str, float]:
        """One update on a batch; ``progress`` in [0, 1] is how far training has gone."""
        opt = self.optimizers["G"]
        opt.zero_grad()
        loss, logs = self.loss(L, ab)
        loss.backward()
        opt.step()
        return logs


class Regression(Objective):
    """L1 or MSE between predicted and true scaled ab."""

    def __init__(self, generator: nn.Module, config: TrainConfig, distance: Callable = F.l1_loss) -> None:
        super().__init__(generator, config)
        self.distance = distance

    def loss(self, L: torch.Tensor, ab: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        loss = self.distance(self.generate(L, ab), ab)
        return loss, {"G": loss.item()}


class RebalancedL1(Objective):
    """L1 on scaled ab, each pixel weighted by the rebalancing weight of its true ab bin
    (:func:`streamcolor.models.zhang.rebalancing_weights`, λ = ``config.rebalance_lambda``: 0.5 as
    in Zhang et al.; towards 1 the weights flatten to plain L1); call :meth:`set_prior` with the
    training set's bin counts first."""

    def __init__(self, generator: nn.Module, config: TrainConfig) -> None:
        super().__init__(generator, config)
        self.centres = ab_bins()
        # nearest bin of every point of a 1-unit ab grid: a per-pixel lookup instead of a
        # distance to each of the Q bins
        grid = torch.stack(torch.meshgrid(self.GRID, self.GRID, indexing="ij"))[None]
        self.nearest = hard_encode(grid, self.centres)[0]
        self.pixel_weights = torch.ones_like(self.nearest, dtype=torch.float32)

    GRID = torch.arange(-AB_SCALE, AB_SCALE + 1)

    def set_prior(self, counts: torch.Tensor) -> None:
        """Bin counts ``(Q,)`` of the training targets -> the per-bin weights."""
        weights = rebalancing_weights(counts / counts.sum(), self.centres, self.config.rebalance_lambda)
        self.pixel_weights = weights[self.nearest]

    def loss(self, L: torch.Tensor, ab: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        return self.rebalanced_l1(self.generate(L, ab), ab)

    def rebalanced_l1(self, predicted: torch.Tensor, ab: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        index = ((ab.detach().float() + 1) * AB_SCALE).round().long().clamp(0, len(self.GRID) - 1)
        weights = self.pixel_weights.to(ab.device)[index[:, 0], index[:, 1]]
        error = (predicted - ab).abs().mean(1)
        loss = (weights * error).mean()
        return loss, {"G": loss.item(), "L1": error.mean().item()}


class CGAN(Objective):
    """pix2pix conditional GAN with a PatchGAN discriminator on (L, ab) pairs."""

    def __init__(self, generator: nn.Module, config: TrainConfig) -> None:
        super().__init__(generator, config)
        try:
            self.models["D"] = create_model(config.discriminator, **config.discriminator_args)
        except ModelArgumentsError as exc:
            raise InputError(f"--discriminator-args: {exc}") from exc
        except StreamcolorError as exc:  # the model it names is the discriminator, not --model
            raise InputError(f"--discriminator {config.discriminator!r}: {exc}") from exc
        if not getattr(self.models["D"], "is_discriminator", False):
            raise InputError(f"--discriminator {config.discriminator!r} is a generator; give a PatchGAN "
                             f"(patchgan70)")
        self.optimizers["D"] = _adam(self.models["D"], config)

    def _targets(self, logits: torch.Tensor, real: bool) -> torch.Tensor:
        c = self.config
        if c.soft_labels:
            low, high = (0.7, 1.2) if real else (0.0, 0.3)
            target = torch.empty_like(logits).uniform_(low, high)
        else:
            target = torch.full_like(logits, 1.0 if real else 0.0)
        if c.label_flip > 0:
            flip = torch.rand(logits.shape[0], 1, 1, 1, device=logits.device) < c.label_flip
            target = torch.where(flip, 1.0 - target.clamp(max=1.0), target)
        return target

    def _discriminate(self, L: torch.Tensor, ab: torch.Tensor, noise: float) -> torch.Tensor:
        x = torch.cat([L, ab], 1)
        return self.models["D"](x + noise * torch.randn_like(x) if noise > 0 else x)

    def step(self, L: torch.Tensor, ab: torch.Tensor, progress: float) -> dict[str, float]:
        noise = self.config.instance_noise * max(0.0, 1.0 - progress)
        fake = self.generate(L, ab)
        opt_D = self.optimizers["D"]
        opt_D.zero_grad()
        fake_logits = self._discriminate(L, fake.detach(), noise)
        real_logits = self._discriminate(L, ab, noise)
        loss_D = 0.5 * (F.binary_cross_entropy_with_logits(fake_logits, self._targets(fake_logits, False))
                        + F.binary_cross_entropy_with_logits(real_logits, self._targets(real_logits, True)))
        loss_D.backward()
        opt_D.step()
        opt_G = self.optimizers["G"]
        opt_G.zero_grad()
        logits = self._discriminate(L, fake, noise)
        loss_gan = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        loss_l1 = F.l1_loss(fake, ab)
        loss_G = loss_gan + self.config.lambda_l1 * loss_l1
        loss_G.backward()
        opt_G.step()
        return {"G": loss_G.item(), "G_gan": loss_gan.item(), "L1": loss_l1.item(), "D": loss_D.item()}


class Classification(Objective):
    """Rebalanced cross-entropy over ab bins against soft-encoded targets (Zhang et al.
    2016); each pixel is weighted by its nearest bin's rebalancing weight. The generator
    must have ``logits``, ``centres`` and ``class_weights`` (:class:`ZhangColorizer`)."""

    def __init__(self, generator: nn.Module, config: TrainConfig) -> None:
        if not hasattr(generator, "logits"):
            raise InputError(f"objective 'classification' needs a classification model such as "
                             f"zhang_classification, not {config.model!r}")
        super().__init__(generator, config)

    def loss(self, L: torch.Tensor, ab: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        loss = rebalanced_cross_entropy(self.models["G"], self.models["G"].logits(L), ab)
        return loss, {"G": loss.item()}


def rebalanced_cross_entropy(G: nn.Module, logits: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Zhang et al.'s loss: cross-entropy of ``logits`` ``(N, Q, h, w)`` against the soft-encoded
    bins of ``ab`` (scaled, ``(N, 2, H, W)``, averaged down to ``h, w``), each pixel weighted by
    ``G.class_weights`` of its nearest bin."""
    ab_small = F.adaptive_avg_pool2d(ab, logits.shape[-2:]) * AB_SCALE
    target = soft_encode(ab_small, G.centres)
    weights = G.class_weights[hard_encode(ab_small, G.centres)]
    ce = -(target * F.log_softmax(logits, 1)).sum(1)
    return (weights * ce).mean()


class MultiTask(RebalancedL1):
    """A two-head model's regression and bin classifier on one trunk, trained together:
    rebalanced L1 on the regression's ab (λ = ``rebalance_lambda``) plus ``lambda_classification``
    times the classifier's rebalanced cross-entropy. The generator must have ``heads`` returning
    both (:class:`streamcolor.models.lite_unet.LiteUNetBins`); the mix of the two (its gate) is
    not trained here: fit it afterwards with ``mse`` and the rest frozen."""

    def __init__(self, generator: nn.Module, config: TrainConfig) -> None:
        if not hasattr(generator, "heads"):
            raise InputError(f"objective 'multitask' needs a two-head model such as lite0_unet_bins, not {config.model!r}")
        if not config.lambda_classification >= 0:
            raise InputError(f"--lambda-classification must be >= 0, got {config.lambda_classification}")
        super().__init__(generator, config)

    def loss(self, L: torch.Tensor, ab: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        G = self.models["G"]
        predicted, logits = G.heads(L)
        l1, logs = self.rebalanced_l1(predicted, ab)
        ce = rebalanced_cross_entropy(G, logits, ab)
        loss = l1 + self.config.lambda_classification * ce
        return loss, {**logs, "G": loss.item(), "CE": ce.item()}


class Perceptual(Objective):
    """L1 on scaled ab plus ``lambda_perceptual`` times a feature and a style loss (Johnson et
    al. 2016, "Perceptual Losses for Real-Time Style Transfer and Super-Resolution"; DeOldify's
    generator pre-training uses both, on VGG-16): the predicted and the true ab, each joined to
    the input L and made sRGB, go through the frozen ImageNet EfficientNet-Lite0
    (:func:`streamcolor.models.efficientnet.pretrained_lite0`, the ``train`` extra). At its taps
    at strides 2, 4 and 8 the feature loss is the L1 distance of the features, the style loss
    that of their Gram matrices, each divided by the true image's mean absolute value so that
    every tap counts alike. Only the early taps: the deeper ones are trained to ignore colour
    and score grey nearer the truth than a right colouring. The Gram matrices score a grey or
    brown image about 30 % further from the truth than a right colouring, L1 on ab about 12 %.

    Raises:
        InputError: the ``train`` extra's ImageNet weights are missing.
    """

    TAPS = 3

    def __init__(self, generator: nn.Module, config: TrainConfig) -> None:
        super().__init__(generator, config)
        device = next(generator.parameters()).device
        self.encoder = pretrained_lite0(classifier=False).eval().requires_grad_(False).to(device)

    def _taps(self, L: torch.Tensor, ab: torch.Tensor) -> list[torch.Tensor]:
        lab = torch.cat([denormalize_L(L), denormalize_ab(ab)], 1).float().permute(0, 2, 3, 1)
        rgb = lab_to_rgb(lab).permute(0, 3, 1, 2) * 2 - 1  # the encoder's input scaling
        return self.encoder.features(rgb, self.TAPS)

    def loss(self, L: torch.Tensor, ab: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        predicted = self.generate(L, ab)
        l1 = F.l1_loss(predicted, ab)
        # in float32 even under the trainer's bf16 autocast: bf16 rounding alone would be as large
        # as the distance between a right colouring and one a few per cent paler
        with torch.autocast(L.device.type, enabled=False):
            with torch.no_grad():
                truth = self._taps(L, ab)
            feature = style = 0.0
            for p, t in zip(self._taps(L, predicted.float()), truth):
                feature = feature + _relative_l1(p, t)
                style = style + _relative_l1(gram_matrix(p), gram_matrix(t))
        loss = l1 + self.config.lambda_perceptual * (feature + style) / self.TAPS
        return loss, {"G": loss.item(), "L1": l1.item(), "feature": feature.item() / self.TAPS,
                      "style": style.item() / self.TAPS}


def gram_matrix(x: torch.Tensor) -> torch.Tensor:
    """Gram matrices ``(N, C, C)`` of features ``(N, C, H, W)``, divided by ``C * H * W``."""
    n, c, h, w = x.shape
    f = x.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def _relative_l1(predicted: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(predicted, truth) / truth.abs().mean().clamp_min(1e-6)


OBJECTIVES: dict[str, Callable[[nn.Module, TrainConfig], Objective]] = {
    "l1": Regression,
    "l1_rebalanced": RebalancedL1,
    "mse": lambda g, c: Regression(g, c, F.mse_loss),
    "cgan": CGAN,
    "classification": Classification,
    "multitask": MultiTask,
    "perceptual": Perceptual,
}


def build_objective(generator: nn.Module, config: TrainConfig) -> Objective:
    """The objective named by ``config.objective``.

    Raises:
        InputError: unknown name, a model that the objective cannot train, or a negative
            ``lambda_classification``.
    """
    if config.objective not in OBJECTIVES:
        raise InputError(f"objective must be one of {', '.join(OBJECTIVES)}, got {config.objective!r}")
    return OBJECTIVES[config.objective](generator, config)
