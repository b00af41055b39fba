"""Activity charts as SVG, drawn on the server by pygal (the one module that imports it): no
script in the page or in the picture, readable in any browser and in a feed reader.

pygal's tooltips need a script from another site: turned off (``js=[]``), and the inline
configuration script pygal writes all the same is taken out of the tree before it is
serialised; the page shows every number in a table beside each chart anyway. Labels
(reviewers' names come from mail) are text nodes that pygal escapes; the SVG is served with a
policy that allows no script.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

import pygal
from pygal.style import Style

from listarchive.review.activity import Activity

CHARTS = ("messages", "series", "review", "reviewers")
# Colours with enough contrast on white for text and bars (the charts sit on a white card in
# both of the site's colour schemes).
STYLE = Style(background="#ffffff", plot_background="#ffffff", foreground="#1d1f21",
              foreground_strong="#1d1f21", foreground_subtle="#5f6368",
              colors=("#0645ad", "#1a6b1a", "#a31515", "#6f42c1"),
              font_family="system-ui, sans-serif", label_font_size=12,
              major_label_font_size=12, legend_font_size=13, title_font_size=15,
              value_font_size=11)
_COMMON: dict[str, Any] = {"style": STYLE, "js": [], "width": 800, "height": 320,
                           "disable_xml_declaration": False, "show_minor_x_labels": False,
                           "legend_at_bottom": True, "print_values": False,
                           "explicit_size": False, "no_data_text": "nothing in this period",
                           "truncate_label": -1, "truncate_legend": -1}


def _week_labels(activity: Activity) -> tuple[list[str], list[str]]:
    labels = [w.start.strftime("%Y-%m-%d") for w in activity.weeks]
    step = max(1, len(labels) // 8)
    return labels, labels[::step]


def _hours_to_days(values: Sequence[float | None]) -> list[float | None]:
    return [round(v / 24, 1) if v is not None else None for v in values]


def render(activity: Activity, chart: str) -> bytes:
    """The SVG of one of :data:`CHARTS` for ``activity``."""
    where = activity.scope.title
    if chart == "messages":
        drawn = pygal.Bar(title=f"Messages per week: {where}", **_COMMON)
        labels, major = _week_labels(activity)
        drawn.x_labels = labels
        drawn.x_labels_major = major
        drawn.add("messages", [w.messages for w in activity.weeks])
    elif chart == "series":
        drawn = pygal.Line(title=f"Patch series per week: {where}", **_COMMON)
        labels, major = _week_labels(activity)
        drawn.x_labels = labels
        drawn.x_labels_major = major
        drawn.add("new series", [w.series for w in activity.weeks])
        drawn.add("accepted series", [w.accepted for w in activity.weeks])
    elif chart == "review":
        drawn = pygal.Bar(title=f"Median days from posting, by month posted: {where}",
                          **_COMMON)
        drawn.x_labels = [m.month for m in activity.months]
        drawn.add("to the first review", _hours_to_days(
            [m.median_review_hours for m in activity.months]))
        drawn.add("to acceptance", _hours_to_days(
            [m.median_accept_hours for m in activity.months]))
    elif chart == "reviewers":
        drawn = pygal.HorizontalBar(title=f"Review trailers given: {where}",
                                    **{**_COMMON, "show_legend": False})
        people = list(reversed(activity.reviewers))  # the most first, at the top
        drawn.x_labels = [r.name for r in people]
        drawn.add("trailers", [r.trailers for r in people])
    else:
        raise KeyError(chart)
    tree = drawn.render_tree()
    for parent in list(tree.iter()):
        for child in list(parent):
            if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    return b"<?xml version='1.0' encoding='utf-8'?>\n" + ET.tostring(tree, encoding="utf-8",
                                                                     xml_declaration=False)
