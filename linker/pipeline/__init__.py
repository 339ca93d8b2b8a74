"""The record pipeline, stage by stage: serialize, embed, block, features, score, rerank, decide.

- :mod:`~linker.pipeline.linker`: :class:`Linker`, which holds the settings and wires the stages;
- :mod:`~linker.pipeline.settings`: its settings in groups (rerank, dedup, scale), and checks;
- :mod:`~linker.pipeline.config`: its one JSON config format (``to_config``/``from_config``);
- :mod:`~linker.pipeline.columns`: which columns to compare when the user did not say;
- :mod:`~linker.pipeline.prepare`: the stages before blocking (check, serialize, embed, n-grams);
- :mod:`~linker.pipeline.serialize`: records as text, for the encoders and matchers;
- :mod:`~linker.pipeline.pairs`: candidate pairs after blocking (features, scores, ranks);
- :mod:`~linker.pipeline.stats`: the counts and estimates a result reports;
- :mod:`~linker.pipeline.result`: the merged / dedup frames the user gets back;
- :mod:`~linker.pipeline.pandas_io`: pandas in, pandas out (dtypes and index restored);
- :mod:`~linker.pipeline.incremental`: :class:`LinkIndex`, a reference prepared once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linker._lazy import lazy_getattr

if not TYPE_CHECKING:  # hidden from type checkers, so that they flag a name that is not there
    __getattr__ = lazy_getattr(__name__)  # submodules on first use: lk.pipeline.<module>
