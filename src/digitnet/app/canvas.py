"""The drawing pad: a plain ``<canvas>`` in the page, strokes kept as points, Undo and Clear.

A Streamlit v2 component (inline JavaScript, no iframe, nothing fetched at run time). The browser
draws and keeps the strokes; on each pen-up it sends them to Python as lists of ``[x, y]`` points
in canvas units (0 to ``SIDE``), and Python paints them again with :func:`rasterize`. So the
canvas is drawable from the moment it appears, a stroke may start anywhere on it (no toolbar lies
over it), Clear and Undo change the strokes in place (no second canvas is mounted), and what
travels to the server is a few hundred numbers instead of an image. Python paints the strokes
with a pen in proportion to the drawing (:func:`reading_pen`), so that a digit drawn small is
read as its pen path, not as the blob the pad's fixed pen makes of it.

Pointer events cover the mouse, a pen and a finger alike; ``touch-action: none`` keeps the page
from scrolling while a finger draws. The canvas fills its column (up to ``MAX_CSS_PX``), so on a
phone it is as wide as the screen; the points are scaled back to canvas units before they leave.

A pad may be wider than it is tall (``width`` canvas units by ``SIDE``, for a number), and may
show boxes with a label over the strokes (``marks``, the parts of a reading). Marks belong to one
drawing: the pad shows them only while its strokes are the ones they were computed for, and hides
them at the next pen-down, Undo or Clear.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from PIL import Image, ImageDraw

SIDE = 280
"""Canvas units per side: the RGBA image Python rebuilds is ``(SIDE, SIDE, 4)``."""

PEN = 18
"""Pen width in canvas units (MNIST strokes are about a tenth of the digit box)."""

READ_PEN = (0.06, 0.2)
"""The pen the model reads a drawing with, as shares of the drawing's size (the longer side of its
strokes' centre lines; the height, for a number): the pad's pen clamped into this range. The pad
draws every stroke ``PEN`` wide, which fills the loops of a digit drawn small (any loop under 18
units across) and is a hairline on one drawn very large; MNIST's strokes are about 0.12 of the
digit's size."""

MAX_CSS_PX = 340
"""The largest side the canvas takes on screen, in CSS pixels."""

