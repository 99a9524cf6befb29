"""Make the ``examples`` package importable for ``pytest examples/tests``.

The project runs pytest with ``--import-mode=importlib``, which leaves ``sys.path``
alone, so the repository root is added here (process workers inherit it). In your own
project, install your package instead (``pip install -e .``) and drop this file.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
