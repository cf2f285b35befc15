"""Data-parallel training of the OCR-Pose example on several processes (``torchrun``).

``torchrun --nproc_per_node=N -m examples.ocr_pose train ...`` starts ``N`` processes; each reads
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` from its environment
and :func:`init_distributed` joins them into one process group (NCCL on CUDA, one GPU per process
chosen by ``LOCAL_RANK``; gloo on the CPU). Without those variables everything here degrades to a
single process: ``world_size = 1``, no collectives, no behaviour change.

How one optimisation step is split (see ``docs/guides/multi_gpu.rst``):

* **Global batch, per-rank shard.** Every rank draws the same permutation of the training set
  from the same seeded generator and cuts it into the same *global* batches of ``B`` poses; rank
  ``r`` takes rows ``r B/N .. (r+1) B/N`` of each (:func:`shard_rows`). This is what
  :class:`torch.utils.data.DistributedSampler` does per epoch, but per *batch*, so the poses that
  meet in one step are exactly those of a single-process run with batch ``B``.
* **Randomness for the global batch.** Masks and view rotations are drawn for all ``B`` poses on
  every rank (identical generators) and then sliced, so the random draws do not depend on ``N``.
* **Gradients** are averaged over the ranks by
  :class:`torch.nn.parallel.DistributedDataParallel` (:func:`data_parallel`). Each kind of
  update (warm-up, backbone, discriminator, occlusion, supervised) computes its losses in the
  ``forward`` of a small module that registers exactly the parameters the update trains
  (``examples.ocr_pose.training.BackboneLoss`` etc.); under ``torchrun`` each is wrapped in DDP,
  whose autograd hooks all-reduce the gradients bucket by bucket while the backward pass is still
  running. Several forward passes through one network inside that forward (lift and re-lift,
  three ``f_occ`` encodings) are fine: DDP needs one forward *through the wrapper* per backward.
  The wrappers share parameters (the lifter is in the backbone and the occlusion module); that
  is fine because exactly one of them runs forward before each backward: a reducer whose
  forward did not run ignores its hooks. The parameter update equals the single-process one when
  every loss is a mean over the global batch. Losses that are means over a data-dependent subset
  (the masked joints of ``L_pf``) use :func:`global_masked_mean`.
* **Batch norm.** By default each rank normalises with its own ``B/N`` poses (statistics of a
  smaller batch, the usual DDP behaviour). ``schedule.sync_batchnorm`` replaces every
  :class:`~torch.nn.BatchNorm1d` by a synchronised one (:func:`convert_sync_batchnorm`): the
  statistics then come from the global batch and training is equivalent to one process.
* **Contrastive negatives** come from every rank: the embeddings are all-gathered with gradients
  (:func:`skelcl.contrastive.gather_with_grad`) and the InfoNCE / miner loss is evaluated on the
  global batch (``K = B - 1`` negatives, as in one process).
* **Checkpoints** are written by rank 0 only; the other ranks wait at a :func:`barrier`.
"""

from __future__ import annotations

