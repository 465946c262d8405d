"""The Train page in a real browser: train a tiny network end to end, then draw on it; a long
training draws its curves within its first epoch, a second session queues behind it, and both stop
cleanly.

Uses the server and browser fixtures of ``test_e2e_browser`` (a real ``streamlit run app.py`` and
headless Chromium). Real MNIST, a 784-32-10 network on 5,000 images for 2 epochs.
"""

from __future__ import annotations

import re

from test_e2e_browser import STROKES, _context, app_url, browser, draw, expect  # noqa: F401 (fixtures)

SHOT = "/tmp/digitnet-train.png"


def _open_train(context, url):
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{url}/train")
    page.get_by_text("Train a network").wait_for()
    return page


def test_train_a_tiny_network_and_draw_on_it(app_url, browser):
    context = _context(browser, viewport={"width": 1400, "height": 1400})
    try:
        page = _open_train(context, app_url)
        page.get_by_role("button", name="Train").click()
        page.get_by_text(re.compile(r"^Done: \d+\.\d\d% on the test set, saved as .*\.npz\.$")).wait_for(
            timeout=240_000)
        page.get_by_text("Cost per mini-batch").wait_for()
        page.get_by_text("First layer, redrawn as it learns", exact=False).wait_for()
        page.screenshot(path=SHOT, full_page=True)
        accuracy = float(re.search(r"Done: (\d+\.\d\d)%", page.get_by_text("Done:").inner_text()).group(1))
        assert accuracy > 85
        page.get_by_role("button", name="Draw with this model").click()
        page.get_by_text("A fully connected network: 2 dense layers;", exact=False).wait_for()
        draw(page, STROKES[1])
        page.wait_for_function("() => [...document.querySelectorAll('h3')]"
                               ".some(h => /^Prediction: \\d$/.test(h.innerText.trim()))")
        assert page.get_by_text("Traceback").count() == 0
    finally:
        context.close()


def test_one_training_at_a_time_the_next_waits_and_stop_works(app_url, browser):
    context = _context(browser, viewport={"width": 1400, "height": 1400})
    try:
        first, second = _open_train(context, app_url), _open_train(context, app_url)
        first.get_by_label("Epochs").fill("50")
        first.get_by_label("Batch size").fill("1")  # 50,000 steps an epoch: many seconds, even on a fast machine
        first.get_by_label("Training images (0: all 50,000)").fill("0")
        first.get_by_role("button", name="Train").click()
        # The curves and a validation slice are on the page while it still says epoch 1.
        first.wait_for_function("() => { const t = document.body.innerText;"
                                " return /Epoch 1 of 50, mini-batch/.test(t) && t.includes('Cost per mini-batch')"
                                " && t.includes('Validation accuracy'); }")
        second.get_by_role("button", name="Train").click()
        second.get_by_text("yours is number 1 in the queue", exact=False).wait_for()
        second.get_by_role("button", name="Stop").click()
        first.get_by_role("button", name="Stop").click()
        first.get_by_text("Stopped before the first epoch ended: no model saved.").wait_for()
        second.get_by_text("Stopped before it started: no model saved.").wait_for()
    finally:
        context.close()
