"""Line charts as inline SVG, drawn on the server: no script, nothing fetched by the browser."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28
COLOURS = ("#2563eb", "#dc2626", "#059669", "#d97706")


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 × 10ⁿ at or above ``value`` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")


def _number(value: float) -> str:
    return f"{value:.3g}"


def _runs(points: Sequence[tuple[float, float | None]]) -> Iterator[list[tuple[float, float]]]:
    """The stretches of points that have a value: a ``None`` (nothing to measure then, such
    as a run time while no task ran) breaks the line rather than being bridged."""
    run: list[tuple[float, float]] = []
    for t, v in points:
        if v is None:
            if run:
                yield run
            run = []
        else:
            run.append((t, v))
    if run:
        yield run


def line_chart(title: str, unit: str,
               series: Sequence[tuple[str, Sequence[tuple[float, float | None]]]],
               empty: str) -> Markup:
    """An SVG of each ``(label, [(epoch seconds, value or None), ...])``, a line broken where
    a value is ``None``; ``empty`` when no series has two values to draw."""
    runs = {label: list(_runs(points)) for label, points in series}
    drawn = [(label, [p for run in runs[label] for p in run]) for label, _ in series]
    drawn = [(label, points) for label, points in drawn if len(points) >= 2]
    label = escape(title)
    if not drawn:
        return Markup(f'<figure class="chart"><figcaption>{label}</figcaption>'
                      f'<p class="muted">{escape(empty)}</p></figure>')
    times = [t for _, points in drawn for t, _ in points]
    start, end = min(times), max(times)
    top = nice_ceiling(max(v for _, points in drawn for _, v in points))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + (t - start) / ((end - start) or 1) * plot_w

    def y(v: float) -> float:
        return TOP + plot_h - v / top * plot_h

    parts = [f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}">']
    for fraction in (0, 0.5, 1):
        level = y(top * fraction)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{level:.1f}" '
                     f'y2="{level:.1f}"/><text class="axis" x="{LEFT - 6}" y="{level + 4:.1f}" '
                     f'text-anchor="end">{_number(top * fraction)}</text>')
    parts.append(f'<text class="axis" x="{LEFT}" y="{HEIGHT - 8}">{_clock(start)}</text>'
                 f'<text class="axis" x="{WIDTH - RIGHT}" y="{HEIGHT - 8}" text-anchor="end">'
                 f'{_clock(end)} UTC</text>')
    legend = []
    for (name, _), colour in zip(drawn, COLOURS, strict=False):
        for run in runs[name]:
            if len(run) == 1:  # a lone value between gaps: a dot
                (t, v), = run
                parts.append(f'<circle fill="{colour}" r="2.5" cx="{x(t):.1f}" '
                             f'cy="{y(v):.1f}"/>')
                continue
            path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in run)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                         f'points="{path}"/>')
        legend.append(f'<span style="color:{colour}">&#9632;</span> {escape(name)}')
    parts.append("</svg>")
    return Markup(f'<figure class="chart"><figcaption>{label} <span class="muted">({escape(unit)})'
                  f'</span> {" ".join(legend)}</figcaption>{"".join(parts)}</figure>')
