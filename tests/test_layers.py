"""Every layer, textbook and fast kernel alike, checked against central finite differences in
float64; exact values on tiny inputs; a CNN model file round trip; and a small CNN that beats a
dense net of the same size on real MNIST. (``test_fast.py`` holds each kernel to its textbook twin.)"""

import numpy as np
import pytest

from digitnet import fast
from digitnet.fast import blas
from digitnet.fast.layers import FastBatchNorm, FastConv2D, FastDense, FastMaxPool2D
from digitnet.augment import Augmenter
from digitnet.cli import build_network
from digitnet.data import load_dataset, one_hot
from digitnet.nn.layers import (
    LAYERS, ActivationLayer, BatchNorm, Conv2D, Dense, Dropout, Flatten, GlobalAvgPool, MaxPool2D, Reshape,
    layer_from_config,
)
from digitnet.nn.network import Network
from digitnet.nn.optimizers import Adam
from digitnet.persistence import load_model, save_model
from digitnet.presets import DEFAULTS, PRESETS

F64 = np.dtype("float64")


def numerical_gradient(f, x, h=1e-6):
    """Central differences ``(f(x + h e_i) - f(x - h e_i)) / 2h`` for every entry of ``x``.

    ``f`` takes no argument and reads ``x``, which is changed in place and restored.
    """
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        up = f()
        x[idx] = old - h
        down = f()
        x[idx] = old
        g[idx] = (up - down) / (2 * h)
    return g


def relative_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


def check_gradients(layer, input_shape, n=2, training=True, seed=0, X=None, prepare=None, tol=1e-6):
    """Compare ``backward`` with finite differences of ``sum(G * forward(X))`` for ``dX`` and every
    parameter; ``prepare(layer, rng)``, if given, runs after ``build``."""
    rng = np.random.default_rng(seed)
    out_shape = layer.build(tuple(input_shape), rng, F64)
    if hasattr(layer, "prepare"):  # a fast kernel
        layer.prepare()
    if prepare is not None:
        prepare(layer, rng)
    X = rng.normal(size=(n, *input_shape)) if X is None else X
    G = rng.normal(size=(n, *out_shape))
    # Layers that draw random numbers (dropout) draw the same ones on every call.
    rng_state = layer.rng.bit_generator.state if hasattr(layer, "rng") else None

    def loss():
        if rng_state is not None:
            layer.rng.bit_generator.state = rng_state
        return float(np.sum(G * layer.forward(X, training)))

    loss()
    dX = layer.backward(G.copy(), need_dX=True)
    grads = {k: g.copy() for k, g in layer.grads.items()}
    assert dX.shape == X.shape
    errors = {"dX": relative_error(dX, numerical_gradient(loss, X))}
    assert set(grads) == set(layer.params)
    for k, p in layer.params.items():
        assert grads[k].shape == p.shape
        errors[k] = relative_error(grads[k], numerical_gradient(loss, p))
    assert max(errors.values()) < tol, errors
    return errors


# -- finite differences, layer by layer --------------------------------------------------------

@pytest.mark.parametrize("init", ["normal", "he", "glorot"])
@pytest.mark.parametrize("Kind", [Dense, FastDense])
def test_dense_gradients(init, Kind):
    check_gradients(Kind(4, init=init), (5,), n=3)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "softmax"])
def test_activation_layer_gradients(name):
    check_gradients(ActivationLayer(name), (6,), n=3)


def test_relu_on_images_gradients():
    check_gradients(ActivationLayer("relu"), (3, 3, 2))


def sparse_rows(rng, n, n_in, active):
    """``n`` random rows whose columns outside ``active`` are zero in every row, like raw pixels."""
    X = np.zeros((n, n_in))
    X[:, active] = rng.normal(size=(n, len(active)))
    return X


def test_dense_first_layer_skips_zero_columns_and_keeps_its_gradients():
    rng = np.random.default_rng(0)
    X = sparse_rows(rng, 16, 12, [2, 5, 9])
    layer = FastDense(256, init="he")
    layer.sparse_input = True
    check_gradients(layer, (12,), n=16, X=X)
    np.testing.assert_array_equal(layer._active_columns(X), [2, 5, 9])  # the path taken
    assert np.all(layer.grads["W"][[0, 1, 3, 4, 6, 7, 8, 10, 11]] == 0)
    plain = Dense(256, init="he")
    plain.build((12,), np.random.default_rng(1), F64)
    plain.params["W"][...] = layer.params["W"]
    np.testing.assert_allclose(layer.forward(X), plain.forward(X), rtol=1e-12)


