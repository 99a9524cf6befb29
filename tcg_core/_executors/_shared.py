"""Values crossing between processes with their big buffers in shared memory.

A value is pickled with protocol 5 (PEP 574). Its buffers of at least ``share_above``
bytes (NumPy arrays, pandas and pyarrow data, bytearrays: anything exposing out-of-band
buffers) are written once into one file of the run's ``Space``, a directory in
``/dev/shm`` (the temp dir where there is none); the pipe carries only the small
pickle stream and where the buffers are. The reader maps the file copy-on-write: it
reads the buffers where they are, and a body that changes its input in place changes
its own copy only, as when the value came through the pipe. A pickle stream itself over
``share_above`` (a big list, a long ``bytes``) goes through a file as well.

Nothing outlives the run: every file is in the run's directory, which the run removes
when it closes (a mapped file stays readable until its last mapping goes), the
interpreter removes at exit, and a worker removes if the resolve's process is gone.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import atexit
import io
import itertools
import mmap
import os
import pickle
import shutil
import tempfile
import threading
from typing import Any

__all__ = ["Packet", "Space", "pack", "unpack"]

#: Buffers in a file start on a cache-line boundary (NumPy's SIMD loops prefer that).
_ALIGN = 64
#: Bytes per write(2) call (a single call may write less than asked for).
_CHUNK = 1 << 30

#: Directories of spaces this process made and has not removed yet (removed at exit).
_LIVE: set[str] = set()
_LIVE_LOCK = threading.Lock()

PREFIX = "tcg-data-"


def _base_dir() -> str:
    """Where shared files go: tmpfs when the system has one, else the temp dir."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return tempfile.gettempdir()


def _remove_live() -> None:
    with _LIVE_LOCK:
        paths = list(_LIVE)
        _LIVE.clear()
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


atexit.register(_remove_live)

_swept: set[str] = set()  #: directories swept by this process already


def _sweep_once(base: str) -> None:
    """Remove the run directories of processes that no longer exist: a resolve's process
    killed outright (SIGKILL, a terminal's SIGTERM to the whole group) runs no cleanup,
    and its workers may be gone with it. Once per process; only our own directories."""
    if base in _swept:
        return
    _swept.add(base)
    for name, pid in run_directories(base):
        path = os.path.join(base, name)
        try:
            if os.stat(path).st_uid != os.getuid() or _alive(pid):
                continue
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)


def run_directories(base: str | None = None) -> list[tuple[str, int]]:
    """The run directories in ``base`` (default: where shared files go), each with the
    id of the process that made it."""
    base = base or _base_dir()
    try:
        names = os.listdir(base)
    except OSError:
        return []
    found = []
    for name in names:
        if name.startswith(PREFIX):
            try:
                found.append((name, int(name[len(PREFIX):].split("-", 1)[0])))
            except ValueError:
                continue
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True


class Space:
    """One run's directory of shared files: made by the resolve's process, written by
    it and by its workers, removed as a whole when the run closes.

    >>> space = Space.create()
    >>> packet = pack(bytearray(2_000_000), space, 1 << 20)
    >>> len(unpack(packet, space.path))
    2000000
    >>> space.remove()
    """

    def __init__(self, path: str, owner: bool) -> None:
        self.path = path  #: the directory
        self.owner = owner  #: this process made it and removes it at exit
        self._names = itertools.count()  #: file numbers of this process
        self._prefix = f"{os.getpid()}-"  #: files of different processes never collide

    @classmethod
    def create(cls) -> Space:
        """A new, empty directory for one run."""
        base = _base_dir()
        _sweep_once(base)
        path = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=base)
        with _LIVE_LOCK:
            _LIVE.add(path)
        return cls(path, owner=True)

    @classmethod
    def join(cls, path: str) -> Space:
        """The run's directory, as a worker sees it (it never removes it at exit)."""
        return cls(path, owner=False)

    def new_file(self) -> str:
        """The name of a file nobody has written yet."""
        return f"{self._prefix}{next(self._names)}"

    def delete(self, name: str) -> None:
        """Remove one file (mappings of it stay valid until they go)."""
        try:
            os.unlink(os.path.join(self.path, name))
        except OSError:
            pass

    def remove(self) -> None:
        """Remove the directory and everything in it."""
        shutil.rmtree(self.path, ignore_errors=True)
        if self.owner:
            with _LIVE_LOCK:
                _LIVE.discard(self.path)


