"""Tests for digitnet.preprocess: each step of the MNIST recipe, the pipeline, load_image."""

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image, ImageDraw

from digitnet import preprocess
from digitnet.preprocess import (
    CENTRE,
    BlankImageError,
    NoBackgroundError,
    centre_by_mass,
    check_ink,
    crop_to_ink,
    fit_20,
    ink_to_mnist,
    load_image,
    normalise_polarity,
    to_grayscale,
    to_mnist,
)

MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared/data/mnist"


def centre_of_mass(a):
    """(row, column) centre of mass in 0-based pixel indices, the module's convention."""
    a = np.asarray(a, dtype=np.float64).reshape(28, 28) if np.size(a) == 784 else np.asarray(a)
    rows, cols = np.indices(a.shape)
    return (rows * a).sum() / a.sum(), (cols * a).sum() / a.sum()


def bounding_box(a, level=0.0):
    """(height, width) of the pixels above level."""
    rows = np.flatnonzero((a > level).any(axis=1))
    cols = np.flatnonzero((a > level).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def canvas_seven(size=280, ink=255, background=0, width=20):
    """A '7' drawn with a thick stroke on a square uint8 gray canvas."""
    img = Image.new("L", (size, size), background)
    corners = [(100, 40), (180, 40), (120, 240)]  # (x, y) on a 280 canvas
    pts = [(x * size / 280, y * size / 280) for x, y in corners]
    ImageDraw.Draw(img).line(pts, fill=ink, width=width)
    return np.asarray(img)


def as_canvas_rgba(gray, transparent_rgb=(0, 0, 0)):
    """What streamlit-drawable-canvas returns: white ink whose alpha is its coverage."""
    h, w = gray.shape
    rgba = np.zeros((h, w, 4), dtype=np.uint8)
    rgba[..., :3] = transparent_rgb
    ink = gray > 0
    rgba[ink, :3] = 255
    rgba[..., 3] = gray
    return rgba


def best_shift_correlation(y, x):
    """Largest correlation of y with x over integer shifts of at most one pixel."""
    y, x = y.reshape(28, 28), x.reshape(28, 28)
    return max(
        np.corrcoef(np.roll(y, (dy, dx), axis=(0, 1)).ravel(), x.ravel())[0, 1]
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    )


# --- to_grayscale --------------------------------------------------------------------------


def test_grayscale_scales_each_dtype_by_its_range():
    np.testing.assert_allclose(to_grayscale(np.array([[0, 51, 255]], np.uint8)), [[0, 0.2, 1]])
    np.testing.assert_allclose(to_grayscale(np.array([[0, 65535]], np.uint16)), [[0, 1]])
    np.testing.assert_array_equal(to_grayscale(np.array([[False, True]])), [[0, 1]])
    np.testing.assert_allclose(to_grayscale(np.array([[0.0, 0.25, 1.0]])), [[0, 0.25, 1]])
    np.testing.assert_allclose(to_grayscale(np.array([[0.0, 51.0, 255.0]])), [[0, 0.2, 1]])
    np.testing.assert_allclose(to_grayscale(np.array([[0, 1]], np.int64)), [[0, 1]])
    np.testing.assert_allclose(to_grayscale(np.array([[-5, 51, 300]], np.int32)), [[0, 0.2, 1]])
    out = to_grayscale(np.array([[0, 128]], np.uint8))
    assert out.dtype == np.float32 and out.shape == (1, 2)


def test_grayscale_accepts_a_single_channel_axis():
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(to_grayscale(a[:, :, None]), to_grayscale(a))


def test_grayscale_of_rgb_is_itu_601_luminance():
    rgb = np.zeros((1, 3, 3), np.uint8)
    rgb[0, 0, 0] = rgb[0, 1, 1] = rgb[0, 2, 2] = 255
    np.testing.assert_allclose(to_grayscale(rgb), [[0.299, 0.587, 0.114]], atol=1e-6)


def test_grayscale_composites_a_transparent_canvas_over_black():
    """White ink with coverage alpha; the transparent pixels' colour must not matter."""
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., :3] = 255  # white everywhere, even where transparent
    rgba[..., 3] = [[0, 255, 0], [0, 51, 0]]
    np.testing.assert_allclose(to_grayscale(rgba), [[0, 1, 0], [0, 0.2, 0]], atol=1e-6)


