"""One of each vector primitive, shared by the pipeline, schema, taxonomy and scoring code.

- :mod:`~linker.vectors.embed`: sentence encoders (the packaged default, any
  sentence-transformers model, the static model) and the embedding cache;
- :mod:`~linker.vectors.ngrams`: character n-gram TF-IDF vectors;
- :mod:`~linker.vectors.ann`: exact and hnswlib nearest-neighbour search behind one function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linker._lazy import lazy_getattr

if not TYPE_CHECKING:  # hidden from type checkers, so that they flag a name that is not there
    __getattr__ = lazy_getattr(__name__)  # submodules on first use: lk.vectors.<module>
