"""OCR-Pose example on several processes: sharding, synchronised batch norm, gradient averaging
by DistributedDataParallel, and the equivalence of a 2-process run (gloo, CPU) with a
single-process run on the same global batch.

The multi-process part launches this very file with ``torch.distributed.run`` (``torchrun``) once;
the workers save what they computed and the test process compares it with oracles computed here
without any process group: ``torch.nn.BatchNorm1d`` on the concatenated batch, float64 sums, and
the single-process trainer stepping through the same global batches.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from examples.ocr_pose import distributed as D
from examples.ocr_pose.config import ScheduleConfig

REPO = Path(__file__).resolve().parents[1]
WORLD = 2
N_STEPS_PER_EPOCH = 3

#: Tiny, deterministic configuration: dropout 0 (dropout masks are per rank), synchronised batch
#: norm, a discriminator step after every generator step, both epoch kinds (warm-up, main).
CFG_OVERRIDES = {
    "model": {"dropout": 0.0, "hidden": 16, "occ_dim": 8, "fill_hidden": 8, "disc_hidden": 16},
    "schedule": {"batch_size": 8, "max_steps_per_epoch": N_STEPS_PER_EPOCH, "warmup_epochs": 1,
                 "epochs": 1, "disc_every": 1, "sync_batchnorm": True},
    "data": {"synthetic_poses": 48, "max_val_poses": 16},
}
#: Whether the trainer has the data-parallel integration (``schedule.sync_batchnorm``, rank-sharded
#: steps); the trainer-level checks below need it.
INTEGRATED = "sync_batchnorm" in {f.name for f in dataclasses.fields(ScheduleConfig)}
needs_trainer = pytest.mark.skipif(
    not INTEGRATED, reason="examples/ocr_pose/training.py lacks the data-parallel integration "
    "(no schedule.sync_batchnorm)")

#: A second configuration for the equivalence test: the paths the first one does not take.
#: ``depth_input = "feature"`` with ``w_rot = 0`` leaves the rotation decoder without gradient
#: in the backbone step (DDP with ``find_unused_parameters``); setting (d) (data-occluded poses
#: re-erased as positives); separate Adam states for ``L_occlusion``; the bone-length prior
#: against the clips' running estimates (summed over the ranks).
CFG_VARIANT_B = {
    **CFG_OVERRIDES,
    "model": {**CFG_OVERRIDES["model"], "depth_input": "feature"},
    "loss": {"w_rot": 0.0, "w_bone": 0.5, "bone_target": "clip", "bone_momentum": 0.5},
    "occlusion": {"data_occlusion_rate": 0.5},
    "schedule": {**CFG_OVERRIDES["schedule"], "shared_optimizer": False},
}

#: A third configuration: the bone-proportion prior against the proportions read off the
#: training 2D (``bone_target = "image"``, the ``quick`` budget's). Every rank reads them off the
#: whole training set it holds, so every rank must hand the loss the same target.
CFG_VARIANT_C = {**CFG_OVERRIDES, "loss": {"w_bone": 0.5, "bone_target": "image"}}

#: The command-line runs use the default, per-process batch norm.
CLI_OVERRIDES = {**CFG_OVERRIDES, "schedule": {**CFG_OVERRIDES["schedule"], "sync_batchnorm": False}}


# ---------------------------------------------------------------------------- single process
def test_shard_rows_cover_the_global_batch_in_rank_order():
    rows = [D.shard_rows(12, r, 3) for r in range(3)]
    assert rows == [slice(0, 4), slice(4, 8), slice(8, 12)]
    x = torch.arange(12)
    assert torch.equal(torch.cat([D.shard_batch(x, r, 3) for r in range(3)]), x)
    assert D.shard_batch(x) is x  # no process group: the whole batch
    with pytest.raises(ValueError, match="divisible"):
        D.shard_rows(10, 0, 3)


def test_init_distributed_without_torchrun_is_a_single_process(monkeypatch):
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    info = D.init_distributed(device="cpu")
    assert (info.rank, info.world_size, info.is_main, info.distributed) == (0, 1, True, False)
    assert info.device == torch.device("cpu") and info.backend is None
    assert D.get_world_size() == 1 and D.is_main_process()
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="WORLD_SIZE"):
        D.init_distributed(device="cpu")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError, match="RANK"):
        D.init_distributed(device="cpu")
    with pytest.raises(ValueError, match="device"):
        D.init_distributed(device="tpu")


def test_launched_by_torchrun_reads_world_size(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not D.launched_by_torchrun()
    for value, expected in (("1", False), ("2", True), ("two", False)):
        monkeypatch.setenv("WORLD_SIZE", value)
        assert D.launched_by_torchrun() is expected


def test_exit_worker_flushes_and_skips_finalisation():
    code = ("import atexit, sys; from examples.ocr_pose.distributed import exit_worker; "
            "atexit.register(lambda: print('finalised')); sys.stdout.write('partial line'); "
            "sys.stderr.write('err'); exit_worker(7)")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 7
    assert proc.stdout == "partial line" and proc.stderr == "err"  # flushed, no atexit handler ran


@pytest.mark.parametrize("world", ["2", "1"])
def test_command_line_under_torchrun_exits_through_exit_worker(tmp_path, world):
    """``python -m examples.ocr_pose`` in a torchrun worker (``WORLD_SIZE > 1``) leaves through
    :func:`exit_worker` (same status and messages, no ``atexit`` handlers); alone, through
    ``sys.exit`` (they run)."""
    args = ["evaluate", "--checkpoint", str(tmp_path / "missing.pt"), "--data",
            str(tmp_path / "x.npz"), "--json", str(tmp_path / "o.json")]
    code = ("import atexit, runpy, sys; atexit.register(lambda: print('finalised')); "
            f"sys.argv = ['examples.ocr_pose'] + {args!r}; "
            "runpy.run_module('examples.ocr_pose', run_name='__main__', alter_sys=True)")
    env = dict(os.environ, PYTHONPATH=str(REPO), WORLD_SIZE=world)
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "error:" in proc.stderr and "missing.pt" in proc.stderr
    assert ("finalised" in proc.stdout) is (world == "1")


def test_global_masked_mean_single_process_is_the_masked_mean():
    g = torch.Generator().manual_seed(0)
    v = torch.rand(5, 7, generator=g, dtype=torch.float64)
    w = torch.rand(5, 7, generator=g) < 0.4
    expected = sum(float(v[i, j]) for i in range(5) for j in range(7) if w[i, j]) / int(w.sum())
    assert float(D.global_masked_mean(v, w)) == pytest.approx(expected, rel=1e-12)
    v.requires_grad_(True)
    none = D.global_masked_mean(v, torch.zeros_like(w))
    none.backward()
    assert float(none.detach()) == 0.0 and torch.equal(v.grad, torch.zeros_like(v))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_convert_sync_batchnorm_keeps_state_and_equals_batchnorm_alone(dtype):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.BatchNorm1d(6)).to(dtype)
    with torch.no_grad():
        net[1].weight.uniform_(0.5, 1.5)
        net[1].running_mean.fill_(0.3)
    ref_state = {k: v.clone() for k, v in net.state_dict().items()}
    conv = D.convert_sync_batchnorm(net)
    assert isinstance(conv[1], D.DistributedBatchNorm1d) and isinstance(conv[3], D.DistributedBatchNorm1d)
    assert conv[1].weight.dtype == dtype
    for k, v in conv.state_dict().items():
        assert torch.equal(v, ref_state[k]), k
    # without a process group it is a plain BatchNorm1d (values and running statistics)
    plain = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.BatchNorm1d(6)).to(dtype)
    plain.load_state_dict(ref_state)
    x = torch.randn(9, 4, dtype=dtype)
    torch.testing.assert_close(conv(x), plain(x))
    torch.testing.assert_close(conv[1].running_var, plain[1].running_var)


# ---------------------------------------------------------------------------- workers
def _trainer64(cfg, run_dir):
    """A trainer computing in float64: with float32, Adam's first steps (``lr * g / |g|``) turn
    rounding noise in gradients that are zero in exact arithmetic (e.g. the bias of a Linear
    followed by BatchNorm) into ``±lr`` updates, so the two runs would drift apart by design of
    the optimiser, not of the parallelisation. Needs ``torch.get_default_dtype() == float64``."""
    from examples.ocr_pose.inputs import Poses2D
    from examples.ocr_pose.training import Trainer, prepare_training_data

    assert torch.get_default_dtype() == torch.float64
    torch.set_default_dtype(torch.float32)  # the data pipeline is float32
    try:
        data, _, norm, units = prepare_training_data(cfg, None, None)
    finally:
        torch.set_default_dtype(torch.float64)
    data = Poses2D(data.poses.double(), data.visible, data.source, data.clip)
    return Trainer(cfg, data, norm, units, None, run_dir, progress=False, device="cpu")


@pytest.fixture
def float64_default():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def run_steps(trainer) -> list:
    """Every step of the first two epochs (warm-up, then main), as ``fit`` dispatches them;
    returns the losses of each step averaged over the ranks."""
    out = []
    for epoch in range(2):
        kind = trainer.epoch_kind(epoch)
        for i, idx in enumerate(trainer._batches()):
            for update in trainer._updates(kind, i):
                out.append({k: float(v) for k, v in D.mean_over_ranks(update(idx)).items()})
        trainer.epoch += 1
    return out


def _keep_local_gradient(state, bucket):  # pragma: no cover - runs under torchrun
    """A DDP communication hook that does not communicate: every rank keeps its own gradient."""
    fut = torch.futures.Future()
    fut.set_result(bucket.buffer())
    return fut


def _count_ddp_traffic(trainer):  # pragma: no cover - runs under torchrun
    """Count, per step module, the forwards through its DDP wrapper and the gradient buckets its
    reducer all-reduces (DDP's own all-reduce, wrapped by a counting communication hook)."""
    from collections import Counter

    from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

    forwards, buckets = Counter(), Counter()
    for kind, m in trainer.step_losses.items():
        m.register_forward_pre_hook(lambda mod, args, kind=kind: forwards.update([kind]))

        def hook(state, bucket, kind=kind):
            buckets.update([kind])
            return allreduce_hook(state, bucket)

        m.register_comm_hook(None, hook)
    return forwards, buckets


def _worker(out_dir: Path) -> None:  # pragma: no cover - runs under torchrun
    torch.set_num_threads(1)
    info = D.init_distributed(device="cpu")
    rank, world = info.rank, info.world_size
    assert world == WORLD and info.backend == "gloo"
    res = {}
    # 1. synchronised batch norm on this rank's rows of a fixed global batch
    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, 5, generator=g, dtype=torch.float64)
    c = torch.randn(8, 5, generator=g, dtype=torch.float64)
    bn = D.convert_sync_batchnorm(nn.BatchNorm1d(5).double())
    xl = D.shard_batch(x).clone().requires_grad_(True)
    y = bn(xl)
    (y * D.shard_batch(c)).sum().backward()
    res["bn"] = {"y": y.detach(), "dx": xl.grad, "dw": bn.weight.grad.clone(),
                 "db": bn.bias.grad.clone(), "rm": bn.running_mean.clone(), "rv": bn.running_var.clone()}
    x3 = torch.randn(8, 5, 3, generator=g, dtype=torch.float64)  # (N, C, L) input
    bn3 = D.convert_sync_batchnorm(nn.BatchNorm1d(5).double())
    res["bn3"] = {"y": bn3(D.shard_batch(x3)).detach(), "rv": bn3.running_var.clone()}
    # 2. gradient averaging (DDP through D.data_parallel) and the global masked mean
    lin = nn.Linear(3, 1, bias=False).double()
    ddp = D.data_parallel(lin)
    res["wrapper"] = type(ddp).__name__
    ddp(torch.full((1, 3), float(rank + 1), dtype=torch.float64)).sum().backward()
    res["avg_grad"] = lin.weight.grad.reshape(-1).clone()
    v = torch.arange(16, dtype=torch.float64).reshape(8, 2)
    w = (torch.arange(16).reshape(8, 2) % 3) == 0
    res["masked_mean"] = D.mean_over_ranks({"m": D.global_masked_mean(D.shard_batch(v), D.shard_batch(w))})["m"]
    if not INTEGRATED:
        torch.save(res, out_dir / f"rank{rank}.pt")
        D.destroy_distributed()
        return
    # 3. the trainer: per-step losses and final weights on the global batch
    from examples.ocr_pose.config import load_config

    cfg = load_config("tiny", CFG_OVERRIDES)
    torch.set_default_dtype(torch.float64)
    tr = _trainer64(cfg, out_dir / "steps")
    res["step_modules"] = {k: type(m).__name__ for k, m in tr.step_losses.items()}
    forwards, buckets = _count_ddp_traffic(tr)
    res["losses"] = run_steps(tr)
    res["forwards"], res["buckets"] = dict(forwards), dict(buckets)
    res["state"] = {k: m.state_dict() for k, m in tr.models.items()}
    # negative control: the same run with DDP's all-reduce replaced by "keep the local
    # gradient" (a communication hook); if anything else averaged the gradients, the ranks
    # would still agree
    tr = _trainer64(cfg, out_dir / "local")
    for m in tr.step_losses.values():
        m.register_comm_hook(None, _keep_local_gradient)
    run_steps(tr)
    res["state_local_grads"] = {k: m.state_dict() for k, m in tr.models.items()}
    tr = _trainer64(load_config("tiny", CFG_VARIANT_B), out_dir / "steps_b")
    res["b_find_unused"] = {k: m.find_unused_parameters for k, m in tr.step_losses.items()}
    res["b_losses"] = run_steps(tr)
    res["b_state"] = {k: m.state_dict() for k, m in tr.models.items()}
    res["b_clip_bones"] = tr.clip_bones.state_dict()
    tr = _trainer64(load_config("tiny", CFG_VARIANT_C), out_dir / "steps_c")
    res["c_image_bones"] = tr.image_bones.clone()
    res["c_losses"] = run_steps(tr)
    res["c_state"] = {k: m.state_dict() for k, m in tr.models.items()}
    torch.set_default_dtype(torch.float32)
    torch.save(res, out_dir / f"rank{rank}.pt")
    D.barrier()
    # 4. the command line (rank 0 writes the checkpoints), and 5. an interrupted run resumed
    from examples.ocr_pose.__main__ import main
    from examples.ocr_pose.training import prepare_training_data, train

    cfg = load_config("tiny", CLI_OVERRIDES)
    cfg_file = out_dir / "cfg.json"
    if rank == 0:
        cfg_file.write_text(json.dumps(dict(CLI_OVERRIDES, extends="tiny")))
    D.barrier()
    assert main(["train", "--config", str(cfg_file), "--out", str(out_dir / "cli"),
                 "--no-progress", "--device", "cpu"]) == 0
    data, val, norm, units = prepare_training_data(cfg, None, None)
    if rank != 0:
        val = None  # only rank 0 validates; the other ranks need no validation data
    kw = dict(val=val, progress=False, device="cpu")
    first = train(cfg, out_dir / "resumed", data, norm, units, stop_after_epoch=1, **kw)
    assert first.epochs_done == 1
    done = train(cfg, out_dir / "resumed", data, norm, units, resume=True, **kw)
    assert done.epochs_done == 2
    D.barrier()  # leave together: a rank tearing down gloo while its peer is still in a
    D.destroy_distributed()  # collective can abort


