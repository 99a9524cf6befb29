"""Exporters: each reads the graph model only, never the scheduler, executors or nodes.

One module per format. Optional libraries (networkx, pydot) are imported inside the
function that needs them, with an error that says what to install.
"""

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from ._dot import to_dot, to_pydot
from ._json import LoadedError, load_json, to_json
from ._mermaid import to_mermaid
from ._networkx import to_networkx
from ._save import SAVE_FORMATS, save
from ._trace import to_chrome_trace

__all__ = ["SAVE_FORMATS", "LoadedError", "load_json", "save", "to_chrome_trace", "to_dot",
           "to_json", "to_mermaid", "to_networkx", "to_pydot"]