#: Where bytes are in the run's space: ``(file name, offset, length)``.
Span = tuple[str, int, int]


class Packet:
    """A pickled value: its stream (or where it is) and where its big buffers are."""

    __slots__ = ("head", "nbytes", "new", "spans")

    def __init__(self, head: bytes | Span, spans: tuple[Span, ...], nbytes: int,
                 new: int) -> None:
        self.head = head  #: the pickle stream, or where it is when it is big
        self.spans = spans  #: where each out-of-band buffer is, in order
        self.nbytes = nbytes  #: the value's size: stream and buffers
        self.new = new  #: bytes written to shared memory for this packet

    def __getstate__(self) -> tuple[Any, ...]:
        return self.head, self.spans, self.nbytes, self.new

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.head, self.spans, self.nbytes, self.new = state

    @property
    def files(self) -> set[str]:
        """The shared files this packet reads."""
        found = {name for name, _, _ in self.spans}
        if not isinstance(self.head, bytes):
            found.add(self.head[0])
        return found

def _aligned(offset: int) -> int:
    return (offset + _ALIGN - 1) // _ALIGN * _ALIGN


def _write(space: Space, parts: list[memoryview]) -> list[Span]:
    """One new file holding ``parts``, each aligned: where each one is."""
    spans: list[Span] = []
    name = space.new_file()
    size = 0
    for part in parts:
        size = _aligned(size)
        spans.append((name, size, part.nbytes))
        size += part.nbytes
    fd = os.open(os.path.join(space.path, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        # write(2), not a mapping: the kernel fills the file's pages without a page
        # fault per page, about twice as fast on tmpfs.
        for (_, offset, length), part in zip(spans, parts, strict=True):
            flat = part.cast("B") if part.format != "B" or part.ndim != 1 else part
            done = 0
            while done < length:
                done += os.pwrite(fd, flat[done:done + _CHUNK], offset + done)
        os.ftruncate(fd, max(size, 1))
    finally:
        os.close(fd)
    return spans


#: Buffers written already in one run, by their exporting object's id: ``(object,
#: where)``; the object is kept so that its id is not reused while the entry lives.
Memo = dict[int, tuple[Any, Span]]


def pack(value: Any, space: Space, share_above: int, memo: Memo | None = None) -> Packet:
    """``value`` pickled, its buffers of ``share_above`` bytes or more in shared memory.

    With ``memo``, a buffer written before in the same run is not written again (an array
    sent to several workers is one file): pass it only where the objects cannot change
    in between.
    """
    big: list[memoryview] = []
    where: list[Span | None] = []

    def out_of_band(buffer: pickle.PickleBuffer) -> bool:
        try:
            raw = buffer.raw()
        except BufferError:  # not contiguous: it goes in the stream
            return True
        if raw.nbytes < share_above:
            return True
        known = memo.get(id(raw.obj)) if memo is not None else None
        if known is not None and known[0] is raw.obj and known[1][2] == raw.nbytes:
            where.append(known[1])
        else:
            where.append(None)
            big.append(raw)
        return False

    stream = pickle.dumps(value, protocol=5, buffer_callback=out_of_band)
    fresh = [memoryview(stream)] if len(stream) >= share_above else []
    written = iter(_write(space, fresh + big) if fresh or big else [])
    head: bytes | Span = next(written) if fresh else stream
    spans = [known if known is not None else next(written) for known in where]
    if memo is not None:
        fresh_spans = [span for span, known in zip(spans, where, strict=True) if known is None]
        for raw, span in zip(big, fresh_spans, strict=True):
            memo[id(raw.obj)] = (raw.obj, span)
    new = sum(part.nbytes for part in fresh + big)
    return Packet(head, tuple(spans), len(stream) + sum(s[2] for s in spans), new)


def unpack(packet: Packet, path: str) -> Any:
    """The value of ``packet``; its buffers read in place from the mapped files."""
    if isinstance(packet.head, bytes) and not packet.spans:
        return pickle.loads(packet.head)
    maps: dict[str, memoryview] = {}

    def view(span: Span) -> memoryview:
        name, offset, length = span
        mapped = maps.get(name)
        if mapped is None:
            with open(os.path.join(path, name), "rb") as handle:
                mapped = maps[name] = memoryview(
                    mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY))
        return mapped[offset:offset + length]

    head = packet.head if isinstance(packet.head, bytes) else view(packet.head)
    return pickle.Unpickler(io.BytesIO(head), buffers=[view(s) for s in packet.spans]).load()