# ---------------------------------------------------------------------------- 2 processes
@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={WORLD}", __file__, str(out)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        pytest.fail(f"torchrun failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return out, [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]


def test_sync_batchnorm_equals_batchnorm_on_the_global_batch(ddp_run):
    _, res = ddp_run
    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, 5, generator=g, dtype=torch.float64).requires_grad_(True)
    c = torch.randn(8, 5, generator=g, dtype=torch.float64)
    bn = nn.BatchNorm1d(5).double()
    y = bn(x)
    (y * c).sum().backward()
    b = 8 // WORLD
    for r, out in enumerate(res):
        s = slice(r * b, (r + 1) * b)
        torch.testing.assert_close(out["bn"]["y"], y.detach()[s])
        # input gradient of the global objective (the per-rank sums add up to it)
        torch.testing.assert_close(out["bn"]["dx"], x.grad[s])
        torch.testing.assert_close(out["bn"]["rm"], bn.running_mean)
        torch.testing.assert_close(out["bn"]["rv"], bn.running_var)
    # parameter gradients: each rank holds its share; together the single-process gradient
    torch.testing.assert_close(sum(o["bn"]["dw"] for o in res), bn.weight.grad)
    torch.testing.assert_close(sum(o["bn"]["db"] for o in res), bn.bias.grad)
    x3 = torch.randn(8, 5, 3, generator=g, dtype=torch.float64)
    bn3 = nn.BatchNorm1d(5).double()
    y3 = bn3(x3).detach()
    for r, out in enumerate(res):
        torch.testing.assert_close(out["bn3"]["y"], y3[r * b : (r + 1) * b])
        torch.testing.assert_close(out["bn3"]["rv"], bn3.running_var)


