"""safeio: output checks that really create a file, atomic writes that never go through a
device or FIFO, temporaries named for their writer, and signals held off during a save."""

import os
import signal
import socket

import pytest

from digitnet import safeio
from digitnet.safeio import UnsafeOutputError, check_output, deferred_signals, write_atomic


@pytest.fixture
def odd_files(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    link = tmp_path / "link-to-fifo"
    link.symlink_to(fifo)
    dev_link = tmp_path / "link-to-null"
    dev_link.symlink_to("/dev/null")
    yield {"a folder": tmp_path, "a FIFO": fifo, "a socket": tmp_path / "sock",
           "a character device": "/dev/null", "a symlink to a FIFO": link,
           "a symlink to a character device": dev_link}
    sock.close()


def test_what_is_not_a_regular_file_is_refused_up_front(odd_files):
    for kind, path in odd_files.items():
        with pytest.raises(UnsafeOutputError, match=f"-o {path} is {kind}, not a regular file"):
            check_output(path, "-o")


def test_write_atomic_never_replaces_a_device_or_fifo(odd_files, tmp_path):
    for kind, path in odd_files.items():
        with pytest.raises((UnsafeOutputError, IsADirectoryError, OSError)):
            write_atomic(path, b"model")
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")
    assert not list(tmp_path.glob(f"{safeio.TEMP_PREFIX}*"))


def test_the_check_creates_and_removes_the_file_itself(tmp_path):
    target = tmp_path / "new" / "deeper" / "m.npz"
    assert check_output(target, "-o") == target
    assert sorted(os.listdir(tmp_path)) == []  # missing folders are not created
    with pytest.raises(UnsafeOutputError, match="File name too long"):
        check_output(tmp_path / ("m" * 300), "-o")
    with pytest.raises(UnsafeOutputError, match="File name too long"):
        check_output(tmp_path / ("d" * 300) / "m.npz", "-o")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(UnsafeOutputError, match="is a file, not a folder"):
        check_output(blocker / "m.npz", "-o")
    existing = tmp_path / "m.npz"
    existing.write_bytes(b"old")
    check_output(existing, "-o")
    assert existing.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["a-file", "m.npz"]


def test_a_symlink_to_a_file_keeps_the_link_and_replaces_its_target(tmp_path):
    real = tmp_path / "real.npz"
    real.write_bytes(b"old")
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    write_atomic(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"


def test_temporaries_are_named_for_their_writer_and_removed_once_it_is_gone(tmp_path):
    gone = tmp_path / f"{safeio.TEMP_PREFIX}999999999.0123abcd.tmp"  # no such process
    mine = tmp_path / f"{safeio.TEMP_PREFIX}{os.getpid()}.0123abcd.tmp"
    alive = tmp_path / f"{safeio.TEMP_PREFIX}1.0123abcd.tmp"  # init is always running
    other = tmp_path / ".m.npz.abc.tmp"  # not ours
    for p in (gone, mine, alive, other):
        p.write_bytes(b"partial")
    write_atomic(tmp_path / "m.npz", b"model")
    assert not gone.exists() and mine.exists() and alive.exists() and other.exists()
    assert (tmp_path / "m.npz").read_bytes() == b"model"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "m.npz"
    target.write_bytes(b"old")

    def full(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["m.npz"]


def test_signals_wait_for_the_save_then_act(tmp_path):
    order = []

    def handler(signum, frame):
        order.append(("handled", signum))
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with deferred_signals() as held:
            signal.raise_signal(signal.SIGTERM)
            signal.raise_signal(signal.SIGINT)
            order.append("saved")
            assert held == [signal.SIGTERM, signal.SIGINT]
        pytest.fail("the held SIGINT should raise KeyboardInterrupt once the block ends")
    except KeyboardInterrupt:
        order.append("interrupted")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert order == ["saved", ("handled", signal.SIGTERM), "interrupted"]


def test_the_guard_raises_once_and_then_only_counts(tmp_path):
    with safeio.InterruptGuard() as guard:
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGINT)  # a second signal: counted, not raised
        assert guard.received == [signal.SIGTERM, signal.SIGINT]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
