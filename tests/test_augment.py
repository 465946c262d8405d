"""Augmentation: shapes and ranges kept, reproducible, exact on known shifts, identity when off."""

import json

import numpy as np
import pytest

from digitnet.augment import Augmenter, transform


def digits(n=16, seed=0):
    """Blobby test images: a bright random rectangle on a dark background, as (n, 784) float32."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 28, 28), np.float32)
    for img in X:
        r, c = rng.integers(4, 14, 2)
        img[r:r + rng.integers(5, 12), c:c + rng.integers(3, 10)] = rng.uniform(0.5, 1.0)
    return X.reshape(n, 784)


@pytest.mark.parametrize("kwargs", [{}, {"elastic_alpha": 34.0, "elastic_sigma": 4.0},
                                    {"shift": 3.0, "rotate": 30.0, "scale": 0.3, "p": 0.5}])
def test_shape_dtype_and_range_are_kept(kwargs):
    X = digits()
    out = Augmenter(**kwargs)(X, np.random.default_rng(0))
    assert out.shape == X.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert out is not X and np.array_equal(X, digits())  # the input is left alone


def test_same_seed_same_images_and_different_seeds_differ():
    X, aug = digits(), Augmenter(elastic_alpha=20.0)
    a = aug(X, np.random.default_rng(5))
    b = aug(X, np.random.default_rng(5))
    c = aug(X, np.random.default_rng(6))
    assert a.tobytes() == b.tobytes()
    assert not np.allclose(a, c)


def test_zero_settings_are_the_identity():
    X = digits()
    np.testing.assert_allclose(Augmenter(0, 0, 0)(X, np.random.default_rng(0)), X, atol=1e-6)
    np.testing.assert_allclose(Augmenter(p=0.0)(X, np.random.default_rng(0)), X, atol=1e-6)


def test_a_shift_of_one_pixel_moves_the_image_by_one_pixel():
    X = digits(4)
    n = len(X)
    images = X.reshape(n, 28, 28)
    right = transform(X, np.tile([1.0, 0.0], (n, 1)), np.zeros(n), np.ones(n)).reshape(n, 28, 28)
    np.testing.assert_allclose(right[:, :, 1:], images[:, :, :-1], atol=1e-6)
    assert np.all(right[:, :, 0] == 0)  # what came in from outside is background
    down = transform(X, np.tile([0.0, 1.0], (n, 1)), np.zeros(n), np.ones(n)).reshape(n, 28, 28)
    np.testing.assert_allclose(down[:, 1:, :], images[:, :-1, :], atol=1e-6)


def test_half_a_pixel_interpolates_and_images_do_not_bleed_into_each_other():
    X = np.zeros((2, 784), np.float32)
    X[0].reshape(28, 28)[:, 27] = 1.0  # a line on the right edge of image 0
    X[1].reshape(28, 28)[0, :] = 1.0  # a line on the top edge of image 1
    out = transform(X, np.array([[0.5, 0.0], [0.0, -0.5]]), np.zeros(2), np.ones(2)).reshape(2, 28, 28)
    np.testing.assert_allclose(out[0, :, 27], 0.5)  # half of it moved off the image
    np.testing.assert_allclose(out[0, :, 26], 0.0)
    np.testing.assert_allclose(out[1, 0, :], 0.5)
    assert out[1, 27].max() == 0 and out[0, 27].max() <= 0.5


def test_rotation_by_90_degrees_and_scaling_about_the_centre():
    X = digits(3)
    images = X.reshape(3, 28, 28)
    turned = transform(X, np.zeros((3, 2)), np.full(3, 90.0), np.ones(3)).reshape(3, 28, 28)
    # Some quarter turn about the centre of the 28 x 28 grid, which maps pixels onto pixels.
    assert any(np.allclose(turned, np.rot90(images, k, axes=(1, 2)), atol=1e-5) for k in (1, 3))
    bigger = transform(X, np.zeros((3, 2)), np.zeros(3), np.full(3, 1.5))
    assert (bigger > 0.25).sum() > 1.5 * (X > 0.25).sum()  # the digit covers more pixels


def test_arguments_are_json_friendly_and_checked():
    aug = Augmenter(shift=1.5, rotate=8, scale=0.05, elastic_alpha=30, elastic_sigma=4, p=0.75)
    again = Augmenter(**json.loads(json.dumps(aug.config())))
    assert again.config() == aug.config()
    for bad in [{"shift": -1}, {"scale": 1.0}, {"elastic_sigma": 0}, {"p": 1.5}, {"rotate": float("nan")}]:
        with pytest.raises(ValueError):
            Augmenter(**bad)
    with pytest.raises(ValueError, match="square"):
        Augmenter()(np.zeros((2, 10), np.float32), np.random.default_rng(0))


def test_stroke_redraw_changes_the_pen_width_and_keeps_the_shape():
    """Redrawn with a fat brush a digit has more ink than with a thin one, in the same place."""
    X = digits(8)
    aug = {r: Augmenter(0, 0, 0, stroke=1.0, radius_min=r, radius_max=r) for r in (0.6, 2.0)}
    thin, fat = (aug[r](X, np.random.default_rng(0)) for r in (0.6, 2.0))
    assert thin.shape == X.shape and thin.dtype == np.float32 and 0 <= thin.min() and fat.max() <= 1
    assert np.all(fat.sum(axis=1) > thin.sum(axis=1))
    assert np.all((thin > 0.5) <= (fat > 0.1))  # the thin pen's strokes lie inside the fat pen's


def test_stroke_probability_zero_leaves_images_alone_and_config_round_trips():
    X = digits()
    aug = Augmenter(0, 0, 0, stroke=0.0, slant=0.0, aspect=0.0)
    np.testing.assert_allclose(aug(X, np.random.default_rng(0)), X, atol=1e-6)
    full = Augmenter(stroke=0.5, radius_min=0.5, radius_max=2.0, slant=0.3, aspect=0.2)
    assert Augmenter(**json.loads(json.dumps(full.config()))).config() == full.config()


def test_a_slant_leans_the_top_right_and_the_bottom_left():
    """``x += k y`` with y growing downwards: a vertical bar sheared by k > 0 leans with its
    bottom to the right."""
    img = np.zeros((1, 28, 28), np.float32)
    img[0, 4:24, 13:15] = 1.0
    out = transform(img.reshape(1, 784), np.zeros((1, 2)), np.zeros(1), np.ones(1),
                    shears=np.array([0.3])).reshape(28, 28)
    top, bottom = out[5], out[22]
    cols = np.arange(28)
    assert (bottom @ cols) / bottom.sum() > (top @ cols) / top.sum() + 3


@pytest.mark.parametrize("bad", [{"stroke": 1.5}, {"radius_min": 0.0}, {"radius_min": 3.0, "radius_max": 2.0},
                                 {"aspect": 1.0}, {"slant": -0.1}])
def test_bad_stroke_settings_are_refused(bad):
    with pytest.raises(ValueError):
        Augmenter(**bad)
