"""Shared pytest configuration: hypothesis profiles and the location of the real data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

torch.set_num_threads(min(2, torch.get_num_threads()))

REPO_ROOT = Path(__file__).resolve().parents[1]


def _data_dir() -> Path:
    env = os.environ.get("SKELCL_DATA_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Directory with the real data (``$SKELCL_DATA_DIR`` or ``../shared/data``)."""
    d = _data_dir()
    if not d.is_dir():
        pytest.skip(f"real data not found at {d}; set SKELCL_DATA_DIR")
    return d


@pytest.fixture(scope="session")
def bandai_poses_mm(data_dir: Path) -> torch.Tensor:
    """Every frame of the Bandai Namco H36M-17 file: ground-truth 3D, float64, mm, ``(N, 17, 3)``
    (skips where the file is absent)."""
    import numpy as np

    f = data_dir / "bandai_namco_dataset2_h36m17.npz"
    if not f.exists():
        pytest.skip(f"{f.name} not in {data_dir}")
    with np.load(f) as z:
        return torch.from_numpy(z["poses_3d_mm"].astype(np.float64).reshape(-1, 17, 3))


CUDA = torch.cuda.is_available()
requires_cuda = pytest.mark.skipif(not CUDA, reason="needs a CUDA device")


def devices() -> list:
    """Devices to parametrise tests over: always CPU, plus CUDA where present."""
    return ["cpu"] + (["cuda"] if CUDA else [])
