"""Uploads: photos of digits on unevenly lit paper are read, and a bad file gets one plain line.

The photos are made from real MNIST test digits: enlarged to 240 x 240, printed as dark ink on
light paper (or light chalk on a dark board), lit by a vignette (dark corners), a straight
gradient at a random angle, or both, with camera grain (Gaussian noise) and 8-bit pixels.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from digitnet.app import views
from digitnet.data import load_dataset
from digitnet.models import default_model_path
from digitnet.persistence import load_model
from digitnet.preprocess import BlankImageError, normalise_polarity, to_mnist

SIDE = 240
DIGITS = 100


def photo(x: np.ndarray, light: str, rng: np.random.Generator, dark_paper: bool = False) -> np.ndarray:
    """One MNIST digit ``x (784,)`` as a ``(SIDE, SIDE)`` uint8 photo under ``light``."""
    digit = np.asarray(Image.fromarray(np.round(x.reshape(28, 28) * 255).astype(np.uint8))
                       .resize((SIDE, SIDE), Image.Resampling.BILINEAR), np.float64) / 255  # (SIDE, SIDE)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE] / (SIDE - 1)  # (SIDE, SIDE) each, in [0, 1]
    vignette = 1 - 0.75 * ((yy - 0.5) ** 2 + (xx - 0.5) ** 2) / 0.5  # 1 in the middle, 0.25 in the corners
    angle = rng.uniform(0, 2 * np.pi)
    along = (np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5)) / np.sqrt(0.5)  # in [-1, 1]
    ramp = 0.25 + 0.75 * (along + 1) / 2  # 0.25 on the dark side, 1 on the light one
    field = {"vignette": vignette, "gradient": ramp, "both": vignette * ramp}[light]
    surface = 0.1 + 0.7 * digit if dark_paper else 0.9 * (1 - 0.8 * digit)  # chalk on a board, or ink on paper
    image = surface * field + rng.normal(0, 0.02, (SIDE, SIDE))
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def digits(mnist_dir):
    test = load_dataset("mnist", mnist_dir, validation=0, progress=False).test
    net, _ = load_model(default_model_path())
    return test.X[:DIGITS], test.y[:DIGITS], net


def _read(net, images) -> list[int | None]:
    out = []
    for image in images:
        try:
            x = to_mnist(image)  # (784,)
        except BlankImageError:
            out.append(None)
            continue
        out.append(int(net.predict(x.reshape(1, *net.input_shape))[0]))
    return out


@pytest.mark.parametrize("light", ["vignette", "gradient", "both"])
def test_photos_on_unevenly_lit_paper_are_read(digits, light):
    X, y, net = digits
    rng = np.random.default_rng(7)
    read = _read(net, [photo(x, light, rng) for x in X])
    assert None not in read  # none is taken for a blank page
    assert np.mean(np.array(read) == y) >= 0.95


def test_chalk_on_an_unevenly_lit_board_is_read(digits):
    X, y, net = digits
    rng = np.random.default_rng(8)
    read = _read(net, [photo(x, "both", rng, dark_paper=True) for x in X[:40]])
    assert None not in read
    assert np.mean(np.array(read) == y[:40]) >= 0.9


def test_uneven_paper_without_ink_is_blank():
    rng = np.random.default_rng(9)
    blank = photo(np.zeros(784), "both", rng)
    with pytest.raises(BlankImageError):
        to_mnist(blank)


def test_evenly_lit_paper_keeps_the_border_rule():
    """A clean drawing is untouched by the local estimate: ink on the border is not uneven light."""
    g = np.zeros((10, 10), np.float32)
    g[:, 4:6] = 1.0
    np.testing.assert_array_equal(normalise_polarity(g), g)


def test_upload_messages_are_one_plain_line(tmp_path):
    from digitnet.preprocess import load_image

    path = tmp_path / "notes.png"
    path.write_text("hello")
    with pytest.raises(ValueError) as e:
        load_image(str(path))
    message = views.upload_problem("notes.png", e.value)
    assert message == "notes.png is not an image that PNG, JPEG, GIF, WebP or BMP can read."
    assert views.upload_problem("x.png", ValueError("cannot read image <_io.BytesIO object at 0x7f>: truncated")) \
        == "Cannot read x.png: truncated"


def test_numbers_have_one_format():
    assert views.percent(0.99962) == "99.9%"  # never rounded up to a certainty
    assert views.percent(1.0) == "100.0%" and views.percent(0.5) == "50.0%"
    assert views.preview(np.zeros((1000, 500), np.uint8)).shape == (400, 200)
    assert views.preview(np.ones((10, 10, 3), np.float32)).dtype == np.uint8
