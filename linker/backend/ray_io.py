"""Tables in and out on Ray: the reading and writing of :class:`~linker.backend.ray.RayBackend`.

- **Reading** a folder or URI of files (:func:`linker.io.dataset.table_files` finds and checks
  them in the calling process, from the Parquet footers alone): Parquet through Ray Data
  ``read_parquet`` with the files' common schema (hive partition folders become text columns,
  as :func:`~linker.io.dataset.read_dataset` makes them); delimited text as one Ray task per
  file running linker's own parser (:func:`linker.io.dataset.read_file`), because Ray Data's
  ``read_csv`` (pyarrow's CSV reader) re-types values (``"00123"`` becomes ``123``) where
  linker keeps every value as written. The frame that comes back is the one
  :func:`linker.read` gives. A single local file is read by the calling process, as
  :func:`linker.read` reads it (its errors then name lines).
- **Writing** a folder of Parquet parts (:mod:`linker.io.parts`): each part is a Ray task that
  writes its slice into the temporary folder, which then replaces the target.

Local paths are read and written by tasks on the calling process's node (a path on this
machine is not on the others); URIs (``s3://...``) are read wherever Ray schedules.
Today the tables still come back whole to the calling process, which runs the pipeline's
other stages on them (see ``docs/guide/scale.md``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import polars as pl

from linker.io.dataset import TableFiles, combine, is_dataset, read_file, table_files
from linker.io.parts import atomic_parts, part_name, part_slices, write_part

__all__ = ["read_table", "write_parts"]

logger = logging.getLogger(__name__)

_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"


def _on_this_node(ray: Any, files: TableFiles | None = None) -> dict[str, Any]:
    """Ray remote arguments that keep a task on this process's node, for local files."""
    import pyarrow.fs as pafs

    if files is not None and not isinstance(files.filesystem, pafs.LocalFileSystem):
        return {}
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    node = ray.get_runtime_context().get_node_id()
    return {"scheduling_strategy": NodeAffinitySchedulingStrategy(node_id=node, soft=False)}


def read_table(
    ray: Any,
    source: str | os.PathLike[str],
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> pl.DataFrame:
    """Read a table with Ray workers; the frame :func:`linker.read` gives.

    Args:
        ray: The connected ``ray`` module.
        source: A folder of Parquet or CSV files, a URI, or one file.
        delimiter: Field delimiter of text files (sniffed per file when None).
        encoding: Python codec of text files (found per file when None).

    Raises:
        InputError: see :func:`linker.read`.
    """
    if not is_dataset(source):
        from linker.frames import read

        return read(source, delimiter=delimiter, encoding=encoding)
    files = table_files(source)
    if files.format == "text":
        task = ray.remote(num_cpus=1)(read_file).options(**_on_this_node(ray, files))
        ref = ray.put(files)
        refs = [
            task.remote(ref, i, delimiter=delimiter, encoding=encoding)
            for i in range(len(files.paths))
        ]
        return combine(files, list(ray.get(refs)))
    return _read_parquet(ray, files)


def _read_parquet(ray: Any, files: TableFiles) -> pl.DataFrame:
    """The Parquet files through Ray Data, in file order, partition columns as text."""
    import pyarrow as pa
    from ray.data.datasource.partitioning import Partitioning, PartitionStyle

    schema = files.schema if files.schema is not None else pa.schema([])  # set for Parquet
    keys = files.keys
    ctx = ray.data.DataContext.get_current()
    keep = ctx.execution_options.preserve_order
    ctx.execution_options.preserve_order = True  # blocks in file order
    try:
        ds = ray.data.read_parquet(
            list(files.paths),
            filesystem=files.filesystem,
            schema=schema,
            partitioning=Partitioning(PartitionStyle.HIVE, base_dir=files.base) if keys else None,
            file_extensions=None,  # the files are checked already (.pq too)
            ray_remote_args=_on_this_node(ray, files),
        )
        tables = [t for t in ray.get(ds.to_arrow_refs()) if t.num_rows]
    finally:
        ctx.execution_options.preserve_order = keep
    empty = pa.schema([*schema, *(pa.field(k, pa.string()) for k in keys)]).empty_table()
    df = pl.DataFrame(pl.from_arrow(pa.concat_tables(tables) if tables else empty))
    logger.debug("read %d rows of %s with Ray Data", df.height, files.source)
    return df.with_columns(
        pl.col(k).cast(pl.String).replace(_NULL_PARTITION, None) for k in keys
    ).select([*schema.names, *keys])


def write_parts(
    ray: Any, frame: pl.DataFrame, path: str | Path, *, rows_per_part: int
) -> list[Path]:
    """Write ``frame`` as a folder of Parquet parts (:mod:`linker.io.parts`), a Ray task each.

    Args:
        ray: The connected ``ray`` module.
        frame: The table.
        path: The folder (an earlier folder of parts is replaced).
        rows_per_part: Most rows per part.

    Raises:
        ConfigError: see :func:`linker.io.parts.check_folder`.
    """
    slices = part_slices(frame.height, rows_per_part)
    task = ray.remote(num_cpus=1)(write_part).options(**_on_this_node(ray))
    with atomic_parts(path) as tmp:
        refs = [
            task.remote(ray.put(frame.slice(offset, length).to_arrow()), str(tmp / part_name(i)))
            for i, (offset, length) in enumerate(slices)
        ]
        ray.get(refs)
    return [Path(path) / part_name(i) for i in range(len(slices))]
