"""linker's review app (Streamlit). Start it with ``linker review [FILE] [--db STORE]``.

It uses the public API only: ``linker.read`` and ``linker.review``. Each browser tab holds
its own :class:`~linker.review.ReviewSession` (its own SQLite connection); the linkage being
reviewed is kept in the URL (``?linkage=...``), so a reload comes back to it. Every button
writes its decision to the store before the page is drawn again.
"""

from __future__ import annotations

import argparse
import html
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st
from mapping_view import mappings_view, open_mapping
from render import curve_chart, histogram_chart, pair_html, table_html, why_chart, why_html

import linker as lk
from linker import review as rv

SHORTCUTS = {"match": "A", "non_match": "N", "skip": "S", "undo": "U"}


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="linker review")
    p.add_argument("--db", default=os.environ.get("LINKER_REVIEW_DB", "linker_review.sqlite"))
    p.add_argument("--open", default=None)
    p.add_argument("--reviewer", default=os.environ.get("USER", ""))
    return p.parse_known_args(sys.argv[1:])[0]  # AppTest runs under pytest's argv


@st.cache_resource(show_spinner="Reading the merge output…")
def _merged_linkage(path: str, mtime: float) -> rv.Linkage:
    return rv.linkage_from_merged(path)


def _store() -> rv.ReviewStore:
    if "store" not in st.session_state:
        st.session_state.store = rv.ReviewStore(ARGS.db)
    store: rv.ReviewStore = st.session_state.store
    return store


def _session(linkage_id: str) -> rv.ReviewSession:
    s: rv.ReviewSession | None = st.session_state.get("session")
    if s is None or s.linkage_id != linkage_id:
        s = rv.ReviewSession(_store(), linkage_id)
        st.session_state.session = s
    s.reviewer = st.session_state.get("reviewer", "")
    return s


def _open(linkage: rv.Linkage) -> None:
    s = rv.ReviewSession.create(_store(), linkage, reviewer=st.session_state.get("reviewer", ""))
    st.session_state.session = s
    st.query_params["linkage"] = s.linkage_id


def _read_input(label: str, key: str) -> tuple[pl.DataFrame | None, str | None]:
    """A table from an upload (written to a temp file, then read) or from a path."""
    up = st.file_uploader(f"{label}: upload", type=["csv", "tsv", "txt", "parquet"], key=key)
    path = st.text_input(f"{label}: or a path", key=f"{key}-path")
    if up is not None:
        suffix = Path(up.name).suffix or ".csv"
        with tempfile.TemporaryDirectory() as folder:  # read (never run), then removed
            tmp = Path(folder) / f"upload{suffix}"
            tmp.write_bytes(up.getvalue())
            return lk.read(tmp), up.name
    if path:
        return lk.read(path), path
    return None, None


def _new_linkage_form() -> None:
    left, lname = _read_input("Left table", "left")
    right, rname = _read_input("Right table (empty: de-duplicate the left one)", "right")
    if left is None:
        return
    shared = [c for c in left.columns if right is None or c in right.columns]
    on = st.multiselect("Compare columns", shared, default=[c for c in shared if c != "id"][:6])
    id_col = st.selectbox("Id column", ["(row number)", *shared], index=0)
    how = st.selectbox("Merge kind", ["1:1", "m:1", "1:m", "m:m"])
    threshold = st.slider("Threshold", 0.0, 1.0, 0.5, 0.01)
    if st.button("Run merge", type="primary", disabled=not on):
        bar = st.progress(0.0, text="starting")

        def progress(stage: str, done: int, total: int) -> None:
            bar.progress(min(done / max(total, 1), 1.0), text=stage)

        link = rv.linkage_from_tables(
            left, right, on=on, id=None if id_col == "(row number)" else id_col, how=how,
            threshold=threshold, sources=(lname, rname), callback=progress,
        )  # fmt: skip
        bar.progress(1.0, text="saved")
        _open(link)
        st.rerun()


