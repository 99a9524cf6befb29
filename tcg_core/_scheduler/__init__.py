"""The scheduler: runs a graph of node records as early as their inputs allow.

``_resolve`` is the entry the layers above import. ``_lifecycle`` holds a node's states
and one method per transition (its docstring lists them with their invariants), ``_run``
the loop that drives them, ``_state`` every field a run keeps. The cold parts have
modules of their own: ``_sharing`` (resolves that share nodes, fork safety),
``_stopping`` (stops, timeouts, late outcomes), ``_nesting`` (adopting children),
``_priority`` and ``_failures`` (the errors users see), ``_handover`` (a resolve on a
Dask cluster).

Policy
------
* A node is *ready* the moment its last input is done; it is started at once if a
  worker is free. Nothing waits for a level or a batch to finish.
* When more nodes are ready than workers are free, the one with the longest remaining
  path goes first (``_priority``). Without priorities (the serial executor, or a run
  where every node is tiny) the node made ready last runs first: depth-first, so a
  branch finishes before the next starts and its values are released early, and the
  order is reproducible.
* A node whose body creates other nodes (its *children*) hands them to this loop and
  returns; its worker is free again. It completes when every child is done (returned or
  not), and its value is the returned structure with every future replaced by its value.
* On Dask (``_handover``) a node is handed to the cluster as soon as each input is
  done *or handed over itself*, its inputs as Dask dependencies, in one graph per
  batch: Dask's scheduler runs that part of the graph, and values stay on the cluster.
* Fail fast by default: after the first failure nothing new starts and ``resolve``
  raises at once. With ``keep_going=True`` every node that does not depend on a failure
  still runs, and one error lists every failure.

Hot-path copies
---------------
Where one call per node costs measurably, a function is written out where it is used;
each copy has a test that it agrees with the original (``tests/core/``):

* ``Lifecycle.run_inline``: ``arguments``, ``run_body``, ``record_duration`` and
  ``body_returned``'s common case (``test_lifecycle``: the inline fast path and the
  outcome path agree; ``test_hot_path_copies``: the duration update);
* ``Lifecycle.finish``: ``let_go``'s lock-free case and ``notify``'s common case
  (``test_hot_path_copies``);
* ``_sharing.claim``: ``NodeRecord.inputs`` of a call of plain futures
  (``test_hot_path_copies``);
* ``Run.serial_loop``: ``start``'s serial case (each parity test over ``every_executor``
  compares serial, which takes the copy, with the executors that take ``start``).
"""

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from ._overrides import Override, override
from ._resolve import resolve_handles

__all__ = ["Override", "override", "resolve_handles"]