def test_grayscale_composites_dark_ink_on_transparent_over_white():
    rgba = np.zeros((2, 3, 4), np.uint8)  # black everywhere
    rgba[..., 3] = [[0, 255, 0], [0, 255, 0]]  # opaque black stroke
    np.testing.assert_allclose(to_grayscale(rgba), [[1, 0, 1], [1, 0, 1]], atol=1e-6)


def test_grayscale_opaque_rgba_is_plain_luminance():
    rgba = np.full((2, 2, 4), 255, np.uint8)
    rgba[0, 0, :3] = 0
    np.testing.assert_allclose(to_grayscale(rgba), [[0, 1], [1, 1]], atol=1e-6)


def test_grayscale_accepts_pil_images():
    a = canvas_seven(size=60, width=4)
    np.testing.assert_array_equal(to_grayscale(Image.fromarray(a)), to_grayscale(a))
    la = Image.fromarray(np.stack([a, a], axis=-1), mode="LA")
    assert to_grayscale(la).shape == a.shape


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((5, 5, 2), np.uint8),
        np.zeros((2, 5, 5, 3), np.uint8),
        np.zeros(25, np.uint8),
        np.zeros((0, 5), np.uint8),
        np.zeros((5, 0, 3), np.uint8),
        np.zeros((5, 5), np.complex64),
        np.array([["a", "b"]]),
        np.array([[None, 1]], dtype=object),
        np.array([[0.5, np.nan]]),
        np.array([[0.5, np.inf]]),
        np.array([[0.5, -np.inf]], np.float32),
    ],
    ids=["2-channels", "4-D", "1-D", "empty", "zero-width-rgb", "complex", "str", "object",
         "nan", "inf", "-inf"],
)
def test_grayscale_rejects_what_is_not_an_image(bad):
    with pytest.raises(ValueError):
        to_grayscale(bad)
    with pytest.raises(ValueError):
        to_mnist(bad)


# --- normalise_polarity --------------------------------------------------------------------


def test_polarity_keeps_light_ink_on_dark():
    g = np.zeros((10, 10), np.float32)
    g[3:7, 4:6] = 0.8
    np.testing.assert_array_equal(normalise_polarity(g), g)


def test_polarity_inverts_dark_ink_on_light_paper():
    g = np.ones((10, 10), np.float32)
    g[3:7, 4:6] = 0.0
    expected = np.zeros((10, 10), np.float32)
    expected[3:7, 4:6] = 1.0
    np.testing.assert_array_equal(normalise_polarity(g), expected)


def test_polarity_removes_grey_paper():
    """Grey paper (0.6) with dark ink (0.1): the paper becomes 0, the ink (0.9-0.4)/0.6."""
    g = np.full((10, 10), 0.6, np.float32)
    g[2:8, 5] = 0.1
    out = normalise_polarity(g)
    expected = np.zeros((10, 10), np.float32)
    expected[2:8, 5] = 0.5 / 0.6
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_polarity_removes_the_noise_of_grainy_paper():
    rng = np.random.default_rng(3)
    g = (0.5 + rng.normal(0, 0.03, (200, 200))).astype(np.float32)
    g[50:150, 90:110] = 0.0
    out = normalise_polarity(g)
    assert np.mean(out[:40] > 0) < 0.01  # at most the 0.13% above three sigma
    assert out[:40].max() < 0.1
    assert out[50:150, 90:110].min() > 0.8


def test_polarity_survives_ink_touching_the_border():
    g = np.zeros((10, 10), np.float32)
    g[:, 4:6] = 1.0  # a '1' from top edge to bottom edge
    np.testing.assert_array_equal(normalise_polarity(g), g)


