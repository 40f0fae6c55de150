"""A grouped horizontal bar chart as a standalone SVG (no plotting library needed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#2f6fb0", "#d08a2c", "#8a8f98", "#4c9a5b")


@dataclass(frozen=True)
class Bar:
    value: float | None
    """Bar length; ``None`` draws no bar (the series does not have this group)."""
    label: str
    """Text after the bar (or in its place when there is no bar)."""


def grouped_bars(
    *,
    title: str,
    groups: Sequence[str],
    series: Sequence[str],
    bars: Sequence[Sequence[Bar]],
    unit: str,
    width: int = 860,
) -> str:
    """``bars[g][s]`` is series ``s`` in group ``g``; one row of bars per series per group."""
    label_width, right_pad, bar_height, gap = 250, 170, 15, 12
    top = 58
    plot_width = width - label_width - right_pad
    peak = max((b.value for row in bars for b in row if b.value is not None), default=1.0) or 1.0
    group_height = len(series) * bar_height + gap
    height = top + len(groups) * group_height + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" '
        'font-size="12">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15" '
        f'font-weight="bold">{escape(title)}</text>',
    ]
    legend_x = label_width
    for index, name in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        out.append(
            f'<rect x="{legend_x}" y="34" width="12" height="12" fill="{colour}"/>'
            f'<text x="{legend_x + 16}" y="44">{escape(name)}</text>'
        )
        legend_x += 28 + 7 * len(name)
    for g, group in enumerate(groups):
        y0 = top + g * group_height
        mid = y0 + len(series) * bar_height / 2 + 4
        out.append(
            f'<text x="{label_width - 8}" y="{mid}" text-anchor="end">{escape(group)}</text>'
        )
        for s, bar in enumerate(bars[g]):
            y = y0 + s * bar_height
            colour = PALETTE[s % len(PALETTE)]
            length = 0.0 if bar.value is None else max(1.0, bar.value / peak * plot_width)
            if bar.value is not None:
                out.append(
                    f'<rect x="{label_width}" y="{y}" width="{length:.1f}" '
                    f'height="{bar_height - 3}" fill="{colour}"/>'
                )
            fill = "#333333" if bar.value is not None else "#999999"
            out.append(
                f'<text x="{label_width + length + 5:.1f}" y="{y + bar_height - 5}" '
                f'font-size="11" fill="{fill}">{escape(bar.label)}</text>'
            )
    axis_y = top + len(groups) * group_height
    out.append(
        f'<line x1="{label_width}" y1="{top - 4}" x2="{label_width}" y2="{axis_y}" '
        'stroke="#444444"/>'
    )
    out.append(
        f'<text x="{label_width}" y="{axis_y + 18}" font-size="11" fill="#555555">'
        f"0 {escape(unit)}; longest bar = {peak:.0f} {escape(unit)}</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"