_JS = """
export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const side = data.side, wide = data.width, pen = data.pen;
  const mounted = parentElement.querySelector(".pad");
  if (mounted) { mounted.show(data.marks); return; }  // mounted already: the strokes live here

  const box = document.createElement("div");
  box.className = "pad";
  const canvas = document.createElement("canvas");
  canvas.setAttribute("aria-label", data.label);
  canvas.style.aspectRatio = wide + " / " + side;
  box.style.maxWidth = data.max_css + "px";
  canvas.setAttribute("role", "img");
  const bar = document.createElement("div");
  bar.className = "bar";
  const undo = document.createElement("button");
  undo.textContent = "Undo";
  const clear = document.createElement("button");
  clear.textContent = "Clear";
  bar.append(undo, clear);
  box.append(canvas, bar);
  parentElement.appendChild(box);

  const ctx = canvas.getContext("2d");
  let strokes = Array.isArray(data.strokes) ? data.strokes : [];
  let current = null;
  let marks = data.marks;

  function scale() { return canvas.width / wide; }
  function paint() {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.strokeStyle = "#fff"; ctx.fillStyle = "#fff";
    ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.lineWidth = pen * scale();
    for (const s of strokes.concat(current ? [current] : [])) { line(s, 0); }
    if (!current && marks && marks.boxes.length && marks.strokes === strokes.length
        && marks.points === strokes.reduce((n, s) => n + s.length, 0)) { label(marks.boxes); }
    buttons();
  }
  function label(boxes) {  // each part's box, and its label above it (below, or inside, at the edges)
    const k = scale(), dpr = window.devicePixelRatio || 1, size = Math.max(13 * dpr, 22 * k);
    ctx.save();
    ctx.font = "600 " + size + "px sans-serif"; ctx.textBaseline = "middle";
    ctx.lineWidth = Math.max(2 * dpr, 3 * k);
    for (const m of boxes) {
      const [x0, y0, x1, y1] = m.box.map((v) => v * k), h = size * 1.3;
      const w = ctx.measureText(m.text).width + size * 0.6;
      ctx.strokeStyle = ctx.fillStyle = m.colour;
      ctx.setLineDash(m.dashed ? [6 * dpr, 4 * dpr] : []);
      ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
      const top = y0 >= h ? y0 - h : (y1 + h <= canvas.height ? y1 : y0);
      const left = Math.min(Math.max(x0, 0), canvas.width - w);
      ctx.fillRect(left, top, w, h);
      ctx.fillStyle = "#000";
      ctx.fillText(m.text, left + size * 0.3, top + h / 2);
    }
    ctx.restore();
  }
  function line(s, from) {
    const k = scale();
    if (s.length === 1) {
      ctx.beginPath(); ctx.arc(s[0][0] * k, s[0][1] * k, pen * k / 2, 0, 2 * Math.PI); ctx.fill(); return;
    }
    ctx.beginPath();
    const a = s[Math.max(from - 1, 0)];
    ctx.moveTo(a[0] * k, a[1] * k);
    for (let i = Math.max(from, 1); i < s.length; i++) { ctx.lineTo(s[i][0] * k, s[i][1] * k); }
    ctx.stroke();
  }
  function buttons() { undo.disabled = clear.disabled = strokes.length === 0 && !current; }
  function fit() {
    const css = canvas.getBoundingClientRect().width || side;
    const px = Math.round(css * (window.devicePixelRatio || 1));
    if (px !== canvas.width) { canvas.width = px; canvas.height = Math.round(px * side / wide); paint(); }
  }
  function point(e) {
    const r = canvas.getBoundingClientRect();
    const k = wide / r.width;
    return [Math.round((e.clientX - r.left) * k * 10) / 10, Math.round((e.clientY - r.top) * k * 10) / 10];
  }
  function send() { setStateValue("strokes", strokes); }

  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== undefined && e.button > 0) { return; }
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    current = [point(e)];
    if (marks) { marks = null; paint(); return; }  // a new stroke: the boxes of the last reading go
    ctx.lineWidth = pen * scale();
    line(current, 0);
    buttons();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!current) { return; }
    e.preventDefault();
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    const from = current.length;
    for (const ev of (events.length ? events : [e])) { current.push(point(ev)); }
    line(current, from);
  });
  function end(e) {
    if (!current) { return; }
    strokes = strokes.concat([current]);
    current = null;
    buttons();
    send();
  }
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  undo.addEventListener("click", () => { strokes = strokes.slice(0, -1); paint(); send(); });
  clear.addEventListener("click", () => { strokes = []; paint(); send(); });

  box.show = (m) => { if (m || marks) { marks = m; paint(); } };
  const watch = new ResizeObserver(fit);
  watch.observe(canvas);
  fit();
  paint();
  return () => watch.disconnect();
}
"""

_CSS = f"""
.pad {{ width: 100%; margin: 0 auto; }}
.pad canvas {{ display: block; width: 100%; touch-action: none; cursor: crosshair;
  border-radius: 0.5rem; background: #000; user-select: none; -webkit-user-select: none; }}
.bar {{ display: flex; gap: 0.5rem; margin-top: 0.5rem; }}
.bar button {{ flex: 1; font: inherit; font-size: 0.95rem; padding: 0.4rem 0.75rem; border-radius: 0.5rem;
  border: 1px solid rgba(49, 51, 63, 0.2); background: var(--st-background-color, #fff);
  color: var(--st-text-color, #31333f); cursor: pointer; min-height: 2.5rem; }}
.bar button:hover:enabled {{ border-color: var(--st-primary-color, #ff4b4b); color: var(--st-primary-color, #ff4b4b); }}
.bar button:disabled {{ opacity: 0.45; cursor: default; }}
"""

_component: Any = None


def _mount() -> Any:
    """Register the component once per process (Streamlit warns on a second registration)."""
    global _component
    if _component is None:
        import streamlit as st

        _component = st.components.v2.component("digitnet_pad", js=_JS, css=_CSS)
    return _component


