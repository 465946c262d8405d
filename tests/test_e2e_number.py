"""Number mode in a real browser: headless Chromium writes numbers on the wide pad with the mouse
and a finger, and reads the number, the parts' boxes and the parts refused as not a digit.

Uses the server, browser and context helpers of ``test_e2e_browser`` (Debian's ``chromium`` and
the ``playwright`` package; without them the tests fail rather than skip). Digits are the strokes
of ``test_e2e_browser.STROKES`` (drawn in a 280-unit square), shrunk and laid side by side on
the pad's 840 x 280 canvas units.
"""

from __future__ import annotations

import time

import pytest

from digitnet.app import number
from test_e2e_browser import PHONE, SHOTS, STROKES, _context, app_url, browser, finger  # noqa: F401 (fixtures)

NUMBER_PAD = "canvas[aria-label='drawing canvas: write a number']"
VALUE = "[data-testid='stMetricValue']"
# A small x, a times sign, which the shipped model refuses as not a digit, alone or between digits.
CROSS = [[(80, 120), (200, 240)], [(200, 120), (80, 240)]]


def written(*shapes, step: float = 280, scale: float = 0.8) -> list:
    """Shapes drawn in a 280-unit square, shrunk to ``scale`` and put side by side ``step`` units
    apart on the number pad."""
    return [[(140 + (x - 140) * scale + step * i, 140 + (y - 140) * scale) for x, y in stroke]
            for i, shape in enumerate(shapes) for stroke in shape]


@pytest.fixture(scope="module")
def page(app_url, browser):  # noqa: F811
    context = _context(browser, viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(app_url)
        switch(page, number.NUMBER)
        yield page
    finally:
        context.close()


def switch(page, mode: str) -> None:
    page.locator("[data-testid=stButtonGroup]").get_by_text(mode, exact=True).click()
    if mode == number.NUMBER:
        page.locator(NUMBER_PAD).wait_for(state="visible")


def write(page, strokes) -> None:
    """Draw ``strokes`` (canvas units of the number pad) with the mouse."""
    box = page.locator(NUMBER_PAD).bounding_box()
    k = box["width"] / number.WIDTH
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0] * k, box["y"] + stroke[0][1] * k)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * k, box["y"] + y * k, steps=2)
        page.mouse.up()


def expect_number(page, value: str) -> None:
    page.wait_for_function(f"() => [...document.querySelectorAll({VALUE!r})]"
                           f".some(e => e.innerText.trim() === {value!r})")


def expect_heading(page, text: str) -> None:
    page.wait_for_function(f"() => [...document.querySelectorAll('h3')].some(h => h.innerText.trim() === {text!r})")


COUNT = ("(c, rgb) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;"
         " for (let i = 0; i < d.length; i += 4) { if (Math.abs(d[i] - rgb[0]) < 40"
         " && Math.abs(d[i + 1] - rgb[1]) < 40 && Math.abs(d[i + 2] - rgb[2]) < 40) { n++; } } return n; }")


def coloured(page, colour: str) -> int:
    """How many of the pad's pixels are ``colour`` (``#rrggbb``, within 40 per channel)."""
    return page.locator(NUMBER_PAD).evaluate(COUNT, [int(colour[i:i + 2], 16) for i in (1, 3, 5)])


def expect_coloured(page, colour: str, seconds: float = 10) -> None:
    """Wait until the pad shows some pixels of ``colour`` (a box drawn over the strokes)."""
    deadline = time.monotonic() + seconds
    while coloured(page, colour) == 0:
        assert time.monotonic() < deadline, f"no {colour} box on the pad"
        page.wait_for_timeout(100)


def button(page, name: str):
    """The number pad's own ``name`` button: while the page is replaced after a switch of mode, the
    digit pad, with buttons of the same names, may still be there beside it."""
    return page.locator(".pad", has=page.locator(NUMBER_PAD)).locator("button", has_text=name)


def clear(page) -> None:
    button(page, "Clear").click()
    expect_heading(page, "Number: none")


def test_a_written_number_is_read_with_a_box_on_each_digit(page):
    expect_heading(page, "Number: none")
    assert page.get_by_text("Write a number", exact=True).count() == 1
    write(page, written(STROKES[7], STROKES[0], STROKES[4], STROKES[1], step=210, scale=0.75))
    try:
        expect_number(page, "7041")
        expect_coloured(page, number.COLOURS["digit"])
    finally:
        page.screenshot(path=str(SHOTS / "digitnet-number.png"), full_page=True)
    page.get_by_text("Left to right:", exact=False).wait_for()
    assert page.locator(VALUE).first.bounding_box()["height"] >= 40  # the number in large type
    button(page, "Undo").click()
    expect_number(page, "704")
    clear(page)
    assert coloured(page, number.COLOURS["digit"]) == 0  # the boxes went with the strokes


def test_a_part_that_is_not_a_digit_is_marked_and_left_out(page):
    write(page, written(STROKES[1], CROSS, STROKES[7]))
    try:
        expect_number(page, "17")
    finally:
        page.screenshot(path=str(SHOTS / "digitnet-number-refused.png"), full_page=True)
    page.get_by_text("1 part not a digit (dashed red box): left out of the number.").wait_for()
    expect_coloured(page, number.COLOURS["refused"])
    clear(page)


TWO_TWOS = [[(10, 90), (40, 50), (90, 50), (110, 90), (100, 140), (10, 240), (120, 240),
             (170, 90), (200, 50), (250, 50), (270, 90), (260, 140), (170, 240), (280, 240)]]
"""A "22" written without lifting the pen: the first 2's foot runs on into the second's top."""


def test_two_digits_written_without_lifting_the_pen_are_read(page):
    """One stroke that writes "22" is split in two (``segment.split_strokes``): two digits, a box
    on each."""
    write(page, written(TWO_TWOS))
    try:
        expect_number(page, "22")
    finally:
        page.screenshot(path=str(SHOTS / "digitnet-number-one-stroke.png"), full_page=True)
    page.get_by_text("Left to right:", exact=False).wait_for()
    expect_coloured(page, number.COLOURS["digit"])
    assert page.get_by_text("not a digit (dashed red box)", exact=False).count() == 0
    clear(page)


def test_switching_modes_keeps_each_drawing(page):
    write(page, written(STROKES[4], STROKES[1]))
    expect_number(page, "41")
    switch(page, number.DIGIT)
    expect_heading(page, "Prediction: none")
    page.locator(NUMBER_PAD).wait_for(state="detached")  # a busy server may still be replacing the page
    page.get_by_text("Draw a digit", exact=True).wait_for()
    switch(page, number.NUMBER)
    expect_number(page, "41")
    clear(page)


def test_phone_writes_a_number_with_a_finger(app_url, browser):  # noqa: F811
    """390 x 844: the wide pad fits the screen, a finger writes 1 and 7, the number is in view."""
    context = _context(browser, **PHONE)
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(app_url)
        page.locator("[data-testid=stButtonGroup]").get_by_text(number.NUMBER, exact=True).tap()
        canvas = page.locator(NUMBER_PAD)
        canvas.wait_for(state="visible")
        box = canvas.bounding_box()
        assert box["width"] >= 330 and box["x"] + box["width"] <= 390
        finger(context, page, box, written(STROKES[1], STROKES[7]), number.WIDTH)
        try:
            expect_number(page, "17")
        finally:
            page.screenshot(path=str(SHOTS / "digitnet-number-phone.png"))
        seen = page.locator(VALUE).first.bounding_box()
        assert seen["y"] + seen["height"] <= 844, "the number is below the fold"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the screen
    finally:
        context.close()