def test_dense_skips_zero_columns_only_where_that_pays():
    rng = np.random.default_rng(0)
    net = fast.accelerate(Network([784, 512, 10], activation="relu", output="softmax", cost="cross-entropy",
                                  init="he"))
    first, second = (l for l in net.layers if isinstance(l, Dense))
    assert first.sparse_input and not second.sparse_input  # only the layer that reads the data
    X = sparse_rows(rng, 128, 784, np.arange(150, 650))
    assert len(first._active_columns(X)) == 500
    assert first._active_columns(sparse_rows(rng, 128, 784, np.arange(50, 750))) is None  # 700 of 784
    classic = fast.accelerate(Network([784, 16, 16, 10])).layers[0]
    assert classic.sparse_input and classic._active_columns(X) is None  # 16 units: never pays


def test_dropout_gradients_with_a_fixed_mask():
    layer = Dropout(0.5)
    check_gradients(layer, (4, 5), n=3)
    assert layer.mask is not None and (layer.mask == 0).any()
    check_gradients(Dropout(0.5), (4, 5), n=3, training=False)  # identity at test time


CONV_CASES = [
    # kernel, padding, stride, image (h, w, c), filters
    (3, 0, 1, (5, 5, 1), 2),
    (3, "same", 1, (5, 5, 2), 3),
    (3, 1, 1, (4, 6, 3), 2),
    (3, 1, 2, (6, 6, 3), 2),
    (3, "same", 2, (7, 7, 2), 4),
    (3, 0, 2, (7, 6, 1), 1),
    (2, 2, 1, (4, 4, 2), 3),  # padding wider than the kernel: col2im even at stride 1
    ((2, 3), 0, 1, (5, 6, 2), 2),
    (5, "same", 1, (6, 6, 1), 2),
    (1, 0, 1, (3, 3, 4), 3),
]


@pytest.mark.parametrize("Kind,keep_cols", [(Conv2D, None), (FastConv2D, True), (FastConv2D, False)],
                         ids=["textbook", "fast-cols-kept", "fast-cols-rebuilt"])
@pytest.mark.parametrize("kernel,padding,stride,shape,filters", CONV_CASES)
def test_conv2d_gradients(kernel, padding, stride, shape, filters, Kind, keep_cols):
    check_gradients(Kind(filters, kernel, stride=stride, padding=padding), shape,
                    prepare=None if keep_cols is None else lambda layer, rng: setattr(layer, "keep_cols", keep_cols))


@pytest.mark.parametrize("shape,keep", [((28, 28, 1), True), ((28, 28, 5), True), ((28, 28, 6), False)])
def test_conv2d_keeps_cols_from_a_training_forward_only_for_short_patch_rows(shape, keep):
    layer = FastConv2D(4, 3)
    layer.build(shape, np.random.default_rng(0), F64)
    layer.prepare()
    assert layer.keep_cols is keep  # a 3 x 3 kernel's patch rows hold 3 * channels values
    X = np.random.default_rng(1).normal(size=(2, *shape))
    layer.forward(X, training=True)
    assert (layer.kept is not None) is keep
    layer.forward(X, training=False)
    assert layer.kept is None


@pytest.mark.parametrize("full", [True, False])
@pytest.mark.parametrize("kernel,padding,shape,filters", [
    (k, p, shape, f) for k, p, stride, shape, f in CONV_CASES if stride == 1])
def test_conv2d_input_gradient_both_ways(kernel, padding, shape, filters, full):
    """dX by full correlation and by scattering each offset's product: both match finite differences."""
    check_gradients(FastConv2D(filters, kernel, padding=padding), shape,
                    prepare=lambda layer, rng: layer.__dict__.update(full_dX=full, full_dX_workers=full))


@pytest.mark.parametrize("grid", [True, False], ids=["dW-grid", "dW-im2col"])
@pytest.mark.parametrize("kernel,padding,shape,filters", [
    (k, p, shape, f) for k, p, stride, shape, f in CONV_CASES if stride == 1])
def test_conv2d_weight_gradient_both_ways(kernel, padding, shape, filters, grid):
    """dW over the whole padded grid (no im2col) and from im2col: both match finite differences."""
    def prepare(layer, rng):
        layer.keep_cols, layer.grid_dW = False, grid
    check_gradients(FastConv2D(filters, kernel, padding=padding), shape, n=3, prepare=prepare)


