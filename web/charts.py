"""Tiny server-rendered SVG charts (no JS): monthly bar charts and sparklines.

Output is a standalone, well-formed SVG element that can be inlined in HTML.
Every piece of text is XML-escaped; no inline style attributes (the app's CSP
forbids them), only presentation attributes and CSS classes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

SVG_NS = "http://www.w3.org/2000/svg"
MAX_MONTHS = 120

# characters XML 1.0 forbids, even escaped
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(s: object) -> str:
    """Escape for XML text/attributes and drop characters XML cannot hold."""
    return str(escape(_XML_INVALID.sub("", str(s))))


def month_range(first: str, last: str) -> list[str]:
    """Every 'YYYY-MM' from first to last inclusive (at most MAX_MONTHS, the latest kept)."""
    fy, fm = (int(x) for x in first.split("-")[:2])
    ly, lm = (int(x) for x in last.split("-")[:2])
    start, end = fy * 12 + fm - 1, ly * 12 + lm - 1
    start = max(start, end - MAX_MONTHS + 1)
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(start, end + 1)]


def _months(monthly: Mapping[str, int], months: Sequence[str] | None) -> list[str]:
    if months is not None:
        return list(months)
    keys = sorted(m for m, n in monthly.items() if n)
    return month_range(keys[0], keys[-1]) if keys else []


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def bar_chart(
    monthly: Mapping[str, int],
    months: Sequence[str] | None = None,
    *,
    title: str = "",
    width: int = 1000,
    height: int = 150,
    highlight_last: int = 6,
) -> Markup:
    """A bar per month (missing months count 0); the last ``highlight_last``
    months get class "bar recent". Each bar carries a <title> tooltip."""
    months = _months(monthly, months)
    label = title or "Monthly counts"
    left, right, top, bottom = 28, 6, 8, 20
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((monthly.get(m, 0) for m in months), default=0)
    out = [
        f'<svg xmlns="{SVG_NS}" class="chart bar-chart" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" role="img" aria-label="{xml_text(label)}">',
        f"<title>{xml_text(label)}</title>",
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"'
        ' stroke="#999" stroke-width="1"/>',
    ]
    if not months or peak == 0:
        return _no_data(out, left + plot_w / 2, top + plot_h / 2)
    out.append(_y_labels(left, top, plot_h, peak))
    step = plot_w / len(months)
    gap = 1 if step >= 3 else 0
    years_every = max(1, round(len(months) / 12 / 8))  # at most ~8 year labels
    n = len(months)
    for i, m in enumerate(months):
        x = left + i * step
        count = monthly.get(m, 0)
        if count:
            h = max(1.0, plot_h * count / peak)
            cls = "bar recent" if i >= n - highlight_last else "bar"
            fill = "#d9534f" if i >= n - highlight_last else "#3b6fd8"
            out.append(
                f'<rect class="{cls}" x="{_fmt(x)}" y="{_fmt(top + plot_h - h)}" width="{_fmt(max(step - gap, 0.5))}"'
                f' height="{_fmt(h)}" fill="{fill}"><title>{xml_text(m)}: {count}</title></rect>'
            )
        out.append(_year_label(m, i, years_every, x, height))
    out.append("</svg>")
    return Markup("".join(out))


def sparkline(
    monthly: Mapping[str, int],
    months: Sequence[str] | None = None,
    *,
    title: str = "",
    width: int = 120,
    height: int = 28,
) -> Markup:
    """A small line of monthly counts, for table cells."""
    months = _months(monthly, months)
    label = title or "Monthly counts"
    head = (
        f'<svg xmlns="{SVG_NS}" class="chart sparkline" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" role="img" aria-label="{xml_text(label)}">'
        f"<title>{xml_text(label)}</title>"
    )
    values = [monthly.get(m, 0) for m in months]
    peak = max(values, default=0)
    if not values or peak == 0:  # a flat line: nothing in this window
        y = height - 2
        return Markup(
            head + f'<path class="spark spark-empty" d="M2,{y} L{width - 2},{y}" stroke="#ccc" stroke-width="1"/></svg>'
        )
    pad = 2
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    pts = [(pad + i * step, height - pad - (height - 2 * pad) * v / peak) for i, v in enumerate(values)]
    d = "M" + " L".join(f"{_fmt(x)},{_fmt(y)}" for x, y in pts)
    lx, ly = pts[-1]
    return Markup(
        head + f'<path class="spark" d="{d}" fill="none" stroke="#3b6fd8" stroke-width="1.5"/>'
        f'<circle class="spark-end" cx="{_fmt(lx)}" cy="{_fmt(ly)}" r="2" fill="#d9534f"/></svg>'
    )


def timeline_chart(
    complaints: Mapping[str, int],
    replies: Mapping[str, int],
    months: Sequence[str] | None = None,
    *,
    title: str = "",
    width: int = 1000,
    height: int = 180,
) -> Markup:
    """One mention timeline on one y-scale: a bar per month of complaints
    (class "bar complaints") and, beside it, a bar of the company's own replies
    (class "bar replies"), with a legend. Each bar carries a <title> tooltip."""
    if months is None:
        merged = {m: complaints.get(m, 0) + replies.get(m, 0) for m in {*complaints, *replies}}
        months = _months(merged, None)
    months = list(months)
    label = title or "Complaints and company replies per month"
    left, right, top, bottom = 28, 6, 22, 20
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((max(complaints.get(m, 0), replies.get(m, 0)) for m in months), default=0)
    out = [
        f'<svg xmlns="{SVG_NS}" class="chart timeline-chart" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" role="img" aria-label="{xml_text(label)}">',
        f"<title>{xml_text(label)}</title>",
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"'
        ' stroke="#999" stroke-width="1"/>',
        '<g class="legend" font-size="11" fill="#444">'
        f'<rect class="legend-complaints" x="{left}" y="4" width="10" height="10" fill="#3b6fd8"/>'
        f'<text x="{left + 14}" y="13">complaints</text>'
        f'<rect class="legend-replies" x="{left + 90}" y="4" width="10" height="10" fill="#2e9d5b"/>'
        f'<text x="{left + 104}" y="13">company replies</text></g>',
    ]
    if not months or peak == 0:
        return _no_data(out, left + plot_w / 2, top + plot_h / 2)
    out.append(_y_labels(left, top, plot_h, peak))
    step = plot_w / len(months)
    gap = 1 if step >= 3 else 0
    bar_w = max((step - gap) / 2, 0.25)
    years_every = max(1, round(len(months) / 12 / 8))
    for i, m in enumerate(months):
        x = left + i * step
        for j, (cls, fill, counts, what) in enumerate(
            (("complaints", "#3b6fd8", complaints, "complaints"), ("replies", "#2e9d5b", replies, "company replies"))
        ):
            count = counts.get(m, 0)
            if count:
                h = max(1.0, plot_h * count / peak)
                out.append(
                    f'<rect class="bar {cls}" x="{_fmt(x + j * bar_w)}" y="{_fmt(top + plot_h - h)}"'
                    f' width="{_fmt(bar_w)}" height="{_fmt(h)}" fill="{fill}">'
                    f"<title>{xml_text(m)}: {count} {what}</title></rect>"
                )
        out.append(_year_label(m, i, years_every, x, height))
    out.append("</svg>")
    return Markup("".join(out))


def _no_data(out: list[str], cx: float, cy: float) -> Markup:
    """Close an empty chart with a "no data" note."""
    out.append(
        f'<text class="empty" x="{cx:.0f}" y="{cy:.0f}" text-anchor="middle" fill="#888" font-size="12">no data</text>'
    )
    out.append("</svg>")
    return Markup("".join(out))


def _y_labels(left: int, top: int, plot_h: int, peak: int) -> str:
    return (
        f'<text class="ylabel" x="{left - 4}" y="{top + 9}" text-anchor="end" fill="#666" font-size="10">{peak}</text>'
        f'<text class="ylabel" x="{left - 4}" y="{top + plot_h}" text-anchor="end" fill="#666" font-size="10">0</text>'
    )


def _year_label(month: str, i: int, years_every: int, x: float, height: int) -> str:
    """The year under January (every `years_every` years) and under the first bar."""
    year, mon = month.split("-")[:2]
    if (mon == "01" and int(year) % years_every == 0) or i == 0:
        return f'<text class="xlabel" x="{_fmt(x)}" y="{height - 6}" fill="#666" font-size="10">{xml_text(year)}</text>'
    return ""
