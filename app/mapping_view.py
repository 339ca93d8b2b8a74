"""The review app's Mappings view: accept or edit a proposed schema, glossary or taxonomy mapping.

The table is an ``st.data_editor``; every edit is written to the review store on the rerun
it causes (:meth:`linker.review.MappingReview.apply_edits`), then the editor is drawn again
from the store under a new key, so what the reviewer sees is what the file holds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
import streamlit as st

import linker as lk
from linker import review as rv
from linker.review.mappings import ACTIONS

_EDITABLE = ("decision", "target", "note")


def _open_form(store: rv.ReviewStore, reviewer: str, *, expanded: bool) -> None:
    with st.sidebar.expander("Open a mapping (from linker schema / taxonomy)", expanded=expanded):
        up = st.file_uploader("Upload", type=["csv", "parquet"], key="mapping-upload")
        path = st.text_input("Or a path", key="mapping-path")
        if not st.button("Open mapping", key="btn-open-mapping", disabled=not (up or path)):
            return
        try:
            if up is not None:
                with tempfile.TemporaryDirectory() as folder:  # read (never run), then removed
                    tmp = Path(folder) / f"upload{Path(up.name).suffix or '.csv'}"
                    tmp.write_bytes(up.getvalue())
                    frame = lk.read(tmp)
                m = rv.MappingReview.create(store, frame, source=up.name, reviewer=reviewer)
            else:
                m = rv.MappingReview.create(store, path, reviewer=reviewer)
        except lk.LinkerError as e:
            st.sidebar.error(str(e))
            return
        st.query_params["mapping"] = m.mapping_id
        st.rerun()


def open_mapping(store: rv.ReviewStore, path: str, reviewer: str) -> None:
    """Open a mapping file given on the command line (``linker review mapping.csv``)."""
    m = rv.MappingReview.create(store, path, reviewer=reviewer)
    st.query_params["mapping"] = m.mapping_id
    st.query_params["view"] = "mappings"


def _pick(store: rv.ReviewStore) -> str | None:
    stored = rv.MappingReview.stored(store)
    ids = stored["id"].to_list()
    if not ids:
        return None
    chosen = st.query_params.get("mapping")
    if chosen not in ids:
        chosen = ids[-1]
    rows = stored.iter_rows(named=True)
    names = {r["id"]: f"{r['source'] or r['id']} ({r['kind']})" for r in rows}
    chosen = st.sidebar.selectbox("Mapping", ids, index=ids.index(chosen),
                                  format_func=names.__getitem__)  # fmt: skip
    st.query_params["mapping"] = chosen
    return str(chosen)


def _table(m: rv.MappingReview) -> None:
    table = m.table()
    version = st.session_state.setdefault("mapping-version", 0)
    key = f"mapping-{m.mapping_id}-{version}"
    target = "node id" if m.kind == "taxonomy" else "target"
    st.data_editor(
        table.to_pandas(),
        key=key,
        hide_index=True,
        num_rows="fixed",
        width="stretch",
        disabled=[c for c in table.columns if c not in _EDITABLE],
        column_config={
            "item": st.column_config.TextColumn("phrase" if m.kind == "taxonomy" else "column"),
            "proposed": st.column_config.TextColumn(f"proposed {target}"),
            "score": st.column_config.NumberColumn(format="%.2f"),
            "decision": st.column_config.SelectboxColumn(
                options=list(ACTIONS), required=True
            ),  # fmt: skip
            "target": st.column_config.TextColumn(f"{target} (type to edit)"),
            "note": st.column_config.TextColumn(),
        },
    )
    edits = st.session_state.get(key, {}).get("edited_rows", {})
    if edits:
        problems = m.apply_edits(table, {int(k): v for k, v in edits.items()})
        st.session_state["mapping-version"] = version + 1
        st.session_state["mapping-problems"] = problems
        st.rerun()
    for problem in st.session_state.pop("mapping-problems", []):
        st.error(problem)


def _export(m: rv.MappingReview, default_folder: str) -> None:
    folder = st.text_input("Export folder", value=default_folder, key="mapping-export-folder")
    if st.button("Export the mapping", key="btn-export-mapping", type="primary"):
        written = rv.export_mapping(m, Path(folder) / f"{m.kind}_mapping.csv")
        st.success(f"Written: `{written}`")


def mappings_view(store: rv.ReviewStore, *, reviewer: str, export_folder: str) -> None:
    """The Mappings view: open a mapping, review it in a table, export the result."""
    chosen = _pick(store)
    _open_form(store, reviewer, expanded=chosen is None)
    if chosen is None:
        st.info("Open a mapping from `linker schema` or `linker taxonomy` (sidebar) to start.")
        return
    m = rv.MappingReview(store, chosen, reviewer=reviewer)
    decided = m.table().filter(pl.col("decision") != "pending").height
    st.markdown(f"**{decided:,}** of {len(m.items):,} {m.kind} items decided. Set *decision* "
                "(accept the proposal, no_match, pending) or type another *target*; each "
                "change is saved at once.")  # fmt: skip
    _table(m)
    _export(m, export_folder)