def test_gradient_averaging_and_global_masked_mean(ddp_run):
    _, res = ddp_run
    # d/dw sum(w . x) = x = (rank + 1) * ones on each rank: DDP averages to mean(1..N)
    mean = sum(range(1, WORLD + 1)) / WORLD
    v = torch.arange(16, dtype=torch.float64).reshape(8, 2)
    w = (torch.arange(16).reshape(8, 2) % 3) == 0
    expected = float(v[w].sum()) / int(w.sum())
    for out in res:
        assert out["wrapper"] == "DistributedDataParallel"
        assert torch.equal(out["avg_grad"], torch.full((3,), mean, dtype=torch.float64))
        assert float(out["masked_mean"]) == pytest.approx(expected, rel=1e-12)


def test_data_parallel_is_the_module_itself_in_one_process():
    lin = nn.Linear(3, 2)
    assert D.data_parallel(lin) is lin


@needs_trainer
def test_distributed_data_parallel_averages_the_trainers_gradients(ddp_run):
    """Every step module is a DDP wrapper; each update ran exactly one forward through exactly
    one wrapper; DDP's reducer all-reduced gradient buckets for every kind of update; and with
    DDP's all-reduce replaced by a hook that keeps each rank's own gradient, the ranks' weights
    drift apart (so nothing else averages the gradients)."""
    _, res = ddp_run
    n_warm, n_main = N_STEPS_PER_EPOCH, N_STEPS_PER_EPOCH  # run_steps: one warm-up, one main epoch
    # backbone:occlusion 1:1, alternation "per_batch": every batch a backbone and an occlusion update
    expected = {"warmup": n_warm, "backbone": n_main, "disc": n_main,  # disc_every = 1
                "occlusion": n_main}
    for out in res:
        assert set(out["step_modules"]) == set(expected)
        assert set(out["step_modules"].values()) == {"DistributedDataParallel"}
        assert out["forwards"] == expected
        assert set(out["buckets"]) == set(expected) and min(out["buckets"].values()) >= 1
    local = [out["state_local_grads"]["lifter"] for out in res]
    assert any(not torch.equal(local[0][k], local[1][k]) for k in local[0])
    for name in ("lifter", "filler", "disc"):
        for k, v in res[0]["state"][name].items():
            if v.is_floating_point() and "running" not in k:  # weights; running BN stats are per rank
                assert torch.equal(res[1]["state"][name][k], v), (name, k)


