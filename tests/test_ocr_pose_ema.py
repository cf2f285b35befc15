"""``schedule.ema_decay``: moving averages of the inference networks (lifter, filling network)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from examples.ocr_pose.checkpoint import load_checkpoint
from examples.ocr_pose.config import load_config
from examples.ocr_pose.evaluation import LoadedModel
from examples.ocr_pose.inputs import Poses2D, Poses3D, fit_normalizer
from examples.ocr_pose.model import lift
from examples.ocr_pose.training import Trainer, averaged_models, train, update_moving_average

TINY = {
    "model": {"hidden": 16, "occ_dim": 8, "fill_hidden": 8, "disc_hidden": 16, "num_blocks": 1,
              "disc_blocks": 1},
    "schedule": {"epochs": 2, "warmup_epochs": 1, "batch_size": 32, "max_steps_per_epoch": 3},
}


def _poses(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = 0.04 * torch.randn(n, 17, 2, generator=g)
    x[:, 10] = torch.tensor([0.0, -0.1]) + 0.01 * torch.randn(n, 2, generator=g)
    x[:, 0] = 0.0
    return x


def _cfg(variant="ocr_pose", decay=0.5):
    over = json.loads(json.dumps(TINY))
    over["schedule"]["ema_decay"] = decay
    return load_config(variant, over)


def _norm():
    return fit_normalizer(np.asarray(_poses(8)).astype(np.float64), np.ones((8, 17)))


def _data():
    return Poses2D(_poses(), torch.ones(96, 17, dtype=torch.bool))


def _net():
    return nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))


@pytest.mark.parametrize("decay", [0.5, 0.9, 0.999])
def test_moving_average_follows_the_recursion_of_a_float64_loop(decay):
    torch.manual_seed(0)
    live, avg = _net().double(), _net().double()
    avg.load_state_dict(live.state_dict())
    names = [n for n, _ in live.named_parameters()]
    ref = {n: p.detach().numpy().copy() for n, p in live.named_parameters()}
    for n in range(30):
        with torch.no_grad():  # new live weights and statistics, as after an optimiser step
            for p in live.parameters():
                p.add_(torch.randn_like(p))
            live[1].running_mean.add_(1.0)
            live[1].num_batches_tracked += 1
        update_moving_average(nn.ModuleDict({"net": avg}), nn.ModuleDict({"net": live}), decay, n)
        d = decay if (1.0 + n) / (10.0 + n) > decay else (1.0 + n) / (10.0 + n)
        for name, p in live.named_parameters():
            ref[name] = d * ref[name] + (1.0 - d) * p.detach().numpy()
    got = dict(avg.named_parameters())
    for name in names:
        np.testing.assert_allclose(got[name].detach().numpy(), ref[name], rtol=1e-12, atol=1e-12)
        assert not np.allclose(got[name].detach().numpy(), dict(live.named_parameters())[name].detach().numpy())
    assert torch.equal(avg[1].running_mean, live[1].running_mean)  # buffers copied, not averaged
    assert int(avg[1].num_batches_tracked) == 30


def test_averaged_models_swaps_in_the_averages_only():
    models = nn.ModuleDict({"lifter": _net(), "filler": _net(), "disc": _net()})
    ema = nn.ModuleDict({"lifter": _net(), "filler": _net()})
    out = averaged_models(models, ema)
    assert out["lifter"] is ema["lifter"] and out["filler"] is ema["filler"]
    assert out["disc"] is models["disc"]
    assert averaged_models(models, None) is models


def test_trainer_validates_and_checkpoints_the_averages(tmp_path):
    cfg = _cfg(decay=0.5)
    tr = Trainer(cfg, _data(), _norm(), "camera", None, tmp_path, progress=False)
    tr.fit()
    assert tr.ema is not None and set(tr.ema) == {"lifter", "filler"}
    assert tr.ema_updates == 3 * tr.total_epochs  # one per batch, warm-up included
    assert all(not p.requires_grad for p in tr.ema.parameters())
    ck = load_checkpoint(tmp_path / "last.pt")
    assert set(ck["ema"]) == {"lifter", "filler"} and ck["ema_updates"] == tr.ema_updates
    diff = [k for k, t in ck["ema"]["lifter"].items()
            if t.is_floating_point() and not torch.equal(t, ck["models"]["lifter"][k])]
    assert diff  # the averages are not the live weights
    m = LoadedModel(tmp_path / "last.pt")
    assert m.averaged
    for k, t in m.models["lifter"].state_dict().items():
        assert torch.equal(t, ck["ema"]["lifter"][k]), k
    for k, t in m.models["disc"].state_dict().items():  # not averaged: the live weights
        assert torch.equal(t, ck["models"]["disc"][k]), k
    x, w = _poses(40, seed=5), torch.ones(40, 17, dtype=torch.bool)
    a = lift(m.models, m.cfg, x, w).pose_3d
    b = lift(tr.inference_models(), cfg, x, w).pose_3d
    live = lift(tr.models, cfg, x, w).pose_3d
    assert torch.equal(a, b) and not torch.allclose(a, live)


def test_without_ema_nothing_is_averaged(tmp_path):
    cfg = _cfg(decay=0.0)
    tr = Trainer(cfg, _data(), _norm(), "camera", None, tmp_path, progress=False)
    tr.fit()
    assert tr.ema is None and tr.inference_models() is tr.models
    ck = load_checkpoint(tmp_path / "last.pt")
    assert "ema" not in ck and not LoadedModel(tmp_path / "last.pt").averaged


@pytest.mark.parametrize("variant", ["ocr_pose", "supervised"])
def test_resume_with_ema_is_bit_for_bit(tmp_path, variant):
    cfg = _cfg(variant, decay=0.9)
    if variant == "supervised":
        x, g = _poses(), torch.Generator().manual_seed(1)
        p3 = torch.cat([x, 0.05 * torch.randn(96, 17, 1, generator=g)], -1).double() * 1000
        data = Poses3D(x, torch.ones(96, 17), p3 - p3[:, :1], None)
    else:
        data = _data()
    ref = Trainer(cfg, data, _norm(), "camera", None, tmp_path / "a", progress=False)
    ref.fit()
    train(cfg, tmp_path / "b", data, _norm(), "camera", progress=False, stop_after_epoch=1)
    train(cfg, tmp_path / "b", data, _norm(), "camera", progress=False, resume=True)
    again = Trainer(cfg, data, _norm(), "camera", None, tmp_path / "c", progress=False)
    again.load_state(load_checkpoint(tmp_path / "b" / "last.pt"))
    assert again.ema_updates == ref.ema_updates > 0
    for k in ref.ema:
        sa, sb = ref.ema[k].state_dict(), again.ema[k].state_dict()
        for n in sa:
            assert torch.equal(sa[n], sb[n]), f"{k}.{n}"


def test_loading_a_checkpoint_without_averages_into_an_ema_trainer_fails(tmp_path):
    train(_cfg(decay=0.0), tmp_path, _data(), _norm(), "camera", progress=False, stop_after_epoch=1)
    tr = Trainer(_cfg(decay=0.5), _data(), _norm(), "camera", None, tmp_path / "x", progress=False)
    with pytest.raises(ValueError, match="ema"):
        tr.load_state(load_checkpoint(tmp_path / "last.pt"))