def pad(key: str, strokes: Sequence[Sequence[Sequence[float]]] = (), width: int = SIDE, max_css: int = MAX_CSS_PX,
        label: str = "drawing canvas: draw one digit", marks: dict[str, Any] | None = None) -> list[list[list[float]]]:
    """Show the drawing pad and return its strokes (``[]`` until something is drawn).

    ``strokes`` redraws a pad that was unmounted meanwhile (the input switched to Upload and back);
    a mounted pad keeps its own. The pad is ``width`` canvas units wide and ``SIDE`` tall, at most
    ``max_css`` CSS pixels wide; ``label`` is its accessible name. ``marks`` are boxes to draw over
    the strokes: ``{"strokes": n, "points": m, "boxes": [{"box": [x0, y0, x1, y1], "text": str,
    "colour": css, "dashed": bool}, ...]}``, shown while the pad holds ``n`` strokes of ``m`` points.
    """
    data = {"side": SIDE, "width": width, "max_css": max_css, "label": label, "pen": PEN,
            "strokes": list(strokes), "marks": marks}
    result = _mount()(key=key, data=data, default={"strokes": []}, on_strokes_change=lambda: None)
    return clean(getattr(result, "strokes", None))


def clean(value: Any) -> list[list[list[float]]]:
    """The strokes the browser sent, with anything that is not a list of ``[x, y]`` numbers dropped."""
    strokes = []
    for stroke in value if isinstance(value, list) else []:
        points = [[float(p[0]), float(p[1])] for p in stroke if isinstance(stroke, list)
                  and isinstance(p, list) and len(p) == 2 and all(isinstance(v, (int, float)) for v in p)]
        if points:
            strokes.append(points)
    return strokes


def extent(strokes: Sequence[Sequence[Sequence[float]]]) -> tuple[float, float]:
    """The width and height of the strokes' centre lines, in canvas units (0 for one point)."""
    points = np.array([p for stroke in strokes for p in stroke], np.float64).reshape(-1, 2)  # (n, 2) x, y
    if not len(points):
        return 0.0, 0.0
    width, height = np.ptp(points, axis=0)
    return float(width), float(height)


def reading_pen(size: float) -> float:
    """The pen width to read a drawing ``size`` canvas units across with: ``PEN`` within
    :data:`READ_PEN` of the size, else the nearer end of that range (at least 1)."""
    low, high = READ_PEN
    return max(1.0, min(max(float(PEN), low * size), high * size))


def _paint(strokes: Sequence[Sequence[Sequence[float]]], width: int, pen: float, mode: str,
           fills: Sequence[int]) -> np.ndarray:
    """Each stroke painted ``pen`` wide with round ends and joints, in its ``fills`` value, over
    the ones before it; ``(SIDE, width)``."""
    image = Image.new(mode, (width, SIDE), 0)
    draw = ImageDraw.Draw(image)
    r = pen / 2
    for stroke, fill in zip(strokes, fills):
        points = [(float(x), float(y)) for x, y in stroke]
        if len(points) > 1:
            draw.line(points, fill=fill, width=max(1, round(pen)), joint="curve")
        for x, y in (points[0], points[-1]):  # round caps
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
    return np.asarray(image)  # (SIDE, width)


def rasterize(strokes: Sequence[Sequence[Sequence[float]]], width: int = SIDE, pen: float = PEN) -> np.ndarray:
    """Paint strokes white on black, ``pen`` wide with round ends and joints (``PEN``: as the
    canvas shows them); ``(SIDE, width, 4)`` RGBA ``uint8`` (one canvas unit per pixel)."""
    grey = _paint(strokes, width, pen, "L", [255] * len(strokes))  # (SIDE, width)
    alpha = np.full_like(grey, 255)
    return np.stack([grey, grey, grey, alpha], axis=-1)  # (SIDE, width, 4)


def stroke_ids(strokes: Sequence[Sequence[Sequence[float]]], width: int = SIDE, pen: float = PEN,
               ids: Sequence[int] | None = None) -> np.ndarray:
    """Which stroke painted each pixel of :func:`rasterize`'s image, ``(SIDE, width)`` int32: 1 for
    the first stroke, 2 for the second, ... (or ``ids[k]`` for stroke ``k``: dots that draw one
    pen path share one), 0 where none did; where strokes cross, the later one."""
    fills = list(ids) if ids is not None else range(1, len(strokes) + 1)
    return _paint(strokes, width, pen, "I", fills).astype(np.int32)  # (SIDE, width)
