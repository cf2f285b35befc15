"""The f_occ retrieval experiment (examples/ocr_pose/experiments/feature_invariance.py): its views
and masks are what its docstring says."""

from __future__ import annotations

import torch

from examples.ocr_pose.experiments.feature_invariance import LIMBS, accuracies, three_missing, views
from skelcl.skeleton import H36M17


def test_views_turn_the_body_about_the_vertical_axis_through_the_pelvis():
    g = torch.Generator().manual_seed(0)
    p3 = 0.3 * torch.rand(40, 17, 3, generator=g, dtype=torch.float64)
    p3 = p3 + torch.tensor([0.3, 1.0, 5.0], dtype=torch.float64)  # in front of the camera, y >= 1
    v = views(p3, seed=1)
    torch.testing.assert_close(v["A"], p3[..., :2] / p3[..., 2:])  # the camera's own view
    torch.testing.assert_close(v["view"][:, 0], v["A"][:, 0])  # the pelvis does not move
    # a turn about y keeps every height: recover the turned pose from its projection with y' = y
    z = p3[..., 1] / v["view"][..., 1]
    x = v["view"][..., 0] * z
    root = p3[:, :1]
    horizontal = lambda a, b: torch.hypot(a - root[..., 0], b - root[..., 2])  # noqa: E731
    torch.testing.assert_close(horizontal(x, z), horizontal(p3[..., 0], p3[..., 2]))
    assert ((v["view"] - v["A"]).abs().amax(dim=(1, 2)) > 1e-6).all()  # the views differ
    torch.testing.assert_close(views(p3, seed=1)["view"], v["view"])  # seeded
    assert not torch.allclose(views(p3, seed=2)["view"], v["view"])


def test_exactly_three_limb_joints_are_missing():
    vis = three_missing(500, seed=3)
    assert vis.shape == (500, 17) and vis.dtype == torch.bool
    assert ((~vis).sum(dim=1) == 3).all()
    others = [j for j in range(H36M17.num_joints) if j not in LIMBS]
    assert vis[:, others].all()
    assert (~vis[:, list(LIMBS)]).any(dim=0).all()  # every limb joint is hidden sometimes


def test_accuracies_report_the_three_changes_against_the_unchanged_copy():
    g = torch.Generator().manual_seed(4)
    a = torch.randn(50, 8, generator=g)
    feats = {"A": a, "view": a.clone(), "mask": torch.randn(50, 8, generator=g), "view+mask": a.roll(1, 0)}
    acc = accuracies(feats)
    assert acc["view"] == {"top1": 1.0, "top10": 1.0}
    assert acc["view+mask"]["top1"] == 0.0
    assert 0.0 <= acc["mask"]["top1"] <= acc["mask"]["top10"] <= 1.0
