"""Module-level nodes for the override tests (process and Dask workers import them).

Every real body here fails loudly, so a test that passes proves the replacement ran.
"""

from __future__ import annotations

from typing import Any

from tcg_core import node


@node
def fetch(url: str) -> str:
    raise ConnectionError(f"the real fetch ran for {url!r}")


@node
def parse(text: str) -> list[str]:
    return text.split(",")


@node
def score(rows: list[str]) -> float:
    raise RuntimeError("the real score ran")


@node
def etl(urls: list[str]) -> Any:
    """A parent whose children (fetch, parse, score) are nested nodes."""
    return [score(parse(fetch(url))) for url in urls]


@node(retries=3)
def fragile(x: int) -> int:
    raise RuntimeError("the real fragile ran")


@node
def resolves_inside(url: str) -> str:
    """A body that resolves a graph of its own (a nested resolve) where it runs."""
    return fetch(url).resolve()  # type: ignore[no-any-return]


def fake_fetch(url: str) -> str:
    return f"{url},row"


@node
async def afetch(url: str) -> str:
    raise ConnectionError(f"the real afetch ran for {url!r}")


@node
def after(x: Any, label: str) -> Any:
    """Orders calls: a chain of after(...) runs one call at a time, first to last."""
    return x


def _sync_facade(func: Any) -> Any:
    """A sync decorator over an async function (``functools.wraps`` copies the name, not
    the async-ness): calling the result gives a coroutine."""
    import functools

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return call


@node
@_sync_facade
async def behind_a_sync_decorator(x: int) -> int:
    return x * 2
