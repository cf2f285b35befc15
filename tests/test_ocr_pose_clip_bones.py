"""``loss.bone_target = "clip"``: the clips' running bone-length estimates and the loss on them."""

import numpy as np
import pytest
import torch

from examples.ocr_pose.clip_bones import ClipBoneEstimate
from examples.ocr_pose.config import ConfigError, config_from_dict
from skelcl.skeleton.layouts import H36M17

BONES = H36M17.bones()


def _oracle(clip, momentum, updates):
    """A float64 loop over clips and bones: bias-corrected EMA of each update's batch mean."""
    labels = sorted(set(clip.tolist()))
    total = {c: np.zeros(16) for c in labels}
    weight = {c: np.zeros(16) for c in labels}
    for rows, bones, vis in updates:
        for c in labels:
            for b, (child, parent) in enumerate(BONES):
                vals = [float(bones[i, b]) for i, r in enumerate(rows.tolist())
                        if int(clip[r]) == c and bool(vis[i, child]) and bool(vis[i, parent])]
                if vals:
                    total[c][b] = (1 - momentum) * total[c][b] + momentum * np.mean(vals)
                    weight[c][b] = (1 - momentum) * weight[c][b] + momentum
    return {c: np.where(weight[c] > 0, total[c] / np.where(weight[c] > 0, weight[c], 1), np.nan)
            for c in labels}


@pytest.mark.parametrize("momentum", [0.1, 0.5, 1.0])
def test_estimates_are_the_bias_corrected_moving_average_of_batch_means(momentum):
    g = torch.Generator().manual_seed(0)
    clip = torch.tensor([7, 3, 3, 9, 7, 7, 3, 12, 9, 9, 3, 7]) * 5  # any labels; 60: one pose
    est = ClipBoneEstimate(clip, momentum, dtype=torch.float64)
    updates = []
    for _ in range(6):
        rows = torch.randint(0, clip.numel(), (8,), generator=g)  # repeats allowed
        bones = torch.rand(8, 16, generator=g, dtype=torch.float64) + 0.5
        vis = torch.rand(8, 17, generator=g) > 0.2
        est.update(rows, bones, vis)
        updates.append((rows, bones, vis))
    want = _oracle(clip, momentum, updates)
    all_rows = torch.arange(clip.numel())
    target, known = est.target(all_rows, torch.ones(clip.numel(), 17, dtype=torch.bool))
    for r in all_rows.tolist():
        c = int(clip[r])
        alone = int((clip == c).sum()) == 1
        expect_known = ~np.isnan(want[c]) & (not alone)
        assert known[r].tolist() == expect_known.tolist(), r
        np.testing.assert_allclose(target[r][known[r]].numpy(), want[c][expect_known], rtol=1e-12)
        assert bool((target[r][~known[r]] == 0).all())


def test_first_observation_is_taken_as_it_is_and_missing_bones_do_not_count():
    clip = torch.tensor([0, 0, 0, 1, 1])
    est = ClipBoneEstimate(clip, 0.1)
    bones = torch.full((2, 16), 2.0)
    bones[1] = 4.0
    vis = torch.ones(2, 17, dtype=torch.bool)
    vis[1, 13] = False  # the second pose lacks a left wrist: bone 12 (wrist -> elbow)
    est.update(torch.tensor([0, 1]), bones, vis)
    target, known = est.target(torch.tensor([2, 3]), torch.ones(2, 17, dtype=torch.bool))
    assert torch.allclose(target[0, :12], torch.full((12,), 3.0))  # the mean of 2 and 4
    assert float(target[0, 12]) == pytest.approx(2.0)  # only the first pose observed it
    assert not known[1].any() and bool((target[1] == 0).all())  # clip 1 not observed yet
    vis_query = torch.ones(1, 17, dtype=torch.bool)
    vis_query[0, 16] = False  # a query pose without the right wrist: bone 15 does not count
    _, known = est.target(torch.tensor([2]), vis_query)
    assert known[0].sum() == 15 and not known[0, 15]


def test_state_round_trips_and_refuses_other_clips():
    clip = torch.tensor([0, 0, 1, 1])
    est = ClipBoneEstimate(clip, 0.3)
    est.update(torch.tensor([0, 2]), torch.rand(2, 16), torch.ones(2, 17, dtype=torch.bool))
    other = ClipBoneEstimate(clip, 0.3)
    other.load_state_dict(est.state_dict())
    rows, vis = torch.arange(4), torch.ones(4, 17, dtype=torch.bool)
    for a, b in zip(est.target(rows, vis), other.target(rows, vis)):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="clip_bones.total"):
        ClipBoneEstimate(torch.tensor([0, 1, 2]), 0.3).load_state_dict(est.state_dict())
    with pytest.raises(ValueError, match="clip_bones.total"):
        other.load_state_dict({"weight": est.weight})


