"""Training on several cores as several processes, each a replica of the network.

Worker threads (``blas.for_workers``) share one interpreter: between two NumPy calls a thread
needs the GIL, and on this machine a ``cnn`` batch passed it back and forth about 1,000 times, each
hand-over waking a sleeping thread. Two processes each training on half of the same batch took
53-54 ms where two threads took 63-67. So training runs as ``k`` processes (``k`` the number of
threads OpenBLAS may use), made by ``fork`` at the start of an epoch:

* every process runs the same epoch: the same permutation, augmentation and dropout masks (drawn
  from identical copies of the seeded generator), the same serial steps (dense layers, the cost,
  the optimizer) on its own identical copies of the parameters;
* inside ``split()`` (one forward and backward pass) each process takes a fixed share of the
  chunks of every ``blas.for_workers`` loop, writing into arrays from ``empty``, which lie in
  memory mapped into all the processes; at the end of each loop the processes wait for each other
  (``barrier``), and then every process reads the whole result.

Each process is single-threaded and computes each chunk exactly as one thread would: training
gives the same bits as on one thread, with no interpreter lock between the cores. The processes
meet at about 35 barriers a ``cnn`` batch (where the threads handed the GIL over ~1,000 times).

Rules for code that runs inside ``split()``: only the work of a ``for_workers`` loop writes into
an array from ``empty``, each chunk into its own rows; code outside the loops runs in every
process and must not write into such an array (``is_shared`` tells: ``Dropout`` then leaves the
gradient handed to it as it is; ReLU's backward may zero entries of it in place, since every
process writes the same zeros over the same values). Needs ``fork`` and semaphores shared
between processes (``multiprocessing``: a writable ``/dev/shm``); elsewhere training stays on
threads.
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import mmap
import os
import signal
from contextlib import contextmanager
from typing import Iterator, Sequence, TypeVar

import numpy as np

C = TypeVar("C")

ENABLED = True  # tests turn it off to compare with the threads
ALIGN = 64  # bytes: every array from ``empty`` starts on a cache line of its own
_POLLS = 200  # barrier polls (about 0.2 us each) before a waiting process sleeps


_CONTEXT = multiprocessing.get_context("fork") if hasattr(os, "fork") else None


class ReplicaStopped(RuntimeError):
    """A replica process ended before the epoch did: the others cannot finish its share."""


def possible(k: int) -> bool:
    """Whether ``k`` replica processes can train here (see the module's docstring)."""
    return ENABLED and k > 1 and hasattr(os, "fork") and _semaphores_work()


@functools.cache
def _semaphores_work() -> bool:
    try:
        _CONTEXT.Semaphore(0)
    except (OSError, ImportError):  # e.g. no writable /dev/shm
        return False
    return True


class _Arena:
    """A stretch of memory mapped shared into every process, handed out from its start again at
    each ``split()``: the processes ask for the same arrays in the same order, so each gets the
    same offsets."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.memory = mmap.mmap(-1, size, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
        self.base = np.frombuffer(self.memory, np.uint8).ctypes.data
        self.used = 0

    def empty(self, shape: tuple[int, ...], dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        if self.used + nbytes > self.size:
            raise MemoryError(f"the replicas' shared memory ({self.size >> 20} MB) is too small for this batch")
        a = np.ndarray(shape, dtype, buffer=self.memory, offset=self.used)  # a view of the shared memory
        self.used += -(-nbytes // ALIGN) * ALIGN
        return a


class _Replica:
    """This process's place among the ``k``: its rank (0 for the process that started training),
    and a semaphore from each process to each other one (``wake[to, by]``)."""

    def __init__(self, arena: _Arena, wake: dict, k: int, rank: int, children: list[int], parent: int) -> None:
        self.arena, self.wake, self.k, self.rank = arena, wake, k, rank
        self.children, self.parent = children, parent
        self.splitting = False

    def barrier(self) -> None:
        """Tell every other process that this one has come this far, and wait until each has told
        this one. A sender's posts are counted apart from the others' (one semaphore per pair), so
        a fast process's post for the next barrier cannot stand in for a slow one's for this one;
        posting and taking a semaphore order the memory around them, so every array written
        before the barrier is seen whole after it. A process waits by polling for a moment (most
        waits are short) and then sleeps: spinning on measured no faster (55-62 ms a ``cnn``
        batch either way), and a spinning process takes a core from whatever else runs."""
        others = [r for r in range(self.k) if r != self.rank]
        for other in others:
            self.wake[other, self.rank].release()
        for other in others:
            self._take(self.wake[self.rank, other])

    def _take(self, semaphore) -> None:
        for _ in range(_POLLS):
            if semaphore.acquire(False):
                return
        while not semaphore.acquire(timeout=0.1):
            self._check_others()

    def _check_others(self) -> None:
        if self.rank == 0:
            for pid in self.children:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    self.children.remove(pid)
                    raise ReplicaStopped(f"a training process stopped ({_how(status)})")
        elif os.getppid() != self.parent:
            os._exit(1)  # the training process is gone: nobody needs this replica's work


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


_arena: _Arena | None = None
_self: _Replica | None = None


@contextmanager
def replicas(k: int, arena_bytes: int) -> Iterator[bool]:
    """Fork ``k - 1`` copies of this process, which run the block as this one does; yields True
    here and False in the copies, which leave the process when the block ends (however it ends:
    an exception in a copy shows up here as the copy's end at the next barrier).

    ``arena_bytes`` bounds the shared arrays of one ``split()``. The mapping is kept for the next
    call that fits in it (pages are paid for once, not at every epoch)."""
    global _arena, _self
    if _self is not None:
        raise RuntimeError("replicas do not nest")
    if _arena is None or _arena.size < arena_bytes:
        _arena = _Arena(arena_bytes)
    wake = {(to, by): _CONTEXT.Semaphore(0) for to in range(k) for by in range(k) if to != by}
    parent, children = os.getpid(), []
    rank = 0
    for r in range(1, k):
        pid = os.fork()
        if pid == 0:
            rank, children = r, []
            break
        children.append(pid)
    _self = _Replica(_arena, wake, k, rank, children, parent)
    if rank:
        code = 0
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
            yield False
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    try:
        yield True
    finally:
        _self = None
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)  # all done (or given up): none has work left
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


@contextmanager
def split() -> Iterator[None]:
    """Share the ``for_workers`` loops of the block between the replicas; nothing outside ``replicas``."""
    me = _self
    if me is None:
        yield
        return
    me.arena.used = 0
    me.splitting = True
    try:
        yield
    finally:
        me.splitting = False


def single() -> bool:
    """Whether this process is a replica: it then computes on one thread."""
    return _self is not None


def share(chunks: Sequence[C]) -> Sequence[C] | None:
    """This process's share of a loop's ``chunks`` inside ``split()``, else None."""
    me = _self
    if me is None or not me.splitting:
        return None
    n = len(chunks)
    return chunks[me.rank * n // me.k:(me.rank + 1) * n // me.k]


def barrier() -> None:
    """The end of a shared loop (see ``_Replica.barrier``)."""
    assert _self is not None
    _self.barrier()


def empty(shape: tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialised array that a ``for_workers`` loop fills: in the replicas' shared memory
    inside ``split()``, else ``np.empty``."""
    me = _self
    if me is None or not me.splitting:
        return np.empty(shape, dtype)
    return me.arena.empty(tuple(int(s) for s in shape), dtype)


def is_shared(a: np.ndarray) -> bool:
    """Whether ``a`` lies in the replicas' shared memory (and so must not be written outside a loop)."""
    if _self is None or not _self.splitting:
        return False
    start = a.__array_interface__["data"][0]
    return _self.arena.base <= start < _self.arena.base + _self.arena.size
