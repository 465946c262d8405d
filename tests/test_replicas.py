"""``digitnet.replicas``: training as several processes gives the bits of one thread, and fails cleanly."""

import os

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from digitnet import blas, replicas
from digitnet.layers import Conv2D, layer_from_config
from digitnet.network import Network
from digitnet.optimizers import make_optimizer
from digitnet.training import run_epoch

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="replicas are made by fork (POSIX only)")

# Every layer that runs in a pass: a padded convolution with a bias (kept im2col), a strided one
# (scattered dX), batch norm on maps and on dense units (one block: one process does it), dropout
# and activations handed gradients that lie in the shared memory, pooling, dense layers.
LAYERS = [{"type": "reshape", "shape": [12, 12, 1]},
          {"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": 1}, {"type": "batchnorm", "relu": True},
          {"type": "dropout", "rate": 0.2},
          {"type": "conv2d", "filters": 6, "kernel_size": 3, "stride": 2, "bias": False},
          {"type": "activation", "name": "tanh"},
          {"type": "conv2d", "filters": 6, "kernel_size": 3, "padding": 1, "bias": False}, {"type": "batchnorm"},
          {"type": "maxpool2d", "pool_size": 2}, {"type": "activation", "name": "relu"},
          {"type": "flatten"}, {"type": "dense", "units": 16, "init": "he", "bias": False},
          {"type": "batchnorm", "relu": True}, {"type": "dropout", "rate": 0.3},
          {"type": "dense", "units": 10, "init": "glorot"}, {"type": "activation", "name": "softmax"}]


def _train(threads: int) -> tuple[list[float], list[np.ndarray]]:
    rng = np.random.default_rng(0)
    X = rng.random((50, 144), dtype=np.float32)
    Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 50)]
    net = Network([layer_from_config(c) for c in LAYERS], cost="cross-entropy", input_shape=(144,), seed=0)
    optimizer = make_optimizer("adam", 1e-2)
    with threadpool_limits(threads):
        costs = [run_epoch(net, X, Y, 16, optimizer) for _ in range(2)]  # batches of 16, 16, 16, 2
    return costs, [*net.state_dict().values(), *optimizer.state_dict().values(), net.rng.random(3)]


def test_replicas_train_to_the_bits_of_one_thread(monkeypatch):
    monkeypatch.setattr(blas, "BLOCK_VALUES", 300)
    monkeypatch.setattr(Conv2D, "CHUNK_ELEMENTS", 2000)  # several chunks and blocks a pass
    forks = []
    replica_pair = replicas.replicas
    monkeypatch.setattr(replicas, "replicas", lambda k, size: forks.append(k) or replica_pair(k, size))
    one, two = _train(1), _train(2)
    assert forks == [2, 2]  # each epoch of the second run forked one replica
    assert one[0] == two[0] and np.isfinite(one[0]).all()
    assert len(one[1]) == len(two[1]) > 20
    for a, b in zip(one[1], two[1]):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # every replica has been waited for


def test_the_replicas_share_each_loop_and_see_each_others_rows():
    with replicas.replicas(2, 1 << 20) as main, replicas.split():
        A = replicas.empty((10, 3), np.float64)
        assert replicas.is_shared(A) and not replicas.is_shared(np.empty(3))
        assert blas.workers() == 1
        blas.for_workers(lambda w, feed: [A.__setitem__(rows, os.getpid()) for rows in feed],
                         [slice(i, i + 1) for i in range(10)])
        pids = list(A[:, 0])
        assert pids[:5] == [os.getpid()] * 5 if main else pids[5:] == [os.getpid()] * 5
        assert len(set(pids)) == 2  # a copy that fails here stops: the parent hears of it next
        replicas.barrier()


def test_a_replica_that_stops_ends_training_with_an_error():
    with pytest.raises(replicas.ReplicaStopped, match="a training process stopped .exit status 3."):
        with replicas.replicas(2, 1 << 20) as main:
            if not main:
                os._exit(3)
            replicas.barrier()
    assert not replicas.single()


def test_the_shared_memory_is_bounded_and_the_replicas_end_with_the_block():
    with pytest.raises(MemoryError, match="shared memory .[0-9]+ MB. is too small"):
        with replicas.replicas(2, 1 << 20), replicas.split():
            replicas.empty((1 << 30,), np.float32)  # 4 GB: more than any arena so far
    with pytest.raises(KeyboardInterrupt):
        with replicas.replicas(2, 1 << 20):
            raise KeyboardInterrupt  # in the parent: its copy is killed, as after Ctrl-C
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_the_cli_reports_a_stopped_replica_in_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    from digitnet import cli
    from test_training import synthetic

    monkeypatch.setattr(cli, "load_dataset", lambda *args, **kwargs: synthetic(n=300, d=784))
    meet = replicas._Replica.barrier
    monkeypatch.setattr(replicas._Replica, "barrier", lambda self: os._exit(3) if self.rank else meet(self))
    out = tmp_path / "m.npz"
    with threadpool_limits(2):
        code = cli.main(["train", "--preset", "cnn", "--epochs", "1", "--no-progress", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and not out.exists()
    assert err == f"digitnet: training stopped: a training process stopped (exit status 3); {out} was not written\n"