@pytest.mark.parametrize("bad, match", [
    (dict(clip=torch.tensor([0.0, 1.0])), "clip"),
    (dict(clip=torch.zeros(2, 2, dtype=torch.long)), "clip"),
    (dict(momentum=0.0), "momentum"),
    (dict(momentum=1.5), "momentum"),
])
def test_bad_arguments_are_named(bad, match):
    kw = dict(clip=torch.tensor([0, 0, 1]), momentum=0.1) | bad
    with pytest.raises(ValueError, match=match):
        ClipBoneEstimate(**kw)


def test_config_checks_the_target_and_momentum():
    base = {"variant": "decouple"}
    assert config_from_dict(base).loss.bone_target == "pair"
    assert config_from_dict(base).loss.bone_momentum == 0.1
    with pytest.raises(ConfigError, match="loss.bone_target"):
        config_from_dict(base | {"loss": {"bone_target": "frame"}})
    for m in (0.0, -0.1, 1.01):
        with pytest.raises(ConfigError, match="loss.bone_momentum"):
            config_from_dict(base | {"loss": {"bone_momentum": m}})


def test_backbone_loss_compares_the_lift_with_the_clip_estimates():
    """``l_bone`` is the mean |relative bone length of J3D - the clip estimate| over the bones
    that count, its gradient reaches the lifter, and the detached relative lengths come back
    for the update."""
    from examples.ocr_pose.model import build_models
    from examples.ocr_pose.training import BackboneLoss
    from skelcl.geometry import depth_to_points, sample_view_rotation
    from skelcl.losses import relative_bone_lengths

    cfg = config_from_dict({"variant": "decouple", "loss": {"w_bone": 1.0, "bone_target": "clip"}})
    g = torch.Generator().manual_seed(0)
    x = 0.05 * torch.randn(32, 17, 2, generator=g)
    dv = torch.ones(32, 17, dtype=torch.bool)
    rot = sample_view_rotation(32, generator=g)
    models = build_models(cfg)
    lifter = models["lifter"].eval()
    step = BackboneLoss(lifter, None, models["disc"], cfg)
    target = 0.5 + torch.rand(32, 16, generator=g)
    known = torch.rand(32, 16, generator=g) > 0.3
    out = step(x, dv, None, rot, None, None, target, known)
    rel = relative_bone_lengths(depth_to_points(x, lifter(x).depth, distance=cfg.model.distance))
    expect = ((rel - target).abs() * known).sum() / known.sum()
    torch.testing.assert_close(out.losses["l_bone"], expect)
    torch.testing.assert_close(out.bones, rel.detach())
    assert not out.bones.requires_grad
    lifter.zero_grad()
    out.losses["l_bone"].backward()
    assert float(sum(p.grad.abs().sum() for p in lifter.parameters() if p.grad is not None)) > 0
    none_known = step(x, dv, None, rot, None, None, target, torch.zeros_like(known))
    assert float(none_known.losses["l_bone"].detach()) == 0.0
    with pytest.raises(ValueError, match="bone_target"):
        step(x, dv, None, rot)


def test_trainer_feeds_each_update_into_its_clips():
    """After one backbone update the estimates of the batch's clips are the batch means of its
    (pre-update) lifts; other clips stay unobserved; no partner lift is drawn."""
    from examples.ocr_pose.inputs import Poses2D, fit_normalizer
    from examples.ocr_pose.training import Trainer

    g = torch.Generator().manual_seed(3)
    poses = 0.05 * torch.randn(96, 17, 2, generator=g)
    clip = torch.arange(96) // 6
    cfg = config_from_dict({"variant": "decouple", "seed": 0,
                            "loss": {"w_bone": 1.0, "bone_target": "clip", "bone_momentum": 0.25},
                            "schedule": {"batch_size": 32}, "model": {"hidden": 32, "num_blocks": 1}})
    norm = fit_normalizer(poses.double().numpy(), np.ones((96, 17)))
    tr = Trainer(cfg, Poses2D(poses, torch.ones(96, 17, dtype=torch.bool), clip=clip), norm,
                 "camera", None, "unused", progress=False)
    assert tr.clip_partners is None and tr.clip_bones is not None
    idx = torch.arange(0, 96, 3)  # two poses of every clip
    seen = {}

    def spy(rows, bones, vis, _orig=tr.clip_bones.update):
        seen["bones"] = bones.clone()
        _orig(rows, bones, vis)

    tr.clip_bones.update = spy
    tr.backbone_step(idx)
    target, known = tr.clip_bones.target(idx, torch.ones(32, 17, dtype=torch.bool))
    assert bool(known.all())
    pair_mean = seen["bones"].reshape(16, 2, 16).mean(1)  # rows 0,3 | 6,9 | ... share a clip
    torch.testing.assert_close(target[::2], pair_mean)
    assert tr.clip_bones.weight[: 16].min() == pytest.approx(0.25)