import datetime
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, NoReturn, Optional, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = [
    "DistInfo",
    "init_distributed",
    "destroy_distributed",
    "launched_by_torchrun",
    "exit_worker",
    "is_initialized",
    "get_rank",
    "get_world_size",
    "is_main_process",
    "barrier",
    "rank_zero_only",
    "shard_rows",
    "shard_batch",
    "data_parallel",
    "broadcast_module",
    "mean_over_ranks",
    "sum_over_ranks",
    "all_reduce_sum",
    "global_masked_mean",
    "DistributedBatchNorm1d",
    "convert_sync_batchnorm",
]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in the run.

    Attributes:
        rank: global rank ``0 .. world_size - 1`` (``0`` without ``torchrun``).
        world_size: number of processes (``1`` without ``torchrun``).
        local_rank: rank on this machine (selects the GPU).
        device: the device this process trains on.
        backend: ``"nccl"``, ``"gloo"`` or ``None`` (single process).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: Optional[str] = None

    @property
    def is_main(self) -> bool:
        """``True`` on rank 0 (the process that writes files and prints)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """``True`` when more than one process takes part."""
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}: expected an integer, got {value!r}") from None


def init_distributed(
    device: Optional[str] = None,
    backend: Optional[str] = None,
    timeout_s: float = 600.0,
) -> DistInfo:
    """Join the process group described by ``torchrun``'s environment (or run alone).

    Reads ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``. With ``WORLD_SIZE > 1`` it initialises
    :mod:`torch.distributed` from the environment (``MASTER_ADDR`` / ``MASTER_PORT``), unless a
    process group already exists (then that one is used).

    Args:
        device: ``"cpu"``, ``"cuda"`` or ``None`` (CUDA when available, else CPU). With CUDA each
            process uses ``cuda:LOCAL_RANK``.
        backend: ``"nccl"``, ``"gloo"`` or ``None`` (NCCL on CUDA, gloo on the CPU).
        timeout_s: collective timeout in seconds.

    Returns:
        :class:`DistInfo` of this process.

    Raises:
        ValueError: malformed environment variables, an unknown device, CUDA asked for but
            not available, or more processes on this machine than GPUs.
    """
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device: expected 'cpu', 'cuda' or None, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' requested but torch.cuda.is_available() is False")
    if dist.is_available() and dist.is_initialized():
        world, rank = dist.get_world_size(), dist.get_rank()
        local_rank = _env_int("LOCAL_RANK", rank)
        backend = dist.get_backend()
    else:
        world = _env_int("WORLD_SIZE", 1)
        rank = _env_int("RANK", 0)
        local_rank = _env_int("LOCAL_RANK", 0)
        if world < 1 or not 0 <= rank < world:
            raise ValueError(f"RANK / WORLD_SIZE: expected 0 <= RANK < WORLD_SIZE, got {rank} / {world}")
        if world > 1:
            if not dist.is_available():  # pragma: no cover
                raise RuntimeError("torch.distributed is not available in this PyTorch build")
            backend = backend or ("nccl" if device == "cuda" else "gloo")
            if device == "cuda":
                if local_rank >= torch.cuda.device_count():
                    raise ValueError(
                        f"LOCAL_RANK {local_rank}: this machine has {torch.cuda.device_count()} "
                        "GPUs; start at most that many processes per node (--nproc_per_node)"
                    )
                torch.cuda.set_device(local_rank)
            dist.init_process_group(
                backend=backend, init_method="env://", world_size=world, rank=rank,
                timeout=datetime.timedelta(seconds=timeout_s),
            )
        else:
            backend = None
    dev = torch.device("cpu")
    if device == "cuda":
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, device=dev, backend=backend)


def destroy_distributed() -> None:
    """Leave the process group (no-op when there is none)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def launched_by_torchrun() -> bool:
    """Whether this process is one of several started by ``torchrun`` (``WORLD_SIZE > 1`` in
    the environment), whatever the state of its process group."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


def exit_worker(code: int) -> NoReturn:
    """End this process now with exit status ``code``: flush ``stdout`` / ``stderr``, then
    ``os._exit(code)``, skipping the interpreter's finalisation.

    Meant for the very end of a ``torchrun`` worker, after :func:`destroy_distributed`. Why:
    a gloo worker thread of PyTorch drops its reference to a finished collective *after* the
    caller's ``wait`` has returned, and the last reference may be that thread's. The work object
    keeps the thread-local state of the call that launched it; for DDP's all-reduces, launched
    inside ``backward``, that includes a Python ``contextvars.Context``, whose release needs the
    GIL. If the interpreter is already finalising, the thread is made to exit while it waits for
    the GIL, inside a ``noexcept`` destructor, and the process aborts ("terminate called without
    an active exception", SIGABRT; torch 2.13, about one 2-process CPU run in 25 on a loaded
    2-core machine; found with a core dump). Nothing is lost by skipping finalisation: the
    example writes and closes its checkpoints, logs and TensorBoard files before, and registers
    no ``atexit`` handler.

    Args:
        code: the process exit status.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):  # closed or replaced streams
            pass
    os._exit(int(code))


def is_initialized() -> bool:
    """Whether a :mod:`torch.distributed` process group exists in this process."""
    return dist.is_available() and dist.is_initialized()


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_rank() -> int:
    """Global rank of this process (``0`` when not distributed)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def get_world_size() -> int:
    """Number of processes (``1`` when not distributed)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main_process() -> bool:
    """``True`` on rank 0 (and in a single process)."""
    return get_rank() == 0


def barrier() -> None:
    """Wait until every rank arrives (no-op in a single process)."""
    if _active():
        dist.barrier()


