"""Charts drawn on the server as inline SVG: no script, no stylesheet of their own and nothing
fetched from elsewhere, so they render under the console's Content-Security-Policy, offline,
and in the dark theme (they draw in ``currentColor`` and the console's accent). Each chart has
a title and a table of its figures beside it for screen readers."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH = 640
BAR = 22  # a bar's height
GAP = 10
LEFT = 120  # room for the labels
ACCENT = "#2f7fd8"
SECOND = "#c0841f"


def _number(value: float) -> str:
    return f"{value:,.1f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"


def bars(
    title: str, rows: Sequence[tuple[str, Sequence[float | None]]], *, unit: str,
    series: Sequence[str] = ("",),
) -> Markup:  # fmt: skip
    """A horizontal bar chart: a group of bars (one per series) for each labelled row."""
    top = max((v for _, values in rows for v in values if v is not None), default=0.0) or 1.0
    height = GAP + len(rows) * (len(series) * BAR + GAP) + 24
    span = WIDTH - LEFT - 80
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" class="chart" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    y = GAP
    colours = (ACCENT, SECOND)
    for label, values in rows:
        parts.append(
            f'<text x="{LEFT - 8}" y="{y + BAR * len(series) / 2 + 5}" text-anchor="end" '
            f'fill="currentColor" font-size="13">{escape(label)}</text>'
        )
        for n, value in enumerate(values):
            width = 0.0 if value is None else max(1.0, span * value / top)
            shown = "none" if value is None else f"{_number(value)} {unit}".strip()
            name = f"{series[n]} " if series[n] else ""
            parts.append(
                f'<rect x="{LEFT}" y="{y}" width="{width:.1f}" height="{BAR - 4}" '
                f'fill="{colours[n % 2]}"><title>{escape(label)}: {escape(name)}'
                f"{escape(shown)}</title></rect>"
                f'<text x="{LEFT + width + 6:.1f}" y="{y + BAR - 8}" fill="currentColor" '
                f'font-size="12">{escape(name)}{escape(shown)}</text>'
            )
            y += BAR
        y += GAP
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it is escaped above


def line(title: str, points: Sequence[tuple[str, float]], *, unit: str) -> Markup:
    """A line over time (``points``: label, value), the first and last labels under it."""
    height, pad = 220, 36
    top = max((v for _, v in points), default=0.0) or 1.0
    span_x = WIDTH - 2 * pad
    step = span_x / max(1, len(points) - 1)
    coords = [
        (pad + n * step, height - pad - (height - 2 * pad) * value / top)
        for n, (_, value) in enumerate(points)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" class="chart" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<line x1="{pad}" y1="{height - pad}" x2="{WIDTH - pad}" y2="{height - pad}" '
        'stroke="currentColor" stroke-width="1"/>',
        f'<text x="{pad - 6}" y="{pad + 4}" text-anchor="end" fill="currentColor" '
        f'font-size="12">{_number(top)}</text>',
        f'<text x="{pad - 6}" y="{height - pad}" text-anchor="end" fill="currentColor" '
        'font-size="12">0</text>',
    ]
    if coords:
        parts.append(f'<polyline points="{path}" fill="none" stroke="{ACCENT}" stroke-width="2"/>')
        for (label, value), (x, y) in zip(points, coords, strict=True):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{ACCENT}"><title>'
                f"{escape(label)}: {_number(value)} {escape(unit)}</title></circle>"
            )
        for label, anchor, x in (
            (points[0][0], "start", pad),
            (points[-1][0], "end", WIDTH - pad),
        ):
            parts.append(
                f'<text x="{x}" y="{height - pad + 18}" text-anchor="{anchor}" '
                f'fill="currentColor" font-size="12">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it is escaped above
