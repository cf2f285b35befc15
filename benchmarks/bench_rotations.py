"""Random rotations and rotation conversions: skelcl.geometry vs scipy.spatial.transform.Rotation.

For each batch size ``N`` (default 1e5 and 1e6; ``--quick`` 1e5 only) and each operation, the
skelcl function on ``--device`` in ``--dtype`` is timed next to the scipy call a user would write
(always float64 on the CPU; ``Rotation.from_matrix`` includes scipy's re-orthonormalisation, as a
user would pay it). Agreement is checked on up to 20,000 rotations: conversions to matrices are
compared with scipy's matrices directly; conversions from matrices are turned back into matrices
*by scipy* and compared with the input (so angle wrap-arounds, ``q`` vs ``-q`` and gimbal lock do not
count as disagreement). Random rotations are checked for orthonormality and ``det = +1``.

Run: ``python -m benchmarks.bench_rotations [--device cuda] [--quick]``.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from benchmarks.common import PeakMemory, Report, dtype_of, finish, make_parser, measure, setup_from_args

CHECK_N = 20_000
EULER_AXES = "XYZ"


def _ops(g: Any) -> list[tuple[str, str, Callable, Callable, str]]:
    """(name, input kind, skelcl fn, scipy fn, output kind)."""
    return [
        ("matrix -> quaternion", "matrix", g.matrix_to_quaternion, lambda m: Rotation.from_matrix(m).as_quat(), "quat"),
        ("quaternion -> matrix", "quat", g.quaternion_to_matrix, lambda q: Rotation.from_quat(q).as_matrix(), "matrix"),
        ("axis-angle -> matrix", "rotvec", g.axis_angle_to_matrix, lambda v: Rotation.from_rotvec(v).as_matrix(), "matrix"),
        ("matrix -> axis-angle", "matrix", g.matrix_to_axis_angle, lambda m: Rotation.from_matrix(m).as_rotvec(), "rotvec"),
        (
            f"euler {EULER_AXES} -> matrix",
            "euler",
            lambda e: g.euler_to_matrix(e, EULER_AXES),
            lambda e: Rotation.from_euler(EULER_AXES, e).as_matrix(),
            "matrix",
        ),
        (
            f"matrix -> euler {EULER_AXES}",
            "matrix",
            lambda m: g.matrix_to_euler(m, EULER_AXES),
            lambda m: Rotation.from_matrix(m).as_euler(EULER_AXES),
            "euler",
        ),
    ]


def _to_matrix_scipy(kind: str, x: np.ndarray) -> np.ndarray:
    """scipy's matrices for an array of rotations of the given kind (the independent oracle)."""
    if kind == "matrix":
        return x
    if kind == "quat":
        return Rotation.from_quat(x).as_matrix()
    if kind == "rotvec":
        return Rotation.from_rotvec(x).as_matrix()
    if kind == "euler":
        return Rotation.from_euler(EULER_AXES, x).as_matrix()
    raise ValueError(kind)


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    """Run the benchmark; returns the report dict (see :class:`benchmarks.common.Report`)."""
    p = make_parser(__doc__.split("\n")[0])
    p.add_argument("--sizes", default=None, help="comma-separated N (default 100000,1000000)")
    args = p.parse_args(argv)
    device = setup_from_args(args, default_repeats=7)
    import skelcl.geometry as g

    dtype = dtype_of(args.dtype)
    if args.sizes:
        sizes = [int(float(s)) for s in args.sizes.split(",")]
    elif args.smoke:
        sizes = [2_000]
    elif args.quick:
        sizes = [100_000]
    else:
        sizes = [100_000, 1_000_000]
    tol = 1e-4 if dtype == torch.float32 else 1e-8
    rep = Report(
        "rotations",
        "random rotations and conversions: skelcl.geometry vs scipy Rotation",
        str(device),
        {"sizes": sizes, "dtype": args.dtype, "scipy_dtype": "float64 (CPU)", "repeats": args.repeats, "euler_axes": EULER_AXES},
        quiet=args.quiet,
    )
    rep.note("scipy always runs in float64 on the CPU; skelcl runs on the benchmark device in the dtype above")
    rs = np.random.default_rng(args.seed)
    gen = torch.Generator(device=device).manual_seed(args.seed)
    max_diffs: dict[str, float] = {}
    for n in sizes:
        case = f"N={n:.0e}".replace("+0", "")
        # random rotations
        with PeakMemory(device) as pm:
            t = measure(lambda: g.random_rotation(n, generator=gen, dtype=dtype, device=device), device=device, warmup=args.warmup, repeats=args.repeats)
        rep.add(case, "random_rotation: skelcl", t, items=n, unit="rot/s", vs="random_rotation: scipy", peak_mb=pm.peak_mb)
        t = measure(lambda: Rotation.random(n, random_state=rs).as_matrix(), warmup=args.warmup, repeats=args.repeats)
        rep.add(case, "random_rotation: scipy", t, items=n, unit="rot/s", vs="random_rotation: scipy")
        r_t = g.random_rotation(n, generator=gen, dtype=dtype, device=device)
        rc = r_t[:CHECK_N].double().cpu().numpy()
        orth = np.abs(rc @ np.swapaxes(rc, -1, -2) - np.eye(3)).max()
        det = np.abs(np.linalg.det(rc) - 1.0).max()
        max_diffs["random_rotation orthonormality"] = max(max_diffs.get("random_rotation orthonormality", 0.0), float(max(orth, det)))

        # inputs of each kind, made by scipy from the same rotations (float64 numpy)
        r_np = Rotation.random(n, random_state=rs)
        inputs_np = {
            "matrix": r_np.as_matrix(),
            "quat": r_np.as_quat(),
            "rotvec": r_np.as_rotvec(),
            "euler": r_np.as_euler(EULER_AXES),
        }
        inputs_t = {k: torch.as_tensor(v, dtype=dtype, device=device) for k, v in inputs_np.items()}
        for name, kind, ours, theirs, out_kind in _ops(g):
            x_t, x_np = inputs_t[kind], inputs_np[kind]
            with PeakMemory(device) as pm:
                t = measure(lambda: ours(x_t), device=device, warmup=args.warmup, repeats=args.repeats)
            rep.add(case, f"{name}: skelcl", t, items=n, unit="rot/s", vs=f"{name}: scipy", peak_mb=pm.peak_mb)
            t = measure(lambda: theirs(x_np), warmup=args.warmup, repeats=args.repeats)
            rep.add(case, f"{name}: scipy", t, items=n, unit="rot/s", vs=f"{name}: scipy")
            out = ours(x_t[:CHECK_N]).double().cpu().numpy()
            expected = _to_matrix_scipy(kind, x_np[:CHECK_N])
            got = _to_matrix_scipy(out_kind, out)
            max_diffs[name] = max(max_diffs.get(name, 0.0), float(np.abs(got - expected).max()))
    for name, v in max_diffs.items():
        label = f"{name}: max |R R^T - I|, |det R - 1|" if name.startswith("random") else f"{name} vs scipy (max abs matrix diff)"
        rep.check(label, v, tol)
    out = finish(rep, args)
    if not args.quiet:
        for r in out["rows"]:
            if r["variant"].endswith(": skelcl") and r.get("speedup"):
                print(f"   [{r['case']}] {r['variant']:<34} {r['speedup']:.3g}x scipy")
    return out


if __name__ == "__main__":
    main()
