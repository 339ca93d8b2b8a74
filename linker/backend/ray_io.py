"""Tables in and out on Ray: the reading and writing of :class:`~linker.backend.ray.RayBackend`.

- **Reading** a folder or URI of files (:func:`linker.io.dataset.table_files` finds and checks
  them in the calling process, from the Parquet footers alone): one Ray task per file reads it
  with :func:`linker.io.dataset.read_file` (pyarrow's filesystems; linker's own parser for
  text), and the calling process puts the files' frames together in file order
  (:func:`linker.io.dataset.combine`). So the frame is the one :func:`linker.read` gives,
  every value as written, hive partition folders as text columns. Not Ray Data's readers:
  ``read_csv`` (pyarrow's CSV reader) re-types values (``"00123"`` becomes ``123``), and
  ``read_parquet`` (Ray 2.60) lists paths in threads that race on importing fsspec's HTTP
  filesystem where ``aiohttp`` is not installed (``linker[ray]`` does not install it): the
  read fails with ``ImportError: cannot import name 'HTTPFileSystem'``. A single local file
  is read by the calling process, as :func:`linker.read` reads it (its errors then name
  lines).
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

from linker.errors import LinkerError
from linker.io.dataset import TableFiles, combine, is_dataset, read_file, table_files
from linker.io.parts import atomic_parts, part_name, part_slices, write_part

__all__ = ["read_table", "write_parts"]

logger = logging.getLogger(__name__)


def _local(files: TableFiles) -> bool:
    import pyarrow.fs as pafs

    return isinstance(files.filesystem, pafs.LocalFileSystem)


def _on_this_node(ray: Any) -> dict[str, Any]:
    """Ray task options that keep a task on this process's node (its local files)."""
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
    task = ray.remote(num_cpus=1)(read_file)
    task = task.options(**_on_this_node(ray)) if _local(files) else task
    ref = ray.put(files)
    refs = [
        task.remote(ref, i, delimiter=delimiter, encoding=encoding) for i in range(len(files.paths))
    ]
    try:
        frames = list(ray.get(refs))
    except ray.exceptions.RayTaskError as e:  # a bad file: the task's own error, one line
        if isinstance(e.cause, LinkerError):
            raise e.cause from None
        raise
    df = combine(files, frames)
    logger.debug("read %d rows of %s in %d Ray tasks", df.height, files.source, len(refs))
    return df


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