def _assert_same_as_one_process(res, ref, losses, key_losses, key_state):
    for out in res:
        assert len(out[key_losses]) == len(losses)
        for i, (a, b) in enumerate(zip(out[key_losses], losses)):
            assert a.keys() == b.keys(), i
            for k in a:
                assert a[k] == pytest.approx(b[k], rel=1e-9, abs=1e-12), (i, k, a[k], b[k])
        for name, m in ref.models.items():
            for k, v in m.state_dict().items():
                # atol: biases right before a BatchNorm have a zero gradient in exact arithmetic;
                # Adam turns their float64 rounding noise into steps of up to ~1e-9 over the
                # 3 backbone and 3 occlusion updates (measured 1.1e-9)
                torch.testing.assert_close(out[key_state][name][k], v, rtol=1e-9, atol=1e-8,
                                           msg=lambda s, n=name, k=k: f"{n}.{k}: {s}")
    for k, v in res[0][key_state]["lifter"].items():  # the ranks hold identical models
        assert torch.equal(res[1][key_state]["lifter"][k], v), k


@needs_trainer
def test_two_processes_equal_one_process_on_the_same_global_batch(ddp_run, tmp_path, float64_default):
    from examples.ocr_pose.config import load_config

    _, res = ddp_run
    cfg = load_config("tiny", CFG_OVERRIDES)
    ref = _trainer64(cfg, tmp_path / "single")
    losses = run_steps(ref)
    kinds = [set(step) for step in losses]
    assert {"l_pf"} in kinds and any("l_disc" in k for k in kinds) and any("l_ve" in k for k in kinds)
    _assert_same_as_one_process(res, ref, losses, "losses", "state")


