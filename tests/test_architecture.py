"""The layering rules of the house, checked by parsing every import.

tcg_core never imports pytest or the plugin; its modules only import modules below them
(errors → record → graph → values → context → executors → options → scheduler → future →
node → public API), lazy imports inside functions included, so there is no import loop;
inside the scheduler the same holds for its own modules; exporters and the simulation
read the graph model only; the plugin uses tcg_core's public names only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "tcg_core"
PLUGIN = ROOT / "pytest_tcg"

# The engine's layers, lowest first: each may import only the layers before it.
LAYERS = ["_errors", "_refs", "_record", "_graph", "_values", "_context", "_executors",
          "_callbacks", "_logs", "_cache", "_options", "_assignment", "_pure", "_progress",
          "_scheduler", "_future", "_signature", "_node"]
# Side branches that read the graph model only.
READERS = {"_export": {"_errors", "_record", "_graph"}, "_simulate": {"_record", "_graph"}}
ALLOWED: dict[str, set[str]] = {
    **{layer: set(LAYERS[:i]) for i, layer in enumerate(LAYERS)}, **READERS}
ALLOWED["_future"].add("_export")  # Graph's views: the user's handle calls the exporters
# The scheduler's own modules, lowest first.
SCHEDULER_LAYERS = ["_overrides", "_failures", "_transitions", "_state", "_priority",
                    "_sharing", "_nesting",
                    "_stopping", "_lifecycle", "_run", "_handover", "_kept", "_mutation",
                    "_observed", "_resolve"]


def _imports(path: Path) -> list[tuple[str, int]]:
    """``(absolute-ish module, level)`` for every import in a file, lazy ones included."""
    found: list[tuple[str, int]] = []
    for item in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(item, ast.Import):
            found.extend((alias.name, 0) for alias in item.names)
        elif isinstance(item, ast.ImportFrom):
            found.append((item.module or "", item.level))
    return found


def _owner(path: Path) -> str:
    """The layer a file of tcg_core belongs to: its module or its sub-package."""
    relative = path.relative_to(CORE)
    return relative.parts[0].removesuffix(".py")


def _internal_target(path: Path, module: str, level: int) -> str | None:
    """The tcg_core layer an import reaches, or None when it leaves tcg_core."""
    if level == 0:
        if module == "tcg_core" or module.startswith("tcg_core."):
            return module.split(".")[1] if "." in module else "tcg_core"
        return None
    base = path.relative_to(CORE).parent.parts[: len(path.relative_to(CORE).parent.parts)
                                                  - (level - 1)]
    parts = [*base, *module.split(".")] if module else list(base)
    return parts[0] if parts else "tcg_core"


CORE_FILES = sorted(p for p in CORE.rglob("*.py") if p.name != "__init__.py" or
                    p.parent != CORE)


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_engine_modules_import_only_the_layers_below_them(path: Path) -> None:
    owner = _owner(path)
    for module, level in _imports(path):
        assert not module.startswith(("pytest", "_pytest", "pytest_tcg")), \
            f"{path.name} imports {module}: the engine must not know pytest"
        target = _internal_target(path, module, level)
        if target is None or target == owner:
            continue
        assert target in ALLOWED[owner], f"{path.relative_to(ROOT)} imports {target}"


def test_exporters_read_the_graph_model_only() -> None:
    assert ALLOWED["_export"] == {"_errors", "_record", "_graph"}
    assert ALLOWED["_simulate"] == {"_record", "_graph"}


def test_every_engine_module_has_a_layer() -> None:
    owners = {_owner(path) for path in CORE_FILES}
    assert owners <= set(ALLOWED), owners - set(ALLOWED)


@pytest.mark.parametrize("path", sorted((CORE / "_scheduler").glob("_*.py")),
                         ids=lambda p: p.name)
def test_the_schedulers_modules_import_only_the_ones_below_them(path: Path) -> None:
    if path.name == "__init__.py":
        return
    mine = SCHEDULER_LAYERS.index(path.stem)
    for module, level in _imports(path):
        if level == 1 and module:
            target = module.split(".")[0]
            assert SCHEDULER_LAYERS.index(target) < mine, f"{path.name} imports {target}"


# The plugin's modules, lowest first: each may import only the ones before it (lazily
# too). Pure helpers at the bottom, the session's state and the report writers in the
# middle, the feature folders (assertions, snapshots, fixtures, coverage) above them, the
# session, the hooks (plugin) and the public package on top. A folder's package module
# is named by the folder.
PLUGIN_LAYERS = ["_text", "_outcomes", "_config", "_options", "_settings", "_naming",
                 "_graphs", "_stats", "_dagnodes",
                 "_report", "_report._forensics", "_report._html", "_longruns",
                 "_fixtures._executor", "_report._output", "_state", "_report._hooks",
                 "_snapshots", "_snapshots._snapshot", "_snapshots._regression",
                 "_assertions._timing", "_assertions._nesting", "_assertions._order",
                 "_assertions._parallel", "_assertions._shape", "_assertions",
                 "_fixtures._mock", "_fixtures._objects", "_fixtures._regression",
                 "_fixtures", "_snapshots._unused",
                 "_coverage", "_coverage._ledger", "_coverage._html", "_coverage._hooks",
                 "_session", "plugin", "strategies", "__init__"]
PLUGIN_FILES = sorted(PLUGIN.rglob("*.py"))


def _plugin_module(path: Path) -> str:
    """``_report/_hooks.py`` → ``_report._hooks``; a folder's ``__init__`` → the folder."""
    parts = list(path.relative_to(PLUGIN).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _plugin_targets(path: Path) -> list[str]:
    """The plugin modules a plugin file imports, lazy imports included, as layer names."""
    module = _plugin_module(path)
    package = module.split(".") if path.name == "__init__.py" and module != "__init__" \
        else module.split(".")[:-1]
    found = []
    for item in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(item, ast.ImportFrom) and item.level >= 1:
            base = package[:len(package) - (item.level - 1)]
            if item.module:
                found.append(".".join([*base, *item.module.split(".")]))
            else:
                found.extend(".".join([*base, alias.name]) for alias in item.names)
        elif isinstance(item, ast.ImportFrom) and item.level == 0 and item.module and \
                item.module.startswith("pytest_tcg."):
            found.append(item.module.split(".", 1)[1])
    return found


def test_every_plugin_module_has_a_layer() -> None:
    assert sorted(_plugin_module(p) for p in PLUGIN_FILES) == sorted(PLUGIN_LAYERS)


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=_plugin_module)
def test_plugin_modules_import_only_the_layers_below_them(path: Path) -> None:
    mine = PLUGIN_LAYERS.index(_plugin_module(path))
    for target in _plugin_targets(path):
        assert PLUGIN_LAYERS.index(target) < mine, f"{_plugin_module(path)} imports {target}"


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=_plugin_module)
def test_the_plugin_uses_tcg_cores_public_names_only(path: Path) -> None:
    for module, level in _imports(path):
        if level == 0 and module.startswith("tcg_core"):
            assert module == "tcg_core", f"{path.name} reaches into {module}"


