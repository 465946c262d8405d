"""Pictures of the network thinking about one drawing: every layer, lit by what it computes.

For a network of dense layers, :func:`neuron_diagram` draws the units layer by layer as
circles, brighter the more active, with the edges between them coloured by weight times
activation (what each unit sends the next: red excites, blue inhibits), up to the output layer.
For a convolutional network, :func:`feature_maps` shows each activation layer's channels at one
readable size on a common colour scale, with that scale drawn under them. :func:`inside_views`
picks the pictures for a network; each comes with a one-line caption that says what it shows.

Pictures are ``uint8`` RGB arrays, drawn with Pillow; colours come from :mod:`.views` (``heat``
for activity, ``diverging`` for signed quantities).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..nn.network import Network
from .views import diverging, heat, percent, tile, to_grey_image

MAX_UNITS = 32
"""A layer with more units than this shows its most active ``MAX_UNITS``."""
MAP_PX = 56
"""Side of every feature map on screen, whatever its size in the network."""
MAPS_PER_ROW = 16

_ROW = 20  # vertical distance between units in the diagram, pixels
_GAP = 190  # horizontal distance between layers
_R = 7  # unit radius
_BG = (255, 255, 255)
_INK = (49, 51, 63)


@dataclass(frozen=True)
class Picture:
    title: str
    image: np.ndarray
    caption: str


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _is_dense(net: Network) -> bool:
    return all(len(layer.params.get("W", np.zeros((1, 1))).shape) == 2 for layer in net.layers)


def _columns(net: Network, x: np.ndarray, outputs: list[np.ndarray]) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    """``(name, values, W)`` per layer of units: the input, each dense layer after its activation,
    and the output; ``W`` is the weight matrix from the layer before (None for the input)."""
    dense = [i for i, layer in enumerate(net.layers) if "W" in layer.params]
    columns: list[tuple[str, np.ndarray, np.ndarray | None]] = [("input", x.reshape(-1), None)]
    for k, i in enumerate(dense):
        last = dense[k + 1] - 1 if k + 1 < len(dense) else len(net.layers) - 1
        values = outputs[last][0].reshape(-1)  # (units,): what the next dense layer receives
        if k + 1 == len(dense):
            values = net.to_proba(outputs[-1])[0]  # (10,): the answer as the bars show it
        name = "output" if k + 1 == len(dense) else f"hidden {k + 1} ({net.layers[last].nonlinearity or 'linear'})"
        columns.append((name, values, net.layers[i].params["W"]))
    return columns


def neuron_diagram(net: Network, x: np.ndarray, outputs: list[np.ndarray]) -> Picture:
    """The units of a dense network for input ``x (784,)``, ``outputs = net.trace(x[None])``."""
    columns = _columns(net, x, outputs)
    shown = []  # per column: indices of the units drawn
    notes = []
    for name, values, _ in columns[1:]:
        if values.size <= MAX_UNITS:
            shown.append(np.arange(values.size))
        else:
            shown.append(np.sort(np.argsort(-values, kind="stable")[:MAX_UNITS]))  # the most active
            notes.append(f"{name}: the {MAX_UNITS} most active of {values.size} units")
    height = _ROW * max(len(s) for s in shown) + 60
    width = _GAP * len(shown) + 140
    img = Image.new("RGB", (width, height), _BG)
    draw = ImageDraw.Draw(img)
    small = _font(12)

    def centre(col: int, k: int) -> tuple[float, float]:
        n = len(shown[col])
        return 140 + _GAP * col + _R, 40 + (height - 60) / 2 + (k - (n - 1) / 2) * _ROW

    digit = Image.fromarray(to_grey_image(x, 4))  # (112, 112)
    img.paste(digit, (8, (height - 112) // 2 + 10))
    draw.text((8, (height - 112) // 2 - 8), "input 28 x 28", fill=_INK, font=small)
    for col in range(1, len(shown)):  # edges: what each shown unit sends each shown unit of the next layer
        a = columns[col][1][shown[col - 1]]  # (n,)
        W = columns[col + 1][2][np.ix_(shown[col - 1], shown[col])]  # (n, m)
        flow = a[:, None] * W  # (n, m): weight times activation
        scale = float(np.abs(flow).max()) or 1.0
        order = np.argsort(np.abs(flow), axis=None)  # the strongest drawn last, on top
        colours = diverging(flow, scale)  # (n, m, 3)
        for flat in order:
            i, j = divmod(int(flat), flow.shape[1])
            t = abs(flow[i, j]) / scale
            if t < 0.05:
                continue
            c = tuple(int(255 - (255 - v) * t) for v in _lift(colours[i, j]))  # faint edges fade to white
            draw.line([centre(col - 1, i), centre(col, j)], fill=c, width=1 + int(2 * t))
    for col, (name, values, _) in enumerate(columns[1:]):
        peak = float(values.max()) if values.max() > 0 else 1.0
        fills = heat(values[shown[col]] / peak)  # (n, 3)
        for k, unit in enumerate(shown[col]):
            cx, cy = centre(col, k)
            draw.ellipse((cx - _R, cy - _R, cx + _R, cy + _R), fill=tuple(int(v) for v in fills[k]), outline=_INK)
            if name == "output":
                draw.text((cx + _R + 6, cy - 7), f"{unit}  {percent(values[unit])}", fill=_INK, font=small)
        draw.text((centre(col, 0)[0] - 30, 8), name, fill=_INK, font=small)
    caption = ("Each circle is a unit, brighter the more active for this drawing (the input reaches every unit "
               "of the first layer); each line is what one unit sends the next, weight times activation: red "
               "excites, blue inhibits, faint lines left out")
    if notes:
        caption += ". " + "; ".join(notes)
    return Picture("The neurons, layer by layer", np.asarray(img), caption)


def _lift(rgb: np.ndarray) -> tuple[int, int, int]:
    """The diverging map's colour brightened so that lines stay readable on white (its zero is black)."""
    r, g, b = (int(v) for v in rgb)
    peak = max(r, g, b, 1)
    return tuple(min(255, int(v * 255 / peak)) for v in (r, g, b))  # type: ignore[return-value]


