"""Gradient-boosted trees that are saved as plain JSON and predicted without scikit-learn's pickles.

:func:`fit_trees` trains scikit-learn's ``HistGradientBoostingClassifier`` and exports its
trees as arrays (feature, threshold, children, leaf values); :func:`predict_trees` walks them
with numpy, giving the same log-odds as scikit-learn. A saved matcher is therefore readable
text, loads across scikit-learn versions, and never runs pickled code.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from linker.errors import ModelError

__all__ = ["CompiledTrees", "compile_trees", "fit_trees", "out_of_fold", "predict_trees"]

Trees = dict[str, Any]
_FIELDS = (
    "feature_idx",
    "num_threshold",
    "left",
    "right",
    "is_leaf",
    "missing_go_to_left",
    "value",
)


def fit_trees(
    X: npt.NDArray[np.float64],
    y: npt.NDArray[np.int64],
    *,
    max_iter: int = 300,
    learning_rate: float = 0.05,
    l2_regularization: float = 1.0,
    max_features: float = 0.5,
    n_models: int = 5,
    seed: int = 0,
) -> Trees:
    """Fit boosted trees for a binary label; returns ``{"baseline": .., "trees": [...]}``.

    ``n_models`` boosted models (seeds ``seed``, ``seed + 1``, ...), each split choosing
    among a random ``max_features`` share of the features, are averaged: their trees are
    kept with leaf values divided by ``n_models``, so the result is one set of trees whose
    summed log-odds is the mean of the models'. With a few hundred training pairs one
    model's trees lean on whichever features happened to split the training pairs best;
    the average is steadier. With the L2 penalty and half the features per split, the mean
    validation F1 of the boosted matcher over ER-Magellan's eight tasks rose from 92.66 to
    93.20 (with the core-word features; ``benchmarks/results/er_magellan.md``). A fixed
    number of rounds (no early stopping) and fixed seeds: the same data gives the same
    trees.

    Example:
        >>> X = np.array([[0.1], [0.2], [0.8], [0.9]] * 10); y = np.array([0, 0, 1, 1] * 10)
        >>> t = fit_trees(X, y, max_iter=5, n_models=2)
        >>> bool(predict_trees(t, np.array([[0.95]]))[0] > predict_trees(t, np.array([[0.05]]))[0])
        True
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    trees: list[dict[str, Any]] = []
    baseline = 0.0
    for k in range(n_models):
        model = HistGradientBoostingClassifier(
            max_iter=max_iter,
            learning_rate=learning_rate,
            l2_regularization=l2_regularization,
            max_features=max_features,
            early_stopping=False,
            random_state=seed + k,
        )
        model.fit(X, y)
        base, fitted = _export(model)
        baseline += base / n_models
        for nodes in fitted:
            tree = {f: nodes[f].tolist() for f in _FIELDS if f != "value"}
            trees.append({**tree, "value": (nodes["value"] / n_models).tolist()})
    return {"baseline": baseline, "trees": trees}


def _export(model: Any) -> tuple[float, list[Any]]:
    """The baseline log-odds and the node arrays of a fitted binary classifier.

    scikit-learn keeps them in private attributes (``_baseline_prediction``, ``_predictors``,
    each predictor's ``nodes`` record array); tests/test_boosted.py checks, for the pinned
    version, that the exported trees give scikit-learn's own log-odds. A version that renames
    them fails here with a message, not deep inside a save.
    """
    try:
        baseline = float(np.ravel(model._baseline_prediction)[0])
        nodes = [predictor.nodes for (predictor,) in model._predictors]  # binary: one per round
        for field in _FIELDS:
            _ = nodes[0][field] if nodes else None
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        import sklearn

        raise ModelError(
            f"scikit-learn {sklearn.__version__} stores its boosted trees differently from the "
            f"versions linker can export ({e!r}); install the version in constraints.txt "
            "(pip install 'scikit-learn==1.9.1')"
        ) from e
    return baseline, nodes


def out_of_fold(
    X: npt.NDArray[np.float64],
    y: npt.NDArray[np.int64],
    *,
    folds: int = 5,
    seed: int = 0,
    **settings: Any,
) -> npt.NDArray[np.float64]:
    """The log-odds of each row of ``X`` from trees fitted without it (``folds``-fold).

    Stratified folds (fewer when the rarer class has fewer than ``folds`` rows, at least 2);
    ``settings`` go to :func:`fit_trees`. How hard each training pair is for the trees, with
    the optimism of scoring a pair the trees were fitted on removed.

    Example:
        >>> X = np.array([[0.1], [0.2], [0.8], [0.9]] * 50); y = np.array([0, 0, 1, 1] * 50)
        >>> z = out_of_fold(X, y, max_iter=5, n_models=1)
        >>> bool(z[y == 1].min() > z[y == 0].max())
        True
    """
    from sklearn.model_selection import StratifiedKFold

    k = max(2, min(folds, int(np.bincount(y, minlength=2).min())))
    out = np.zeros(len(y), dtype=np.float64)
    for fit_rows, held in StratifiedKFold(k, shuffle=True, random_state=seed).split(X, y):
        out[held] = predict_trees(fit_trees(X[fit_rows], y[fit_rows], seed=seed, **settings),
                                  X[held])  # fmt: skip
    return out


class CompiledTrees(NamedTuple):
    """All trees' nodes in flat arrays of the kernel's types (children renumbered globally),
    each tree's first node, and the baseline log-odds: what :func:`predict_trees` walks."""

    nodes: dict[str, npt.NDArray[Any]]
    roots: npt.NDArray[np.int64]
    baseline: float


def compile_trees(trees: Trees) -> CompiledTrees:
    """The flat form of ``trees`` (made once by a matcher, then reused by every prediction)."""
    from linker._kernels import TREE_FIELDS

    dtypes = dict(TREE_FIELDS)
    sizes = np.array([len(t["value"]) for t in trees["trees"]], dtype=np.int64)
    roots = (np.cumsum(sizes) - sizes).astype(np.int64)
    nodes: dict[str, npt.NDArray[Any]] = {
        f: np.concatenate([np.asarray(t[f]) for t in trees["trees"]]).astype(dtypes[f])
        if len(sizes) else np.zeros(0, dtype=dtypes[f])
        for f in _FIELDS
    }  # fmt: skip
    offset = np.repeat(roots, sizes)
    for f in ("left", "right"):
        nodes[f] += offset
    return CompiledTrees(nodes, roots, float(trees["baseline"]))


def predict_trees(
    trees: Trees | CompiledTrees, X: npt.NDArray[np.floating]
) -> npt.NDArray[np.float64]:
    """The log-odds of each row of ``X`` (apply a sigmoid for probabilities).

    ``trees``: as :func:`fit_trees` returns them, or their :func:`compile_trees` form.
    """
    from linker._kernels import tree_sums

    flat = trees if isinstance(trees, CompiledTrees) else compile_trees(trees)
    out: npt.NDArray[np.float64] = tree_sums(
        np.asarray(X, dtype=np.float64), flat.nodes, flat.roots
    )
    return out + flat.baseline