@pytest.mark.parametrize("shape", [(1, 600), (2, 600), (600, 3)])
def test_polarity_of_a_strip_thinner_than_the_background_blocks(shape):
    """Unevenly lit paper is fitted in blocks of about 1/128 of the long side (5 px here); a strip
    thinner than a block, a photo cut down to a row of pixels, is one block across, and its dark
    ink still comes out brighter than all of its paper."""
    n = max(shape)
    ramp = np.linspace(0.45, 1.0, n, dtype=np.float32)  # paper lit from one end
    along = 1 if shape[1] == n else 0
    g = np.broadcast_to(ramp if along else ramp[:, None], shape).copy()  # (h, w)
    mark = np.s_[:, 300:312] if along else np.s_[300:312, :]
    g[mark] = 0.05
    out = normalise_polarity(g)
    paper = np.delete(out, np.s_[298:314], axis=along)
    assert out.shape == shape and out[mark].min() > 2 * paper.max()


def test_polarity_of_uniform_images_is_all_background():
    for level in (0.0, 0.5, 1.0):
        np.testing.assert_array_equal(normalise_polarity(np.full((4, 4), level, np.float32)), 0)


# --- check_ink -----------------------------------------------------------------------------


def test_check_ink_accepts_a_drawn_digit():
    check_ink(canvas_seven() / np.float32(255))


@pytest.mark.parametrize(
    "make",
    [
        lambda g: g,  # empty
        lambda g: g.__setitem__((140, 140), 1.0),  # one bright pixel
        lambda g: g.__setitem__((slice(100, 102), slice(50, 52)), 1.0),  # 4 pixels
        lambda g: g.__setitem__((slice(139, 142), slice(139, 142)), 0.3),  # a faint 3x3 dot
        lambda g: g.__setitem__((slice(None), slice(None)), 0.09),  # haze below the ink level
    ],
    ids=["empty", "one-pixel", "four-pixels", "faint-dot", "haze"],
)
def test_check_ink_refuses_nearly_blank_images(make):
    g = np.zeros((280, 280), np.float32)
    make(g)
    with pytest.raises(BlankImageError, match="no digit found"):
        check_ink(g)


# --- crop_to_ink ---------------------------------------------------------------------------


def test_crop_is_the_exact_bounding_box_of_ink():
    g = np.zeros((50, 40), np.float32)
    g[10:30, 5:9] = 1.0
    g[29, 20] = 0.5
    g[0, 0] = g[49, 39] = 0.05  # noise below the ink level
    crop = crop_to_ink(g)
    assert crop.shape == (20, 16)
    np.testing.assert_array_equal(crop, g[10:30, 5:21])


def test_crop_of_nothing_is_blank():
    with pytest.raises(BlankImageError):
        crop_to_ink(np.zeros((5, 5), np.float32))


# --- fit_20 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "fitted"),
    [
        ((100, 10), (20, 2)),  # a thin '1' stays thin
        ((10, 100), (2, 20)),
        ((40, 60), (13, 20)),  # 40 * 20 / 60 = 13.3
        ((200, 200), (20, 20)),
        ((5, 3), (20, 12)),  # tiny crops are scaled up
        ((1, 1), (20, 20)),
        ((1, 1000), (1, 20)),  # never below one pixel
    ],
)
def test_fit_20_keeps_the_aspect_ratio(shape, fitted):
    out = fit_20(np.ones(shape, np.float32))
    assert out.shape == fitted
    assert out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1


def test_fit_20_antialiases_when_shrinking():
    """A 1-px checkerboard shrunk 10x averages to grey, it does not alias to black or white."""
    checker = (np.indices((200, 200)).sum(axis=0) % 2).astype(np.float32)
    np.testing.assert_allclose(fit_20(checker), 0.5, atol=0.02)


# --- centre_by_mass ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(20, 20), (20, 3), (7, 20), (13, 17)])
def test_centre_by_mass_puts_the_centre_of_mass_within_half_a_pixel_of_14(shape):
    rng = np.random.default_rng(sum(shape))
    digit = rng.random(shape).astype(np.float32)
    field = centre_by_mass(digit)
    assert field.shape == (28, 28) and field.dtype == np.float32
    assert field.sum() == pytest.approx(digit.sum(), rel=1e-6)  # nothing clipped
    cy, cx = centre_of_mass(field)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_centre_by_mass_rounds_the_shift_exactly():
    """A heavy pixel at (9, 11) of a 20x20 box must land exactly on (14, 14)."""
    digit = np.zeros((20, 20), np.float32)
    digit[9, 11] = 1.0
    digit[19, 19] = 1e-9  # keeps the box 20x20 and nearly massless
    field = centre_by_mass(digit)
    assert field[CENTRE] == 1.0