@needs_trainer
def test_two_processes_equal_one_process_with_unused_parameters_and_setting_d(
        ddp_run, tmp_path, float64_default):
    from examples.ocr_pose.config import load_config

    _, res = ddp_run
    ref = _trainer64(load_config("tiny", CFG_VARIANT_B), tmp_path / "single_b")
    losses = run_steps(ref)
    assert not any("l_rot" in step for step in losses) and any("l_ti" in step for step in losses)
    assert any(step.get("l_bone", 0.0) > 0 for step in losses)  # clips met again: a target
    # the rotation decoder got no gradient in one process either
    assert ref.models["lifter"].rot_decoder.weight.grad is None
    for out in res:
        assert out["b_find_unused"] == {"warmup": False, "backbone": True, "disc": False,
                                        "occlusion": False}
    _assert_same_as_one_process(res, ref, losses, "b_losses", "b_state")
    for out in res:  # the clips' estimates saw the whole global batch on every rank
        for k, v in ref.clip_bones.state_dict().items():
            torch.testing.assert_close(out["b_clip_bones"][k], v, rtol=1e-9, atol=1e-12)


@needs_trainer
def test_two_processes_equal_one_process_with_the_image_bone_target(ddp_run, tmp_path, float64_default):
    from examples.ocr_pose.config import load_config

    _, res = ddp_run
    ref = _trainer64(load_config("tiny", CFG_VARIANT_C), tmp_path / "single_c")
    losses = run_steps(ref)
    assert any(step.get("l_bone", 0.0) > 0 for step in losses)  # the prior is on
    for out in res:  # every rank read the same proportions as one process
        torch.testing.assert_close(out["c_image_bones"], ref.image_bones, rtol=0, atol=0)
    _assert_same_as_one_process(res, ref, losses, "c_losses", "c_state")


@needs_trainer
def test_torchrun_cli_writes_checkpoints_on_rank_zero_and_resume_continues_exactly(ddp_run):
    from examples.ocr_pose.checkpoint import load_checkpoint

    out, _ = ddp_run
    run = out / "cli"
    ck = load_checkpoint(run / "last.pt")
    assert ck["epoch"] == 2 and (run / "best.pt").exists()
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]  # one writer, no duplicates
    assert not list(run.glob(".*.tmp"))
    # killed after epoch 1 and resumed with --resume: the same weights as the uninterrupted run
    resumed = load_checkpoint(out / "resumed" / "last.pt")
    assert resumed["epoch"] == 2 and resumed["step"] == ck["step"]
    for name, sd in ck["models"].items():
        for k, v in sd.items():
            assert torch.equal(resumed["models"][name][k], v), (name, k)


if __name__ == "__main__":  # pragma: no cover - the torchrun worker
    sys.path.insert(0, str(REPO))
    _worker(Path(sys.argv[1]))
    D.exit_worker(0)  # no interpreter finalisation racing gloo's threads (see D.exit_worker)