def rank_zero_only(fn: F) -> F:
    """Decorator: run ``fn`` on rank 0 only; other ranks get ``None`` (no barrier implied)."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs) if is_main_process() else None

    wrapped.__name__ = getattr(fn, "__name__", "wrapped")
    wrapped.__doc__ = fn.__doc__
    return wrapped  # type: ignore[return-value]


def shard_rows(n_global: int, rank: Optional[int] = None, world_size: Optional[int] = None) -> slice:
    """Rows of a global batch of ``n_global`` that rank ``rank`` processes.

    Args:
        n_global: global batch size ``B``; must be divisible by the world size (equal shards keep
            every loss a plain mean and BatchNorm batches equal).
        rank, world_size: default: this process.

    Returns:
        ``slice(rank * B/N, (rank + 1) * B/N)``.

    Raises:
        ValueError: ``B`` not divisible by ``N``.
    """
    rank = get_rank() if rank is None else rank
    world = get_world_size() if world_size is None else world_size
    if n_global % world:
        raise ValueError(
            f"batch size: the global batch of {n_global} poses must be divisible by the number "
            f"of processes ({world})"
        )
    b = n_global // world
    return slice(rank * b, (rank + 1) * b)


def shard_batch(x: Tensor, rank: Optional[int] = None, world_size: Optional[int] = None) -> Tensor:
    """This rank's rows of a global-batch tensor ``x`` ``(B, ...)`` (see :func:`shard_rows`)."""
    if world_size == 1 or (world_size is None and get_world_size() == 1):
        return x
    return x[shard_rows(x.shape[0], rank, world_size)]


def data_parallel(
    module: nn.Module,
    find_unused_parameters: bool = False,
    broadcast_buffers: bool = False,
) -> nn.Module:
    """Wrap ``module`` in :class:`~torch.nn.parallel.DistributedDataParallel` under a process
    group of several ranks; return ``module`` itself otherwise (no overhead in one process).

    The wrapper broadcasts rank 0's parameters once, then averages the gradients of
    ``module``'s parameters over the ranks during every backward pass that follows a forward
    through it (bucketed all-reduces, overlapped with the rest of the backward). ``device_ids``
    is the module's CUDA device (one GPU per process); none on the CPU.

    Args:
        module: the module whose ``forward`` computes the loss of one update; its parameters
            must all receive a gradient in each backward unless ``find_unused_parameters``.
        find_unused_parameters: let DDP walk the autograd graph after each forward to find
            parameters that will get no gradient (a cost per step, and on CUDA a host
            synchronisation): only where some registered parameter does not reach the loss.
        broadcast_buffers: broadcast rank 0's buffers before every forward (DDP's default is
            ``True``; here ``False``: see ``docs/guides/multi_gpu.rst``).
    """
    if not _active():
        return module
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    p = next(module.parameters(), None)
    device_ids = [p.device.index] if p is not None and p.device.type == "cuda" else None
    # PyTorch >= 2.13 names the per-forward buffer broadcast ``forward_sync_buffers`` (buffers
    # are still synchronised once when the wrapper is built) and deprecates ``broadcast_buffers``
    sync = ("forward_sync_buffers"
            if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
            else "broadcast_buffers")
    return DistributedDataParallel(
        module, device_ids=device_ids, find_unused_parameters=find_unused_parameters,
        **{sync: broadcast_buffers},
    )


def broadcast_module(module: nn.Module, src: int = 0) -> None:
    """Copy parameters and buffers of ``module`` from rank ``src`` to every rank (as DDP does when
    it wraps a model). No-op in a single process."""
    if not _active():
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=src)


