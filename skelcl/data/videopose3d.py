"""Human3.6M in VideoPose3D's file layout, with the Human3.6M cameras, to pose datasets.

VideoPose3D (Pavllo et al., CVPR 2019) distributes its preprocessed Human3.6M as ``.npz`` files
holding **pickled Python dicts**:

- ``data_3d_h36m.npz``: key ``positions_3d``, a dict ``subject -> action -> (F, 32, 3)`` float
  array of world positions in metres (``"S1"``, ``"Walking 1"``, ...), 50 fps;
- ``data_2d_h36m_gt.npz`` and detector files such as ``data_2d_h36m_cpn_ft_h36m_dbb.npz``: key
  ``positions_2d``, a dict ``subject -> action -> [4 arrays (F, 17, 2)]`` (pixels, one per
  camera in the order of :data:`H36M_CAMERA_IDS`; a third channel, if present, is read as the
  confidence), and key ``metadata``, a dict with ``layout_name`` (``"h36m"`` or ``"coco"``),
  ``num_joints`` and ``keypoints_symmetry``.

Loading a pickled object can execute arbitrary code stored in the file, so these readers refuse
unless called with ``allow_pickle=True`` -- pass it only for files from a source you trust.

The 32 Human3.6M joints reduce to H36M-17 with :data:`H36M32_TO_17`
``[0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]``. Cameras: the four Human3.6M
cameras per subject (:data:`H36M_CAMERAS`), with intrinsics (focal, centre, radial ``k1..k3`` and
tangential distortion, image size) and extrinsics (orientation quaternion ``w, x, y, z`` rotating
camera to world, and the camera centre in world metres). World to camera:
``X_cam = R^T (X - t)``. The numbers are those published with Human3.6M (Ionescu et al., TPAMI
2014) as tabulated by VideoPose3D; S2, S3 and S4 have no extrinsics and are not supported.

Projection (:func:`h36m_project`) uses Human3.6M's distortion model with the tangential pair in
the order tabulated: for ``(x, y) = (X/Z, Y/Z)``, ``r2 = x^2 + y^2``,
``radial = 1 + k1 r2 + k2 r2^2 + k3 r2^3``, ``tan = p0 x + p1 y``,
``(x', y') = (x, y) (radial + tan) + (p0, p1) r2``, pixels ``f * (x', y') + c``. This is how
VideoPose3D's ground-truth 2D file was made, so projecting the 3D reproduces it.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .pose_dataset import PoseDataset

__all__ = [
    "H36M32_TO_17",
    "H36M_CAMERA_IDS",
    "H36MCamera",
    "H36M_CAMERAS",
    "h36m_world_to_camera",
    "h36m_project",
    "load_videopose3d_npz",
    "read_videopose3d",
]

PathLike = Union[str, "os.PathLike[str]"]

#: Indices of the 17 H36M-17 joints among Human3.6M's 32 (VideoPose3D's selection).
H36M32_TO_17: Tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)

#: The four Human3.6M camera ids, in the order of every per-camera list.
H36M_CAMERA_IDS: Tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")

# Intrinsics per camera: centre (px), focal (px), radial k1..k3, tangential pair, width, height.
_INTRINSICS = (
    ((512.54150390625, 515.4514770507812), (1145.0494384765625, 1143.7811279296875),
     (-0.20709891617298126, 0.24777518212795258, -0.0030751503072679043),
     (-0.0009756988729350269, -0.00142447161488235), 1000, 1002),
    ((508.8486328125, 508.0649108886719), (1149.6756591796875, 1147.5916748046875),
     (-0.1942136287689209, 0.2404085397720337, 0.006819975562393665),
     (-0.0016190266469493508, -0.0027408944442868233), 1000, 1000),
    ((519.8158569335938, 501.40264892578125), (1149.1407470703125, 1148.7989501953125),
     (-0.2083381861448288, 0.25548800826072693, -0.0024604974314570427),
     (0.0014843869721516967, -0.0007599993259645998), 1000, 1000),
    ((514.9682006835938, 501.88201904296875), (1145.5113525390625, 1144.77392578125),
     (-0.198384091258049, 0.21832367777824402, -0.008947807364165783),
     (-0.0005872055771760643, -0.0018133620033040643), 1000, 1002),
)

# Extrinsics per subject and camera: orientation quaternion (w, x, y, z), centre in millimetres.
_EXTRINSICS: Dict[str, Tuple[Tuple[Tuple[float, ...], Tuple[float, ...]], ...]] = {
    "S1": (
        ((0.1407056450843811, -0.1500701755285263, -0.755240797996521, 0.6223280429840088),
         (1841.1070556640625, 4955.28466796875, 1563.4454345703125)),
        ((0.6157187819480896, -0.764836311340332, -0.14833825826644897, 0.11794740706682205),
         (1761.278564453125, -5078.0068359375, 1606.2650146484375)),
        ((0.14651472866535187, -0.14647851884365082, 0.7653023600578308, -0.6094175577163696),
         (-1846.7777099609375, 5215.04638671875, 1491.972412109375)),
        ((0.5834008455276489, -0.7853162288665771, 0.14548823237419128, -0.14749594032764435),
         (-1794.7896728515625, -3722.698974609375, 1574.8927001953125)),
    ),
    "S5": (
        ((0.1467377245426178, -0.162370964884758, -0.7551892995834351, 0.6178938746452332),
         (2097.3916015625, 4880.94482421875, 1605.732421875)),
        ((0.6159758567810059, -0.7626792192459106, -0.15728192031383514, 0.1189815029501915),
         (2031.7008056640625, -5167.93310546875, 1612.923095703125)),
        ((0.14291371405124664, -0.12907841801643372, 0.7678384780883789, -0.6110143065452576),
         (-1620.5948486328125, 5171.65869140625, 1496.43701171875)),
        ((0.5920479893684387, -0.7814217805862427, 0.1274748593568802, -0.15036417543888092),
         (-1637.1737060546875, -3867.3173828125, 1547.033203125)),
    ),
    "S6": (
        ((0.1337897777557373, -0.15692396461963654, -0.7571090459823608, 0.6198879480361938),
         (1935.4517822265625, 4950.24560546875, 1618.0838623046875)),
        ((0.6147197484970093, -0.7628812789916992, -0.16174767911434174, 0.11819244921207428),
         (1969.803955078125, -5128.73876953125, 1632.77880859375)),
        ((0.1529948115348816, -0.13529130816459656, 0.7646096348762512, -0.6112781167030334),
         (-1769.596435546875, 5185.361328125, 1476.993408203125)),
        ((0.5916101336479187, -0.7804774045944214, 0.12832270562648773, -0.1561593860387802),
         (-1721.668701171875, -3884.13134765625, 1540.4879150390625)),
    ),
    "S7": (
        ((0.1435241848230362, -0.1631336808204651, -0.7548328638076782, 0.6188824772834778),
         (1974.512939453125, 4926.3544921875, 1597.8326416015625)),
        ((0.6141672730445862, -0.7638262510299683, -0.1596645563840866, 0.1177929937839508),
         (1937.0584716796875, -5119.7900390625, 1631.5665283203125)),
        ((0.14550060033798218, -0.12874816358089447, 0.7660516500473022, -0.6127139329910278),
         (-1741.8111572265625, 5208.24951171875, 1464.8245849609375)),
        ((0.5912848114967346, -0.7821764349937439, 0.12445473670959473, -0.15196487307548523),
         (-1734.7105712890625, -3832.42138671875, 1548.5830078125)),
    ),
    "S8": (
        ((0.14110587537288666, -0.15589867532253265, -0.7561917304992676, 0.619644045829773),
         (2150.65185546875, 4896.1611328125, 1611.9046630859375)),
        ((0.6169601678848267, -0.7647668123245239, -0.14846350252628326, 0.11158157885074615),
         (2219.965576171875, -5148.453125, 1613.0440673828125)),
        ((0.1471444070339203, -0.13377119600772858, 0.7670128345489502, -0.6100369691848755),
         (-1571.2215576171875, 5137.0185546875, 1498.1761474609375)),
        ((0.5927824378013611, -0.7825870513916016, 0.12147816270589828, -0.14631995558738708),
         (-1476.913330078125, -3896.7412109375, 1547.97216796875)),
    ),
    "S9": (
        ((0.15540587902069092, -0.15548215806484222, -0.7532095313072205, 0.6199594736099243),
         (2044.45849609375, 4935.1171875, 1481.2275390625)),
        ((0.618784487247467, -0.7634735107421875, -0.14132238924503326, 0.11933968216180801),
         (1990.959716796875, -5123.810546875, 1568.8048095703125)),
        ((0.13357827067375183, -0.1367100477218628, 0.7689454555511475, -0.6100738644599915),
         (-1670.9921875, 5211.98583984375, 1528.387939453125)),
        ((0.5879399180412292, -0.7823407053947449, 0.1427614390850067, -0.14794869720935822),
         (-1696.04345703125, -3827.099853515625, 1591.4127197265625)),
    ),
    "S11": (
        ((0.15232472121715546, -0.15442320704460144, -0.7547563314437866, 0.6191070079803467),
         (2098.440185546875, 4926.5546875, 1500.278564453125)),
        ((0.6189449429512024, -0.7600917220115662, -0.15300633013248444, 0.1255258321762085),
         (2083.182373046875, -4912.1728515625, 1561.07861328125)),
        ((0.14943228662014008, -0.15650227665901184, 0.7681233882904053, -0.6026304364204407),
         (-1609.8153076171875, 5177.3359375, 1537.896728515625)),
        ((0.5894251465797424, -0.7818877100944519, 0.13991211354732513, -0.14715361595153809),
         (-1590.738037109375, -3854.1689453125, 1578.017578125)),
    ),
}


@dataclass(frozen=True)
class H36MCamera:
    """One Human3.6M camera of one subject.

    Args:
        id: camera id (e.g. ``"54138969"``).
        focal: ``(2,)`` ``fx, fy`` pixels.
        center: ``(2,)`` principal point ``cx, cy`` pixels.
        radial: ``(3,)`` ``k1, k2, k3``.
        tangential: ``(2,)`` tangential coefficients in the order of the module's model.
        image_size: ``(2,)`` width, height in pixels.
        orientation: ``(4,)`` quaternion ``w, x, y, z`` rotating camera to world.
        translation: ``(3,)`` camera centre in world metres.
    """

    id: str
    focal: np.ndarray
    center: np.ndarray
    radial: np.ndarray
    tangential: np.ndarray
    image_size: np.ndarray
    orientation: np.ndarray
    translation: np.ndarray

    @property
    def rotation(self) -> np.ndarray:
        """``(3, 3)`` camera-to-world rotation matrix of :attr:`orientation`."""
        w, x, y, z = self.orientation / np.linalg.norm(self.orientation)
        return np.array([
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ])


def _build_cameras() -> Dict[str, Tuple[H36MCamera, ...]]:
    out = {}
    for subject, extr in _EXTRINSICS.items():
        cams = []
        for cid, (c, f, k, p, w, h), (q, t) in zip(H36M_CAMERA_IDS, _INTRINSICS, extr):
            cams.append(H36MCamera(
                id=cid, focal=np.array(f), center=np.array(c), radial=np.array(k),
                tangential=np.array(p), image_size=np.array([float(w), float(h)]),
                orientation=np.array(q), translation=np.array(t) / 1000.0,
            ))
        out[subject] = tuple(cams)
    return out


#: ``subject -> (4 cameras)`` for S1, S5, S6, S7, S8, S9, S11.
H36M_CAMERAS: Dict[str, Tuple[H36MCamera, ...]] = _build_cameras()


def h36m_world_to_camera(points: np.ndarray, camera: H36MCamera) -> np.ndarray:
    """World positions ``(..., 3)`` metres to the camera frame: ``R^T (X - t)``."""
    return (np.asarray(points, dtype=np.float64) - camera.translation) @ camera.rotation


def h36m_project(points_cam: np.ndarray, camera: H36MCamera, distort: bool = True) -> np.ndarray:
    """Camera-frame points ``(..., 3)`` to pixels ``(..., 2)`` (model in the module docstring).

    Args:
        points_cam: points in the camera frame (``z > 0``).
        camera: the camera.
        distort: apply the lens distortion (default, as VideoPose3D's 2D files do).
    """
    p = np.asarray(points_cam, dtype=np.float64)
    xy = p[..., :2] / p[..., 2:3]
    if distort:
        r2 = (xy ** 2).sum(-1, keepdims=True)
        k1, k2, k3 = camera.radial
        radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
        tan = (camera.tangential * xy).sum(-1, keepdims=True)
        xy = xy * (radial + tan) + camera.tangential * r2
    return xy * camera.focal + camera.center


def load_videopose3d_npz(path: PathLike, key: str, *, allow_pickle: bool = False) -> Any:
    """Read one pickled entry of a VideoPose3D ``.npz`` (``positions_3d``, ``positions_2d``, ...).

    Args:
        path: the file.
        key: the entry.
        allow_pickle: must be ``True``: these entries are pickled Python dicts, and unpickling
            runs code stored in the file. Pass it only for files you trust.

    Returns:
        The unpickled object (a dict for VideoPose3D's files).

    Raises:
        ValueError: ``allow_pickle`` is ``False`` (explaining the risk), the file is empty, not
            an ``.npz``, truncated, or lacks ``key``.
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise FileNotFoundError(f"{where}: no such file")
    if path.stat().st_size == 0:
        raise ValueError(f"{where}: empty file")
    try:
        with np.load(path, allow_pickle=allow_pickle) as npz:
            if key not in npz.files:
                raise ValueError(f"{where}: no key {key!r} (found {sorted(npz.files)})")
            value = npz[key]
    except ValueError as exc:
        if "pickle" in str(exc).lower() and not allow_pickle:
            raise ValueError(
                f"{where}: {key!r} is a pickled Python object (VideoPose3D stores dicts). "
                "Unpickling can execute arbitrary code contained in the file, so skelcl refuses "
                "by default. If you trust this file, pass allow_pickle=True."
            ) from None
        if str(exc).startswith(where):
            raise
        raise ValueError(f"{where}: not a readable .npz archive ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile, AttributeError) as exc:
        raise ValueError(f"{where}: not a readable .npz archive (truncated or corrupt?): {exc}") from None
    if value.dtype == object and value.ndim == 0:
        return value.item()
    return value


def _as_dict(obj: Any, where: str, what: str) -> Dict[str, Any]:
    if not isinstance(obj, dict) or not obj:
        raise ValueError(f"{where}: {what} must be a non-empty dict subject -> action -> data")
    return obj


def read_videopose3d(
    path_3d: Optional[PathLike] = None,
    path_2d: Optional[PathLike] = None,
    *,
    subjects: Optional[Sequence[str]] = None,
    actions: Optional[Sequence[str]] = None,
    cameras: Optional[Sequence[int]] = None,
    allow_pickle: bool = False,
) -> PoseDataset:
    """Build a pose dataset from VideoPose3D's Human3.6M files.

    With both files, the 2D comes from ``path_2d`` (trimmed to the 3D's length, as VideoPose3D
    does) and the camera-frame 3D from ``path_3d``; with only ``path_3d`` the 2D is the
    projection of the 3D (:func:`h36m_project`, distortion included); with only ``path_2d`` the
    dataset has no 3D.

    Args:
        path_3d: ``data_3d_h36m.npz`` (``positions_3d``, 32 joints, world metres).
        path_2d: ``data_2d_h36m_gt.npz`` or a detector file (``positions_2d`` and ``metadata``;
            layout ``"h36m"`` is used as is, ``"coco"`` is converted to H36M-17).
        subjects: subjects to keep (default all with cameras: S1, S5-S9, S11).
        actions: action names to keep (exact, e.g. ``"Walking 1"``; default all).
        cameras: camera indices 0-3 to keep (default all).
        allow_pickle: required ``True`` (the files hold pickled dicts; see
            :func:`load_videopose3d_npz`).

    Returns:
        A :class:`PoseDataset` (layout ``"h36m17"``) ordered subject, action, camera, frame with
        per-pose ``image_size``, ``focal`` and ``principal_point`` of the camera, ``poses_3d``
        in the camera frame (metres), ``clip`` = ``"S1/Walking 1/54138969"``, ``action`` = the
        action without its take number (``"Walking"``), ``confidence`` when the 2D file has a
        third channel, and extras ``subject``, ``view`` (camera index) and ``frame``.

    Raises:
        ValueError: no file given, pickle not allowed, wrong joint counts, a 2D sequence shorter
            than its 3D, unknown subjects / cameras, nothing selected; messages name the file.
    """
    if path_3d is None and path_2d is None:
        raise ValueError("read_videopose3d: give path_3d, path_2d or both")
    pos3d = pos2d = None
    layout2d = "h36m"
    if path_3d is not None:
        pos3d = _as_dict(load_videopose3d_npz(path_3d, "positions_3d", allow_pickle=allow_pickle),
                         str(path_3d), "positions_3d")
    if path_2d is not None:
        pos2d = _as_dict(load_videopose3d_npz(path_2d, "positions_2d", allow_pickle=allow_pickle),
                         str(path_2d), "positions_2d")
        try:
            meta = load_videopose3d_npz(path_2d, "metadata", allow_pickle=allow_pickle)
        except ValueError as exc:
            if "no key" not in str(exc):
                raise
            meta = {}
        layout2d = str(meta.get("layout_name", "h36m")) if isinstance(meta, dict) else "h36m"
        if layout2d not in ("h36m", "coco"):
            raise ValueError(f"{path_2d}: metadata layout_name {layout2d!r} is not 'h36m' or 'coco'")
    primary = pos3d if pos3d is not None else pos2d
    assert primary is not None
    subj = list(primary) if subjects is None else list(subjects)
    unknown = [s for s in subj if s not in H36M_CAMERAS]
    if unknown and subjects is not None:
        raise ValueError(f"subjects: {unknown} have no Human3.6M camera extrinsics; known: "
                         f"{sorted(H36M_CAMERAS)}")
    subj = [s for s in subj if s in H36M_CAMERAS]
    cams = list(range(4)) if cameras is None else [int(c) for c in cameras]
    if any(not 0 <= c < 4 for c in cams):
        raise ValueError(f"cameras: expected indices in 0-3, got {cams}")

    cols: Dict[str, List[np.ndarray]] = {k: [] for k in (
        "p2", "p3", "conf", "size", "focal", "pp", "clip", "action", "subject", "view", "frame")}
    for s in subj:
        if s not in primary:
            raise ValueError(f"subjects: {s!r} is not in the file(s)")
        for a in primary[s]:
            if actions is not None and a not in actions:
                continue
            w3 = None
            if pos3d is not None:
                w3 = np.asarray(pos3d[s][a], dtype=np.float64)
                if w3.ndim != 3 or w3.shape[1:] not in ((32, 3), (17, 3)):
                    raise ValueError(f"{path_3d}: positions_3d[{s!r}][{a!r}] has shape {w3.shape}; "
                                     "expected (F, 32, 3)")
                if w3.shape[1] == 32:
                    w3 = w3[:, list(H36M32_TO_17)]
                if not np.isfinite(w3).all():
                    raise ValueError(f"{path_3d}: positions_3d[{s!r}][{a!r}] contains NaN or inf")
            for c in cams:
                cam = H36M_CAMERAS[s][c]
                p3 = h36m_world_to_camera(w3, cam) if w3 is not None else None
                conf = None
                if pos2d is not None:
                    try:
                        k2 = np.asarray(pos2d[s][a][c], dtype=np.float64)
                    except (KeyError, IndexError):
                        raise ValueError(f"{path_2d}: positions_2d has no {s!r}/{a!r} camera {c}") from None
                    if k2.ndim != 3 or k2.shape[1] != 17 or k2.shape[2] not in (2, 3):
                        raise ValueError(f"{path_2d}: positions_2d[{s!r}][{a!r}][{c}] has shape "
                                         f"{k2.shape}; expected (F, 17, 2) or (F, 17, 3)")
                    if p3 is not None:
                        if k2.shape[0] < p3.shape[0]:
                            raise ValueError(
                                f"{path_2d}: positions_2d[{s!r}][{a!r}][{c}] has {k2.shape[0]} "
                                f"frames, fewer than the {p3.shape[0]} of the 3D"
                            )
                        k2 = k2[: p3.shape[0]]
                    if k2.shape[2] == 3:
                        conf = np.clip(k2[..., 2], 0.0, 1.0)
                    p2 = k2[..., :2]
                    if layout2d == "coco":
                        from skelcl.skeleton import convert_to_h36m17

                        conv = convert_to_h36m17(p2, "coco17", conf)
                        p2 = conv.keypoints.numpy()
                        conf = None if conv.confidence is None else conv.confidence.numpy()
                else:
                    p2 = h36m_project(p3, cam)
                n = p2.shape[0]
                if n == 0:
                    continue
                cols["p2"].append(p2)
                if p3 is not None:
                    cols["p3"].append(p3)
                if conf is not None:
                    cols["conf"].append(conf)
                cols["size"].append(np.broadcast_to(cam.image_size, (n, 2)))
                cols["focal"].append(np.broadcast_to(cam.focal, (n, 2)))
                cols["pp"].append(np.broadcast_to(cam.center, (n, 2)))
                cols["clip"].append(np.full(n, f"{s}/{a}/{cam.id}"))
                cols["action"].append(np.full(n, str(a).split(" ")[0]))
                cols["subject"].append(np.full(n, s))
                cols["view"].append(np.full(n, c, dtype=np.int64))
                cols["frame"].append(np.arange(n, dtype=np.int64))
    if not cols["p2"]:
        raise ValueError(f"{path_3d or path_2d}: nothing selected (subjects {subj}, actions "
                         f"{actions}, cameras {cams})")
    cat = np.concatenate
    if cols["conf"] and len(cols["conf"]) != len(cols["p2"]):
        raise ValueError(f"{path_2d}: some 2D sequences have confidences and others not")
    return PoseDataset(
        poses_2d=cat(cols["p2"]).astype(np.float32),
        image_size=cat(cols["size"]).astype(np.float32),
        layout="h36m17",
        confidence=cat(cols["conf"]).astype(np.float32) if cols["conf"] else None,
        poses_3d=cat(cols["p3"]).astype(np.float32) if cols["p3"] else None,
        focal=cat(cols["focal"]).astype(np.float32),
        principal_point=cat(cols["pp"]).astype(np.float32),
        clip=cat(cols["clip"]),
        action=cat(cols["action"]),
        source="Human3.6M (VideoPose3D files "
               + ", ".join(str(p) for p in (path_3d, path_2d) if p is not None) + ")",
        extras={"subject": cat(cols["subject"]), "view": cat(cols["view"]),
                "frame": cat(cols["frame"])},
    )