def test_conv2d_weight_gradient_on_the_grid_over_chunks_and_workers():
    """The grid's dW summed over several chunks, on one thread and on two workers, equals im2col's."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, 9, 8, 6))
    dWs = []
    for grid, threads in [(False, 1), (True, 1), (True, 2)]:
        layer = FastConv2D(5, (3, 2), padding=1)
        layer.build(X.shape[1:], np.random.default_rng(1), F64)
        layer.prepare()
        layer.CHUNK_ELEMENTS = 2 * 11 * 10 * 6  # two padded images a chunk: four chunks
        layer.keep_cols, layer.grid_dW = False, grid
        with threadpool_limits(threads):
            Z = layer.forward(X, training=True)
            layer.backward(np.random.default_rng(2).normal(size=Z.shape), need_dX=False)
        dWs.append(layer.grads["W"])
    np.testing.assert_allclose(dWs[1], dWs[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(dWs[2], dWs[1])  # per-chunk sums added in chunk order: the same bits


@pytest.mark.parametrize("shape,filters,stride,full,full_workers", [
    ((26, 26, 32), 32, 1, True, True),  # 676 / 576 = 1.17 times the multiplications: full correlation
    ((10, 10, 64), 64, 1, False, True),  # 100 / 64 = 1.56: scatter on one thread, full on several
    ((9, 9, 64), 64, 1, False, False),  # 81 / 49 = 1.65: scatter
    ((26, 26, 32), 32, 2, False, False),  # full correlation is for stride 1
])
def test_conv2d_picks_the_cheaper_input_gradient(shape, filters, stride, full, full_workers):
    layer = FastConv2D(filters, 3, stride=stride)
    layer.build(shape, np.random.default_rng(0), F64)
    layer.prepare()
    assert layer.full_dX is full
    assert layer.full_dX_workers is full_workers
    assert layer.grid_dW is full  # dW on the grid where the grid is not much larger than the output


@pytest.mark.parametrize("threads,way", [(1, "_dXp_scatter"), (2, "_dXp_full")])
def test_conv2d_input_gradient_way_follows_the_worker_threads(threads, way, monkeypatch):
    from threadpoolctl import threadpool_limits

    layer = FastConv2D(4, 3)
    layer.build((10, 10, 6), np.random.default_rng(0), F64)
    layer.prepare()
    assert not layer.full_dX and layer.full_dX_workers
    taken = []
    for name in ("_dXp_scatter", "_dXp_full"):
        real = getattr(layer, name)
        monkeypatch.setattr(layer, name, lambda dZ, real=real, name=name: taken.append(name) or real(dZ))
    with threadpool_limits(threads):
        Z = layer.forward(np.ones((3, 10, 10, 6)), training=True)
        layer.backward(np.ones_like(Z))
    assert taken == [way]


def test_conv2d_takes_dW_from_kept_cols_rather_than_the_grid():
    layer = FastConv2D(32, 3)
    layer.build((28, 28, 1), np.random.default_rng(0), F64)
    layer.prepare()
    assert layer.full_dX and layer.keep_cols and not layer.grid_dW


@pytest.mark.parametrize("layer,shape", [(Dense(4, bias=False), (5,)), (Conv2D(3, 3, bias=False), (5, 5, 2)),
                                         (FastDense(4, bias=False), (5,)), (FastConv2D(3, 3, bias=False), (5, 5, 2))])
def test_layers_without_bias_gradients(layer, shape):
    check_gradients(layer, shape)
    assert set(layer.params) == {"W"}


@pytest.mark.parametrize("Kind", [Conv2D, FastConv2D])
def test_conv2d_gradients_after_an_inference_forward(Kind):
    """``Network.input_gradient`` runs backward after a forward with ``training=False``."""
    check_gradients(Kind(3, 3, padding="same"), (5, 5, 2), training=False)


@pytest.mark.parametrize("pool,stride,shape", [
    (2, None, (4, 4, 2)), (2, None, (5, 7, 1)), (3, 2, (7, 7, 2)), (2, 1, (4, 5, 2)), (3, None, (6, 6, 1)),
])
@pytest.mark.parametrize("Kind", [MaxPool2D, FastMaxPool2D])
def test_maxpool_gradients(pool, stride, shape, Kind):
    check_gradients(Kind(pool, stride), shape)


def test_global_avg_pool_gradients():
    check_gradients(GlobalAvgPool(), (3, 4, 5))


@pytest.mark.parametrize("shape,n", [((5,), 4), ((3, 3, 2), 2), ((2, 4, 3), 3)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("Kind", [BatchNorm, FastBatchNorm])
def test_batchnorm_gradients(shape, n, training, relu, Kind):
    def away_from_init(layer, rng):  # so that each term of the gradient matters
        c = shape[-1]
        layer.params["gamma"][...] = rng.uniform(0.5, 2.0, c)
        layer.params["beta"][...] = rng.normal(size=c)
        layer.buffers["running_mean"][...] = rng.normal(size=c)
        layer.buffers["running_var"][...] = rng.uniform(0.5, 2.0, c)

    X = np.random.default_rng(1).normal(size=(n, *shape)) * 3 + 1
    check_gradients(Kind(relu=relu), shape, n=n, training=training, X=X, prepare=away_from_init)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("Kind", [BatchNorm, FastBatchNorm])
def test_batchnorm_with_relu_inside_equals_batchnorm_then_relu_to_the_bit(training, Kind, monkeypatch):
    monkeypatch.setattr(blas, "BLOCK_VALUES", 64)  # several blocks
    rng = np.random.default_rng(3)
    X = rng.standard_normal((16, 5, 5, 6)).astype(np.float32)
    dY = rng.standard_normal(X.shape).astype(np.float32)
    fused, bn, relu = Kind(relu=True), Kind(), ActivationLayer("relu")
    for layer in (fused, bn, relu):
        layer.build(X.shape[1:], rng, np.dtype("float32"))
    for layer in (fused, bn):
        layer.params["beta"][...] = [-1, -0.5, 0, 0.5, 1, 2]  # some channels mostly cut off, some not
    Y = fused.forward(X, training)
    np.testing.assert_array_equal(Y, relu.forward(bn.forward(X, training), training))
    assert 0.2 < np.mean(Y == 0) < 0.8
    np.testing.assert_array_equal(fused.backward(dY.copy()), bn.backward(relu.backward(dY.copy())))
    for k in ("gamma", "beta"):
        np.testing.assert_array_equal(fused.grads[k], bn.grads[k])


def test_flatten_and_reshape_gradients():
    check_gradients(Flatten(), (2, 3, 4))
    check_gradients(Reshape((3, 4, 1)), (12,))


@pytest.mark.parametrize("kernels", [False, True], ids=["textbook", "fast"])
def test_a_whole_cnn_backprop_matches_finite_differences(kernels):
    layers = [Reshape((6, 6, 1)), Conv2D(2, 3, padding="same"), BatchNorm(), ActivationLayer("relu"),
              MaxPool2D(), Conv2D(3, 3, stride=1), ActivationLayer("tanh"), Flatten(), Dense(3, init="he"),
              ActivationLayer("softmax")]
    net = Network(layers, cost="cross-entropy", seed=4, dtype="float64", input_shape=(36,))
    if kernels:
        fast.accelerate(net)
    rng = np.random.default_rng(0)
    X, Y = rng.random((4, 36)), np.eye(3)[[0, 2, 1, 2]]
    net.backprop(X, Y)
    analytic = [g.copy() for g in net.grads]
    for p, a in zip(net.params, analytic):
        num = numerical_gradient(lambda: net.cost.fn(net.forward(X, training=True), Y), p)
        # atol: the first convolution's bias has zero gradient (batch norm removes any shift).
        np.testing.assert_allclose(a, num, rtol=1e-6, atol=1e-9)


# -- exact values --------------------------------------------------------------------------------

@pytest.mark.parametrize("Conv", [Conv2D, FastConv2D])
def test_conv2d_by_hand(Conv):
    """A 4 x 4 image 0..15, one 3 x 3 kernel; out[y, x] = sum_ij X[y + i, x + j] K[i, j] + b.

    K = [[1, 2, 0], [0, 1, 0], [0, 0, -1]], so out[y, x] = X[y, x] + 2 X[y, x+1] + X[y+1, x+1] - X[y+2, x+2]:
      out[0, 0] = 0 + 2*1 + 5 - 10 = -3     out[0, 1] = 1 + 2*2 + 6 - 11 = 0
      out[1, 0] = 4 + 2*5 + 9 - 14 = 9      out[1, 1] = 5 + 2*6 + 10 - 15 = 12
    With "same" padding the top-left output only sees X[0, 0] (x1), X[0, 1] (x0: K[1, 2] = 0)
    and X[1, 1] (x -1): out[0, 0] = 0 + 0 - 5 = -5.
    """
    X = np.arange(16, dtype=float).reshape(1, 4, 4, 1)
    K = np.array([[1, 2, 0], [0, 1, 0], [0, 0, -1]], dtype=float)
    valid = Conv(1, 3)
    valid.build((4, 4, 1), np.random.default_rng(0), F64)
    if Conv is FastConv2D:
        valid.prepare()
    valid.params["W"][...] = K[:, :, None, None]
    valid.params["b"][...] = 0.5
    np.testing.assert_array_equal(valid.forward(X)[0, :, :, 0], [[-2.5, 0.5], [9.5, 12.5]])
    same = Conv(1, 3, padding="same")
    same.build((4, 4, 1), np.random.default_rng(0), F64)
    if Conv is FastConv2D:
        same.prepare()
    same.params["W"][...] = K[:, :, None, None]
    out = same.forward(X)
    assert out.shape == (1, 4, 4, 1)
    assert out[0, 0, 0, 0] == -5
    np.testing.assert_array_equal(out[0, 1:3, 1:3, 0], [[-3, 0], [9, 12]])
    # Backward of a sum: dW[i, j] is the sum of the pixels that offset (i, j) reads.
    valid.forward(X, training=True)
    dX = valid.backward(np.ones((1, 2, 2, 1)))
    np.testing.assert_array_equal(valid.grads["W"][:, :, 0, 0], [[10, 14, 18], [26, 30, 34], [42, 46, 50]])
    assert valid.grads["b"][0] == 4
    # Each input pixel collects K[i, j] from every output whose patch covers it.
    np.testing.assert_array_equal(dX[0, :, :, 0], [[1, 3, 2, 0], [1, 4, 3, 0], [0, 1, 0, -1], [0, 0, -1, -1]])


def naive_conv(X, W, b, stride, pads):
    """The definition, with loops: Z[n, y, x, f] = sum_ijc Xp[n, y*s + i, x*s + j, c] W[i, j, c, f] + b[f]."""
    top, bottom, left, right = pads
    Xp = np.pad(X, ((0, 0), (top, bottom), (left, right), (0, 0)))
    kh, kw, _, f = W.shape
    ho = (Xp.shape[1] - kh) // stride + 1
    wo = (Xp.shape[2] - kw) // stride + 1
    Z = np.zeros((len(X), ho, wo, f))
    for y in range(ho):
        for x in range(wo):
            patch = Xp[:, y * stride:y * stride + kh, x * stride:x * stride + kw, :]  # (n, kh, kw, c)
            Z[:, y, x, :] = np.tensordot(patch, W, axes=3) + b
    return Z


@pytest.mark.parametrize("kernel,padding,stride,shape,filters", CONV_CASES)
@pytest.mark.parametrize("Conv", [Conv2D, FastConv2D])
def test_conv2d_matches_the_definition(kernel, padding, stride, shape, filters, Conv):
    layer = Conv(filters, kernel, stride=stride, padding=padding, init="normal")
    rng = np.random.default_rng(3)
    layer.build(shape, rng, F64)
    if Conv is FastConv2D:
        layer.prepare()
    X = rng.normal(size=(3, *shape))
    expected = naive_conv(X, layer.params["W"], layer.params["b"], stride, layer.pads)
    np.testing.assert_allclose(layer.forward(X), expected, rtol=1e-12, atol=1e-12)


def test_conv2d_same_padding_keeps_the_size_and_inference_chunks_agree():
    layer = FastConv2D(4, 3, padding="same")
    assert layer.build((28, 28, 1), np.random.default_rng(0), np.dtype("float32")) == (28, 28, 4)
    layer.prepare()
    assert Conv2D(4, 3, stride=2, padding="same").build((7, 7, 1), np.random.default_rng(0), F64) == (4, 4, 4)
    X = np.random.default_rng(1).random((50, 28, 28, 1), dtype=np.float32)
    layer.CHUNK_ELEMENTS = 28 * 28 * 9 * 7  # seven images per chunk
    np.testing.assert_array_equal(layer.forward(X, training=False), layer.forward(X, training=True))
    assert layer.forward(X).dtype == np.float32


@pytest.mark.parametrize("extra", [0, 1], ids=["windows-tile-the-image", "a-row-and-column-left-over"])
@pytest.mark.parametrize("Pool", [MaxPool2D, FastMaxPool2D])
def test_maxpool_by_hand_and_ties_go_to_the_first_maximum(extra, Pool):
    X = np.array([[1, 5, 2, 0],
                  [3, 4, 2, 2],
                  [7, 7, 0, -1],
                  [6, 7, -3, -2]], dtype=float)
    X = np.pad(X, (0, extra), constant_values=99).reshape(1, 4 + extra, 4 + extra, 1)  # 99s: in no window
    pool = Pool()
    pool.build(X.shape[1:], None, F64)
    np.testing.assert_array_equal(pool.forward(X)[0, :, :, 0], [[5, 2], [7, 0]])
    dX = pool.backward(np.array([[10.0, 20.0], [30.0, 40.0]]).reshape(1, 2, 2, 1))
    # Window (0, 1) ties 2, 2, 2: its first 2 gets the gradient; window (1, 0) ties three 7s: the first.
    np.testing.assert_array_equal(dX[0, :, :, 0], np.pad([[0, 10, 20, 0],
                                                          [0, 0, 0, 0],
                                                          [30, 0, 40, 0],
                                                          [0, 0, 0, 0]], (0, extra)))


@pytest.mark.parametrize("Pool", [MaxPool2D, FastMaxPool2D])
def test_overlapping_maxpool_adds_the_gradients_of_shared_pixels(Pool):
    X = np.array([[0, 1, 0], [0, 9, 0], [0, 2, 0]], dtype=float).reshape(1, 3, 3, 1)
    pool = Pool(2, stride=1)
    assert pool.build((3, 3, 1), None, F64) == (2, 2, 1)
    np.testing.assert_array_equal(pool.forward(X)[0, :, :, 0], [[9, 9], [9, 9]])
    dX = pool.backward(np.ones((1, 2, 2, 1)))
    assert dX[0, 1, 1, 0] == 4 and dX.sum() == 4


@pytest.mark.parametrize("Kind", [BatchNorm, FastBatchNorm])
def test_batchnorm_normalises_in_training_and_uses_running_statistics_at_inference(Kind):
    rng = np.random.default_rng(0)
    bn = Kind(momentum=0.5)
    bn.build((3, 3, 2), rng, np.dtype("float32"))
    X = (rng.normal(size=(8, 3, 3, 2)) * [2.0, 0.5] + [3.0, -1.0]).astype(np.float32)
    Y = bn.forward(X, training=True)
    assert Y.dtype == np.float32 and Y.shape == X.shape
    np.testing.assert_allclose(Y.reshape(-1, 2).mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(Y.reshape(-1, 2).std(axis=0), 1, atol=1e-3)
    m = 8 * 3 * 3
    flat = X.reshape(-1, 2).astype(float)
    np.testing.assert_allclose(bn.buffers["running_mean"], 0.5 * flat.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(bn.buffers["running_var"], 0.5 + 0.5 * flat.var(axis=0) * m / (m - 1), rtol=1e-5)
    bn.buffers["running_mean"][...] = [1.0, 2.0]
    bn.buffers["running_var"][...] = [4.0, 9.0]
    Z = bn.forward(X, training=False)
    np.testing.assert_allclose(Z, (X - [1.0, 2.0]) / np.sqrt(np.array([4.0, 9.0]) + 1e-5), rtol=1e-5)


@pytest.mark.parametrize("mean", [0.0, 3.0, 10.0, 100.0])
@pytest.mark.parametrize("Kind", [BatchNorm, FastBatchNorm])
def test_batchnorm_float32_statistics_stay_accurate_far_from_zero(mean, Kind):
    """Float32 statistics stay within 5e-5 of float64 arithmetic far from zero: the textbook layer
    sums in float64; the fast one's variance as mean(X**2) - mu**2 cancels digits when a channel's
    mean is many standard deviations from zero (about 1e-4 of error at 10, 1e-2 at 100), so past
    FAR_MEAN it centres first."""
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((64, 26, 26, 8)) + mean).astype(np.float32)
    bn = Kind()
    bn.build(X.shape[1:], rng, np.dtype("float32"))
    Y = bn.forward(X, training=True).reshape(-1, 8)
    X64 = X.reshape(-1, 8).astype(np.float64)
    np.testing.assert_allclose(Y, (X64 - X64.mean(axis=0)) / np.sqrt(X64.var(axis=0) + 1e-5), rtol=0, atol=5e-5)


def test_layers_rebuild_from_config():
    layers = [Conv2D(8, (3, 5), stride=2, padding="same", init="glorot"), Conv2D(4, 3, padding=1, bias=False),
              MaxPool2D(3, 2), MaxPool2D(), BatchNorm(0.8, 1e-3), BatchNorm(relu=True), GlobalAvgPool(),
              Dense(3, bias=False)]
    for layer in layers:
        again = layer_from_config(layer.config())
        assert type(again) is type(layer) and again.config() == layer.config()
        assert LAYERS[layer.config()["type"]] is type(layer)
    # Configs written before layers could drop their bias have none: they keep it.
    assert layer_from_config({"type": "dense", "units": 3, "init": "he"}).bias is True
    assert layer_from_config({"type": "conv2d", "filters": 2}).bias is True
    assert layer_from_config({"type": "batchnorm", "momentum": 0.9, "eps": 1e-5}).relu is False


def test_bad_layer_arguments_are_refused():
    with pytest.raises(ValueError, match="filter"):
        Conv2D(0)
    with pytest.raises(ValueError, match="stride"):
        Conv2D(4, stride=0)
    with pytest.raises(ValueError, match="padding"):
        Conv2D(4, padding="valid")
    with pytest.raises(ValueError, match="fit"):
        Conv2D(4, 5).build((3, 3, 1), np.random.default_rng(0), F64)
    with pytest.raises(ValueError, match="Reshape"):
        Conv2D(4).build((784,), np.random.default_rng(0), F64)
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm(momentum=1.0)
    with pytest.raises(ValueError, match="fit"):
        MaxPool2D(4).build((3, 3, 1), None, F64)


# -- networks ------------------------------------------------------------------------------------

def small_cnn(seed=0, dtype="float32"):
    layers = [Reshape((28, 28, 1)), Conv2D(4, 3, padding="same"), BatchNorm(), ActivationLayer("relu"),
              MaxPool2D(), Conv2D(6, 3), BatchNorm(), ActivationLayer("relu"), MaxPool2D(), Flatten(),
              Dropout(0.2), Dense(16, init="he"), BatchNorm(), ActivationLayer("relu"), Dense(10, init="he"),
              ActivationLayer("softmax")]
    return Network(layers, cost="cross-entropy", seed=seed, dtype=dtype)


def test_cnn_model_file_round_trip(tmp_path):
    net = small_cnn()
    rng = np.random.default_rng(0)
    X = rng.random((32, 784), dtype=np.float32)
    Y = one_hot(rng.integers(0, 10, 32))
    opt = Adam(1e-2)
    for _ in range(3):  # move the weights and the batch-norm running statistics away from their init
        net.backprop(X, Y)
        opt.step(net.params, net.grads)
    assert not np.all(net.layers[2].buffers["running_mean"] == 0)
    save_model(tmp_path / "cnn.npz", net, {"note": "test"})
    again, meta = load_model(tmp_path / "cnn.npz")
    assert meta["note"] == "test"
    assert [type(l) for l in again.layers] == [type(l) for l in net.layers]
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(again.state_dict()[k], v)
    np.testing.assert_array_equal(again.predict_proba(X), net.predict_proba(X))
    assert again.describe() == "conv4 bn relu pool2 conv6 bn relu pool2 drop0.2 dense16 bn relu dense10 softmax, cross-entropy"


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_presets_build_and_take_a_training_step(name):
    opts = {**DEFAULTS, **PRESETS[name], "seed": 0, "dtype": "float32"}
    net = build_network(opts)
    assert net.output == "softmax" and net.cost_name == "cross-entropy"
    Augmenter(**opts["augment"])  # the preset's augmentation settings are valid
    rng = np.random.default_rng(0)
    X, Y = rng.random((8, 784), dtype=np.float32), one_hot(rng.integers(0, 10, 8))
    before = [p.copy() for p in net.params]
    net.backprop(X, Y)
    Adam(1e-3).step(net.params, net.grads)
    assert all(not np.array_equal(a, b) for a, b in zip(before, net.params) if a.ndim >= 2)
    assert net.predict_proba(X).shape == (8, 10)


def textbook(configs):
    """A preset's layers as usually written: a bias in every dense and conv layer, ReLU as a layer
    of its own, ReLU before pooling."""
    out = []
    for c in configs:
        out.append({k: v for k, v in c.items() if k not in ("bias", "relu")})
        if c.get("relu"):
            out.append({"type": "activation", "name": "relu"})
    for i in range(len(out) - 1):
        if out[i]["type"] == "maxpool2d" and out[i + 1] == {"type": "activation", "name": "relu"}:
            out[i], out[i + 1] = out[i + 1], out[i]
    return out


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_presets_compute_the_textbook_network(name):
    """No bias before batch norm, ReLU inside batch norm and pooling before ReLU change nothing:
    same outputs, same gradients."""
    layers = PRESETS[name]["layers"]
    assert textbook(layers) != layers
    ours = Network([layer_from_config(c) for c in layers], cost="cross-entropy", seed=0, dtype="float64")
    book = Network([layer_from_config(c) for c in textbook(layers)], cost="cross-entropy", seed=0, dtype="float64")
    rng = np.random.default_rng(1)
    weights = [l for l in ours.layers if "W" in l.params]
    for layer, twin in zip(weights, [l for l in book.layers if "W" in l.params]):
        twin.params["W"][...] = layer.params["W"]
        if "b" in twin.params and "b" not in layer.params:
            twin.params["b"][...] = rng.normal(size=twin.params["b"].shape)  # cancelled by the norm
    X, Y = rng.random((6, 784)), one_hot(rng.integers(0, 10, 6))
    np.testing.assert_allclose(book.forward(X, training=True), ours.forward(X, training=True), rtol=1e-10)
    ours.backprop(X, Y)
    book.backprop(X, Y)
    book_grads = [l.grads for l in book.layers if l.params]
    for layer, grads in zip([l for l in ours.layers if l.params], book_grads):
        for k, g in layer.grads.items():
            np.testing.assert_allclose(grads[k], g, rtol=1e-8, atol=1e-12)
        if "b" in grads and "b" not in layer.grads:
            np.testing.assert_allclose(grads["b"], 0, atol=1e-12)


def test_small_cnn_beats_a_dense_net_of_the_same_size_on_real_mnist(mnist_dir):
    """3,000 real training images, 3 epochs of Adam for both: a CNN with 9,098 parameters against a
    784-11-10 dense net with about as many (8,755). Shared weights and pooling win."""
    data = load_dataset("mnist", data_dir=mnist_dir, download=False, progress=False)
    X, y = data.train.X[:3000], data.train.y[:3000]
    Xt, yt = data.test.X[:2000], data.test.y[:2000]
    cnn = [Reshape((28, 28, 1)), Conv2D(8, 3, padding="same"), ActivationLayer("relu"), MaxPool2D(),
           Conv2D(16, 3, padding="same"), ActivationLayer("relu"), MaxPool2D(), Flatten(), Dense(10, init="he"),
           ActivationLayer("softmax")]
    dense = [Dense(11, init="he"), ActivationLayer("relu"), Dense(10, init="he"), ActivationLayer("softmax")]
    accuracy, sizes = {}, {}
    for name, layers in [("cnn", cnn), ("dense", dense)]:
        net = Network(layers, cost="cross-entropy", seed=0)
        sizes[name] = sum(p.size for p in net.params)
        opt = Adam(3e-3)
        for _ in range(3):
            perm = net.rng.permutation(len(X))
            for i in range(0, len(X), 32):
                idx = perm[i:i + 32]
                net.backprop(X[idx], one_hot(y[idx]))
                opt.step(net.params, net.grads)
        accuracy[name] = net.evaluate(Xt, yt)
    assert abs(sizes["cnn"] - sizes["dense"]) < 0.1 * sizes["dense"], sizes
    assert accuracy["cnn"] > accuracy["dense"] + 0.02, accuracy
    assert accuracy["cnn"] > 0.9, accuracy


def test_wide_networks_predict_in_chunks_that_bound_memory():
    net = small_cnn(dtype="float64")
    assert net.widest == 28 * 28 * 3 * 3  # the first convolution's im2col patches, per image (its output: 28 x 28 x 4)
    X = np.random.default_rng(0).random((50, 784))
    whole = net.predict_raw(X, batch_size=50)
    rows = []
    forward = net.forward
    net.forward = lambda A, training=False: rows.append(len(A)) or forward(A, training)
    net.CHUNK_VALUES = net.widest * 7  # room for 7 images at a time
    np.testing.assert_allclose(net.predict_raw(X, batch_size=50), whole, rtol=1e-12)
    assert rows == [7] * 7 + [1]


@pytest.mark.parametrize("full", [True, False], ids=["dX-full", "dX-scatter"])
def test_conv2d_scratch_serves_batches_of_any_size_in_turn(full):
    """The padded scratch arrays (zeroed once) serve a smaller batch from a larger one's memory:
    gradients after batches of 6, 2 and 6 images equal those of a fresh layer."""
    rng = np.random.default_rng(0)
    used = FastConv2D(3, 3, padding=1)
    used.build((7, 7, 2), np.random.default_rng(1), F64)
    used.prepare()
    used.full_dX = used.full_dX_workers = full
    used.grid_dW = True
    for n in (6, 2, 6):
        X, dZ = rng.normal(size=(n, 7, 7, 2)), rng.normal(size=(n, 7, 7, 3))
        fresh = FastConv2D(3, 3, padding=1)
        fresh.build((7, 7, 2), np.random.default_rng(1), F64)
        fresh.prepare()
        fresh.full_dX = fresh.full_dX_workers = full
        fresh.grid_dW = True
        results = []
        for layer in (used, fresh):
            layer.forward(X, training=True)
            results.append((layer.backward(dZ.copy()), layer.grads["W"]))
        for a, b in zip(*results):
            np.testing.assert_array_equal(a, b)