def sum_over_ranks(values: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """Sum every tensor of ``values`` over the ranks (one all-reduce; new tensors).

    All ranks must pass the same keys. Single process: detached copies.
    """
    keys = sorted(values)
    if not keys:
        return {}
    flat = torch.stack([torch.as_tensor(values[k]).detach().reshape(()).to(torch.float64) for k in keys])
    if _active():
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    return {k: flat[i] for i, k in enumerate(keys)}


def all_reduce_sum(x: Tensor) -> Tensor:
    """``x`` (any shape) summed over the ranks, without gradient (a new tensor; in one process a
    detached copy)."""
    out = x.detach().clone()
    if _active():
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def mean_over_ranks(values: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """Average scalar tensors over the ranks (logging; one all-reduce). Same keys on every rank."""
    world = get_world_size()
    return {k: v / world for k, v in sum_over_ranks(values).items()}


class _AllReduceSum(torch.autograd.Function):
    """Differentiable sum over ranks: forward all-reduce, backward all-reduce of the gradient."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:  # type: ignore[override]
        y = x.clone()
        dist.all_reduce(y, op=dist.ReduceOp.SUM)
        return y

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:  # type: ignore[override]
        g = grad.contiguous().clone()
        dist.all_reduce(g, op=dist.ReduceOp.SUM)
        return g


def _sum_over_ranks_diff(x: Tensor) -> Tensor:
    return _AllReduceSum.apply(x) if _active() else x


def global_masked_mean(values: Tensor, weight: Tensor) -> Tensor:
    """``sum(w v) / sum(w)`` over the **global** batch, scaled for gradient averaging.

    A masked mean (e.g. ``L_pf`` over the masked joints) has a different denominator on every
    rank, so the average of the ranks' local means is not the global mean. This returns
    ``N * sum_local(w v) / sum_global(w)`` (``N`` the world size; the denominator is all-reduced,
    without gradient): the ranks' values average to the global masked mean, and so do their
    gradients under DDP's gradient averaging. ``0`` (zero gradient) when no weight is set
    anywhere. Single process: the plain masked mean.

    Args:
        values: per-element values ``(...)`` already multiplied by nothing (e.g. per-joint
            distances ``(B, J)``).
        weight: same shape, bool or float weights.
    """
    w = weight.to(values.dtype)
    local = torch.where(w != 0, values, torch.zeros_like(values)) * w
    total = w.sum().detach()
    world = get_world_size()
    if _active():
        total = total.clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return world * local.sum() / torch.where(total > 0, total, torch.ones_like(total))


class DistributedBatchNorm1d(nn.BatchNorm1d):
    """:class:`~torch.nn.BatchNorm1d` whose training statistics come from the global batch.

    A portable synchronised batch norm (any backend, CPU included; :class:`torch.nn.SyncBatchNorm`
    only runs on accelerators): the per-channel sum and the sum of squared deviations are summed
    over the ranks with a differentiable all-reduce (two-pass, like one process's mean and
    biased variance), so outputs, gradients and running statistics (unbiased variance of the
    global batch, ``momentum`` as usual) equal those of one :class:`~torch.nn.BatchNorm1d` on the
    concatenated batch, up to rounding. Every rank must pass the same number of rows. In eval
    mode, without a process group, or with ``track_running_stats=False`` outside training, it is
    a plain batch norm. Input ``(N, C)`` or ``(N, C, L)``.
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - torch's name
        if not (self.training and _active()):
            return super().forward(input)
        self._check_input_dim(input)
        dims = [0] if input.dim() == 2 else [0, 2]
        shape = [1, -1] + [1] * (input.dim() - 2)
        n_local = input.numel() // input.shape[1]
        n = n_local * dist.get_world_size()
        mean = _sum_over_ranks_diff(input.sum(dim=dims)) / n
        xc = input - mean.reshape(shape)
        var = _sum_over_ranks_diff((xc * xc).sum(dim=dims)) / n
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                if self.num_batches_tracked is not None:
                    self.num_batches_tracked.add_(1)
                m = (1.0 / float(self.num_batches_tracked)) if self.momentum is None else self.momentum
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                unbiased = var.detach() * (n / max(n - 1, 1))
                self.running_var.mul_(1 - m).add_(unbiased, alpha=m)
        y = xc * torch.rsqrt(var + self.eps).reshape(shape)
        if self.affine:
            y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
        return y


def convert_sync_batchnorm(module: nn.Module, device: Optional[torch.device] = None) -> nn.Module:
    """Replace every :class:`~torch.nn.BatchNorm1d` in ``module`` by a synchronised one.

    On CUDA :class:`torch.nn.SyncBatchNorm` (its fused kernels); elsewhere
    :class:`DistributedBatchNorm1d`. Weights, biases, running statistics and train/eval mode are
    kept. Returns the converted module (``module`` itself when it is not a batch norm).

    Args:
        module: a network.
        device: where it will run (default: the device of its first parameter, else CPU).
    """
    if device is None:
        p = next(module.parameters(), None)
        device = p.device if p is not None else torch.device("cpu")
    if torch.device(device).type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _convert_portable(module)


def _convert_portable(module: nn.Module) -> nn.Module:
    if isinstance(module, nn.BatchNorm1d) and not isinstance(module, DistributedBatchNorm1d):
        like = next((t for t in list(module.parameters()) + list(module.buffers())
                     if t.is_floating_point()), None)
        new = DistributedBatchNorm1d(
            module.num_features, module.eps, module.momentum, module.affine,
            module.track_running_stats,
        )
        if like is not None:
            new = new.to(device=like.device, dtype=like.dtype)
        new.load_state_dict(module.state_dict())
        new.train(module.training)
        return new
    for name, child in module.named_children():
        module.add_module(name, _convert_portable(child))
    return module
