"""skelcl benchmarks: ``python -m benchmarks.run_all --out DIR [--quick] [--device cpu|cuda]``.

Each ``bench_*.py`` module exposes ``main(argv) -> dict`` and can also be run on its own
(``python -m benchmarks.bench_metrics --help``). Shared timing and reporting helpers live in
:mod:`benchmarks.common`. Benchmarks may import ``examples``; the library never imports either.
"""