# --- loss.bone_target = "image": one target read off the training 2D -------------------------


def test_config_accepts_the_image_target():
    cfg = config_from_dict({"variant": "decouple", "loss": {"w_bone": 0.3, "bone_target": "image"}})
    assert cfg.loss.bone_target == "image"


def test_trainer_compares_every_lift_with_the_proportions_of_its_2d():
    """The target is :func:`skelcl.losses.bone_proportions_from_2d` of the training 2D (clips
    below 10 poses do not vote, or the largest clips when none has 10); ``l_bone`` is the mean
    |relative bone length of the lift - target| over the bones in the data, recomputed here
    from a lift of the same batch; no partner is drawn and no running state is kept, so the
    random stream and the checkpoint are those of a run without the prior."""
    from examples.ocr_pose.inputs import Poses2D, fit_normalizer
    from examples.ocr_pose.training import Trainer
    from skelcl.losses import bone_proportions_from_2d

    g = torch.Generator().manual_seed(5)
    poses = 0.05 * torch.randn(96, 17, 2, generator=g)
    vis = torch.rand(96, 17, generator=g) > 0.05
    vis[:, 0] = True
    clip = torch.arange(96) // 6  # six poses per clip: below 10, so all clips of 6 vote
    cfg = config_from_dict({"variant": "decouple", "seed": 0,
                            "loss": {"w_bone": 1.0, "bone_target": "image"},
                            "schedule": {"batch_size": 32}, "model": {"hidden": 32, "num_blocks": 1}})
    norm = fit_normalizer(poses.double().numpy(), vis.double().numpy())
    data = Poses2D(poses, vis, clip=clip)
    tr = Trainer(cfg, data, norm, "camera", None, "unused", progress=False)
    assert tr.clip_partners is None and tr.clip_bones is None
    want = bone_proportions_from_2d(tr.data.poses, clip, tr.data.visible, min_poses=6)
    torch.testing.assert_close(tr.image_bones, want)
    idx = torch.arange(32)
    seen = {}

    def spy(kind, *args, _orig=tr._forward):
        if kind == "backbone":
            seen["args"] = args
        return _orig(kind, *args)

    tr._forward = spy
    losses = tr.backbone_step(idx)
    _, dv, _, _, _, _, target, known = seen["args"]
    torch.testing.assert_close(target, want.expand(32, -1))
    assert torch.equal(known, dv[:, [c for c, _ in BONES]] & dv[:, [p for _, p in BONES]])
    assert torch.equal(dv, vis[idx]) and not bool(known.all())
    assert float(losses["l_bone"].detach()) > 0
    # no random draw: after one update the data generator is where a run without the prior is
    plain = config_from_dict({**cfg.to_dict(), "loss": {**cfg.to_dict()["loss"], "w_bone": 0.0}})
    off = Trainer(plain, data, norm, "camera", None, "unused", progress=False)
    off.backbone_step(idx)
    assert torch.equal(off.generator.get_state(), tr.generator.get_state())
    assert "l_bone" not in off.backbone_step(idx)


def test_image_target_needs_clip_labels():
    from examples.ocr_pose.inputs import Poses2D, fit_normalizer
    from examples.ocr_pose.training import Trainer

    poses = 0.05 * torch.randn(32, 17, 2)
    cfg = config_from_dict({"variant": "decouple", "loss": {"w_bone": 0.3, "bone_target": "image"},
                            "schedule": {"batch_size": 16}})
    with pytest.raises(ConfigError, match="loss.w_bone"):
        Trainer(cfg, Poses2D(poses, torch.ones(32, 17, dtype=torch.bool)),
                fit_normalizer(poses.double().numpy(), np.ones((32, 17))), "camera", None, "unused",
                progress=False)


def test_image_target_refuses_data_that_never_shows_a_bone():
    from examples.ocr_pose.inputs import Poses2D, fit_normalizer
    from examples.ocr_pose.training import Trainer

    poses = 0.05 * torch.randn(32, 17, 2)
    vis = torch.ones(32, 17, dtype=torch.bool)
    vis[:, 16] = False  # no right wrist anywhere
    cfg = config_from_dict({"variant": "decouple", "loss": {"w_bone": 0.3, "bone_target": "image"},
                            "schedule": {"batch_size": 16}})
    with pytest.raises(ConfigError, match="loss.bone_target.*shows every bone"):
        Trainer(cfg, Poses2D(poses, vis, clip=torch.arange(32) // 8),
                fit_normalizer(poses.double().numpy(), vis.double().numpy()), "camera", None,
                "unused", progress=False)
