"""MkDocs hooks for the documentation site (mkdocs.yml: ``hooks``).

Docstrings hold doctests (``>>>`` lines and their output) that the test suite runs;
Markdown would read ``>>>`` as nested block quotes. A preprocessor fences each doctest
run (from a ``>>>`` line to the next blank line) as a ``pycon`` code block, outside
existing code fences, in pages and in the API pages mkdocstrings renders alike.
"""

from __future__ import annotations

import re
from typing import Any

from markdown import Extension, Markdown
from markdown.preprocessors import Preprocessor
from mkdocs.plugins import event_priority

FENCE = re.compile(r"^\s*(```|~~~)")
PROMPT = re.compile(r"^(\s*)>>> ")


class DoctestFences(Preprocessor):
    """Wraps doctest runs that are not already in a code fence."""

    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        in_fence = False
        index = 0
        while index < len(lines):
            line = lines[index]
            if FENCE.match(line):
                in_fence = not in_fence
            prompt = None if in_fence else PROMPT.match(line)
            if prompt is None:
                out.append(line)
                index += 1
                continue
            indent = prompt.group(1)
            out.extend(["", f"{indent}```pycon"])
            while index < len(lines) and lines[index].strip():
                out.append(lines[index])
                index += 1
            out.extend([f"{indent}```", ""])
        return out


class DoctestFencesExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:
        # Before the fenced-code preprocessor (priority 25) turns fences into blocks.
        md.preprocessors.register(DoctestFences(md), "doctest_fences", 30)


@event_priority(100)  # before mkdocstrings reads the Markdown extensions
def on_config(config: Any) -> Any:
    config.markdown_extensions.append(DoctestFencesExtension())
    return config
