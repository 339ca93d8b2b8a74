"""HTML and charts for the review app. Every value from the data is escaped before it is shown."""

from __future__ import annotations

import html
from typing import Any

import polars as pl

from linker.review import Explanation, FieldDiff, Pair

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


_KINDS = {"prior": "#7f8c9a", "for": "#2e7d32", "against": "#c62828"}


def why_html(why: Explanation | None, score: float) -> str:
    """The line above the why chart: no explanation, a twin, or the score explained.

    ``data-explained`` (1 or 0) lets a test tell the two cases apart without reading text.
    """
    if why is None:
        text, done = (
            "No explanation for this pair: it was scored by a trained matcher or read from a "
            "merge output (build the linkage from the tables to see one).",
            0,
        )
    elif why.identical:
        text, done = "Identical on every compared column: scored 1 without the model.", 1
    else:
        text, done = (
            "Each bar moves the log-odds of a match: green for, red against; the prior is "
            "where every pair starts.",
            1,
        )
        if abs(why.probability - score) > 0.005:
            text += (
                f" It explains the first score ({why.probability:.3f}); the pair was "
                "re-scored since (retrain or rerank)."
            )
    return (
        f'<div id="lk-why" data-explained="{done}" style="color:#555;font-size:0.9rem">'
        f"{html.escape(text)}</div>"
    )


def why_chart(bars: pl.DataFrame, probability: float) -> Any:
    """The waterfall of a pair's contributions (an Altair chart), titled with its score
    (``Why 0.830``: the same three decimals as the pair's heading).

    ``bars`` is :func:`linker.review.waterfall`: one horizontal bar per step from the running
    log-odds before it to after it; the dashed rule is log-odds 0 (probability 0.5).
    """
    import altair as alt

    data = bars.with_columns(order=pl.int_range(pl.len())).to_pandas()
    colour = alt.Color(
        "kind:N",
        scale=alt.Scale(domain=list(_KINDS), range=list(_KINDS.values())),
        legend=None,
    )
    steps = (
        alt.Chart(data)
        .mark_bar(height=14)
        .encode(
            y=alt.Y(
                "bar:N", sort=alt.SortField("order"), title=None, axis=alt.Axis(labelLimit=240)
            ),
            x=alt.X("start:Q", title="log-odds of a match"),
            x2="end:Q",
            color=colour,
            tooltip=[
                alt.Tooltip("bar:N", title="feature"),
                alt.Tooltip("value:Q", format=".3f", title="similarity"),
                alt.Tooltip("contribution:Q", format="+.2f"),
                alt.Tooltip("end:Q", format=".2f", title="running total"),
            ],
        )
    )
    zero = alt.Chart({"values": [{"z": 0}]}).mark_rule(strokeDash=[4, 4]).encode(x="z:Q")
    # fit-x: Streamlit's default ("fit") would squeeze the bars into the height with the
    # title and the axis; here each bar keeps its row and the chart grows with them
    return (steps + zero).properties(
        title=f"Why {probability:.3f}",
        height=22 * max(bars.height, 3),
        autosize=alt.AutoSizeParams(type="fit-x", contains="padding"),
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
