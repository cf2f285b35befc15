"""Joint layouts, the :class:`Skeleton` type, layout conversion and pose operations."""

from .conversion import DEFAULT_HEAD_EXTENSION, H36MConversion, conversion_matrix, convert_to_h36m17
from .layouts import BODY25, BODY25B, COCO17, H36M17, LAYOUTS, MPI_INF_3DHP17, get_layout
from .ops import bone_lengths, bone_vectors, flip_horizontal
from .skeleton import Skeleton

__all__ = [
    "Skeleton",
    "H36M17",
    "COCO17",
    "BODY25",
    "BODY25B",
    "MPI_INF_3DHP17",
    "LAYOUTS",
    "get_layout",
    "H36MConversion",
    "convert_to_h36m17",
    "conversion_matrix",
    "DEFAULT_HEAD_EXTENSION",
    "bone_lengths",
    "bone_vectors",
    "flip_horizontal",
]