def _sidebar() -> str | None:
    store = _store()
    st.sidebar.caption(f"Store: `{store.path}`")
    st.session_state.reviewer = st.sidebar.text_input("Reviewer", value=ARGS.reviewer)
    links = store.linkages()
    ids = links["id"].to_list()
    chosen = st.query_params.get("linkage")
    if chosen not in ids:
        chosen = ids[-1] if ids else None
    if ids:
        label = {
            r["id"]: f"{r['id']} ({r['decisions']} decisions)" for r in links.iter_rows(named=True)
        }
        chosen = st.sidebar.selectbox("Linkage", ids, index=ids.index(chosen),
                                      format_func=label.__getitem__)  # fmt: skip
        st.query_params["linkage"] = chosen
    with st.sidebar.expander("Open a merge output (CSV / Parquet)"):
        path = st.text_input("Path", key="merged-path")
        if st.button("Open", disabled=not path):
            _open(rv.linkage_from_merged(path))
            st.rerun()
    with st.sidebar.expander("New linkage from two tables", expanded=not ids):
        _new_linkage_form()
    return chosen


def _decide(label: str, pair: tuple[str, str], note_key: str) -> None:
    s: rv.ReviewSession = st.session_state.session
    s.reviewer = st.session_state.get("reviewer", "")
    if label == "undo":
        s.undo()
    else:
        s.decide(label, pair=pair, note=st.session_state.get(note_key, ""))


@st.fragment
def _review_tab(s: rv.ReviewSession) -> None:
    """The queue. A fragment: a decision reruns this part only, not the charts."""
    start = time.perf_counter()
    pair = s.current()
    p = s.progress()
    counts = " · ".join(
        f"<b>{p[k]:,}</b> {name}"
        for k, name in [("match", "matches"), ("non_match", "non-matches"), ("skip", "skipped"),
                        ("remaining", "to go")]
    )  # fmt: skip
    st.html(
        f'<div id="lk-progress" data-decided="{p["decided"]}" style="font-size:1.1rem">'
        f"<b>{p['decided']:,}</b> of {p['total']:,} pairs decided: {counts}</div>"
    )
    if pair is None:
        st.success("Every pair has a decision. Export the result from the Export tab.")
        _undo_only()
        return
    lo, ro = s.config.get("left_on", []), s.config.get("right_on", [])
    diffs = rv.field_diffs(pair.left, pair.right, lo, ro)
    extra = [c for c in pair.left if c not in lo and not c.startswith("__lk_")]
    st.markdown(f"#### Score {pair.score:.3f} (threshold {s.threshold:.2f})")
    st.html(pair_html(pair, diffs, extra=extra, decided=p["decided"]))
    _why(s, pair)
    note_key = f"note-{pair.left_id}-{pair.right_id}"
    st.text_input("Note (saved with the decision)", key=note_key, value=pair.note)
    ids = (pair.left_id, pair.right_id)
    buttons = [("match", "Accept"), ("non_match", "Reject"), ("skip", "Skip"), ("undo", "Undo")]
    for col, (label, text) in zip(st.columns(4), buttons, strict=True):
        col.button(
            text,
            key=f"btn-{label}",
            shortcut=SHORTCUTS[label],
            on_click=_decide,
            args=(label, ids, note_key),
            type="primary" if label == "match" else "secondary",
            width="stretch",
        )
    ms = (time.perf_counter() - start) * 1000
    st.caption(f"Keys: A accept · N reject · S skip · U undo  (pair ready in {ms:.0f} ms)")
    is_open = " open" if s.config.get("how") == "1:1" else ""
    table = table_html(s.candidates_of(pair.left_id), element_id="lk-candidates")
    st.html(f"<details{is_open}><summary>All candidates of {html.escape(pair.left_id)}</summary>"
            f"{table}</details>")  # fmt: skip
    _recent(s)


def _why(s: rv.ReviewSession, pair: rv.Pair) -> None:
    """The waterfall of why the pair scored what it did (zero-label linkages only)."""
    why = s.explain(pair)
    st.html(why_html(why, pair.score))
    if why is not None and not why.identical:
        st.altair_chart(why_chart(rv.waterfall(why), why.probability), width="stretch")


def _undo_only() -> None:
    st.button("Undo", key="btn-undo", shortcut="U", on_click=_decide, args=("undo", ("", ""), ""))


def _recent(s: rv.ReviewSession) -> None:
    st.markdown("**Recent decisions**")
    recent = s.decided().head(10).select("left_id", "right_id", "label", "note", "reviewer")
    st.html(table_html(recent, element_id="lk-recent"))


def _retrain() -> None:
    s: rv.ReviewSession = st.session_state.session
    try:
        r = rv.retrain(s)
    except lk.LinkerError as e:
        st.session_state.retrain_msg = ("error", str(e))
    else:
        st.session_state.retrain_msg = (
            "success",
            f"Retrained on {r.labels} labels: {r.changed:,} pairs changed side of the "
            f"threshold; agreement with the labels {r.agree_before:.0%} → {r.agree_after:.0%}.",
        )


