"""Checked by ``mypy --strict`` and ``basedpyright`` (``.ci/run``), never run: the public
API's types. ``assert_type`` lines must hold; each ``# type: ignore[...]`` line must be
rejected (both checkers report an ignore that is not needed)."""

from __future__ import annotations

import asyncio
from typing import Any

from typing_extensions import assert_type

import tcg_core
from pytest_tcg import (
    TcgGraph,
    TcgMock,
    TcgRegression,
    TcgResolve,
    TcgSessionResolve,
    TcgSnapshot,
)
from tcg_core import Future, Graph, Node, NodeFunction, node


@node
def add(a: int, b: int) -> int:
    return a + b


@node(name="shout", retries=1)
def shout(text: str) -> str:
    return text.upper()


@Node(name="halve")
def halve(x: float) -> float:
    return x / 2


@node
async def fetch(url: str) -> bytes:
    await asyncio.sleep(0)
    return url.encode()


assert_type(add(1, 2), Future[int])
assert_type(add(add(1, 2), 3).resolve(), int)  # a future stands in for its value
assert_type(shout("a"), Future[str])
assert_type(halve(1.0).resolve(), float)
assert_type(fetch("u"), Future[bytes])  # an async node's value is what it returns
assert_type(add.func(1, 2), int)  # .func keeps the signature
assert_type(tcg_core.resolve(add(1, 2), shout("a")), tuple[int, str])
assert_type(tcg_core.resolve(add(1, 2), shout("a"), halve(1.0)), tuple[int, str, float])
assert_type(tcg_core.resolve(add(1, 2)), tuple[int])

bad: Future[str] = add(1, 2)  # type: ignore[assignment]
add.func(1, b="2")  # type: ignore[arg-type]
worse: str = add(1, 2).resolve()  # type: ignore[assignment]
halve.func("x")  # type: ignore[arg-type]
first, second = tcg_core.resolve(add(1, 2), shout("a"))
first.upper()  # type: ignore[attr-defined]


def takes_node(fn: NodeFunction[[str], str]) -> Future[str]:
    return fn("x")


takes_node(shout)
with Graph() as graph:
    total = add(1, 2)
assert_type(graph.futures, list[Future[Any]])
assert_type(total, Future[int])


@node(nout=2)
def halves(x: int) -> tuple[int, int]:
    return x // 2, x - x // 2


low, high = halves(5)  # a nout node's call is a tuple of futures, each typed
assert_type(low, Future[int])
assert_type(halves.func(5), tuple[int, int])


@node(nout=3)
def parts(text: str) -> tuple[str, int, float]:
    return text, len(text), 1.0


@node(nout=2)
async def split(text: str) -> tuple[str, bytes]:
    return text, text.encode()


assert_type(parts("ab"), tuple[Future[str], Future[int], Future[float]])
assert_type(split("ab"), tuple[Future[str], Future[bytes]])
name_part, size_part, _ = parts("ab")
size_part.resolve().upper()  # type: ignore[attr-defined]


@node(nout=2)
def pair_list(x: int) -> list[int]:  # not a tuple type: each future is Future[Any]
    return [x, x]


assert_type(pair_list(1), tuple[Future[Any], ...])


# The plugin's fixtures, as test authors annotate them.
def check_fixture_types(tcg_resolve: TcgResolve, tcg_graph: TcgGraph, tcg_mock: TcgMock,
                        tcg_snapshot: TcgSnapshot,
                        tcg_session_resolve: TcgSessionResolve) -> None:
    assert_type(tcg_resolve(add(1, 2)), int)
    assert_type(tcg_session_resolve(shout("a")), str)
    assert_type(tcg_resolve(graph), list[Any])
    with tcg_graph:
        add(1, 2)
    assert_type(tcg_graph.resolve(), list[Any])
    assert_type(tcg_mock({add: 3}), tcg_core.Override)
    tcg_snapshot(graph)
    wrong: str = tcg_resolve(add(1, 2))  # type: ignore[assignment]
    assert wrong


def check_regression_type(tcg_regression: TcgRegression) -> None:
    tcg_regression.check(lambda: add(1, 2), rel=1e-9, name="small")
    tcg_regression.check(lambda: add(1, 2), rel="x")  # type: ignore[arg-type]
