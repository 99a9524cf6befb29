"""``tcg_regression`` (issue 23): every node's value recorded beside the test; a change
names the first node that differs, in topological order, and what changed only because
of it."""

from __future__ import annotations

import json

import pytest

from .conftest import RunPytest

STEPS = '''
from tcg_core import node

SCALE = 1.0
KEEP = 3


@node
def load(n):
    return list(range(n))

@node
def clean(rows):
    return [r for r in rows if r % KEEP]

@node
def scale(rows):
    return [r * SCALE for r in rows]

@node
def total(rows):
    return sum(rows)

@node
def mean(rows):
    return sum(rows) / len(rows)

@node
def label(t, m):
    return f"total={t:.3f} mean={m:.3f}"

@node
def count(rows):
    return len(rows)

@node
def unrelated(n):
    return n * 2

@node
def part(rows):
    return rows[:2]

@node
def per_region(n):
    return [part(load(n)), part(load(n + 1))]

def pipeline(n):
    rows = scale(clean(load(n)))
    return [label(total(rows), mean(rows)), count(rows), unrelated(n), per_region(n)]
'''

TESTS = '''
import steps

def test_values(tcg_regression):
    tcg_regression.check(lambda: steps.pipeline(10))
'''


@pytest.fixture
def pipeline(project: pytest.Pytester) -> pytest.Pytester:
    project.makepyfile(steps=STEPS, test_reg=TESTS)
    return project


def _change(project: pytest.Pytester, old: str, new: str) -> None:
    path = project.path / "steps.py"
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def test_the_first_changed_step_is_named_with_what_changed_because_of_it(
        pipeline: pytest.Pytester, run: RunPytest, run_both: RunPytest) -> None:
    result = run("--tcg-snapshot-update")
    result.assert_outcomes(passed=1)
    stored = pipeline.path / "__tcg_snapshots__" / "test_reg" / "test_values.values.json"
    doc = json.loads(stored.read_text(encoding="utf-8"))
    assert doc["nodes"]["clean"] == {"kind": "json", "type": "list",
                                     "value": [1, 2, 4, 5, 7, 8]}
    assert {"per_region › part#1", "per_region › part#2"} <= set(doc["nodes"])
    run_both().assert_outcomes(passed=1)

    _change(pipeline, "KEEP = 3", "KEEP = 4")
    result = run_both()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "node values differ from the recording *test_values.values.json:",
        "first differing node (in topological order): clean",
        "  [1, 2, 4, 5, 7, 8] is now [1, 2, 3, 5, 6, 7, 9]",
        "downstream, changed because 'clean' changed: scale, *",
        "if the change is right, rerun with --tcg-snapshot-update to record it",
    ])
    text = result.stdout.str()
    downstream = text.split("downstream, changed because 'clean' changed: ")[1].split("\n")[0]
    assert set(downstream.split(", ")) == {"scale", "total", "mean", "label", "count"}
    assert "unrelated" not in text and "load" not in downstream

    run("--tcg-snapshot-update").assert_outcomes(passed=1)  # accepting rewrites it
    run().assert_outcomes(passed=1)


def test_numbers_compare_within_the_tolerance_given(pipeline: pytest.Pytester,
                                                    run: RunPytest) -> None:
    pipeline.makepyfile(test_reg=TESTS.replace("steps.pipeline(10))",
                                               "steps.pipeline(10), rel=1e-6)"))
    run("--tcg-snapshot-update").assert_outcomes(passed=1)
    _change(pipeline, "SCALE = 1.0", "SCALE = 1.0000000001")
    # scale's list, total, mean: all within rel; the label text rounds to 3 places
    run().assert_outcomes(passed=1)
    _change(pipeline, "SCALE = 1.0000000001", "SCALE = 1.5")
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["first differing node (in topological order): scale"])


def test_nodes_added_or_missing_are_listed(pipeline: pytest.Pytester, run: RunPytest) -> None:
    run("--tcg-snapshot-update").assert_outcomes(passed=1)
    _change(pipeline, "unrelated(n), per_region(n)]", "per_region(n)]")
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["nodes missing since the recording: unrelated"])


