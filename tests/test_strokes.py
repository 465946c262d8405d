"""Stroke geometry and stroke-width normalisation: skeletons one pixel wide, widths measured from
the distance transform, redrawn strokes of the asked width, MNIST digits left alone."""

import numpy as np
import pytest
from scipy.ndimage import zoom

from digitnet.data import load_dataset
from digitnet.preprocess import FAT_TARGET, STROKE_RANGE, STROKE_SIDE, crop_to_ink, normalise_stroke_width, to_mnist
from digitnet.strokes import redraw_digits, removable, render, skeleton, stroke_width


def zoom_to_side(crop: np.ndarray) -> np.ndarray:
    """``crop`` enlarged so its long side is ``STROKE_SIDE`` px, where stroke widths are measured."""
    return np.clip(zoom(crop, STROKE_SIDE / max(crop.shape), order=1), 0.0, 1.0)


def bar(width: int, length: int = 60, side: int = 80) -> np.ndarray:
    """A horizontal bar ``width`` px thick on a dark square."""
    img = np.zeros((side, side), np.float32)
    top = side // 2 - width // 2
    img[top:top + width, 10:10 + length] = 1.0
    return img


@pytest.mark.parametrize("width", [3, 7, 12])
def test_the_skeleton_of_a_bar_is_one_pixel_thick_and_its_width_is_measured(width):
    skel = skeleton(bar(width) > 0.5)
    assert skel.any() and skel.sum(axis=0).max() == 1  # one pixel per column
    assert stroke_width(bar(width)) == pytest.approx(width, abs=1.0)


def test_a_stroke_cut_by_the_image_edge_ends_there():
    """A crop holds its ink edge to edge: a bar that fills its image is as wide as it is."""
    assert stroke_width(np.ones((100, 10), np.float32)) == pytest.approx(10, abs=1.0)


def test_skeletons_of_a_batch_are_the_skeletons_of_each_image():
    batch = np.stack([bar(3), bar(9), np.zeros((80, 80), np.float32)]) > 0.5
    together = skeleton(batch)
    for image, skel in zip(batch, together):
        np.testing.assert_array_equal(skeleton(image), skel)


def zhang_suen(mask: np.ndarray) -> np.ndarray:
    """The textbook loop: each sub-pass applies the rule to every pixel of the image at once."""
    P = np.pad(mask, 1).astype(np.uint8)  # (h + 2, w + 2)
    removed = True
    while removed:
        removed = False
        for sub in (0, 1):
            p = [P[:-2, 1:-1], P[:-2, 2:], P[1:-1, 2:], P[2:, 2:], P[2:, 1:-1], P[2:, :-2], P[1:-1, :-2], P[:-2, :-2]]
            drop = (P[1:-1, 1:-1] == 1) & removable(p, sub)  # (h, w)
            if drop.any():
                P[1:-1, 1:-1][drop] = 0
                removed = True
    return P[1:-1, 1:-1].astype(bool)


def test_the_skeleton_of_looked_up_neighbourhoods_is_the_textbook_one(mnist_dir):
    """The lookup table over the ink pixels thins exactly as the rule applied to the whole image:
    enlarged MNIST digits (loops, crossings, fat and thin strokes) and random blobs."""
    digits = load_dataset("mnist", mnist_dir, validation=0).test.X[:40].reshape(-1, 28, 28)
    masks = [zoom(d, 3, order=1) > t for d, t in zip(digits, np.linspace(0.1, 0.9, 40))]
    rng = np.random.default_rng(0)
    masks += [zoom(rng.random((12, 15)), 6, order=1) > 0.6 for _ in range(20)]
    for mask in masks:
        np.testing.assert_array_equal(skeleton(mask), zhang_suen(mask))


