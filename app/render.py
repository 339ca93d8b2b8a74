"""HTML and charts for the review app. Every value from the data is escaped before it is shown."""

from __future__ import annotations

import html
from typing import Any

import polars as pl

from linker.review import FieldDiff, Pair

_COLOURS = {"same": "#e6f4ea", "similar": "#fff4ce", "different": "#fde7e9", "missing": "#eeeeee"}


def _spans(spans: tuple[tuple[str, bool], ...]) -> str:
    if not spans:
        return '<span style="color:#888">(empty)</span>'
    return "".join(
        f'<mark style="background:#ffb3b8;padding:0">{html.escape(t)}</mark>'
        if changed
        else html.escape(t)
        for t, changed in spans
    )


def pair_html(pair: Pair, diffs: list[FieldDiff], *, extra: list[str], decided: int) -> str:
    """The side-by-side table of a pair: compared fields first (coloured), then the rest.

    ``decided`` (the count of decided pairs) is an attribute, so a test can wait for the
    pair that follows a given decision.
    """
    rows = []
    for d in diffs:
        rows.append(
            f'<tr style="background:{_COLOURS[d.status]}"><th>{html.escape(d.column)}</th>'
            f"<td>{_spans(d.left_spans)}</td><td>{_spans(d.right_spans)}</td>"
            f"<td>{d.status} {d.similarity:.2f}</td></tr>"
        )
    for c in extra:
        left, right = pair.left.get(c), pair.right.get(c)
        rows.append(
            f'<tr style="color:#666"><th>{html.escape(c)}</th>'
            f"<td>{html.escape('' if left is None else str(left))}</td>"
            f"<td>{html.escape('' if right is None else str(right))}</td><td></td></tr>"
        )
    lid, rid = html.escape(pair.left_id), html.escape(pair.right_id)
    return (
        f'<div id="lk-pair" data-left="{lid}" data-right="{rid}" data-decided="{decided}">'
        '<table style="width:100%;border-collapse:collapse;font-size:1.05rem">'
        f"<thead><tr><th>field</th><th>left · {lid}</th><th>right · {rid}</th>"
        "<th>difference</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>"
    )


def histogram_chart(hist: pl.DataFrame, threshold: float) -> Any:
    """Bars of the score histogram with a red rule at the threshold (an Altair chart)."""
    import altair as alt

    bars = (
        alt.Chart(hist.to_pandas())
        .mark_bar()
        .encode(
            x=alt.X("start:Q", bin="binned", title="score"),
            x2="end:Q",
            y=alt.Y("count:Q", title="pairs"),
        )
    )
    rule = alt.Chart({"values": [{"t": threshold}]}).mark_rule(color="red", size=2).encode(x="t:Q")
    return (bars + rule).properties(height=260)


def curve_chart(curve: pl.DataFrame, threshold: float) -> Any:
    """Precision, recall and F1 against the threshold (an Altair chart)."""
    import altair as alt

    long = curve.unpivot(index="threshold", variable_name="measure", value_name="value")
    lines = (
        alt.Chart(long.to_pandas())
        .mark_line()
        .encode(
            x=alt.X("threshold:Q"),
            y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1])),
            color="measure:N",
        )
    )
    rule = (
        alt.Chart({"values": [{"t": threshold}]})
        .mark_rule(color="black", strokeDash=[4, 4])
        .encode(x="t:Q")
    )
    return (lines + rule).properties(height=260)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def table_html(frame: pl.DataFrame, *, element_id: str) -> str:
    """A plain HTML table of ``frame`` (values escaped), with an id tests and CSS can find."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
        for row in frame.iter_rows()
    )
    return (
        f'<table id="{element_id}" style="width:100%;border-collapse:collapse">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )
