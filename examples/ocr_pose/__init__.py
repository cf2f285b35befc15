"""OCR-Pose (Wang, Yu et al., ACM MM 2022) assembled from skelcl's parts.

Run ``python -m examples.ocr_pose --help`` from the repository root. Subcommands: ``train``,
``evaluate``, ``predict``, ``reproduce`` and ``demo``. The library (:mod:`skelcl`) never imports
this package; everything OCR-Pose-specific (the training schedule, the variants of the paper's
ablation, the result tables) lives here as plain code.
"""
