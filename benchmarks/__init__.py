"""Benchmarks for tcg_core beside plain Python, a bare thread pool and dask.delayed.

Run every scenario with ``python -m benchmarks`` (small defaults, about two minutes),
``python -m benchmarks --full`` for the million-node runs, and
``python -m benchmarks --only NAME`` for one scenario. Results are printed as tables
and written as JSON to ``benchmarks/results/``.
"""
