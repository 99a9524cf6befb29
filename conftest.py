"""The repository's own pytest setup: the documentation's examples run as tests
(``tests/doc_examples.py``)."""

from tests.doc_examples import pytest_collect_file

__all__ = ["pytest_collect_file"]