def _scores_tab(s: rv.ReviewSession) -> None:
    st.button("Retrain on the labels and re-score", key="btn-retrain", on_click=_retrain)
    kind, msg = st.session_state.pop("retrain_msg", (None, ""))
    if kind == "error":
        st.error(msg)
    elif kind == "success":
        st.success(msg)
    st.markdown("**Score histogram** (red: threshold)")
    st.altair_chart(histogram_chart(rv.histogram(s.scores), s.threshold), width="stretch")
    rows, y = s.labelled()
    if len(rows) and (y == 1).any():
        st.markdown(f"**Precision / recall / F1 against the threshold**, from {len(rows)} labels")
        st.altair_chart(curve_chart(lk.measures.threshold_curve(s.scores[rows], y), s.threshold),
                        width="stretch")  # fmt: skip
    else:
        st.info("Label some pairs (at least one match) to see precision and recall.")
    history = s.store.retrains(s.linkage_id)
    if history:
        st.markdown("**Retrain history**")
        st.dataframe(pl.DataFrame(history).drop("matcher").to_pandas(), hide_index=True)


def _clusters_tab(s: rv.ReviewSession) -> None:
    c = rv.clusters(s.left, s.pairs, threshold=s.threshold)
    multi = c.filter(pl.col("_size") > 1)
    st.markdown(f"{c['_cluster'].n_unique():,} clusters, {multi['_cluster'].n_unique():,} with "
                "more than one record")  # fmt: skip
    if multi.height:
        pick = st.selectbox("Cluster", multi["_cluster"].unique(maintain_order=True).to_list())
        st.table(c.filter(pl.col("_cluster") == pick).drop(rv.ID).to_pandas())


def _export_tab(s: rv.ReviewSession) -> None:
    default = str(Path(ARGS.db).resolve().parent / "export")
    folder = st.text_input("Folder", value=default, key="export-folder")
    fmt = st.radio("Linked table format", ["csv", "parquet"], horizontal=True)
    if st.button("Export linked table, labels and config", key="btn-export", type="primary"):
        out = Path(folder)
        written = [
            rv.export_linked(s, out / f"linked.{fmt}"),
            rv.export_labels(s, out / "labels.csv"),
            rv.export_config(s, out / "config.json"),
        ]
        st.success("Written: " + ", ".join(f"`{p}`" for p in written))
        st.code(rv.run_config(s)["cli"], language="bash")


def main() -> None:
    st.set_page_config(page_title="linker review", layout="wide")
    st.title("linker review")
    if ARGS.open and "opened" not in st.session_state:
        p = Path(ARGS.open)
        if rv.is_mapping(p):
            open_mapping(_store(), str(p), ARGS.reviewer)
        else:
            _open(_merged_linkage(str(p.resolve()), p.stat().st_mtime))
        st.session_state.opened = True
    views = ["Pairs", "Mappings"]
    at = 1 if st.query_params.get("view") == "mappings" else 0
    view = st.sidebar.radio("Review", views, index=at, horizontal=True, key="view")
    st.query_params["view"] = view.lower()
    if view == "Mappings":
        st.session_state.reviewer = st.sidebar.text_input("Reviewer", value=ARGS.reviewer)
        mappings_view(_store(), reviewer=st.session_state.reviewer,
                      export_folder=str(Path(ARGS.db).resolve().parent / "export"))  # fmt: skip
        return
    chosen = _sidebar()
    if chosen is None:
        st.info("Load two tables (sidebar: New linkage) or open a merge output to start.")
        return
    s = _session(chosen)
    orders = ["uncertainty", "disagreement"]
    order = st.sidebar.radio("Queue order", orders, index=orders.index(s.order))
    if order != s.order:
        s.set_order(order)  # type: ignore[arg-type]
    names = ["Review", "Scores", "Export"] + (["Clusters"] if s.kind == "dedup" else [])
    tabs: list[Any] = st.tabs(names)
    with tabs[0]:
        _review_tab(s)
    with tabs[1]:
        _scores_tab(s)
    with tabs[2]:
        _export_tab(s)
    if s.kind == "dedup":
        with tabs[3]:
            _clusters_tab(s)


ARGS = _args()
main()