def test_centre_by_mass_clamps_instead_of_clipping_ink():
    """All mass at the top of a 20-tall box: the box is pushed down only as far as row 8."""
    digit = np.zeros((20, 4), np.float32)
    digit[0] = 1.0
    digit[19] = 0.01
    field = centre_by_mass(digit)
    assert field.sum() == pytest.approx(digit.sum())
    assert field[8].sum() == pytest.approx(4.0) and field[27].sum() == pytest.approx(0.04)


def test_centre_by_mass_refuses_a_digit_larger_than_the_field():
    with pytest.raises(ValueError, match="at most 20 x 20"):
        centre_by_mass(np.ones((29, 5), np.float32))


# --- to_mnist ------------------------------------------------------------------------------


def test_to_mnist_returns_an_mnist_vector():
    x = to_mnist(canvas_seven())
    assert x.shape == (784,) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() == 1.0
    assert bounding_box(x.reshape(28, 28)) in {(20, h) for h in range(1, 21)}


@pytest.mark.parametrize("offset", [(-30, -90), (0, 0), (35, 80)])
def test_to_mnist_centres_an_off_centre_blob_by_mass(offset):
    img = Image.new("L", (280, 280), 0)
    cy, cx = 140 + offset[0], 140 + offset[1]
    draw = ImageDraw.Draw(img)
    draw.ellipse((cx - 30, cy - 45, cx + 30, cy + 45), fill=255)
    draw.rectangle((cx - 30, cy - 45, cx - 10, cy), fill=255)  # lopsided on purpose
    x = to_mnist(np.asarray(img))
    my, mx = centre_of_mass(x)
    assert abs(my - 14) <= 0.5 and abs(mx - 14) <= 0.5
    assert bounding_box(x.reshape(28, 28), 0.5)[0] == 20


def test_to_mnist_keeps_a_thin_bar_thin():
    """A 10 wide x 100 tall bar becomes exactly 2 wide x 20 tall, not a 20x20 square."""
    a = np.zeros((280, 280), np.uint8)
    a[50:150, 200:210] = 255
    assert bounding_box(to_mnist(a).reshape(28, 28)) == (20, 2)


def test_to_mnist_same_vector_for_either_polarity():
    light_on_dark = canvas_seven(ink=255, background=0)
    dark_on_light = canvas_seven(ink=0, background=255)
    np.testing.assert_allclose(to_mnist(dark_on_light), to_mnist(light_on_dark), atol=1e-5)


def test_ink_to_mnist_is_to_mnist_without_the_paper_steps():
    """For ink bright on black, the two agree. A piece cut from a page's ink may have ink all
    round its border: ``to_mnist`` takes that for paper and reads the hole inside as the ink;
    ``ink_to_mnist``, told the ink is already bright, keeps the frame."""
    seven = to_grayscale(canvas_seven(ink=255, background=0))
    np.testing.assert_array_equal(ink_to_mnist(seven), to_mnist(seven))
    piece = np.ones((30, 30), np.float32)
    piece[10:20, 10:20] = 0.0  # a square hole in a block of ink
    centre = np.s_[12:16, 12:16]
    assert ink_to_mnist(piece).reshape(28, 28)[centre].max() == 0.0  # the frame round its hole
    assert to_mnist(piece).reshape(28, 28)[centre].min() == 1.0  # the hole, taken for the ink


