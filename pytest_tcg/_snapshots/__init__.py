"""Snapshots of a graph's structure (``tcg_snapshot``), of its values (``tcg_regression``),
and the audit of snapshot files no test uses. Where each file goes is one rule,
``pytest_tcg._naming``. Nothing here is imported until a test uses a snapshot."""

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test
