"""OCR-Pose example: the trainer (resume, NaN guard, 2D-only data, variants) on tiny configs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from examples.ocr_pose.__main__ import main
from examples.ocr_pose.checkpoint import load_checkpoint
from examples.ocr_pose.config import load_config
from examples.ocr_pose.inputs import Poses2D, Poses3D, fit_normalizer
from examples.ocr_pose.training import Trainer, TrainingStopped, train

TINY = {
    "model": {"hidden": 16, "occ_dim": 8, "fill_hidden": 8, "disc_hidden": 16, "num_blocks": 1,
              "disc_blocks": 1},
    "schedule": {"epochs": 2, "warmup_epochs": 1, "batch_size": 32, "max_steps_per_epoch": 3},
}


def _poses(n=96, seed=0):
    """Random but plausible normalised 2D poses (root at 0, head ~0.1 above)."""
    g = torch.Generator().manual_seed(seed)
    x = 0.04 * torch.randn(n, 17, 2, generator=g)
    x[:, 10] = torch.tensor([0.0, -0.1]) + 0.01 * torch.randn(n, 2, generator=g)
    x[:, 0] = 0.0
    return x


def _cfg(variant="ocr_pose", **extra):
    over = json.loads(json.dumps(TINY))
    for k, v in extra.items():
        over.setdefault(k, {}).update(v) if isinstance(v, dict) else over.__setitem__(k, v)
    return load_config(variant, over)


def _norm():
    return fit_normalizer(np.asarray(_poses(8)).astype(np.float64), np.ones((8, 17)))


def _state_tensors(trainer: Trainer):
    out = {}
    for k, m in trainer.models.items():
        for n, t in m.state_dict().items():
            out[f"{k}.{n}"] = t
    for k, o in trainer.optimizers.items():
        for pid, st in o.state_dict()["state"].items():
            for n, t in st.items():
                if isinstance(t, torch.Tensor):
                    out[f"opt.{k}.{pid}.{n}"] = t
    return out


@pytest.mark.parametrize("variant", ["ocr_pose", "baseline"])
def test_resume_reaches_the_same_state_bit_for_bit(tmp_path, variant):
    cfg = _cfg(variant)
    data = Poses2D(_poses(), torch.ones(96, 17, dtype=torch.bool))
    ref = Trainer(cfg, data, _norm(), "camera", None, tmp_path / "a", progress=False)
    ref.fit()
    # "killed" right after the first epoch's checkpoint, then resumed by a fresh process
    train(cfg, tmp_path / "b", data, _norm(), "camera", progress=False, stop_after_epoch=1)
    assert load_checkpoint(tmp_path / "b" / "last.pt")["epoch"] == 1
    res = train(cfg, tmp_path / "b", data, _norm(), "camera", progress=False, resume=True)
    assert res.epochs_done == ref.epoch == ref.total_epochs
    again = Trainer(cfg, data, _norm(), "camera", None, tmp_path / "c", progress=False)
    again.load_state(load_checkpoint(tmp_path / "b" / "last.pt"))
    a, b = _state_tensors(ref), _state_tensors(again)
    assert a.keys() == b.keys() and len(a) > 10
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert torch.equal(ref.generator.get_state(), again.generator.get_state())
    lines = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(s)["epoch"] for s in lines] == list(range(1, ref.total_epochs + 1))


def test_resume_refuses_a_different_config(tmp_path):
    data = Poses2D(_poses(), torch.ones(96, 17, dtype=torch.bool))
    train(_cfg(), tmp_path, data, _norm(), "camera", progress=False, stop_after_epoch=1)
    with pytest.raises(ValueError, match="differs"):
        train(_cfg(seed=3), tmp_path, data, _norm(), "camera", progress=False, resume=True)
    with pytest.raises(ValueError, match="already holds"):
        train(_cfg(), tmp_path, data, _norm(), "camera", progress=False)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    cfg = _cfg(debug={"nan_loss": "l_3d", "nan_at_step": 3})  # 1st backbone step of epoch 2
    data = Poses2D(_poses(), torch.ones(96, 17, dtype=torch.bool))
    with pytest.raises(TrainingStopped, match="l_3d") as e:
        train(cfg, tmp_path, data, _norm(), "camera", progress=False)
    assert "intact" in str(e.value)
    ck = load_checkpoint(tmp_path / "last.pt")
    assert ck["epoch"] == 1
    for state in ck["models"].values():
        for t in state.values():
            assert torch.isfinite(t.float()).all()


def test_unsupervised_trainer_only_takes_2d(tmp_path):
    x = _poses()
    p3 = Poses3D(x, torch.ones(96, 17), torch.zeros(96, 17, 3, dtype=torch.float64), None)
    with pytest.raises(TypeError, match="2D only"):
        Trainer(_cfg(), p3, _norm(), "camera", None, tmp_path, progress=False)
    p2 = Poses2D(x, torch.ones(96, 17, dtype=torch.bool))
    assert not hasattr(p2, "poses_3d")
    with pytest.raises(AttributeError):
        p2.poses_3d = p3.poses_3d  # no slot for 3D
    with pytest.raises(TypeError, match="supervised"):
        Trainer(_cfg("supervised"), p2, _norm(), "camera", None, tmp_path, progress=False)


def _write_dataset(path: Path, poses_3d):
    from skelcl.data.pose_dataset import PoseDataset, save_pose_dataset

    g = np.random.default_rng(0)
    n = 128
    p2 = 500 + 40 * g.standard_normal((n, 17, 2))
    p2[:, 10] = p2[:, 0] + [0, -120]
    ds = PoseDataset(poses_2d=p2, image_size=np.array([1000.0, 1000.0]), layout="h36m17",
                     focal=np.array(1150.0), poses_3d=poses_3d)
    save_pose_dataset(ds, path)
    return path


def test_3d_in_the_file_cannot_influence_unsupervised_training(tmp_path):
    """Same 2D, once without 3D and once with absurd 3D: bitwise identical models."""
    cfg_file = tmp_path / "tiny.json"
    cfg_file.write_text(json.dumps({"extends": "ocr_pose", **TINY}))
    plain = _write_dataset(tmp_path / "plain.npz", None)
    poisoned = _write_dataset(tmp_path / "poisoned.npz",
                              np.full((128, 17, 3), 1e6) + np.arange(17)[:, None])
    for name, f in (("a", plain), ("b", poisoned)):
        assert main(["train", "--config", str(cfg_file), "--out", str(tmp_path / name),
                     "--data", str(f), "--no-progress"]) == 0
    a = load_checkpoint(tmp_path / "a" / "last.pt")["models"]
    b = load_checkpoint(tmp_path / "b" / "last.pt")["models"]
    for k in a:
        for n in a[k]:
            assert torch.equal(a[k][n], b[k][n]), (k, n)


def test_bad_config_fails_before_training(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"extends": "tiny", "schedule": {"batchsize": 8}}))
    assert main(["train", "--config", str(bad), "--out", str(tmp_path / "run")]) == 2
    assert "schedule.batchsize" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_supervised_and_occluded_training_variants_run(tmp_path):
    x = _poses()
    g = torch.Generator().manual_seed(1)
    p3 = torch.cat([x, 0.05 * torch.randn(96, 17, 1, generator=g)], -1).double() * 1000
    p3 = p3 - p3[:, :1]
    sup = Poses3D(x, torch.ones(96, 17), p3, None)
    res = train(_cfg("supervised"), tmp_path / "s", sup, _norm(), "camera", progress=False)
    assert "l_sup" in res.history[-1]["losses"] and res.epochs_done == 2  # no warm-up
    cfg = _cfg("occluded_training")
    tr = Trainer(cfg, Poses2D(_poses(1000), torch.ones(1000, 17, dtype=torch.bool)), _norm(),
                 "camera", None, tmp_path / "o", progress=False)
    frac = tr.data_incomplete.double().mean().item()
    assert 0.03 < frac < 0.12  # 10 % of the poses, of which 1/4 draw n = 0
    hidden = ~tr.data.visible
    assert (tr.data.poses[hidden] == 0).all()
    assert hidden[:, [0, 7, 8, 9, 10]].sum() == 0  # only limbs go missing
    tr.fit()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_trains_and_resumes_on_cuda(tmp_path):
    data = Poses2D(_poses(), torch.ones(96, 17, dtype=torch.bool))
    train(_cfg(), tmp_path, data, _norm(), "camera", progress=False, stop_after_epoch=1,
          device="cuda")
    res = train(_cfg(), tmp_path, data, _norm(), "camera", progress=False, resume=True,
                device="cuda")
    assert res.epochs_done == 3
    for state in load_checkpoint(tmp_path / "last.pt")["models"].values():
        for t in state.values():
            assert t.device.type == "cpu" and torch.isfinite(t.float()).all()