def test_to_mnist_photo_of_grey_paper_matches_the_clean_drawing():
    rng = np.random.default_rng(0)
    clean = canvas_seven()
    photo = 170 - clean.astype(np.float64) * (140 / 255) + rng.normal(0, 3, clean.shape)
    photo_rgb = np.repeat(np.clip(photo, 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
    assert np.corrcoef(to_mnist(photo_rgb), to_mnist(clean))[0, 1] > 0.98


def test_to_mnist_noisy_photo_matches_the_clean_drawing():
    rng = np.random.default_rng(4)
    clean = canvas_seven()
    photo = 170 - clean * (140 / 255) + rng.normal(0, 8, clean.shape)
    x = to_mnist(np.clip(photo, 0, 255).astype(np.uint8))
    assert np.corrcoef(x, to_mnist(clean))[0, 1] > 0.95


def test_to_mnist_noisy_blank_paper_raises():
    rng = np.random.default_rng(5)
    paper = np.clip(170 + rng.normal(0, 8, (280, 280)), 0, 255).astype(np.uint8)
    with pytest.raises(BlankImageError):
        to_mnist(paper)


@pytest.mark.parametrize("transparent_rgb", [(0, 0, 0), (255, 255, 255)])
def test_to_mnist_canvas_rgba_with_transparent_background(transparent_rgb):
    gray = canvas_seven()
    x = to_mnist(as_canvas_rgba(gray, transparent_rgb))
    np.testing.assert_allclose(x, to_mnist(gray), atol=1e-5)


def test_to_mnist_black_ink_on_transparent_background():
    gray = canvas_seven()
    rgba = np.zeros(gray.shape + (4,), np.uint8)
    rgba[..., 3] = gray  # black strokes, transparent elsewhere
    np.testing.assert_allclose(to_mnist(rgba), to_mnist(gray), atol=1e-5)


def test_to_mnist_ignores_stroke_darkness_and_dtype():
    bold = to_mnist(canvas_seven())
    np.testing.assert_allclose(to_mnist(canvas_seven(ink=90)), bold, atol=2e-2)
    np.testing.assert_allclose(to_mnist(canvas_seven().astype(np.float64)), bold, atol=1e-6)
    np.testing.assert_allclose(to_mnist(canvas_seven() / 255.0), bold, atol=1e-6)
    np.testing.assert_allclose(to_mnist(canvas_seven().astype(np.uint16) * 257), bold, atol=1e-5)
    np.testing.assert_allclose(to_mnist(Image.fromarray(canvas_seven())), bold, atol=0)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((280, 280), np.uint8),
        np.full((280, 280), 255, np.uint8),
        np.full((280, 280, 3), 128, np.uint8),
        np.zeros((280, 280, 4), np.uint8),  # untouched transparent canvas
        np.zeros((1, 1), np.uint8),
        np.ones((1, 1), bool),
    ],
    ids=["black", "white", "grey-rgb", "transparent", "1x1-black", "1x1-ink"],
)
def test_to_mnist_blank_images_raise(image):
    with pytest.raises(BlankImageError, match="no digit found: the image is blank"):
        to_mnist(image)


def test_to_mnist_single_faint_dot_raises():
    a = np.zeros((280, 280), np.uint8)
    a[139:142, 139:142] = 80
    with pytest.raises(BlankImageError):
        to_mnist(a)
    with pytest.raises(BlankImageError):  # the same as a canvas
        to_mnist(as_canvas_rgba(a))


def test_blank_image_error_is_a_value_error():
    assert issubclass(BlankImageError, ValueError)


def _zigzag_to_the_edges() -> np.ndarray:
    """A canvas scribbled over from its top edge to its bottom edge and back, 14 times."""
    im = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(im).line([(x, 0 if i % 2 else 279) for i, x in enumerate(range(0, 281, 20))],
                            fill=(255, 255, 255, 255), width=18, joint="curve")
    return np.asarray(im)


def test_ink_without_a_plain_background_is_no_digit_and_says_so():
    """A texture of blobs on black and white, and a scribble over the whole pad, have no paper
    to tell the ink from: no digit, and not called blank. A blank page still is."""
    from scipy.ndimage import gaussian_filter

    noise = gaussian_filter(np.random.default_rng(0).random((120, 400)), 3)
    blobs = np.where(noise > noise.mean(), 255, 0).astype(np.uint8)
    for image in (blobs, _zigzag_to_the_edges()):
        with pytest.raises(NoBackgroundError, match="^no digit found: no plain background around the ink$"):
            to_mnist(image)
    for blank in (np.full((120, 400), 255, np.uint8), np.zeros((280, 280, 4), np.uint8)):
        with pytest.raises(BlankImageError, match="the image is blank") as caught:
            to_mnist(blank)
        assert not isinstance(caught.value, NoBackgroundError)


