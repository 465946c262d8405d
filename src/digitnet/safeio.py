"""Safe file output: checks before a long run, atomic writes, stale temporaries, signals held off.

Four guarantees, each the way careful tools (git, safetensors, Pillow) keep them:

* ``check_output(path, flag)`` refuses, before any work, an output that is not a regular file
  (a folder, a device such as ``/dev/null``, a FIFO, a socket, or a symlink to one of them), and
  really creates and removes a file in the target folder: a name too long, a read-only folder or
  a missing permission fails now, not after an hour of training.
* ``write_atomic(path, data)`` writes bytes to a temporary file in the target folder, fsyncs it
  and renames it over the target: a reader sees the old file or the new one, never a mix; a
  device or FIFO at the target is never replaced, since the check is repeated just before.
* Temporary files are named ``.digitnet-tmp.<pid>.<random>.tmp``; a write removes the ones in its
  folder whose writer process is gone (killed with ``kill -9`` mid-write), so they never pile up.
* ``deferred_signals()`` holds SIGINT and SIGTERM while a save is in progress and delivers them
  when it is done, so Ctrl-C can never cut a save short; ``InterruptGuard`` turns SIGTERM into
  the same ``KeyboardInterrupt`` as Ctrl-C for a whole run.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import stat
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

TEMP_PREFIX = ".digitnet-tmp."
_TEMP_NAME = re.compile(r"^\.digitnet-tmp\.(\d+)\.[0-9a-f]{8}\.tmp$")
SIGNALS = (signal.SIGINT, signal.SIGTERM)
PAUSE_ENV = "DIGITNET_TEST_PAUSE_AT"
"""Tests set this to a stage name (``save``, ``after-fit``) to make the process say
``digitnet: pause <stage>`` on stderr and wait a second there, so a signal can be aimed at it."""


class UnsafeOutputError(ValueError):
    """An output path that must not be written: one line saying which and why."""


def _kind(mode: int) -> str | None:
    """What a file of this ``st_mode`` is, when it is not a regular file."""
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return None if stat.S_ISREG(mode) else "not a regular file"


def not_regular(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be read or written as a plain file (``None``: it is one, or missing).

    Follows symlinks, and says so: ``"a symlink to a FIFO"``. A path that cannot be looked at
    (missing, below a file, no permission) is left to the read or write to report.
    """
    path = Path(path)
    try:
        kind = _kind(os.stat(path).st_mode)
    except OSError:
        return None
    if kind and path.is_symlink():
        return f"a symlink to {kind}"
    return kind


def _probe(folder: Path, name: str) -> None:
    """Create and remove ``folder/name``: raises ``OSError`` where a real write would fail."""
    probe = folder / name
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    probe.unlink()


def check_output(path: str | os.PathLike, flag: str = "output") -> Path:
    """Refuse, before any work, an output that ``write_atomic`` could not write; returns the path.

    The path must be a regular file or not exist yet. A file is really created and removed:
    the target itself when it does not exist (so its name is tested), else a temporary file
    next to it. Folders that are missing are not created (a refused run leaves nothing
    behind): the names of the missing ones are tried in the nearest folder that exists.
    """
    path = Path(path)
    kind = not_regular(path)
    if kind:
        hint = f": give a file name, such as {path / 'model.npz'}" if kind == "a folder" else ""
        raise UnsafeOutputError(f"{flag} {path} is {kind}, not a regular file{hint}")
    target = Path(os.path.realpath(path))
    missing = [target.name]
    folder = target.parent
    try:
        while not os.path.lexists(folder):  # no error for a name too long: the probe says so below
            missing.append(folder.name)
            folder = folder.parent
        if not folder.is_dir():
            raise UnsafeOutputError(f"cannot write {flag} {path}: {folder} is a file, not a folder")
        if os.path.lexists(target):
            _probe(folder, _temp_name())
        else:
            for name in missing:
                _probe(folder, name)
    except OSError as e:
        raise UnsafeOutputError(f"cannot write {flag} {path}: {e.strerror or e}") from None
    return path


def _temp_name() -> str:
    return f"{TEMP_PREFIX}{os.getpid()}.{secrets.token_hex(4)}.tmp"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, another user's
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files of writers that are gone from ``folder``; returns them.

    Only regular files named as ``write_atomic`` names its temporaries are considered, and only
    those whose process id is not running (the writer of one that is may still finish).
    """
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        m = _TEMP_NAME.match(name)
        if not m or int(m.group(1)) == os.getpid() or _alive(int(m.group(1))):
            continue
        p = Path(folder) / name
        with contextlib.suppress(OSError):
            if stat.S_ISREG(os.lstat(p).st_mode):
                p.unlink()
                removed.append(p)
    return removed


def new_temporary(folder: str | os.PathLike) -> tuple[int, Path]:
    """Create an empty temporary file in ``folder`` for this process: ``(fd, path)``.

    Named ``.digitnet-tmp.<pid>.<random>.tmp`` with the permissions of any new file; the stale
    temporaries of writers that are gone are removed from ``folder`` first.
    """
    remove_stale_temporaries(folder)
    tmp = Path(folder) / _temp_name()
    return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp  # 0o666 & ~umask


def pause_for_tests(stage: str) -> None:
    """Wait a second at ``stage`` when the tests ask for it through ``$DIGITNET_TEST_PAUSE_AT``."""
    if os.environ.get(PAUSE_ENV) == stage:
        print(f"digitnet: pause {stage}", file=sys.stderr, flush=True)
        time.sleep(1.0)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: old file or new file, never half of one.

    A symlink is followed (the link stays, its target is replaced). SIGINT and SIGTERM that
    arrive meanwhile are delivered once the file is in place. Raises ``UnsafeOutputError`` for a
    target that is not a regular file and ``OSError`` for a failed write (a full disk); either
    way the old file is untouched and no temporary file is left.
    """
    target = Path(os.path.realpath(path))
    with deferred_signals():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = new_temporary(target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            pause_for_tests("save")
            kind = not_regular(target)
            if kind:
                raise UnsafeOutputError(f"{path} is {kind}, not a regular file: not replaced")
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_folder(target.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (a crash right after could otherwise undo it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def deferred_signals() -> Iterator[list[int]]:
    """Hold SIGINT and SIGTERM inside the block; deliver them, in order, when it ends.

    Yields the list of signals held so far. Outside the main thread (where Python cannot set
    handlers; no signal is delivered there either) this does nothing.
    """
    held: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield held
        return
    previous = {s: signal.signal(s, lambda signum, frame: held.append(signum)) for s in SIGNALS}
    try:
        yield held
    finally:
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)  # None: set outside Python
        for s in held:
            signal.raise_signal(s)  # the handler that was in place acts on it now


class InterruptGuard:
    """For a training run: SIGTERM acts as Ctrl-C does, and at most one ``KeyboardInterrupt`` is raised.

    While ``interruptible`` the first SIGINT or SIGTERM raises ``KeyboardInterrupt`` (training
    stops at once and keeps its last completed epoch); every later one, and any that arrives
    after ``interruptible`` is cleared (during the final save), is only counted in ``received``.
    So a second Ctrl-C can never hit the code that saves what the first one kept.
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        self.interruptible = True
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame) -> None:
        self.received.append(signum)
        if self.interruptible:
            self.interruptible = False
            raise KeyboardInterrupt

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)

