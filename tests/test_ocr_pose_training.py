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


@pytest.mark.parametrize("variant, extra", [
    ("ocr_pose", {}), ("baseline", {}), ("decouple", {"loss": {"w_bone": 1.0}}),
    ("decouple", {"loss": {"w_bone": 1.0, "bone_target": "clip"}}),
    ("decouple", {"loss": {"w_bone": 1.0, "bone_target": "image"}}),
])
def test_resume_reaches_the_same_state_bit_for_bit(tmp_path, variant, extra):
    cfg = _cfg(variant, **extra)
    data = Poses2D(_poses(), torch.ones(96, 17, dtype=torch.bool), clip=torch.arange(96) // 6)
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
    if ref.clip_bones is not None:  # the clips' running estimates resume too
        assert float(ref.clip_bones.weight.max()) > 0
        for name, t in ref.clip_bones.state_dict().items():
            assert torch.equal(t, again.clip_bones.state_dict()[name]), name
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


def _write_dataset(path: Path, poses_3d, clip=None):
    from skelcl.data.pose_dataset import PoseDataset, save_pose_dataset

    g = np.random.default_rng(0)
    n = 128
    p2 = 500 + 40 * g.standard_normal((n, 17, 2))
    p2[:, 10] = p2[:, 0] + [0, -120]
    ds = PoseDataset(poses_2d=p2, image_size=np.array([1000.0, 1000.0]), layout="h36m17",
                     focal=np.array(1150.0), poses_3d=poses_3d, clip=clip)
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


def test_train_cli_with_the_bone_prior_reads_the_clip_labels_of_the_file(tmp_path, capsys):
    """The tutorial's ``{"extends": ..., "loss": {"w_bone": ...}}`` on a pose file: it trains with
    ``l_bone`` where the file has clip labels, and stops before training, naming the key, where
    it has none."""
    cfg_file = tmp_path / "bone.json"
    cfg_file.write_text(json.dumps({"extends": "decouple", **TINY, "loss": {"w_bone": 0.3}}))
    clips = _write_dataset(tmp_path / "clips.npz", None,
                           clip=np.array([f"clip{i // 16}" for i in range(128)]))
    assert main(["train", "--config", str(cfg_file), "--out", str(tmp_path / "a"),
                 "--data", str(clips), "--no-progress"]) == 0
    last = json.loads((tmp_path / "a" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["losses"]["l_bone"] > 0
    plain = _write_dataset(tmp_path / "plain.npz", None)
    assert main(["train", "--config", str(cfg_file), "--out", str(tmp_path / "b"),
                 "--data", str(plain), "--no-progress"]) == 2
    assert "loss.w_bone" in capsys.readouterr().err


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


# ---------------------------------------------------------------------------- step modules
def _step_inputs(tr: Trainer, kind: str, b: int = 16):
    """Inputs of step module ``kind`` for the first ``b`` training poses (the trainer's draws)."""
    idx = torch.arange(b)
    x, dv, n = tr._batch(idx)
    if kind == "supervised":
        return x, tr.data.poses_3d[:b].to(x.dtype) / 1000.0
    vis = tr._visibility(x, dv, n)
    if kind == "warmup":
        return x, dv, vis
    if kind == "backbone":
        rot = tr._rotations(idx)
        partner = () if tr.clip_partners is None else (x.flip(0), dv.flip(0))
        if tr.clip_bones is not None:
            partner = (None, None, *tr.clip_bones.target(idx, dv))
        if tr.image_bones is not None:
            partner = (None, None, tr.image_bones.expand(b, -1), torch.ones(b, 16, dtype=torch.bool))
        return (x, dv, vis if "filler" in tr.models else None, rot, *partner)
    if kind == "disc":
        return x, x.flip(0)
    return x, x, dv, vis, tr._rotations(idx), tr._visibility(x, torch.ones_like(dv), n)


@pytest.mark.parametrize("alternation, pattern, backbone, occlusion", [
    # 6 batches per main epoch
    ("per_batch", (1, 1), 6, 6),   # every batch: a backbone, then an occlusion update
    ("per_batch", (2, 1), 6, 3),   # an occlusion update after every second backbone update
    ("per_batch", (1, 3), 6, 18),
    ("split", (1, 1), 3, 3),       # the batches shared out between the kinds
    ("split", (2, 1), 4, 2),
])
def test_alternation_counts_the_updates_of_an_epoch(tmp_path, alternation, pattern, backbone, occlusion):
    cfg = _cfg("ocr_pose", schedule={"epochs": 1, "max_steps_per_epoch": 6, "alternation": alternation,
                                     "backbone_steps": pattern[0], "occlusion_steps": pattern[1]})
    tr = Trainer(cfg, Poses2D(_poses(192), torch.ones(192, 17, dtype=torch.bool)), _norm(), "camera",
                 None, tmp_path, progress=False)
    calls = []
    for kind in ("backbone", "occlusion"):
        step = getattr(tr, f"{kind}_step")
        setattr(tr, f"{kind}_step", lambda idx, k=kind, f=step: (calls.append((k, idx)), f(idx))[1])
    tr.fit()
    kinds = [k for k, _ in calls]
    assert kinds.count("backbone") == backbone and kinds.count("occlusion") == occlusion
    assert tr.backbone_steps == backbone
    assert tr.step == 6 + backbone + occlusion  # warm-up batches, then every update
    if alternation == "per_batch":  # occlusion updates reuse the batch of the backbone update before
        for (k0, i0), (k1, i1) in zip(calls, calls[1:]):
            if k1 == "occlusion":
                assert torch.equal(i0, i1)
    else:  # every update on its own batch
        assert len({tuple(i.tolist()) for _, i in calls}) == len(calls)


@pytest.mark.parametrize("shared", [True, False])
def test_projection_head_is_trained_by_the_occlusion_updates_only(tmp_path, shared):
    """``model.proj_dim``: the contrastive losses compare ``proj(f_occ)`` (the miners work in
    ``proj_dim``); a backbone update leaves the head as it is, an occlusion update moves it."""
    cfg = _cfg("ocr_pose", model={"proj_dim": 4}, schedule={"shared_optimizer": shared})
    assert "proj" not in Trainer(_cfg("ocr_pose"), Poses2D(_poses(), torch.ones(96, 17, dtype=torch.bool)),
                                 _norm(), "camera", None, tmp_path / "plain", progress=False).models
    tr = Trainer(cfg, Poses2D(_poses(), torch.ones(96, 17, dtype=torch.bool)), _norm(), "camera",
                 None, tmp_path / "proj", progress=False)
    head = tr.models["proj"]
    assert (head.in_dim, head.out_dim) == (cfg.model.occ_dim, 4)
    assert tr.models["miner_ti"].dim == tr.models["miner_ve"].dim == 4
    seen = []
    head.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape)))
    weights = lambda: [p.detach().clone() for p in head.parameters()]  # noqa: E731
    w0 = weights()
    tr.backbone_step(torch.arange(32))
    assert not seen and all(torch.equal(a, b) for a, b in zip(w0, weights()))
    losses = tr.occlusion_step(torch.arange(32))
    assert set(losses) == {"l_ti", "l_ve"} and all(torch.isfinite(v) for v in losses.values())
    assert seen and all(s == (32, 4) for s in seen)
    assert all(not torch.equal(a, b) for a, b in zip(w0, weights()))


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("scale", [1.0, 0.25])
def test_occlusion_lr_scale_sets_the_size_of_the_occlusion_updates(tmp_path, shared, scale):
    """``schedule.occlusion_lr_scale``: Adam's first update moves every parameter with a non-zero
    gradient by its learning rate (m / sqrt(v) = sign(g) after bias correction), so after one
    occlusion step the largest change of a parameter that only the occlusion optimiser updates is
    ``lr * scale``; the backbone keeps ``lr``."""
    cfg = _cfg("ocr_pose", model={"proj_dim": 4},
               schedule={"shared_optimizer": shared, "occlusion_lr_scale": scale})
    tr = Trainer(cfg, Poses2D(_poses(), torch.ones(96, 17, dtype=torch.bool)), _norm(), "camera",
                 None, tmp_path, progress=False)
    lr = cfg.schedule.lr
    assert [g["lr"] for g in tr.optimizers["backbone"].param_groups] == [lr]
    assert [g["lr"] for g in tr.optimizers["occlusion"].param_groups] == [pytest.approx(lr * scale)]
    # the projection head is in the occlusion optimiser in both modes
    watched = list(tr.models["proj"].parameters())
    if not shared:  # ... and so is the filling network
        watched += list(tr.models["filler"].parameters())
    before = [p.detach().clone() for p in watched]
    tr.occlusion_step(torch.arange(32))
    moved = max(float((p.detach() - b).abs().max()) for p, b in zip(watched, before))
    assert moved == pytest.approx(lr * scale, rel=1e-3)