IMAGE_DTYPES = st.sampled_from([np.uint8, np.float32, np.bool_])
IMAGE_SHAPES = st.tuples(
    st.integers(1, 64), st.integers(1, 64), st.sampled_from([(), (1,), (3,), (4,)])
).map(lambda t: t[:2] + t[2])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hnp.arrays(IMAGE_DTYPES, IMAGE_SHAPES))
def test_to_mnist_returns_a_valid_vector_or_raises_value_error(image):
    try:
        x = to_mnist(image)
    except ValueError:
        return
    assert x.shape == (784,) and x.dtype == np.float32
    assert np.isfinite(x).all() and x.min() >= 0 and x.max() == 1.0


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 200),
    st.integers(0, 200),
    st.integers(20, 80),
    st.integers(20, 80),
)
def test_to_mnist_centres_any_rectangle(top, left, h, w):
    a = np.zeros((280, 280), np.uint8)
    a[top : top + h, left : left + w] = 255
    field = to_mnist(a).reshape(28, 28)
    cy, cx = centre_of_mass(field)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    assert max(bounding_box(field)) == 20


# --- real MNIST digits ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist_test_images():
    path = MNIST_DIR / "t10k-images-idx3-ubyte.gz"
    assert path.exists(), f"real MNIST not found at {path}"
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)


def test_mnist_digits_sit_where_centre_by_mass_puts_them(mnist_test_images):
    """Pins the convention to the data: every MNIST test digit has its centre of mass within
    0.5 px of CENTRE = (14, 14) in 0-based indices, and its longer side is at most 20 px."""
    X = mnist_test_images.astype(np.float64)  # (10000, 28, 28)
    idx = np.arange(28)
    mass = X.sum(axis=(1, 2))
    cy = X.sum(axis=2) @ idx / mass
    cx = X.sum(axis=1) @ idx / mass
    assert np.all(np.abs(cy - CENTRE[0]) <= 0.5) and np.all(np.abs(cx - CENTRE[1]) <= 0.5)


def test_upscaled_mnist_digits_come_back_as_themselves(mnist_test_images):
    """A real digit, blown up 10x and drawn off-centre on a big canvas, comes back as the
    original (up to the one-pixel rounding of the centring shift)."""
    for digit in mnist_test_images[:40]:
        canvas = np.zeros((400, 400), np.uint8)
        canvas[90:370, 15:295] = np.kron(digit, np.ones((10, 10), np.uint8))  # (280, 280)
        x = to_mnist(canvas)
        original = digit / digit.max()
        assert best_shift_correlation(x, original) > 0.95
        my, mx = centre_of_mass(x)
        assert abs(my - 14) <= 0.5 and abs(mx - 14) <= 0.5


def test_mnist_digits_are_nearly_fixed_points(mnist_test_images):
    for digit in mnist_test_images[40:80]:
        assert best_shift_correlation(to_mnist(digit), digit / digit.max()) > 0.95


# --- load_image ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_load_png_round_trip(tmp_path, mode):
    rng = np.random.default_rng(1)
    channels = {"L": (), "RGB": (3,), "RGBA": (4,)}[mode]
    a = rng.integers(0, 256, (17, 23) + channels, dtype=np.uint8)
    Image.fromarray(a, mode=mode).save(tmp_path / "x.png")
    b = load_image(tmp_path / "x.png")
    assert b.dtype == np.uint8
    np.testing.assert_array_equal(b, a)


def test_load_jpeg_round_trip(tmp_path):
    a = canvas_seven(size=64, width=6)
    Image.fromarray(a).convert("RGB").save(tmp_path / "x.jpg", quality=95)
    b = load_image(str(tmp_path / "x.jpg"))
    assert b.shape == (64, 64, 3) and b.dtype == np.uint8
    assert np.abs(b[..., 0].astype(int) - a).mean() < 4
    assert np.corrcoef(to_mnist(b), to_mnist(a))[0, 1] > 0.98


