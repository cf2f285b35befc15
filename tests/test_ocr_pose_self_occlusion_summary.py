"""OCR-Pose example: the summary of what the ``reproduce`` self-occlusion setting hides."""

import numpy as np
import pytest

from examples.ocr_pose.reproduce import self_occlusion_summary
from skelcl.data.pose_dataset import PoseDataset
from skelcl.skeleton import H36M17

# A T-pose facing the camera, every joint 5 m away (metres, camera frame, y down).
T_POSE = np.array([
    [0.0, 0.0], [-0.12, 0.0], [-0.12, 0.45], [-0.12, 0.9], [0.12, 0.0], [0.12, 0.45],
    [0.12, 0.9], [0.0, -0.25], [0.0, -0.5], [0.0, -0.6], [0.0, -0.75], [0.2, -0.5],
    [0.5, -0.5], [0.8, -0.5], [-0.2, -0.5], [-0.5, -0.5], [-0.8, -0.5],
])


def _dataset(poses_3d: np.ndarray) -> PoseDataset:
    xy = 1000.0 * poses_3d[..., :2] / poses_3d[..., 2:] + 500.0
    return PoseDataset(poses_2d=xy, image_size=np.tile([1000.0, 1000.0], (len(xy), 1)),
                       poses_3d=poses_3d)


def test_counts_the_joints_hidden_behind_the_body():
    front = np.concatenate([T_POSE, np.full((17, 1), 5.0)], -1)
    behind = front.copy()
    wrist = H36M17.index("l_wrist")
    behind[wrist] = [0.0, -0.3, 5.5]  # half a metre behind the spine, on its line of sight
    s = self_occlusion_summary(_dataset(np.stack([front, behind, behind])))
    assert s["frames"] == 3
    assert s["hidden_joints_mean"] == pytest.approx(2 / 3)
    assert s["hidden_joints_share"][:3] == pytest.approx([1 / 3, 2 / 3, 0.0])
    assert len(s["hidden_joints_share"]) == 18 and sum(s["hidden_joints_share"]) == pytest.approx(1)
    assert list(s["hidden_rate"]) == list(H36M17.names)
    assert s["hidden_rate"]["l_wrist"] == pytest.approx(2 / 3)
    assert sum(s["hidden_rate"].values()) == pytest.approx(2 / 3)