def test_values_that_are_not_plain_data_are_fingerprinted_or_kept_as_arrays(
        project: pytest.Pytester, run_sub: RunPytest) -> None:
    # NumPy is neither imported here nor in an in-process run: pytester drops what a test
    # imported from sys.modules at teardown, and NumPy cannot be imported twice in one
    # process (a later test would fail).
    import importlib.util

    if importlib.util.find_spec("numpy") is None:
        pytest.skip("needs numpy")
    run = run_sub
    project.makepyfile(test_reg='''
import numpy
from tcg_core import node

FACTOR = 2.0

class Point:
    def __init__(self, x):
        self.x = x

@node
def array(n):
    return numpy.arange(n) * FACTOR

@node
def point(a):
    return Point(float(a.sum()))

def test_values(tcg_regression):
    tcg_regression.check(lambda: point(array(4)))
''')
    run("--tcg-snapshot-update").assert_outcomes(passed=1)
    folder = project.path / "__tcg_snapshots__" / "test_reg"
    doc = json.loads((folder / "test_values.values.json").read_text(encoding="utf-8"))
    assert doc["nodes"]["array"]["kind"] == "array"
    assert (folder / "test_values.values.npz").is_file()
    assert doc["nodes"]["point"]["kind"] == "fingerprint"
    assert "compared by type, size and SHA-256" in doc["nodes"]["point"]["note"]
    run().assert_outcomes(passed=1)
    test = project.path / "test_reg.py"
    test.write_text(test.read_text(encoding="utf-8").replace("FACTOR = 2.0", "FACTOR = 3.0"),
                    encoding="utf-8")
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "first differing node (in topological order): array",
        "  3 of 4 elements differ (shape (4,), dtype float64); first at (1,): *2.0* is now "
        "*3.0*",
        "downstream, changed because 'array' changed: point"])


def test_a_corrupt_or_hostile_file_is_a_clear_error(pipeline: pytest.Pytester,
                                                    run: RunPytest) -> None:
    run("--tcg-snapshot-update").assert_outcomes(passed=1)
    stored = pipeline.path / "__tcg_snapshots__" / "test_reg" / "test_values.values.json"
    for text, said in (("{not json", "not JSON"), ('{"format": "x"}', 'not a "tcg-values"'),
                       ('{"format": "tcg-values", "version": 1, "order": [], "nodes": '
                        '{"a": {"kind": "pickle"}}}', "an entry needs a kind"),
                       ("[" * 100_000, "not JSON")):
        stored.write_text(text, encoding="utf-8")
        result = run()
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines([f"*test_values.values.json cannot be read: *{said}*"
                                     "run pytest with --tcg-snapshot-update*"])


def test_a_recording_no_test_uses_is_reported_unused(pipeline: pytest.Pytester,
                                                    run: RunPytest) -> None:
    run("--tcg-snapshot-update").assert_outcomes(passed=1)
    pipeline.makepyfile(test_reg="def test_other():\n    pass\n")
    result = run()
    result.stdout.fnmatch_lines(["*unused*", "*test_values.values.json*"])


def test_a_future_or_an_unfinished_graph_is_refused(project: pytest.Pytester,
                                                   run: RunPytest) -> None:
    project.makepyfile(steps=STEPS, test_reg='''
import steps
from tcg_core import Graph

def test_future(tcg_regression):
    tcg_regression.check(steps.load(3))

def test_unfinished(tcg_regression):
    with Graph() as graph:
        steps.load(3)
    tcg_regression.check(graph)

def test_bad_option(tcg_regression):
    tcg_regression.check(lambda: steps.load(3), rel=-1)
''')
    result = run()
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines([
        "*needs every node's value, which a future does not keep*",
        "*got a graph that has not run to the end: load (pending)*",
        "*rel must be a number >= 0 or None*"])


@pytest.mark.parametrize("flag", ["--tcg-executor=serial", "--tcg-executor=threads",
                                  "--tcg-executor=processes", "--tcg-shuffle=3",
                                  "--tcg-executor=dask"])
def test_a_recording_holds_on_every_executor(pipeline: pytest.Pytester, run: RunPytest,
                                             flag: str) -> None:
    # Recorded on threads, checked on each executor: values (nested ones included, kept
    # by a callback in the resolving process) are the same wherever bodies ran.
    _needs_dask_for(flag)
    run("--tcg-snapshot-update").assert_outcomes(passed=1)
    result = pipeline.runpytest_subprocess("-p", "no:cacheprovider", flag)
    result.assert_outcomes(passed=1)
    _change(pipeline, "KEEP = 3", "KEEP = 4")
    result = pipeline.runpytest_subprocess("-p", "no:cacheprovider", flag)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["first differing node (in topological order): clean"])


def test_tuples_are_stored_as_json_and_compare_after_a_round_trip(
        project: pytest.Pytester, run: RunPytest) -> None:
    project.makepyfile(test_reg='''
from tcg_core import node

@node
def pair(x):
    return (x, {"k": [x, (1, 2)]})

def test_values(tcg_regression):
    tcg_regression.check(lambda: pair(3))
''')
    run("--tcg-snapshot-update").assert_outcomes(passed=1)
    stored = project.path / "__tcg_snapshots__" / "test_reg" / "test_values.values.json"
    entry = json.loads(stored.read_text(encoding="utf-8"))["nodes"]["pair"]
    assert entry == {"kind": "json", "type": "tuple", "value": [3, {"k": [3, [1, 2]]}]}
    run().assert_outcomes(passed=1)  # the tuple read back as a list still matches


def _needs_dask_for(executor: str) -> None:
    """Skip a Dask case where distributed is not installed (the wheel tests install the
    test extra only); looked up without importing it into this process."""
    import importlib.util

    if "dask" in executor and importlib.util.find_spec("distributed") is None:
        pytest.skip("needs distributed (pip install 'pytest-tcg[dask]')")
