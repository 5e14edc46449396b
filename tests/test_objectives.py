"""Objectives and model families: each learns on a fixed batch; ab-bin coding round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import data_file
from streamcolor.models import create_model, list_models
from streamcolor.models.zhang import ab_bins, annealed_mean, hard_encode, soft_encode
from streamcolor.train.config import TrainConfig
from streamcolor.train.datasets import ColorizationDataset
from streamcolor.train.objectives import OBJECTIVES, build_objective

GENERATORS = list_models(role="generator")
SMALL = {"pix2pix_unet256": dict(ngf=8), "pix2pix_unet128": dict(ngf=8), "pix2pix_unet128_noskip": dict(ngf=8)}


def _batch(size=32, n=4):
    data = ColorizationDataset((str(data_file("train/faces_val")),), scale=size, crop=size)
    L, ab = zip(*(data[(0, i)] for i in range(n)))
    return torch.stack(L), torch.stack(ab)


@pytest.mark.parametrize("name", GENERATORS)
def test_forward_backward_tiny(name):
    torch.manual_seed(0)
    model = create_model(name, **SMALL.get(name, {}))
    size = max(32, getattr(model, "multiple", 1))
    L = torch.rand(2, 1, size, size) * 2 - 1
    out = model(L)
    assert out.shape == (2, 2, size, size) and out.min() >= -1 and out.max() <= 1
    out.abs().mean().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("objective, model", [("l1", "unet_tiny"), ("mse", "unet_tiny"), ("cgan", "unet_tiny"),
                                              ("l1_rebalanced", "unet_tiny"),
                                              ("classification", "zhang_classification"),
                                              ("multitask", "lite0_unet_bins"), ("perceptual", "unet_tiny")])
def test_one_step_lowers_loss(objective, model):
    torch.manual_seed(0)
    config = TrainConfig(objective=objective, model=model, lr=1e-3,
                         model_args={"width": 8} if model.startswith("zhang") else {})
    generator = create_model(model, **config.model_args)
    obj = build_objective(generator, config)
    L, ab = _batch(size=64 if model.startswith(("zhang", "lite0")) or objective == "perceptual" else 32)
    if objective in ("classification", "multitask"):
        generator.set_prior(torch.ones(len(ab_bins())))
    if objective in ("l1_rebalanced", "multitask"):
        obj.set_prior(torch.arange(1.0, len(ab_bins()) + 1))
    for m in obj.models.values():
        m.eval()  # BatchNorm in eval so the two loss readings see the same function

    def g_loss():
        with torch.no_grad():
            return torch.nn.functional.l1_loss(generator(L), ab).item() if objective == "cgan" else obj.loss(L, ab)[0].item()

    before = g_loss()
    obj.step(L, ab, progress=0.0)
    assert g_loss() < before
    assert set(OBJECTIVES) == {"l1", "mse", "cgan", "classification", "l1_rebalanced", "multitask", "perceptual"}


def test_perceptual_loss_is_zero_at_the_truth_and_scores_grey_beyond_a_paler_right_colouring():
    from streamcolor.train.objectives import gram_matrix

    objective = build_objective(create_model("unet_tiny"), TrainConfig(objective="perceptual"))
    L, ab = _batch(size=64)

    def logs(predicted):
        objective.generate = lambda *_: predicted
        return objective.loss(L, ab)[1]

    truth, paler, grey = logs(ab), logs(0.5 * ab), logs(torch.zeros_like(ab))
    logs_fp32 = logs(0.98 * ab)
    assert truth["feature"] == truth["style"] == truth["G"] == 0
    assert 0 < paler["style"] < grey["style"] and 0 < paler["feature"] < grey["feature"]
    x = torch.arange(6.0).reshape(1, 2, 1, 3)
    assert torch.allclose(gram_matrix(x), torch.tensor([[[5.0, 14.0], [14.0, 50.0]]]) / 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # as the trainer runs on CUDA
        for key, value in logs(0.98 * ab).items():  # 2 % paler: bf16's rounding would swamp it
            assert value == pytest.approx(logs_fp32[key], rel=1e-3), key


def test_rebalanced_l1_weighs_saturated_colours_above_grey():
    config = TrainConfig(objective="l1_rebalanced", model="unet_tiny")
    obj = build_objective(create_model("unet_tiny"), config)
    _, ab = _batch(size=64, n=8)
    counts = torch.bincount(hard_encode(ab * 110, obj.centres).flatten(), minlength=len(obj.centres)).float()
    obj.set_prior(counts)
    grey, green = obj.pixel_weights[110, 110], obj.pixel_weights[110 - 40, 110 + 40]
    assert green > 3 * grey


def test_ab_bins_round_trip_within_one_bin():
    centres = ab_bins()
    assert 200 < len(centres) < 330
    ab = centres[torch.randint(len(centres), (1000,))] + (torch.rand(1000, 2) - 0.5) * 9.9
    ab = ab.T[None, :, :, None]  # (1, 2, 1000, 1)
    index = hard_encode(ab, centres)
    assert (centres[index[0, :, 0]] - ab[0, :, :, 0].T).abs().max() <= 5.0 + 1e-4
    soft = soft_encode(ab, centres)
    torch.testing.assert_close(soft.sum(1), torch.ones(1, 1000, 1))
    decoded = annealed_mean(torch.log(soft.clamp_min(1e-12)), centres, temperature=1.0)
    assert (decoded - ab).abs().max() < 10.0  # within one bin width


def test_rebalancing_boosts_rare_bins():
    model = create_model("zhang_classification", width=8)
    prior = torch.ones(len(model.centres))
    prior[0] = 1000.0
    model.set_prior(prior)
    assert model.class_weights[0] < model.class_weights[1:].min()
    assert (model.class_weights > 0).all()


def test_hints_sampled_from_the_truth():
    from streamcolor.color import denormalize_ab
    from streamcolor.train.hints import sample_hints

    _, ab = _batch(n=4)
    hints = sample_hints(ab, torch.Generator().manual_seed(0))  # (N, H, W, 3), Lab units
    mask = hints[..., 2]
    assert hints.shape == (4, 32, 32, 3) and set(np.unique(mask).tolist()) <= {0.0, 1.0} and mask.sum() > 0
    assert (hints[..., :2][mask == 0] == 0).all()  # no colour where there is no hint
    truth = denormalize_ab(ab).permute(0, 2, 3, 1).numpy()
    assert np.abs(hints[..., :2][mask > 0] - truth[mask > 0]).mean() < 11  # patch means of the true ab
    generator = torch.Generator().manual_seed(1)
    empty = sum(sample_hints(ab[:1], generator)[0, ..., 2].sum() == 0 for _ in range(400))
    assert 25 < empty < 75  # P(no hint) = 1/8 of 400


def test_hint_input_spreads_hints_along_edges():
    from streamcolor.models.hints import hint_input

    L = np.full((1, 64, 64), 30.0, np.float32)
    L[:, :, 32:] = 80.0  # two flat regions split by a vertical edge
    sparse = np.zeros((1, 64, 64, 3), np.float32)
    sparse[0, 30:33, 10:13] = (50.0, -40.0, 1.0)  # one hint in the left region
    x = hint_input(L, sparse)[0].numpy()  # (6, H, W)
    assert x.shape == (6, 64, 64)
    np.testing.assert_allclose(x[3:5, 31, 11] / x[5, 31, 11] * 110, (50, -40), atol=0.5)  # spread ab = the hint's
    assert x[5, 5, 28] > 0.5 and x[5, 60, 2] > 0.5  # reaches across its region
    assert x[5, 31, 40] < 0.1 * x[5, 31, 20]  # stops at the edge
    assert x[0:3, 0, 0].tolist() == [0, 0, 0] and x[2].sum() == 9  # the sparse mask itself


def test_hint_model_learns_on_a_fixed_batch():
    from streamcolor.color import denormalize_L
    from streamcolor.models.hints import hint_input
    from streamcolor.train.hints import sample_hints

    torch.manual_seed(0)
    generator = create_model("unet_small_hints", ngf=8)
    obj = build_objective(generator, TrainConfig(objective="l1", model="unet_small_hints", lr=1e-3))
    L, ab = _batch()
    x = torch.cat([L, hint_input(denormalize_L(L[:, 0]).numpy(), sample_hints(ab, torch.Generator().manual_seed(3)))], 1)
    generator.eval()

    def loss():
        with torch.no_grad():
            return torch.nn.functional.l1_loss(generator(x), ab).item()

    before = loss()
    for _ in range(3):
        obj.step(L, ab, progress=0.0)
    assert loss() < before


def test_wide_spread_reaches_further_and_a_narrower_model_loads_unchanged():
    from streamcolor.models.transfer import transfer_state

    torch.manual_seed(0)
    narrow = create_model("unet_small_hints", ngf=8).eval()
    wide = create_model("unet_small_hints", ngf=8, spreads=[1e3, 3e4]).eval()
    assert (narrow.hint_channels, wide.hint_channels) == (6, 9) and wide.model_args["spreads"] == [1e3, 3e4]
    wide.load_state_dict(transfer_state(wide, narrow.state_dict())[0])
    L = np.tile(np.linspace(20, 80, 96, dtype=np.float32), (1, 64, 1))  # a smooth ramp, no edges
    sparse = np.zeros((1, 64, 96, 3), np.float32)
    sparse[0, 30:33, 2:5] = (40.0, 20.0, 1.0)  # one hint at the left end
    channels = wide.hint_input(L, sparse)[0].numpy()
    assert channels[8, 31, 90] > 1.5 * channels[5, 31, 90]  # the wide spread's weight reaches the far end
    x = torch.cat([torch.from_numpy(L[:, None] / 50 - 1), wide.hint_input(L, sparse)], 1)
    with torch.no_grad():  # new inputs start at zero weight: the same colour as the narrow model
        torch.testing.assert_close(wide(x), narrow(torch.cat([x[:, :1], narrow.hint_input(L, sparse)], 1)))


def test_attention_hint_model_starts_as_the_model_without_it_and_reaches_across_the_picture():
    from streamcolor.models.blocks import NonLocalBlock
    from streamcolor.models.transfer import transfer_state

    torch.manual_seed(0)
    plain = create_model("unet_small_hints", ngf=8).eval()
    attended = create_model("unet_small_hints", ngf=8, attention=2).eval()
    attended.load_state_dict(transfer_state(attended, plain.state_dict())[0])
    x = torch.randn(1, 7, 64, 96)
    with torch.no_grad():
        torch.testing.assert_close(attended(x), plain(x))  # the block starts as the identity
    with pytest.raises(ValueError, match="attention level"):
        create_model("unet_small_hints", ngf=8, attention=4)
    block = NonLocalBlock(8)
    torch.nn.init.normal_(block.out.weight)  # as after training
    features = torch.randn(1, 8, 16, 16)
    moved = features.clone()
    moved[..., 0, 0] += 5  # change one corner
    with torch.no_grad():
        assert (block(moved) - block(features))[..., 15, 15].abs().max() > 1e-3  # the far corner sees it


def test_deeper_hint_model_starts_as_the_model_without_its_residual_blocks():
    from streamcolor.models.blocks import ResidualBlock
    from streamcolor.models.transfer import transfer_state

    torch.manual_seed(0)
    shallow = create_model("unet_small_hints", ngf=8, attention=2).eval()
    deep = create_model("unet_small_hints", ngf=8, attention=2, depth=1).eval()
    blocks = [m for m in deep.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == deep.model_args["num_downs"] == 5 and deep.model_args["depth"] == 1
    deep.load_state_dict(transfer_state(deep, shallow.state_dict())[0])  # the attention weights keep their names
    x = torch.randn(1, 7, 64, 96)
    with torch.no_grad():
        torch.testing.assert_close(deep(x), shallow(x))  # every block starts as the identity
        torch.nn.init.normal_(blocks[2].body[-1].weight)  # as after training
        assert (deep(x) - shallow(x)).abs().max() > 1e-3  # the blocks are on the network's path