def test_the_public_api_is_exactly_all() -> None:
    import pytest_tcg
    import tcg_core

    for package in (tcg_core, pytest_tcg):
        for name in package.__all__:
            assert getattr(package, name) is not None
        public = {n for n in dir(package) if not n.startswith("_")}
        modules = {n for n in public if type(getattr(package, n, None)).__name__ == "module"}
        assert public - set(package.__all__) - modules - {"annotations", "TYPE_CHECKING",
                                                          "Any"} == set()


def test_loading_the_plugin_imports_neither_the_engine_nor_the_checks() -> None:
    # Every pytest run in an environment with pytest-tcg loads the plugin; a run that
    # uses none of it must not pay for tcg_core, the speedup checks or the writers.
    import subprocess
    import sys

    code = ("import sys, pytest, pytest_tcg.plugin; "
            "print(sorted(m for m in sys.modules if m.startswith('tcg_core') "
            "or m in ('pytest_tcg._assertions._timing', 'pytest_tcg._report._output', "
            "'pytest_tcg._snapshots._snapshot', "
            "'statistics', 'concurrent.futures')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]", out.stdout


def test_the_plugin_module_is_hooks_that_each_call_the_session() -> None:
    tree = ast.parse((PLUGIN / "plugin.py").read_text(encoding="utf-8"))
    functions = [stmt for stmt in tree.body if isinstance(stmt, ast.FunctionDef)]
    assert functions and all(f.name.startswith("pytest_") for f in functions)
    assert not [stmt.name for stmt in tree.body if isinstance(stmt, ast.ClassDef)]
    for function in functions:
        body = [s for s in function.body
                if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        assert len(body) <= 3, f"{function.name} does more than hand over to the session"


def test_a_session_that_uses_no_fixture_loads_no_engine_code(pytester: pytest.Pytester) -> None:
    """Not only loading the plugin: a whole one-test session, its end-of-session hooks
    included (the snapshot audit, the summary), must not import the engine or what the
    engine pulls in (before 0.2 the audit imported tcg_core at session end)."""
    pytester.makeconftest('''
import sys
WATCH = ("unittest.mock", "asyncio", "ssl")
def pytest_unconfigure(config):
    loaded = sorted(m for m in sys.modules if m in WATCH or m.split(".")[0] == "tcg_core")
    print("LOADED AT THE END:", loaded)
    per_test = [name for name, plugin in config.pluginmanager.list_name_plugin()
                if name and name.startswith("tcg-")]
    print("TCG PER-TEST PLUGINS:", per_test)
''')
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["LOADED AT THE END: []", "TCG PER-TEST PLUGINS: []"])


@pytest.mark.parametrize("path", sorted([*CORE.rglob("*.py"), *PLUGIN.rglob("*.py")]),
                         ids=lambda p: str(p.relative_to(p.parents[1])))
def test_every_module_hides_its_frames_from_a_failing_test(path: Path) -> None:
    # pytest reads __tracebackhide__ from a frame's globals: every tcg module sets it,
    # so a failing test's traceback opens with the user's code (--full-trace shows all).
    assert "\n__tracebackhide__ = True" in path.read_text(encoding="utf-8")


def test_importing_the_engine_imports_no_mock_asyncio_or_difflib() -> None:
    # unittest.mock only once a test double runs, asyncio only for an async body,
    # difflib only for a "did you mean" on an error.
    import subprocess
    import sys

    code = ("import sys, tcg_core; print(sorted(m for m in sys.modules if m in "
            "('unittest.mock', 'unittest', 'asyncio', 'ssl', 'difflib')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_the_plugins_copy_of_the_thread_default_is_the_engines() -> None:
    # The plugin names the default in the session header without importing the engine.
    import tcg_core
    from pytest_tcg._fixtures._executor import DEFAULT_THREADS

    assert DEFAULT_THREADS == tcg_core.DEFAULT_THREAD_WORKERS
    assert tcg_core.ThreadsExecutor().max_workers == tcg_core.DEFAULT_THREAD_WORKERS
