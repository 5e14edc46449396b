"""Training objectives: L1 regression on ab, and the pix2pix cGAN loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GANLoss(nn.Module):
    """Binary cross-entropy on PatchGAN logits against all-real or all-fake targets
    (pix2pix's vanilla GAN loss; the target tensors follow the logits' device)."""

    def forward(self, logits: torch.Tensor, real: bool) -> torch.Tensor:
        target = torch.ones_like(logits) if real else torch.zeros_like(logits)
        return F.binary_cross_entropy_with_logits(logits, target)


def l1(ab_pred: torch.Tensor, ab_true: torch.Tensor) -> torch.Tensor:
    """Mean absolute error on scaled ab."""
    return F.l1_loss(ab_pred, ab_true)