def test_render_draws_the_asked_radius_and_blank_stays_blank():
    skel = np.zeros((2, 40, 40), bool)
    skel[0, 20, 10:30] = True
    out = render(skel, np.array([3.0, 3.0]))
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    assert stroke_width(out[0]) == pytest.approx(6.0, abs=1.0)  # about 2 r: the edge at r is half ink
    assert not out[1].any()


def test_mnist_digits_are_left_alone_and_hairlines_and_blobs_are_brought_in_range(mnist_dir):
    """MNIST's boldest digits measure as fat as a fat brush, but their ink is grey (``SOLID_INK``):
    they are left as they are, like every other MNIST digit."""
    test = load_dataset("mnist", mnist_dir, validation=0).test
    digits = test.X[:300].reshape(-1, 28, 28)
    crops = [crop_to_ink(d) for d in digits]
    bold = [c for c in crops if stroke_width(zoom_to_side(c)) / STROKE_SIDE > STROKE_RANGE[1]]
    assert len(bold) >= 3
    for crop in crops:
        assert normalise_stroke_width(crop) is crop
    hairline, blob = redraw_digits(digits[:2], np.array([0.01, 0.5]))
    for drawn in (hairline, blob):
        redrawn = normalise_stroke_width(crop_to_ink(drawn))
        width = stroke_width(redrawn) / max(redrawn.shape)
        assert STROKE_RANGE[0] <= width <= STROKE_RANGE[1], width


def test_a_fat_stroke_is_worn_down_from_its_outline_not_redrawn_from_its_skeleton():
    """An 8 whose loops a fat brush has filled, two touching discs: its skeleton is a line down
    the middle (a "1"); worn down from the outline it keeps two round lobes and the waist between."""
    yy, xx = np.mgrid[:120, :80]
    eight = ((np.hypot(yy - 32, xx - 40) < 27) | (np.hypot(yy - 86, xx - 40) < 30)).astype(np.float32)
    worn = normalise_stroke_width(crop_to_ink(eight))
    h, w = worn.shape
    assert stroke_width(worn) / max(h, w) == pytest.approx(FAT_TARGET, abs=0.03)  # worn down
    assert w > 0.45 * h  # round lobes (the drawing is 0.52 as wide as high), not a line
    ink = (worn > 0.5).sum(axis=1)  # (h,) ink per row
    lobe_top, waist, lobe_bottom = ink[: h // 3].max(), ink[h // 3: h // 2 + 2].min(), ink[h // 2:].max()
    assert waist < 0.7 * min(lobe_top, lobe_bottom)


def test_a_small_digit_drawn_with_a_fat_brush_reads_like_the_original(mnist_dir):
    """Digits drawn with a brush 45 % of their height, their loops filled: read from the worn-down
    outline, the shipped model reads most of them (95 % of 1 000 validation digits; redrawn from
    their skeletons instead, 62 %)."""
    from digitnet.models import default_model_path
    from digitnet.persistence import load_model

    net, _ = load_model(default_model_path())
    test = load_dataset("mnist", mnist_dir, validation=0).test
    drawn = redraw_digits(test.X[:200].reshape(-1, 28, 28), np.full(200, 0.45))  # (200, 152, 152)
    X = np.stack([to_mnist(d) for d in drawn])
    assert np.mean(net.predict(X) == test.y[:200]) >= 0.88


def test_a_hairline_digit_reads_like_the_original(mnist_dir):
    """A digit drawn with a 1 px pen on a big canvas becomes an MNIST-like field: the shipped
    model reads most of them as it reads the originals."""
    from digitnet.models import default_model_path
    from digitnet.persistence import load_model

    net, _ = load_model(default_model_path())
    test = load_dataset("mnist", mnist_dir, validation=0).test
    drawn = redraw_digits(test.X[:100].reshape(-1, 28, 28), np.full(100, 0.02))  # (100, 152, 152)
    X = np.stack([to_mnist(d) for d in drawn])
    assert np.mean(net.predict(X) == test.y[:100]) >= 0.95
    assert STROKE_SIDE == 112
