"""The collector that runs the documentation's examples (``tests/doc_examples.py``):
a page whose documented output no longer matches fails, naming the page and the diff."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PAGE = '''# A page

```python
from tcg_core import node

@node
def inc(x):
    return x + 1
```

```python
>>> inc(inc(1)).resolve()
{value}
```

```python title="etl.py"
from tcg_core import node

@node
def double(x):
    return 2 * x
```

```python title="test_etl.py"
from etl import double

def test_double(tcg_resolve):
    assert tcg_resolve(double(2)) == 4

def test_wrong(tcg_resolve):
    assert tcg_resolve(double(2)) == 5
```

```text title="pytest output"
...assert 4 == 5
{outcome}
```
'''


@pytest.fixture
def docs(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project with the repository's collector and a docs/ folder."""
    shutil.copytree(ROOT / "tests", pytester.path / "tests",
                    ignore=shutil.ignore_patterns("__pycache__", "test_*"))
    shutil.copy(ROOT / "conftest.py", pytester.path / "conftest.py")
    (pytester.path / "docs").mkdir()
    return pytester


def _page(docs: pytest.Pytester, value: str, outcome: str) -> None:
    (docs.path / "docs" / "page.md").write_text(PAGE.format(value=value, outcome=outcome))


def test_a_page_whose_outputs_hold_passes(docs: pytest.Pytester) -> None:
    _page(docs, "3", "1 failed, 1 passed")
    docs.runpytest_subprocess("-p", "no:randomly", "docs").assert_outcomes(passed=1)


def test_a_changed_doctest_output_fails_the_page_with_the_diff(docs: pytest.Pytester) -> None:
    _page(docs, "4", "1 failed, 1 passed")
    result = docs.runpytest_subprocess("-p", "no:randomly", "docs")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*page.md: Example at *page.md, line 12*",
                                 "*Expected:*", "*4*", "*Got:*", "*3*"])


def test_a_changed_pytest_output_fails_the_page(docs: pytest.Pytester) -> None:
    _page(docs, "3", "2 passed")
    result = docs.runpytest_subprocess("-p", "no:randomly", "docs")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the documented line '2 passed' is not in the output*"])


def test_a_failing_run_with_no_output_block_fails_the_page(docs: pytest.Pytester) -> None:
    page = PAGE.format(value="3", outcome="").split('```text title="pytest output"')[0]
    (docs.path / "docs" / "page.md").write_text(page)
    result = docs.runpytest_subprocess("-p", "no:randomly", "docs")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*pytest test_etl.py failed and no 'pytest output' block*"])
