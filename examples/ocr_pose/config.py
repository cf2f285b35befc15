"""Training configuration of the OCR-Pose example: typed dataclasses loaded from JSON.

A configuration file is a JSON object whose keys mirror :class:`Config`. Sections (``model``,
``loss``, ``schedule``, ``occlusion``, ``rotation``, ``data``, ``debug``) are nested objects; a
file may start from another one with ``"extends": "ocr_pose"`` (a built-in name from
``examples/ocr_pose/configs``) or ``"extends": "path/to/other.json"`` (relative to the file), and
then only lists the keys it changes. Unknown keys and wrong types raise :class:`ConfigError`
naming the offending key (``schedule.epochs: expected int, got str``) before anything is trained.

Every value that METHOD.md calls "our choice" is a field here, never a constant in the trainer.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

VARIANTS = (
    "baseline",
    "no_decouple",
    "decouple",
    "decouple_veclr",
    "ocr_pose",
    "occluded_training",
    "supervised",
)


class ConfigError(ValueError):
    """A configuration file or value is invalid; the message names the key."""


@dataclass
class ModelConfig:
    """Networks (METHOD.md §2-3).

    Attributes:
        lifter: ``"plain"`` (the baseline lifter, no feature decoupling) or ``"decoupled"``
            (trunk -> ``f_occ`` + ``f_rot`` -> depth head).
        hidden: width ``C`` of the residual blocks (OCR-Pose: 512).
        num_blocks: residual blocks of the lifter (4).
        dropout: dropout probability inside the residual blocks (0.25).
        occ_dim: dimension of the occlusion-aware feature ``f_occ`` (512).
        rotation_representation: how ``f_rot`` is decoded to SO(3) (``"6d"``).
        rot_dim: dimension of the view-dependent feature ``f_rot`` (our choice: 128).
        depth_input: what the decoupled encoder's depth head reads besides ``f_occ`` (our
            choice, the paper lost it): ``"rotation"`` (the decoded ``Rot(f_rot)``, 9 numbers)
            or ``"feature"`` (``f_rot`` itself); see
            :class:`skelcl.models.DecoupledLiftingEncoder`.
        filling: whether the pose filling network ``Φ_F`` completes masked 2D poses.
        fill_hidden: hidden width of ``Φ_F`` (128).
        fill_layers: layers of ``Φ_F`` (4).
        disc_hidden: width of the discriminator's residual blocks.
        disc_blocks: residual blocks of the discriminator (2).
        distance: camera constant ``D`` (10).
        proj_dim: output size of a contrastive projection head (SimCLR's MLP ``g``, Chen et al.
            2020: ``Linear(d, d), BN, ReLU, Linear(d, proj_dim)`` with ``d`` the feature size)
            through which ``f_occ`` passes before TiCLR / VeCLR and the miner; ``null``
            (default, the paper) applies the contrastive losses to ``f_occ`` itself. Not in the
            paper; a probe of whether the losses cost less when they do not constrain ``f_occ``
            directly (``docs/results.md``).
    """

    lifter: str = "decoupled"
    hidden: int = 512
    num_blocks: int = 4
    dropout: float = 0.25
    occ_dim: int = 512
    rotation_representation: str = "6d"
    rot_dim: int = 128
    depth_input: str = "rotation"
    filling: bool = True
    fill_hidden: int = 128
    fill_layers: int = 4
    disc_hidden: int = 512
    disc_blocks: int = 2
    distance: float = 10.0
    proj_dim: Optional[int] = None


@dataclass
class LossConfig:
    """Loss weights and switches (METHOD.md §2-3; defaults are the paper's OCR-Pose values).

    Attributes:
        w_pf, w_2d, w_3d, w_adv, w_rot: weights of ``L_backbone``. ``w_rot = 1`` is our choice
            (the paper gives none).
        w_ti, w_ve: weights of ``L_occlusion``.
        temperature: InfoNCE temperature ``τ`` (0.5).
        ticlr, veclr: enable the two contrastive modules.
        hard_negative_miner: weight negatives with the attention miner ``Φ_A`` (paper Eqs. 6-7).
        rotation_distance: ``"geodesic"`` or ``"frobenius"`` for ``L_rot`` (our choice).
        rot_detach_relift: ``L_rot``'s rotation of the rotated view, ``Rot(f_rot(JR2D))``, is
            computed by an extra encoder pass on a *detached* ``JR2D`` (our choice, default), so
            that ``L_rot`` trains the rotation estimate and the shared trunk but cannot reshape
            the lifted depths that produce its own input. ``false`` reuses the cycle's re-lift
            (gradient through ``JR2D`` into the first lift's depth). Measured on real data
            (``docs/results.md``): with ``false`` the decoupled variants' validation error
            collapses after a few thousand steps.
        pf_joints: ``"masked"`` or ``"all"``: joints over which ``L_pf`` is averaged (our choice).
        clamp_2d: clamp of the projected ``JR2D`` (baseline: 0.2 normalised units); ``null`` off.
        adversarial: use the LSGAN discriminator (off only for ablations / the supervised run).
        w_knee: weight of ``L_knee`` in ``L_backbone``, the backward-knee prior on the lifted
            ``J3D`` (:func:`skelcl.losses.knee_direction_loss`; our addition, not in the paper;
            default 0 = off). It breaks the mirror ambiguity of lifting from 2D: without it a
            run may settle on the depth-mirrored pose (``docs/results.md``, "Mirror-image
            depth").
        w_sym: weight of ``L_sym`` in ``L_backbone``, the left/right bone-length symmetry prior
            on the lifted ``J3D`` (:func:`skelcl.losses.bone_symmetry_loss`; our addition, not in
            the paper; default 0 = off; measured in ``docs/results.md``, "A moving average of
            the weights, a bone-symmetry prior, ...": it does not help there).
        w_bone: weight of ``L_bone`` in ``L_backbone``, the bone-length consistency prior
            (:func:`skelcl.losses.bone_length_consistency_loss`; our addition, not in the paper;
            default 0 = off): every backbone update also lifts, for each pose of the batch,
            another training pose of the same clip (the training data's ``clip`` labels, a
            person per clip) and penalises the difference of the two lifted skeletons' relative
            bone lengths. It needs clip labels, never 3D.
        bone_target: what ``L_bone`` compares a lifted pose with (our choice): ``"pair"``
            (default) the lift of another pose of its clip, drawn at random, as above;
            ``"clip"`` a running estimate of its clip's relative bone lengths, shared by all the
            clip's poses: a moving average, over the backbone updates, of the (detached) lifted
            poses of that clip seen so far, bias-corrected as Adam's moments are. No second lift
            per pose; a clip of a single pose contributes nothing, as with ``"pair"``. Measured
            in ``docs/results.md`` ("A per-clip bone-length estimate"): cheaper (+5 % per
            backbone update instead of +33 %) but not more accurate (worse in three of four
            probes). ``"image"``: one fixed set of population proportions estimated from the
            training 2D alone before training starts
            (:func:`skelcl.losses.bone_proportions_from_2d`: per clip the longest image of each
            bone, relative to their mean, the median over the clips of at least 10 poses, or
            over the largest clips when none has 10); every lift is compared with it over the
            bones its data has. No second lift, no running state. Measured in
            ``docs/results.md`` ("Bone proportions read off the 2D"): better than ``"pair"`` in
            five of six probes and about a fifth cheaper per backbone update, so the ``quick``
            budget uses it; the default stays ``"pair"`` so that existing configs keep their
            meaning.
        bone_momentum: with ``bone_target = "clip"``, the weight in ``(0, 1]`` of one update's
            batch mean in a clip's running estimate (default 0.1; 1 keeps only the latest).
    """

    w_pf: float = 10.0
    w_2d: float = 5.0
    w_3d: float = 0.5
    w_adv: float = 1.0
    w_rot: float = 1.0
    w_ti: float = 0.3
    w_ve: float = 0.1
    temperature: float = 0.5
    ticlr: bool = True
    veclr: bool = True
    hard_negative_miner: bool = True
    rotation_distance: str = "geodesic"
    rot_detach_relift: bool = True
    pf_joints: str = "masked"
    clamp_2d: Optional[float] = 0.2
    adversarial: bool = True
    w_knee: float = 0.0
    w_sym: float = 0.0
    w_bone: float = 0.0
    bone_target: str = "pair"
    bone_momentum: float = 0.1


@dataclass
class ScheduleConfig:
    """Optimisation schedule (METHOD.md §2-3).

    Attributes:
        epochs: epochs after the warm-up (paper: 100).
        warmup_epochs: epochs of ``L_pf`` alone before the cycle starts (paper: 10).
        batch_size: batch size ``B`` (512; the contrastive negatives are the other ``B - 1``).
        lr: Adam learning rate (2e-4); betas: Adam betas ((0.5, 0.9)).
        lr_decay: multiplicative decay per epoch (0.95).
        disc_every: one discriminator step every this many generator (backbone) steps (3).
        backbone_steps, occlusion_steps: the alternation pattern: this many ``L_backbone``
            updates, then this many ``L_occlusion`` updates (our default 1:1; the baseline code
            used 1:4). How the updates meet the batches: ``alternation``.
        alternation: ``"per_batch"`` (default): every batch makes one ``L_backbone`` update, and
            after every ``backbone_steps`` of them ``occlusion_steps`` ``L_occlusion`` updates
            follow on the same batch; a contrastive variant then makes as many backbone updates
            per epoch as one without contrast (our reading of the paper's "iterative training
            strategy"). ``"split"``: the batches of an epoch are shared out between the two
            kinds in the pattern, so with 1:1 a contrastive variant makes half the backbone
            updates (the default before; ``docs/results.md`` "Per-batch alternation").
        max_steps_per_epoch: cap on batches per epoch (``null``: the whole training set).
        checkpoint_every: write ``last.pt`` every this many epochs (and always at the end).
        sync_batchnorm: under ``torchrun``, compute BatchNorm statistics over the global batch
            (synchronised across processes) instead of each process's ``B / N`` poses; no effect
            in one process (see the guide "Training on several GPUs").
        shared_optimizer: the ``L_occlusion`` steps update the parameters they share with the
            backbone (filling network, encoder trunk, ``f_occ`` head) through the backbone's Adam
            (our choice, default): the weights ``w_ti``, ``w_ve`` then act relative to the
            backbone's gradient scale. With separate Adam states (``false``) Adam's per-parameter
            normalisation makes those weights almost irrelevant; measured on real data it is
            the better choice (``reproduce --budget quick`` uses it; ``docs/results.md``,
            "Probes").
        occlusion_lr_scale: learning rate of the ``L_occlusion`` updates as a multiple of
            ``lr`` (default 1: the same). With separate Adam states the loss weights
            ``w_ti``, ``w_ve`` hardly set the size of those updates (Adam divides it out); this
            does. With ``shared_optimizer`` only the networks of
            :data:`~examples.ocr_pose.training.CONTRAST_ONLY` (the miners, the projection head)
            use it, as the shared parameters move through the backbone's optimiser.
        autocast: ``null`` (default: float32 throughout) or ``"bfloat16"``: the lifter /
            encoder and discriminator forwards run under :func:`torch.autocast` in bfloat16
            (on CPUs with native bfloat16 arithmetic, e.g. AVX512-BF16 / AMX, and on GPUs);
            parameters, gradients, optimiser states, the filling network, the cycle's geometry
            and every loss stay float32. Faster, at bfloat16 precision of the networks'
            activations (about 3 significant digits; see ``benchmarks/bench_train_step.py``).
        cpu_matmul: ``null`` (default: PyTorch's GEMMs, i.e. the BLAS behind ``torch.mm``) or
            ``"onednn"``: on the CPU, the float32 ``Linear`` layers and 2-D matrix products of
            every update (forward and backward) run on oneDNN's GEMM. Same float32 arithmetic
            in another summation order (results differ at rounding level); about twice as fast
            per GEMM where the BLAS is slow (MKL on AMD CPUs). No effect on CUDA.
        ema_decay: ``0`` (default: off) or a decay in ``(0, 1)``: the trainer also keeps an
            exponential moving average of the weights of the networks used at inference (the
            lifter and the filling network; *our addition*, after Yazıcı et al., "The Unusual
            Effectiveness of Averaging in GAN Training", ICLR 2019). After every batch,
            ``ema = d ema + (1 - d) live`` with ``d = min(ema_decay, (1 + n) / (10 + n))``
            (``n``: averaging updates so far), and the batch-norm statistics are copied.
            Validation (checkpoint selection), ``evaluate`` and ``predict`` then use the
            averaged weights; training continues from the live ones. Measured in
            ``docs/results.md`` ("A moving average of the weights, ..."): no gain there.
    """

    epochs: int = 100
    warmup_epochs: int = 10
    batch_size: int = 512
    lr: float = 2e-4
    betas: Tuple[float, float] = (0.5, 0.9)
    lr_decay: float = 0.95
    disc_every: int = 3
    backbone_steps: int = 1
    occlusion_steps: int = 1
    alternation: str = "per_batch"
    max_steps_per_epoch: Optional[int] = None
    checkpoint_every: int = 1
    sync_batchnorm: bool = False
    shared_optimizer: bool = True
    occlusion_lr_scale: float = 1.0
    autocast: Optional[str] = None
    cpu_matmul: Optional[str] = None
    ema_decay: float = 0.0


@dataclass
class OcclusionConfig:
    """Occlusion simulation during training (METHOD.md §3, setting d of §4).

    Attributes:
        mask_max: mask ``n ~ U{0..mask_max}`` joints per training sample (3).
        occludable: ``"limbs"`` (knees, ankles, elbows, wrists, hips, shoulders) or ``"all"``
            non-root joints: the candidates for masking.
        data_occlusion_rate: fraction of the training set whose 2D is itself incomplete
            (setting d: 0.1); drawn once, seeded.
        data_mask_max: those poses miss ``n ~ U{0..data_mask_max}`` joints (3).
    """

    mask_max: int = 3
    occludable: str = "limbs"
    data_occlusion_rate: float = 0.0
    data_mask_max: int = 3


@dataclass
class RotationConfig:
    """Random view rotation of the cycle (METHOD.md §2), angles in radians.

    Attributes:
        azimuth, elevation, roll: uniform ranges.
        fixed: the baseline's mode: one rotation per training sample drawn once (half of them
            with azimuth + π) and reused every epoch; ``false`` draws fresh rotations each step.
    """

    azimuth: Tuple[float, float] = (-7 * math.pi / 9, 7 * math.pi / 9)
    elevation: Tuple[float, float] = (-math.pi / 9, math.pi / 9)
    roll: Tuple[float, float] = (-math.pi / 18, math.pi / 18)
    fixed: bool = False


@dataclass
class DataConfig:
    """Training data.

    Attributes:
        max_train_poses: random subsample of the training set (``null``: all).
        max_val_poses: random subsample of the validation set (``null``: all).
        synthetic_poses: poses drawn from the embedded synthetic default when ``--data`` is
            omitted.
        synthetic_views: virtual cameras per synthetic pose.
        val_every: validate every this many epochs.
    """

    max_train_poses: Optional[int] = None
    max_val_poses: Optional[int] = None
    synthetic_poses: int = 20000
    synthetic_views: int = 1
    val_every: int = 1


@dataclass
class DebugConfig:
    """Test hooks (never set them in a real run).

    Attributes:
        nan_loss: name of a loss term to replace by NaN (e.g. ``"l_2d"``), to exercise the
            NaN guard.
        nan_at_step: global step (0-based, all step kinds) at which ``nan_loss`` becomes NaN.
    """

    nan_loss: Optional[str] = None
    nan_at_step: Optional[int] = None


@dataclass
class Config:
    """A complete training configuration (one variant of the paper's tables).

    Attributes:
        variant: the variant's name (one of :data:`VARIANTS`); it only labels outputs, the
            behaviour is fully given by the other fields.
        objective: ``"unsupervised"`` (2D only: the trainer never holds 3D) or
            ``"supervised"`` (the reference upper bound, trained on 3D).
        seed: seed of every random draw of the run.
    """

    variant: str = "ocr_pose"
    objective: str = "unsupervised"
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    occlusion: OcclusionConfig = field(default_factory=OcclusionConfig)
    rotation: RotationConfig = field(default_factory=RotationConfig)
    data: DataConfig = field(default_factory=DataConfig)
    debug: DebugConfig = field(default_factory=DebugConfig)

    def to_dict(self) -> Dict[str, Any]:
        """Plain JSON-able dictionary (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def to_json(self) -> str:
        """Canonical JSON text (sorted keys) of the configuration."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @property
    def uses_filling(self) -> bool:
        """Whether the pose filling network is part of this variant."""
        return self.model.filling and self.objective == "unsupervised"

    @property
    def uses_contrast(self) -> bool:
        """Whether any contrastive module (TiCLR, VeCLR) is on."""
        return self.objective == "unsupervised" and (self.loss.ticlr or self.loss.veclr)


_CHOICES: Dict[str, Tuple[str, ...]] = {
    "variant": VARIANTS,
    "objective": ("unsupervised", "supervised"),
    "model.lifter": ("plain", "decoupled"),
    "model.rotation_representation": ("6d",),
    "model.depth_input": ("rotation", "feature"),
    "loss.rotation_distance": ("geodesic", "frobenius"),
    "loss.pf_joints": ("masked", "all"),
    "loss.bone_target": ("pair", "clip", "image"),
    "schedule.alternation": ("per_batch", "split"),
    "occlusion.occludable": ("limbs", "all"),
}
_POSITIVE_INT = {
    "model.hidden", "model.num_blocks", "model.occ_dim", "model.rot_dim", "model.fill_hidden", "model.fill_layers",
    "model.disc_hidden", "model.disc_blocks", "schedule.batch_size", "schedule.disc_every",
    "schedule.checkpoint_every", "data.synthetic_poses", "data.synthetic_views", "data.val_every",
    "schedule.max_steps_per_epoch", "data.max_train_poses", "data.max_val_poses",
    "model.proj_dim",
}
_NONNEGATIVE = {
    "schedule.epochs", "schedule.warmup_epochs", "schedule.backbone_steps",
    "schedule.occlusion_steps", "occlusion.mask_max", "occlusion.data_mask_max",
    "loss.w_pf", "loss.w_2d", "loss.w_3d", "loss.w_adv", "loss.w_rot", "loss.w_ti", "loss.w_ve",
    "loss.w_knee", "loss.w_sym", "loss.w_bone",
}
_POSITIVE_FLOAT = {"schedule.lr", "loss.temperature", "model.distance", "schedule.lr_decay",
                   "loss.clamp_2d", "schedule.occlusion_lr_scale"}


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_type_name(a) for a in args) + " or null"
    if origin in (tuple, Tuple):
        return "[" + ", ".join(_type_name(a) for a in typing.get_args(tp)) + "]"
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` (parsed JSON) against the annotation ``tp``; return the typed value."""
    origin = typing.get_origin(tp)
    if origin is Union:
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(value, a, key)
            except ConfigError:
                pass
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}")
    if origin in (tuple, Tuple):
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{key}: expected a list {_type_name(tp)}, got {value!r}")
        return tuple(_convert(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected an object (section), got {type(value).__name__}")
        return _build(tp, value, key + ".")
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected bool (true/false), got {type(value).__name__} {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected int, got {type(value).__name__} {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected float, got {type(value).__name__} {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite float, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected str, got {type(value).__name__} {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported annotation {tp!r}")  # pragma: no cover


def _build(cls: type, data: Mapping[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for k in data:
        if k not in names:
            raise ConfigError(
                f"{prefix}{k}: unknown key (known keys{' of ' + prefix[:-1] if prefix else ''}: "
                f"{', '.join(names)})"
            )
    kwargs = {}
    default = cls()
    for name in names:
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], prefix + name)
        else:
            kwargs[name] = copy.deepcopy(getattr(default, name))
    return cls(**kwargs)


def _check_values(cfg: Config) -> None:
    flat = _flatten(cfg.to_dict())
    for key, choices in _CHOICES.items():
        if flat[key] not in choices:
            raise ConfigError(f"{key}: expected one of {', '.join(choices)}, got {flat[key]!r}")
    for key in _POSITIVE_INT:
        if flat[key] is not None and flat[key] < 1:
            raise ConfigError(f"{key}: expected a positive integer, got {flat[key]!r}")
    for key in _NONNEGATIVE:
        if flat[key] < 0:
            raise ConfigError(f"{key}: expected a value >= 0, got {flat[key]!r}")
    for key in _POSITIVE_FLOAT:
        if flat[key] is not None and flat[key] <= 0:
            raise ConfigError(f"{key}: expected a value > 0, got {flat[key]!r}")
    if not 0.0 <= cfg.occlusion.data_occlusion_rate <= 1.0:
        raise ConfigError("occlusion.data_occlusion_rate: expected a value in [0, 1], "
                          f"got {cfg.occlusion.data_occlusion_rate!r}")
    if not 0.0 < cfg.loss.bone_momentum <= 1.0:
        raise ConfigError(f"loss.bone_momentum: expected a value in (0, 1], "
                          f"got {cfg.loss.bone_momentum!r}")
    if not 0.0 <= cfg.schedule.ema_decay < 1.0:
        raise ConfigError(f"schedule.ema_decay: expected a value in [0, 1) (0: off), "
                          f"got {cfg.schedule.ema_decay!r}")
    if not 0.0 <= cfg.model.dropout < 1.0:
        raise ConfigError(f"model.dropout: expected a value in [0, 1), got {cfg.model.dropout!r}")
    for i, b in enumerate(cfg.schedule.betas):
        if not 0.0 <= b < 1.0:
            raise ConfigError(f"schedule.betas[{i}]: expected a value in [0, 1), got {b!r}")
    for name in ("azimuth", "elevation", "roll"):
        lo, hi = getattr(cfg.rotation, name)
        if lo > hi:
            raise ConfigError(f"rotation.{name}: expected [low, high] with low <= high, got {[lo, hi]}")
    if cfg.schedule.backbone_steps + cfg.schedule.occlusion_steps < 1:
        raise ConfigError("schedule.backbone_steps: backbone_steps + occlusion_steps must be >= 1")
    if cfg.uses_contrast and cfg.schedule.occlusion_steps < 1:
        raise ConfigError("schedule.occlusion_steps: must be >= 1 when loss.ticlr or loss.veclr is on")
    if cfg.objective == "unsupervised" and cfg.schedule.backbone_steps < 1:
        raise ConfigError("schedule.backbone_steps: must be >= 1 for an unsupervised variant")
    if cfg.schedule.autocast not in (None, "bfloat16"):
        raise ConfigError(f"schedule.autocast: expected null or 'bfloat16', got {cfg.schedule.autocast!r}")
    if cfg.schedule.cpu_matmul not in (None, "onednn"):
        raise ConfigError(f"schedule.cpu_matmul: expected null or 'onednn', got {cfg.schedule.cpu_matmul!r}")
    if (cfg.debug.nan_loss is None) != (cfg.debug.nan_at_step is None):
        raise ConfigError("debug.nan_loss: set both debug.nan_loss and debug.nan_at_step, or neither")


def _flatten(d: Mapping[str, Any], prefix: str = "") -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def _deep_merge(base: Dict[str, Any], over: Mapping[str, Any]) -> Dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def resolve_config_path(name_or_path: Union[str, Path], relative_to: Optional[Path] = None) -> Path:
    """Find a configuration: an existing path, or a built-in name such as ``"ocr_pose"``."""
    p = Path(name_or_path)
    candidates = []
    if relative_to is not None and not p.is_absolute():
        candidates.append(relative_to / p)
    candidates.append(p)
    candidates.append(CONFIG_DIR / p)
    candidates.append(CONFIG_DIR / f"{p}.json")
    for c in candidates:
        if c.is_file():
            return c
    known = ", ".join(sorted(q.stem for q in CONFIG_DIR.glob("*.json")))
    raise ConfigError(f"config: no file {str(name_or_path)!r} (built-in configs: {known})")


def _read_raw(path: Path, seen: Tuple[Path, ...] = ()) -> Dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"extends: circular 'extends' chain through {path}")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"config: {path} is not valid JSON ({e})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config: {path} must hold a JSON object, got {type(raw).__name__}")
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ConfigError(f"extends: expected str, got {type(parent).__name__} {parent!r}")
    base = _read_raw(resolve_config_path(parent, path.parent), seen + (path,))
    return _deep_merge(base, raw)


def config_from_dict(data: Mapping[str, Any]) -> Config:
    """Build and validate a :class:`Config` from a (possibly partial) dictionary.

    Raises:
        ConfigError: unknown key, wrong type or out-of-range value (the message names the key).
    """
    data = dict(data)
    data.pop("extends", None)
    cfg = _build(Config, data)
    _check_values(cfg)
    return cfg


def load_config(name_or_path: Union[str, Path], overrides: Optional[Mapping[str, Any]] = None) -> Config:
    """Load a configuration file (following ``extends``) and apply nested ``overrides``.

    Args:
        name_or_path: a JSON file, or the name of a built-in config (``"ocr_pose"``,
            ``"baseline"``, ...).
        overrides: nested dictionary merged over the file (same keys as the file).

    Raises:
        ConfigError: the file is missing or invalid (the message names the key).
    """
    raw = _read_raw(resolve_config_path(name_or_path))
    if overrides:
        raw = _deep_merge(raw, overrides)
    return config_from_dict(raw)


def builtin_configs() -> List[str]:
    """Names of the built-in configuration files."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))