def test_load_accepts_a_file_object(tmp_path):
    a = canvas_seven(size=32, width=3)
    Image.fromarray(a).save(tmp_path / "x.png")
    with open(tmp_path / "x.png", "rb") as f:
        np.testing.assert_array_equal(load_image(f), a)


def test_load_converts_modes_sensibly(tmp_path):
    a = canvas_seven(size=32, width=3)
    img = Image.fromarray(a)
    img.convert("P").save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png").shape == (32, 32, 3)
    p = img.convert("P")
    p.info["transparency"] = 0
    p.save(tmp_path / "pt.png", transparency=0)
    assert load_image(tmp_path / "pt.png").shape == (32, 32, 4)
    Image.fromarray(np.stack([a, a], -1), mode="LA").save(tmp_path / "la.png")
    assert load_image(tmp_path / "la.png").shape == (32, 32, 4)
    img.convert("1").save(tmp_path / "one.png")
    one = load_image(tmp_path / "one.png")
    assert one.shape == (32, 32) and set(np.unique(one)) <= {0, 255}
    Image.fromarray(a.astype(np.uint16) * 257).save(tmp_path / "i16.png")
    np.testing.assert_array_equal(load_image(tmp_path / "i16.png"), a)
    # 32-bit integer TIFFs with 8-bit values (as some tools write them) are not dimmed 257 times.
    Image.fromarray(a.astype(np.int32), mode="I").save(tmp_path / "i32.tif")
    np.testing.assert_array_equal(load_image(tmp_path / "i32.tif"), a)
    Image.fromarray(a.astype(np.int32) * 257, mode="I").save(tmp_path / "i32-16bit.tif")
    np.testing.assert_array_equal(load_image(tmp_path / "i32-16bit.tif"), a)
    img.convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    assert load_image(tmp_path / "cmyk.jpg").shape == (32, 32, 3)


def test_load_applies_exif_orientation(tmp_path):
    a = np.zeros((20, 40), np.uint8)  # 20 tall, 40 wide, bright left half
    a[:, :20] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display it rotated 90 degrees clockwise
    Image.fromarray(a).save(tmp_path / "r.jpg", exif=exif, quality=95)
    b = load_image(tmp_path / "r.jpg")
    assert b.shape == (40, 20)
    assert b[:15].mean() > 200 and b[25:].mean() < 50  # the left half is now on top


def test_load_text_file_is_a_one_line_value_error(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not\nan image\n")
    with pytest.raises(ValueError, match="cannot read image") as e:
        load_image(path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)


@pytest.mark.parametrize("name", ["missing.png", "."])
def test_load_missing_or_directory_is_a_value_error(tmp_path, name):
    with pytest.raises(ValueError, match="cannot read image"):
        load_image(tmp_path / name)


def test_load_truncated_png_is_a_value_error(tmp_path):
    rng = np.random.default_rng(2)
    Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)).save(tmp_path / "x.png")
    data = (tmp_path / "x.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cannot read image"):
        load_image(tmp_path / "cut.png")


def png_header_only(width, height):
    """A PNG whose header declares width x height 1-bit pixels, with a token of data."""

    def chunk(kind, body):
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("size", [(7_000, 7_000), (20_000, 20_000), (100_000, 100_000)])
def test_load_refuses_decompression_bombs(tmp_path, size):
    """Above MAX_PIXELS (our check) and above Pillow's own limits (its warning and error)."""
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(*size))
    assert path.stat().st_size < 200
    with pytest.raises(ValueError, match="image too large"):
        load_image(path)


def test_load_respects_max_pixels(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((30, 30), np.uint8)).save(tmp_path / "x.png")
    monkeypatch.setattr(preprocess, "MAX_PIXELS", 899)
    with pytest.raises(ValueError, match="image too large: 30 x 30"):
        load_image(tmp_path / "x.png")
    monkeypatch.setattr(preprocess, "MAX_PIXELS", 900)
    assert load_image(tmp_path / "x.png").shape == (30, 30)