def feature_maps(net: Network, outputs: list[np.ndarray]) -> list[Picture]:
    """Each convolutional activation layer's channels, every map ``MAP_PX`` wide on the layer's
    common scale (0 to its largest value), with the colour scale under them."""
    pictures = []
    hidden = [i for i, layer in enumerate(net.layers[:-1]) if layer.nonlinearity]
    for n, i in enumerate(hidden, 1):
        a = outputs[i][0]
        peak = float(a.max()) if a.size and a.max() > 0 else 1.0
        name = net.layers[i].nonlinearity
        if a.ndim == 3:
            maps = np.moveaxis(a, -1, 0)  # (H, W, C) -> (C, H, W): layers are channels-last
            cells = np.stack([_resized(heat(m / peak), MAP_PX) for m in maps])  # (C, MAP_PX, MAP_PX, 3)
            title = f"Layer {n}: convolution ({name})"
            caption = (f"{len(maps)} feature maps of {maps.shape[1]} x {maps.shape[2]}, each drawn {MAP_PX} px "
                       f"wide: a map lights up where its pattern is found; colour scale below, 0 to {peak:.3g}")
        elif a.ndim == 1:
            cells = np.stack([_resized(heat(np.array([[v / peak]])), MAP_PX // 2) for v in a])  # (units, s, s, 3)
            title = f"Layer {n}: dense ({name})"
            caption = (f"{a.size} units, one square each, brighter the more active; "
                       f"{int(np.count_nonzero(a > 0.05 * peak))} clearly active; colour scale below, 0 to {peak:.3g}")
        else:
            continue
        grid = tile(cells, cols=min(MAPS_PER_ROW * (1 + (a.ndim == 1)), len(cells)), pad=2, fill=255)
        image = np.concatenate([grid, colour_scale(grid.shape[1], peak)], axis=0)
        pictures.append(Picture(title, image, caption))
    return pictures


def _resized(image: np.ndarray, side: int) -> np.ndarray:
    """An ``(h, w, 3)`` picture made ``(side, side, 3)``, pixels kept square (nearest neighbour)."""
    return np.asarray(Image.fromarray(image).resize((side, side), Image.Resampling.NEAREST))


def colour_scale(width: int, peak: float) -> np.ndarray:
    """A strip ``(40, width, 3)``: the heat colours from 0 to ``peak``, labelled at both ends."""
    img = Image.new("RGB", (width, 40), _BG)
    bar = heat(np.linspace(0, 1, max(width - 120, 10)))[None].repeat(12, axis=0)  # (12, w, 3)
    img.paste(Image.fromarray(bar), (60, 6))
    draw = ImageDraw.Draw(img)
    draw.text((4, 4), "0", fill=_INK, font=_font(13))
    draw.text((width - 54, 4), f"{peak:.3g}", fill=_INK, font=_font(13))
    draw.text((60, 22), "activation (this layer's scale)", fill=_INK, font=_font(11))
    return np.asarray(img)


def output_row(net: Network, outputs: list[np.ndarray]) -> Picture:
    """The ten output units as squares lit by the answer's probability, labelled by digit."""
    proba = net.to_proba(outputs[-1])[0]  # (10,)
    img = Image.new("RGB", (10 * 56, 72), _BG)
    draw = ImageDraw.Draw(img)
    cells = heat(proba)  # (10, 3)
    for d in range(10):
        draw.rectangle((d * 56 + 4, 4, d * 56 + 52, 52), fill=tuple(int(v) for v in cells[d]), outline=_INK)
        draw.text((d * 56 + 22, 54), str(d), fill=_INK, font=_font(13))
    return Picture("Output layer", np.asarray(img),
                   f"The ten output units: the brightest is the answer, {int(proba.argmax())} ({percent(proba.max())})")


def inside_views(net: Network, x: np.ndarray, outputs: list[np.ndarray]) -> list[Picture]:
    """The pictures for ``net`` and input ``x (784,)``: a neuron diagram for a dense network;
    feature maps and the output layer for a convolutional one."""
    if _is_dense(net):
        return [neuron_diagram(net, x, outputs)]
    return [*feature_maps(net, outputs), output_row(net, outputs)]
