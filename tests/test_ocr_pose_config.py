"""OCR-Pose example: configuration loading and checkpoint files (no training involved)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from examples.ocr_pose.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from examples.ocr_pose.config import (
    VARIANTS,
    Config,
    ConfigError,
    builtin_configs,
    config_from_dict,
    load_config,
)


def test_every_variant_has_a_builtin_config_with_its_name():
    names = builtin_configs()
    for v in VARIANTS:
        assert v in names
        assert load_config(v).variant == v


def test_paper_defaults_in_ocr_pose_config():
    c = load_config("ocr_pose")
    assert (c.loss.w_pf, c.loss.w_2d, c.loss.w_3d, c.loss.w_adv) == (10.0, 5.0, 0.5, 1.0)
    assert (c.loss.w_ti, c.loss.w_ve, c.loss.temperature) == (0.3, 0.1, 0.5)
    assert (c.schedule.batch_size, c.schedule.lr, c.schedule.betas) == (512, 2e-4, (0.5, 0.9))
    assert (c.schedule.epochs, c.schedule.warmup_epochs, c.schedule.disc_every) == (100, 10, 3)
    assert c.rotation.azimuth[1] == pytest.approx(7 * math.pi / 9)
    b = load_config("baseline")
    assert (b.loss.w_2d, b.loss.w_3d, b.loss.w_adv) == (1.0, 1.0, 1.0)
    assert not b.uses_filling and not b.uses_contrast
    assert load_config("occluded_training").occlusion.data_occlusion_rate == 0.1
    assert load_config("supervised").objective == "supervised"


@pytest.mark.parametrize(
    "data, key",
    [
        ({"schedule": {"epochs": "10"}}, "schedule.epochs"),
        ({"schedule": {"epcohs": 10}}, "schedule.epcohs"),
        ({"learning_rate": 1e-3}, "learning_rate"),
        ({"loss": {"ticlr": 1}}, "loss.ticlr"),
        ({"loss": {"w_2d": True}}, "loss.w_2d"),
        ({"schedule": {"betas": [0.5]}}, "schedule.betas"),
        ({"schedule": {"batch_size": 0}}, "schedule.batch_size"),
        ({"loss": {"rotation_distance": "chordal"}}, "loss.rotation_distance"),
        ({"model": 3}, "model"),
        ({"variant": "mine"}, "variant"),
        ({"occlusion": {"data_occlusion_rate": 1.5}}, "occlusion.data_occlusion_rate"),
        ({"model": {"proj_dim": 0}}, "model.proj_dim"),
        ({"model": {"proj_dim": 64.0}}, "model.proj_dim"),
        ({"schedule": {"occlusion_lr_scale": 0.0}}, "schedule.occlusion_lr_scale"),
        ({"schedule": {"occlusion_lr_scale": -0.5}}, "schedule.occlusion_lr_scale"),
        ({"schedule": {"occlusion_lr_scale": "0.1"}}, "schedule.occlusion_lr_scale"),
        ({"schedule": {"ema_decay": 1.0}}, "schedule.ema_decay"),
        ({"schedule": {"ema_decay": -0.1}}, "schedule.ema_decay"),
        ({"schedule": {"ema_decay": "0.999"}}, "schedule.ema_decay"),
        ({"loss": {"w_bone": -1.0}}, "loss.w_bone"),
        ({"loss": {"w_bone": "1"}}, "loss.w_bone"),
    ],
)
def test_bad_config_names_the_key(data, key):
    with pytest.raises(ConfigError) as e:
        config_from_dict(data)
    assert str(e.value).startswith(key + ":"), str(e.value)


def test_extends_and_file_errors(tmp_path):
    f = tmp_path / "mine.json"
    f.write_text(json.dumps({"extends": "baseline", "schedule": {"epochs": 3}}))
    c = load_config(f)
    assert c.variant == "baseline" and c.schedule.epochs == 3 and c.model.lifter == "plain"
    assert c.schedule.batch_size == 512  # inherited through baseline -> ocr_pose
    f.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(f)
    f.write_text(json.dumps({"extends": "baseline", "schedule": {"epochs": -1}}))
    with pytest.raises(ConfigError, match="^schedule.epochs"):
        load_config(f)
    with pytest.raises(ConfigError, match="no file"):
        load_config(tmp_path / "missing.json")


def test_config_round_trips_through_json():
    c = load_config("ocr_pose", overrides={"seed": 7, "schedule": {"max_steps_per_epoch": 3}})
    again = config_from_dict(json.loads(c.to_json()))
    assert again == c and isinstance(again, Config)


def _payload():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    lin = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(lin.parameters())
    lin(torch.ones(1, 3)).sum().backward()
    opt.step()
    return {
        "config": load_config("tiny").to_json(),
        "normalizer": json.dumps({"scale": 0.5}),
        "models": {"lifter": lin.state_dict()},
        "optimizers": {"backbone": opt.state_dict()},
        "rng": {"generator": g.get_state()},
        "epoch": 3,
        "step": 12,
    }


def test_checkpoint_round_trip_weights_only(tmp_path):
    p = save_checkpoint(tmp_path / "run" / "last.pt", _payload())
    assert not [q for q in p.parent.iterdir() if q.name.endswith(".tmp")]
    raw = torch.load(p, weights_only=True)  # a plain weights-only file
    assert raw["epoch"] == 3
    data = load_checkpoint(p)
    ref = _payload()
    assert data["config"] == ref["config"]
    for k, v in ref["models"]["lifter"].items():
        assert torch.equal(data["models"]["lifter"][k], v)
    assert torch.equal(data["rng"]["generator"], ref["rng"]["generator"])


def test_truncated_and_tampered_checkpoints_fail_clearly(tmp_path):
    p = save_checkpoint(tmp_path / "a.pt", _payload())
    blob = p.read_bytes()
    t = tmp_path / "trunc.pt"
    t.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(t)
    # tamper: change one weight and re-save without updating the digest
    data = torch.load(p, weights_only=True)
    data["models"]["lifter"]["weight"][0, 0] += 1.0
    torch.save(data, tmp_path / "tampered.pt")
    with pytest.raises(CheckpointError, match="digest"):
        load_checkpoint(tmp_path / "tampered.pt")
    # a foreign pickle is refused by weights_only loading
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"x": Evil()}, protocol=2))
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "evil.pt")
    torch.save({"hello": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="format"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "nope.pt")


def test_quick_budget_has_exactly_its_documented_deviations():
    """``reproduce --budget quick``: the deviations listed in the reproduce module docstring and
    docs/results.md, and nothing else of the loss / rotation / optimiser settings changed."""
    from examples.ocr_pose.reproduce import budget_config

    for variant in ("ocr_pose", "decouple", "baseline"):
        paper, quick = load_config(variant), budget_config(variant, "quick", 3)
        assert (quick.loss.w_adv, quick.loss.w_rot, quick.loss.w_knee) == (0.1, 0.1, 1.0)
        assert quick.loss.w_bone == 0.3 and paper.loss.w_bone == 0.0
        assert quick.rotation.elevation == quick.rotation.roll == (0.0, 0.0)
        assert quick.rotation.azimuth == paper.rotation.azimuth
        assert paper.schedule.shared_optimizer and not quick.schedule.shared_optimizer
        assert quick.schedule.alternation == paper.schedule.alternation == "per_batch"
        for key in ("w_pf", "w_2d", "w_3d", "w_ti", "w_ve", "w_sym", "temperature", "ticlr",
                    "veclr"):
            assert getattr(quick.loss, key) == getattr(paper.loss, key), key
        assert quick.seed == 3


def test_demo_is_the_quick_budgets_ocr_pose_on_a_shorter_schedule():
    """``demo``: the ``quick`` budget's OCR-Pose settings, only the schedule's length and the
    synthetic data sizes of its own (so the demo cannot drift from ``quick``)."""
    import dataclasses

    from examples.ocr_pose.demo import demo_config
    from examples.ocr_pose.reproduce import budget_config

    demo, quick = demo_config("demo", 5), budget_config("ocr_pose", "quick", 5)
    assert (demo.schedule.epochs, demo.schedule.max_steps_per_epoch) == (60, 40)
    assert (demo.data.synthetic_poses, demo.data.max_val_poses) == (10000, 500)
    assert demo.seed == 5 and demo.variant == "ocr_pose"
    same_schedule = dataclasses.replace(quick.schedule, epochs=60, max_steps_per_epoch=40)
    assert demo == dataclasses.replace(quick, schedule=same_schedule, data=demo.data)
    assert demo_config("tiny", 2) == load_config("tiny", {"seed": 2})
