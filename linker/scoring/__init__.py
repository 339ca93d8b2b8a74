"""Pair scorers: a probability of "same entity" for every candidate pair.

- :mod:`~linker.scoring.base`: the :class:`PairMatcher` protocol and the saved-matcher loader;
- :mod:`~linker.scoring.features`: per-column rapidfuzz similarities of a pair;
- :mod:`~linker.scoring.zero_label`: the default scorer without labels
  (:mod:`~linker.scoring.fellegi_sunter` counts the matches,
  :mod:`~linker.scoring.selftrained` ranks them, :mod:`~linker.scoring.separation` warns);
- trained on labels: :mod:`~linker.scoring.boosted` (with :mod:`~linker.scoring.trees`,
  :mod:`~linker.scoring.evidence`, :mod:`~linker.scoring.word_weights`),
  :mod:`~linker.scoring.ditto` (a fine-tuned transformer), :mod:`~linker.scoring.stack`;
- :mod:`~linker.scoring.labelled_pairs`: labelled training pairs and their file readers.
"""

from __future__ import annotations