def _keyed_palette(digit: np.ndarray, light_background: bool, hidden_rgb: tuple[int, int, int]) -> Image.Image:
    """An MNIST digit as a palette image: index ``i`` is the digit's value ``i``, shown as grey ``i``
    (or ``255 - i`` on light paper); index 0, the background, is the one made transparent and
    holds ``hidden_rgb`` (the ink's own colour, to show that it never counts)."""
    img = Image.fromarray(digit, mode="P")
    greys = [hidden_rgb] + [((255 - i) if light_background else i,) * 3 for i in range(1, 256)]
    img.putpalette([c for rgb in greys for c in rgb])
    return img


def _transparent_forms(digit: np.ndarray, light_background: bool):
    """The same MNIST digit in every form of transparency, its background transparent, and the
    opaque image each must read as. Where a form lets the transparent pixels hold any colour,
    they hold the ink's."""
    bg = 255 if light_background else 0
    values = (255 - digit) if light_background else digit  # (28, 28) uint8
    clear = digit == 0  # the background pixels
    ink = 255 - bg
    alpha = np.where(clear, 0, 255).astype(np.uint8)
    hidden = np.where(clear, ink, values).astype(np.uint8)  # transparent pixels painted like ink
    rgba = np.stack([hidden, hidden, hidden, alpha], -1)
    forms = {
        "RGBA": (Image.fromarray(rgba, mode="RGBA"), {}),
        "LA": (Image.fromarray(np.stack([hidden, alpha], -1), mode="LA"), {}),
        "P tRNS": (_keyed_palette(digit, light_background, (ink,) * 3), {"transparency": 0}),
        "GIF": (_keyed_palette(digit, light_background, (ink,) * 3), {"transparency": 0, "format": "GIF"}),
        "L tRNS": (Image.fromarray(values), {"transparency": bg}),
        "RGB tRNS": (Image.fromarray(np.stack([values] * 3, -1)), {"transparency": (bg,) * 3}),
        "I;16 tRNS": (Image.fromarray(values.astype(np.uint16) * 257), {"transparency": bg * 257}),
    }
    return forms, values


@pytest.mark.parametrize("light_background", [False, True], ids=["dark-paper", "light-paper"])
def test_every_form_of_transparency_reads_as_the_opaque_digit(mnist_test_images, tmp_path, light_background):
    """Transparent pixels are the background whatever their colour: 100 real MNIST digits in each
    form give the same 784-vector as the opaque digit."""
    for k, digit in enumerate(mnist_test_images[:100]):
        forms, plain = _transparent_forms(digit, light_background)
        for name, (img, options) in forms.items():
            path = tmp_path / f"{k}-{name.replace(' ', '_').replace(';', '')}.{options.get('format', 'png').lower()}"
            img.save(path, **options)
            loaded = load_image(path)
            assert loaded.ndim == 3 and loaded.shape[2] == 4 and loaded[..., 3].min() == 0, name
            np.testing.assert_allclose(to_mnist(loaded), to_mnist(plain), atol=1e-6, err_msg=f"digit {k}, {name}")


def test_a_large_image_is_shrunk_in_bands_before_the_float_steps(tmp_path):
    """Above WORK_PIXELS an image is shrunk by a whole factor as it is converted; a transparent
    pixel's colour does not leak into its neighbours while averaging."""
    a = np.zeros((3000, 2000, 4), np.uint8)
    a[..., :3] = 255  # white everywhere, even where transparent
    a[1000:2000, 900:1100, 3] = 255  # an opaque white bar on a transparent background
    Image.fromarray(a, mode="RGBA").save(tmp_path / "big.png")
    loaded = load_image(tmp_path / "big.png")
    assert loaded.shape == (1500, 1000, 4)  # 6 MP shrunk by 2
    bar = loaded[..., 3] == 255
    assert bar.sum() == 500 * 100 and (loaded[bar, :3] == 255).all()
    x = to_mnist(loaded)
    assert x.reshape(28, 28)[14, 14] == 1.0 and x.reshape(28, 28)[14, 3] == 0.0
