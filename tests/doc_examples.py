"""Every Python example in the documentation runs as a test, so a page can never lie.

The root ``conftest.py`` hands ``README.md``, ``CHANGELOG.md`` and ``docs/**/*.md`` to
:func:`pytest_collect_file`: one test item per page, which evaluates the page's examples
in order with Sybil's parsers (one item, not one per block, so ``pytest -n 2`` never
splits a page's examples between two processes):

* ```` ```python ```` blocks run in one namespace per page; a block of ``>>>`` lines is a
  doctest whose printed output is compared, so a changed output fails the page;
* ```` ```python title="etl.py" ```` blocks are written as that file in the page's own
  temporary folder (the working directory and first on ``sys.path`` while it runs), so
  later blocks can import them;
* ```` ```python title="test_etl.py" ```` blocks are written and run with pytest in a
  subprocess there (the plugin loads as a user's run loads it), with the arguments of a
  ``<!-- pytest-args: ... -->`` comment right before the block; the run must pass,
  unless the next block is
* ```` ```text title="pytest output" ````: its lines (``...`` stands for any text) must
  appear in that run's output, in order;
* ``<!-- skip: next if(not HAS_DASK, reason="...") -->`` skips the next example where a
  condition holds (Sybil's skip directive; ``HAS_DASK``, ``HAS_GRAPHVIZ`` are defined).

Modules a page imported from its folder are forgotten after it, so pages stay apart.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sybil import Document, Example, Region, Sybil
from sybil.example import SybilFailure
from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer

__all__ = ["pytest_collect_file"]

DOCUMENTS = ("README.md", "CHANGELOG.md")
TITLED = r'(python|text) title="(?P<title>[^"]+)"'
PYTEST_OUTPUT = "pytest output"
#: How long one pytest run of a page's example may take (a hang guard, not a bound).
RUN_LIMIT = 600


ARGS = re.compile(r"<!--\s*pytest-args:(?P<args>[^>]*?)-->\s*$")


def _write_file(example: Example) -> None:
    title = _title(example.region)
    target = Path.cwd() / title
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(str(example.parsed), encoding="utf-8")
    if Path(title).name.startswith("test_") and title.endswith(".py"):
        before = example.document.text[:example.region.start]
        found = ARGS.search(before)
        _run_pytest(example, title, shlex.split(found.group("args")) if found else [])


def _run_pytest(example: Example, title: str, args: list[str]) -> None:
    namespace = example.namespace
    _require_checked(namespace)
    command = [sys.executable, "-m", "pytest", title, "-p", "no:cacheprovider",
               "-p", "no:randomly", "-W", "error::DeprecationWarning", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_LIMIT,
                          env={**os.environ, "PYTHONPATH": os.getcwd()}, check=False)
    output = done.stdout + done.stderr
    namespace["_pytest_output"] = output
    namespace["_pytest_unchecked"] = (title, output) if done.returncode else None


def _require_checked(namespace: dict[str, Any]) -> None:
    """A failing run must be followed by the output block that shows it."""
    unchecked = namespace.get("_pytest_unchecked")
    if unchecked:
        title, output = unchecked
        raise AssertionError(f"pytest {title} failed and no 'pytest output' block follows "
                             f"to show it:\n{output}")


def _check_output(example: Example) -> None:
    namespace = example.namespace
    output = namespace.get("_pytest_output")
    if output is None:
        raise AssertionError("a 'pytest output' block follows no test file")
    lines = output.splitlines()
    position = 0
    for wanted in str(example.parsed).splitlines():
        if not wanted.strip():
            continue
        pattern = "*" + glob.escape(wanted.strip()).replace("...", "*") + "*"
        while position < len(lines) and not fnmatch.fnmatchcase(lines[position], pattern):
            position += 1
        if position == len(lines):
            raise AssertionError(f"the documented line {wanted.strip()!r} is not in the "
                                 f"output (in order) of the run above:\n{output}")
        position += 1
    namespace["_pytest_unchecked"] = None


def _title(region: Region) -> str:
    match = re.fullmatch(TITLED, str(region.lexemes["arguments"]))
    assert match is not None
    return match.group("title")


class TitledBlockParser:
    """```` ```python title="x.py" ```` files and ```` ```text title="pytest output" ````."""

    lexer = FencedCodeBlockLexer(language=TITLED,
                                 mapping={"language": "arguments", "source": "source"})

    def __call__(self, document: Document) -> Iterator[Region]:
        for region in self.lexer(document):
            title = _title(region)
            if str(region.lexemes["arguments"]).startswith("text"):
                if title != PYTEST_OUTPUT:
                    continue
                region.evaluator = _check_output
            else:
                region.evaluator = _write_file
            region.parsed = region.lexemes["source"]
            yield region


def _setup(namespace: dict[str, Any]) -> None:
    namespace["HAS_DASK"] = importlib.util.find_spec("distributed") is not None
    namespace["HAS_GRAPHVIZ"] = shutil.which("dot") is not None


SYBIL = Sybil(parsers=[PythonCodeBlockParser(), TitledBlockParser(), SkipParser()])


class DocumentItem(pytest.Item):
    """All examples of one page, in order, in a folder of their own."""

    def runtest(self) -> None:
        document = SYBIL.parse(self.path)
        before = set(sys.modules)
        with tempfile.TemporaryDirectory(prefix="tcg-doc-") as folder, _inside(folder):
            _setup(document.namespace)
            for example in document:
                example.evaluate()
            _require_checked(document.namespace)
            for name in set(sys.modules) - before:
                if (getattr(sys.modules[name], "__file__", None) or "").startswith(folder):
                    del sys.modules[name]

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        """A documented output that changed, or a documented run that failed, reads as
        that one message; a block that raised shows its traceback."""
        if isinstance(excinfo.value, (SybilFailure, AssertionError)):
            return f"{self.path.name}: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"examples in {self.path.name}"


@contextlib.contextmanager
def _inside(folder: str) -> Iterator[None]:
    """The page's folder as working directory and first import location."""
    previous = os.getcwd()
    os.chdir(folder)
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        os.chdir(previous)
        sys.path.remove(folder)


class DocumentFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        yield DocumentItem.from_parent(self, name="examples")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.File | None:
    """Collect the pages whose examples must run (README, CHANGELOG, docs/)."""
    if file_path.suffix != ".md":
        return None
    root = Path(str(parent.config.rootpath))
    try:
        relative = file_path.relative_to(root)
    except ValueError:
        return None
    if str(relative) in DOCUMENTS or relative.parts[0] == "docs":
        return DocumentFile.from_parent(parent, path=file_path)
    return None