def test_alternation_rejects_an_unknown_mode():
    with pytest.raises(Exception, match="schedule.alternation"):
        _cfg("ocr_pose", schedule={"alternation": "interleaved"})


def _supervised_data():
    x = _poses()
    g = torch.Generator().manual_seed(1)
    p3 = torch.cat([x, 0.05 * torch.randn(96, 17, 1, generator=g)], -1).double() * 1000
    return Poses3D(x, torch.ones(96, 17), p3 - p3[:, :1], None)


@pytest.mark.parametrize("variant, extra", [
    ("ocr_pose", {}),
    ("baseline", {}),
    ("no_decouple", {"loss": {"ticlr": True, "veclr": True},  # plain lifter with contrast
                     "schedule": {"occlusion_steps": 1}}),
    ("ocr_pose", {"model": {"depth_input": "feature"},  # rotation decoder unused w/o L_rot
                  "loss": {"w_rot": 0.0, "hard_negative_miner": False}}),
    ("baseline", {"loss": {"w_knee": 0.5}}),  # the backward-knee prior
    ("decouple", {"loss": {"w_bone": 1.0}}),  # the bone-length consistency prior
    ("ocr_pose", {"loss": {"w_bone": 1.0, "bone_target": "clip"}}),  # ... against clip estimates
    ("ocr_pose", {"loss": {"w_bone": 1.0, "bone_target": "image"}}),  # ... against 2D proportions
    ("ocr_pose", {"model": {"proj_dim": 4}}),  # contrastive projection head
    ("supervised", {}),
    ("supervised", {"model": {"lifter": "decoupled", "depth_input": "feature"}}),
])
def test_step_modules_register_exactly_the_parameters_that_get_gradients(tmp_path, variant, extra):
    """What DDP relies on: in the backward of a step module's loss, every parameter that gets a
    gradient is registered in that module (else DDP would not average it), and every registered
    parameter gets one unless ``find_unused_parameters`` says otherwise."""
    from examples.ocr_pose.training import find_unused_parameters, weighted_total

    cfg = _cfg(variant, **extra)
    data = (_supervised_data() if variant == "supervised"
            else Poses2D(_poses(), torch.ones(96, 17, dtype=torch.bool), clip=torch.arange(96) // 6))
    tr = Trainer(cfg, data, _norm(), "camera", None, tmp_path, progress=False)
    kinds = set(tr.step_losses)
    assert kinds == ({"supervised"} if variant == "supervised" else
                     {"backbone", "disc"} | ({"warmup"} if "filler" in tr.models else set())
                     | ({"occlusion"} if cfg.uses_contrast else set()))
    for kind, module in tr.step_losses.items():
        assert module is not None and isinstance(module, torch.nn.Module)
        for p in tr.models.parameters():
            p.grad = None
        out = module(*_step_inputs(tr, kind))
        losses = out.losses if kind == "backbone" else out
        assert all(torch.isfinite(v) for v in losses.values())
        weighted_total(losses, cfg).backward() if kind in ("backbone", "occlusion") else \
            sum(losses.values()).backward()
        registered = {id(p) for p in module.parameters()}
        got = {id(p) for p in tr.models.parameters() if p.grad is not None}
        assert registered and got <= registered, kind
        assert (got == registered) != find_unused_parameters(kind, cfg), kind
        if kind == "backbone" and "disc" in tr.models:  # detached weights inside L_adv
            assert all(p.grad is None and p.requires_grad for p in tr.models["disc"].parameters())


def test_one_forward_per_backward_is_enforced(tmp_path):
    tr = Trainer(_cfg(), Poses2D(_poses(), torch.ones(96, 17, dtype=torch.bool)), _norm(), "camera",
                 None, tmp_path, progress=False)
    tr._forward("warmup", *_step_inputs(tr, "warmup"))
    with pytest.raises(RuntimeError, match="pending"):
        tr.backbone_step(torch.arange(32))
    tr._pending = None
    with pytest.raises(RuntimeError, match="without a step-module forward"):
        tr._optimise(torch.zeros((), requires_grad=True), [])


class _HostSyncs:
    """Records the aten calls that read a tensor's value on the host (``.item()``, ``bool()``,
    ``float()``: ``_local_scalar_dense``) or whose output shape depends on values (a sync on
    CUDA), outside ``torch.optim`` (Adam reads its CPU step counter, not a device value)."""

    def __init__(self):
        import sys

        from torch.utils._python_dispatch import TorchDispatchMode

        ops = {torch.ops.aten._local_scalar_dense.default, torch.ops.aten.nonzero.default,
               torch.ops.aten.masked_select.default, torch.ops.aten.unique_consecutive.default,
               torch.ops.aten._unique2.default}
        calls = self.calls = []

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                if func in ops:
                    where, f = [], sys._getframe(1)
                    while f is not None:
                        where.append(f"{f.f_code.co_filename}:{f.f_lineno}")
                        f = f.f_back
                    if not any("torch/optim" in w for w in where):
                        calls.append((str(func), where[:8]))
                return func(*args, **(kwargs or {}))

        self.mode = Mode()


@pytest.mark.parametrize("variant, bone_target", [("ocr_pose", "pair"), ("ocr_pose", "clip"),
                                                  ("ocr_pose", "image"),
                                                  ("occluded_training", "pair"),
                                                  ("supervised", "pair")])
def test_training_steps_make_no_host_synchronisation(tmp_path, variant, bone_target):
    cfg = _cfg(variant, schedule={"disc_every": 1},
               loss={"w_knee": 0.1, "w_bone": 0.1, "bone_target": bone_target})
    data = (_supervised_data() if variant == "supervised"
            else Poses2D(_poses(), torch.ones(96, 17, dtype=torch.bool), clip=torch.arange(96) // 6))
    tr = Trainer(cfg, data, _norm(), "camera", None, tmp_path, progress=False)
    idx = torch.arange(32)
    steps = ([tr.supervised_step] if variant == "supervised"
             else [tr.warmup_step, tr.backbone_step, tr.occlusion_step])
    for step in steps:  # once outside (lazy initialisation), then under the recorder
        step(idx)
    rec = _HostSyncs()
    with rec.mode:
        for step in steps:
            losses = step(idx)
    assert rec.calls == []
    assert all(torch.isfinite(v) for v in losses.values())
    probe = _HostSyncs()  # the recorder does see a host read
    with probe.mode:
        bool(torch.ones(2).sum() > 0)
    assert len(probe.calls) == 1


def test_bf16_autocast_option(tmp_path):
    """``schedule.autocast = "bfloat16"``: the networks run in bfloat16 (parameters, gradients,
    losses and the geometry stay float32); one update's losses agree with float32 to bfloat16
    precision, and the default (``null``) is plain float32."""
    from examples.ocr_pose.config import ConfigError

    data = Poses2D(_poses(), torch.ones(96, 17, dtype=torch.bool))
    res = {}
    for amp in (None, "bfloat16"):
        cfg = _cfg(schedule={"autocast": amp, "disc_every": 1})
        tr = Trainer(cfg, data, _norm(), "camera", None, tmp_path / str(amp), progress=False)
        assert all(m.autocast == (None if amp is None else torch.bfloat16)
                   for m in tr.step_losses.values() if hasattr(m, "autocast") and m is not
                   tr.step_losses.get("warmup"))
        idx = torch.arange(64)
        res[amp] = {**tr.backbone_step(idx), **tr.occlusion_step(idx)}
        for p in tr.models.parameters():
            assert p.dtype == torch.float32 and (p.grad is None or p.grad.dtype == torch.float32)
    for k, v in res[None].items():
        assert res["bfloat16"][k].dtype == torch.float32
        assert float(res["bfloat16"][k].detach()) == pytest.approx(float(v.detach()), rel=0.05, abs=1e-3), k
    assert any(not torch.equal(res["bfloat16"][k], v) for k, v in res[None].items())
    with pytest.raises(ConfigError, match="schedule.autocast"):
        _cfg(schedule={"autocast": "float8"})


@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="needs oneDNN")
def test_onednn_matmul_mode_against_float64():
    """``OneDnnMatmul`` (``schedule.cpu_matmul = "onednn"``): linear layers and 2-D products,
    values and gradients, against float64 PyTorch; other dtypes and shapes pass through."""
    from examples.ocr_pose.training import OneDnnMatmul

    g = torch.Generator().manual_seed(0)
    x = torch.randn(37, 21, generator=g, requires_grad=True)
    w = torch.randn(13, 21, generator=g, requires_grad=True)
    b = torch.randn(13, generator=g, requires_grad=True)
    m = torch.randn(13, 9, generator=g, requires_grad=True)
    c = torch.randn(37, 9, generator=g)
    with OneDnnMatmul():
        y = torch.nn.functional.linear(x, w, b) @ m + torch.matmul(x, w.t()) @ m.detach()
        y64 = torch.nn.functional.linear(x.double(), w.double())  # float64: passes through
        y3 = torch.nn.functional.linear(x[None], w)  # 3-D: passes through
    assert y64.dtype == torch.float64 and y3.shape == (1, 37, 13)
    (y * c).sum().backward()
    xd, wd, bd, md = (t.detach().double().requires_grad_() for t in (x, w, b, m))
    yd = (xd @ wd.T + bd) @ md + (xd @ wd.T) @ md.detach()
    (yd * c.double()).sum().backward()
    torch.testing.assert_close(y.double(), yd, rtol=1e-5, atol=1e-5)
    for t, td in ((x, xd), (w, wd), (b, bd), (m, md)):
        torch.testing.assert_close(t.grad.double(), td.grad, rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="needs oneDNN")
def test_cpu_matmul_onednn_option_trains_like_the_default(tmp_path):
    data = Poses2D(_poses(), torch.ones(96, 17, dtype=torch.bool))
    res = {}
    for opt in (None, "onednn"):
        cfg = _cfg(schedule={"cpu_matmul": opt, "disc_every": 1}, model={"dropout": 0.0})
        tr = Trainer(cfg, data, _norm(), "camera", None, tmp_path / str(opt), progress=False)
        assert all(m.cpu_matmul == opt for m in tr.step_losses.values())
        idx = torch.arange(64)
        res[opt] = [{k: float(v.detach()) for k, v in {**tr.backbone_step(idx),
                                                      **tr.occlusion_step(idx)}.items()}
                    for _ in range(2)]
    for a, b in zip(res[None], res["onednn"]):
        for k in a:
            assert b[k] == pytest.approx(a[k], rel=1e-3, abs=1e-5), k


@pytest.mark.parametrize("detach", [True, False])
def test_rotation_loss_cannot_reshape_the_depth_through_the_cycle(detach):
    """``loss.rot_detach_relift``: L_rot's gradient reaches the depth head only through JR2D (the
    projection of the lifted depth); with the detached re-lift pass it must not reach it at all."""
    from examples.ocr_pose.model import build_models
    from examples.ocr_pose.training import BackboneLoss
    from skelcl.geometry import sample_view_rotation

    cfg = _cfg("decouple", loss={"rot_detach_relift": detach, "w_rot": 0.1})
    models = build_models(cfg)
    lifter = models["lifter"]
    step = BackboneLoss(lifter, models["filler"], models["disc"], cfg)
    g = torch.Generator().manual_seed(0)
    x = 0.05 * torch.randn(32, 17, 2, generator=g)
    ones = torch.ones(32, 17, dtype=torch.bool)
    rot = sample_view_rotation(32, generator=g)
    out = step(x, ones, ones, rot)
    out.losses["l_rot"].backward()
    head = [p.grad for p in lifter.depth_out.parameters()]
    trunk = [p.grad for p in lifter.rot_decoder.parameters()]
    assert all(t is not None and t.abs().sum() > 0 for t in trunk)  # L_rot trains the rotation
    reached = any(h is not None and h.abs().sum() > 0 for h in head)
    assert reached is (not detach)


def test_knee_prior_is_off_by_default_and_trains_the_depth_when_on():
    """``loss.w_knee``: ``l_knee`` is the backward-knee hinge of the lifted J3D (the value of
    :func:`skelcl.losses.knee_direction_loss` on the cycle's ``pose_3d``), weighted into
    ``L_backbone``; its gradient reaches the depth head. Off (absent) by default."""
    from examples.ocr_pose.config import ConfigError
    from examples.ocr_pose.model import build_models
    from examples.ocr_pose.training import BackboneLoss, weighted_total
    from skelcl.geometry import sample_view_rotation
    from skelcl.losses import knee_direction_loss, lift_cycle

    assert _cfg("baseline").loss.w_knee == 0.0
    g = torch.Generator().manual_seed(0)
    x = 0.05 * torch.randn(32, 17, 2, generator=g)
    rot = sample_view_rotation(32, generator=g)
    models = build_models(_cfg("baseline"))
    out = BackboneLoss(models["lifter"], None, models["disc"], _cfg("baseline"))(x, None, None, rot)
    assert "l_knee" not in out.losses
    cfg = _cfg("baseline", loss={"w_knee": 2.0})
    lifter = models["lifter"].eval()  # eval: the same forward twice (no dropout, fixed BN)
    out = BackboneLoss(lifter, None, models["disc"], cfg)(x, None, None, rot)
    cyc = lift_cycle(lifter, x, rot, distance=cfg.model.distance, clamp=cfg.loss.clamp_2d)
    torch.testing.assert_close(out.losses["l_knee"], knee_direction_loss(cyc.pose_3d))
    total = weighted_total(out.losses, cfg)
    rest = weighted_total({k: v for k, v in out.losses.items() if k != "l_knee"}, cfg)
    torch.testing.assert_close(total - rest, 2.0 * out.losses["l_knee"])
    lifter.zero_grad()
    assert float(out.losses["l_knee"].detach()) > 0  # an untrained lifter bends some knees backwards
    out.losses["l_knee"].backward()
    assert all(p.grad is not None for p in lifter.parameters())
    assert float(sum(p.grad.abs().sum() for p in lifter.parameters())) > 0
    with pytest.raises(ConfigError, match="w_knee"):
        _cfg("baseline", loss={"w_knee": -1.0})


def test_bone_prior_draws_partners_from_the_same_clip():
    """``loss.w_bone``: each pose's partner is a uniformly drawn pose of its own clip (itself in a
    clip of one), whatever the order of the clip labels; no labels, no prior."""
    from examples.ocr_pose.config import ConfigError

    g = torch.Generator().manual_seed(1)
    clip = torch.cat([torch.randint(0, 9, (95,), generator=g), torch.tensor([42])])  # 42: alone
    data = Poses2D(_poses(), torch.ones(96, 17, dtype=torch.bool), clip=clip)
    tr = Trainer(_cfg("decouple", loss={"w_bone": 1.0}), data, _norm(), "camera", None, "unused",
                 progress=False)
    idx = torch.arange(96).repeat(400)
    partner = tr._partners(idx)
    assert torch.equal(clip[partner], clip[idx])
    assert int(partner[idx == 95].unique().numel()) == 1 and int(partner[idx == 95][0]) == 95
    for c in clip.unique().tolist():  # every member of a clip is drawn, about equally often
        members = torch.nonzero(clip == c).flatten()
        drawn = partner[clip[idx] == c]
        counts = torch.stack([(drawn == m).sum() for m in members]).double()
        assert set(drawn.tolist()) == set(members.tolist())
        expected = drawn.numel() / members.numel()
        assert float(((counts - expected).abs() / expected).max()) < 0.35
    no_labels = Poses2D(_poses(), torch.ones(96, 17, dtype=torch.bool))
    with pytest.raises(ConfigError, match="loss.w_bone.*clip"):
        Trainer(_cfg("decouple", loss={"w_bone": 1.0}), no_labels, _norm(), "camera", None, "unused",
                progress=False)
    with pytest.raises(ConfigError, match="w_bone"):
        _cfg("decouple", loss={"w_bone": -0.5})
    assert _cfg("decouple").loss.w_bone == 0.0


def test_bone_prior_compares_the_two_lifts_and_trains_the_depth():
    """``l_bone`` is the bone-length consistency of the lifted J3D with the lift of the partner
    poses, over the bones whose joints both poses have; 0 when the partner is the pose itself;
    its gradient reaches the lifter."""
    from examples.ocr_pose.model import build_models
    from examples.ocr_pose.training import BackboneLoss, weighted_total
    from skelcl.geometry import depth_to_points, sample_view_rotation
    from skelcl.losses import bone_length_consistency_loss

    cfg = _cfg("decouple", loss={"w_bone": 2.0})
    g = torch.Generator().manual_seed(0)
    x, other = 0.05 * torch.randn(2, 32, 17, 2, generator=g)
    dv = torch.ones(32, 17, dtype=torch.bool)
    rot = sample_view_rotation(32, generator=g)
    models = build_models(cfg)
    lifter = models["lifter"].eval()  # the same forward twice (no dropout, fixed BN)
    step = BackboneLoss(lifter, None, models["disc"], cfg)
    assert float(step(x, dv, None, rot, x, dv).losses["l_bone"].detach()) < 1e-6
    pv = dv.clone()
    pv[:4, 13] = False  # the partner lacks a left wrist: its forearm does not count
    out = step(x, dv, None, rot, other, pv)
    j3d = lambda p: depth_to_points(p, lifter(p).depth, distance=cfg.model.distance)  # noqa: E731
    per_bone = bone_length_consistency_loss(j3d(x), j3d(other), reduction="none")
    per_bone[:4, 12] = 0.0  # bone 12 = l_wrist -> l_elbow
    torch.testing.assert_close(out.losses["l_bone"], per_bone.sum() / (32 * 16 - 4))
    assert float(out.losses["l_bone"].detach()) > 0
    total = weighted_total(out.losses, cfg)
    rest = weighted_total({k: v for k, v in out.losses.items() if k != "l_bone"}, cfg)
    torch.testing.assert_close(total - rest, 2.0 * out.losses["l_bone"])
    lifter.zero_grad()
    out.losses["l_bone"].backward()
    assert float(sum(p.grad.abs().sum() for p in lifter.parameters() if p.grad is not None)) > 0
    with pytest.raises(ValueError, match="partner"):
        step(x, dv, None, rot)


def test_poses2d_carries_clip_numbers(data_dir):
    """Real training data reaches the trainer with one number per clip label (and no 3D)."""
    from examples.ocr_pose.data_sources import real_datasets
    from examples.ocr_pose.inputs import clip_numbers, dataset_to_2d, to_poses2d
    from examples.ocr_pose.reproduce import budget_frames

    ds = budget_frames(real_datasets(data_dir, views=1, seed=0), "tiny", 0).train
    xy, conf, _ = dataset_to_2d(ds)
    p2 = to_poses2d(ds, fit_normalizer(xy, conf))
    assert p2.clip is not None and p2.clip.dtype == torch.int64 and len(p2.clip) == len(ds)
    labels = np.asarray(ds.clip)
    for a in range(0, len(ds), 37):
        same = labels == labels[a]
        assert np.array_equal(same, (p2.clip == p2.clip[a]).numpy())
    assert torch.equal(p2.take(torch.arange(5)).clip, p2.clip[:5])
    assert clip_numbers(ds.subset(np.arange(3))) is not None


@pytest.mark.parametrize("variant", ["baseline", "no_decouple", "decouple", "decouple_veclr",
                                     "ocr_pose", "occluded_training", "supervised"])
def test_the_paper_budget_trains_every_variant_at_full_size(tmp_path, variant):
    """``reproduce --budget paper`` is a GPU job that never ran on this project's CPUs; this runs
    its exact configs (full widths, the paper's weights and rotation ranges, batch norm, the shared
    optimiser) for two epochs of two small batches each, after the filling warm-up where the
    variant has one, so that no path of it is first exercised on a GPU."""
    import dataclasses

    from examples.ocr_pose.reproduce import budget_config

    paper = budget_config(variant, "paper", 0)
    assert paper.model.hidden == 512 and paper.schedule.batch_size == 512
    cfg = dataclasses.replace(paper, schedule=dataclasses.replace(
        paper.schedule, epochs=2, warmup_epochs=1, batch_size=16, max_steps_per_epoch=2))
    data = _supervised_data() if variant == "supervised" else \
        Poses2D(_poses(), torch.ones(96, 17, dtype=torch.bool), clip=torch.arange(96) // 6)
    res = train(cfg, tmp_path, data, _norm(), "camera", progress=False)
    assert res.epochs_done == 2 + (1 if cfg.uses_filling else 0)  # the warm-up comes first
    losses = res.history[-1]["losses"]
    assert losses and all(np.isfinite(v) for v in losses.values()), losses
    want = {"supervised": {"l_sup"}, "baseline": {"l_adv", "l_disc"},
            "ocr_pose": {"l_adv", "l_ti", "l_ve", "l_rot"}}.get(variant, {"l_adv"})
    assert want <= losses.keys(), (variant, sorted(losses))
    ck = load_checkpoint(tmp_path / "last.pt")
    for state in ck["models"].values():
        for t in state.values():
            assert torch.isfinite(t.float()).all()
