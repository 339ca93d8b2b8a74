"""The static model: one vector per tokenizer token, distilled from a transformer once.

A text's vector is the mean of its tokens' vectors (unknown tokens left out), L2-normalised:
no transformer runs at embedding time, only the tokenizer and a sparse sum.

:func:`distil` makes the vectors, following the model2vec recipe (Tulkens & van Dongen,
2024) with numpy alone:

1. every vocabulary token (except BERT's ``[unusedN]`` placeholders) goes through the teacher
   on its own, as ``[CLS] token [SEP]``, and its last hidden states are mean-pooled;
2. PCA (centred, eigen-decomposition of the covariance) keeps the leading ``dims`` components;
3. each token's vector is scaled by the SIF weight ``a / (a + p)``, where ``p`` is the token's
   frequency estimated by Zipf's law from its rank in the vocabulary;
4. the vectors are stored as float16.

The folder holds ``model.safetensors`` (one tensor, ``embeddings``), ``tokenizer.json`` and
``config.json``, the layout of model2vec, so :class:`StaticVectors` also reads folders that
model2vec wrote. It is written under a temporary name and renamed, so a reader never sees half a
model and two processes building at once both end with one whole folder.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from linker._progress import progress, want_progress
from linker.errors import ModelError

__all__ = ["RECIPE", "STATIC_MODEL_ENV", "StaticVectors", "distil", "static_model_dir"]

logger = logging.getLogger(__name__)

STATIC_MODEL_ENV = "LINKER_STATIC_MODEL"
RECIPE = 1  # bump when distil() changes what it writes: the default folder's name carries it
_FOLDER = f"static-minilm-256-r{RECIPE}"
_UNUSED = re.compile(r"\[unused\d+\]")
_TEXTS_PER_CHUNK = 100_000  # texts tokenised together: bounds the memory of one step
_SAFETENSORS_DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64}

Matrix = npt.NDArray[np.float32]
IdMatrix = npt.NDArray[np.int64]
Teacher = Callable[[IdMatrix, IdMatrix], npt.NDArray[np.floating[Any]]]


def _writable(path: Path) -> bool:
    """True when ``path`` could be created: its nearest existing ancestor is writable."""
    for parent in (path, *path.parents):
        if parent.exists():
            return parent.is_dir() and os.access(parent, os.W_OK | os.X_OK)
    return False


def static_model_dir() -> Path:
    """Where ``model="static"`` is read from, and built on first use when missing.

    ``$LINKER_STATIC_MODEL`` when set; else ``<sys.prefix>/share/linker/static-minilm-256-r1``
    inside the (virtual) environment; else, when that is not writable and holds no model, the
    same name under the user cache (``$XDG_CACHE_HOME/linker``, default ``~/.cache/linker``).

    Example:
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, {STATIC_MODEL_ENV: "/data/static"}):
        ...     str(static_model_dir())
        '/data/static'
    """
    env = os.environ.get(STATIC_MODEL_ENV)
    if env:
        return Path(env)
    prefix = Path(sys.prefix) / "share" / "linker" / _FOLDER
    if (prefix / "model.safetensors").is_file() or _writable(prefix):
        return prefix
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "linker" / _FOLDER


# -- the file format ------------------------------------------------------------------------


def _write_safetensors(path: Path, name: str, array: npt.NDArray[np.float16]) -> None:
    """One 2-d float16 tensor in the safetensors layout: header length, JSON header, bytes."""
    data = np.ascontiguousarray(array, dtype="<f2").tobytes()
    header = {name: {"dtype": "F16", "shape": list(array.shape), "data_offsets": [0, len(data)]}}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the data starts 8-byte aligned
    with path.open("wb") as fh:
        fh.write(len(raw).to_bytes(8, "little") + raw + data)


def _read_safetensors(path: Path) -> dict[str, npt.NDArray[np.floating[Any]]]:
    """The float tensors of a safetensors file (model2vec's and ours)."""
    blob = path.read_bytes()
    size = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + size])
    header.pop("__metadata__", None)
    out: dict[str, npt.NDArray[np.floating[Any]]] = {}
    for name, info in header.items():
        dtype = _SAFETENSORS_DTYPES.get(info["dtype"])
        if dtype is None:
            raise ModelError(
                f"{path}: tensor {name!r} is {info['dtype']}; the static model reads F16, F32 "
                "or F64 vectors only (distil it again without quantisation)"
            )
        start, end = info["data_offsets"]
        chunk = blob[8 + size + start : 8 + size + end]
        out[name] = np.frombuffer(chunk, dtype=np.dtype(dtype).newbyteorder("<")).reshape(
            info["shape"]
        )
    return out


# -- distillation ---------------------------------------------------------------------------


def _pca(x: npt.NDArray[np.float64], dims: int) -> npt.NDArray[np.float64]:
    """Project ``x`` on its ``dims`` leading principal axes, each signed so its largest score
    is positive (the eigen-solver's signs are arbitrary)."""
    centred = x - x.mean(axis=0)
    _, vecs = np.linalg.eigh(centred.T @ centred)
    scores: npt.NDArray[np.float64] = centred @ vecs[:, ::-1][:, :dims]
    biggest = scores[np.abs(scores).argmax(axis=0), np.arange(scores.shape[1])]
    signed: npt.NDArray[np.float64] = scores * np.sign(biggest)
    return signed


def _sif_weights(n: int, coefficient: float) -> npt.NDArray[np.float64]:
    """``a / (a + p(rank))`` with ``p`` Zipf's law over ranks 1..n (rank 1: the first token)."""
    inverse_rank = 1.0 / np.arange(2, n + 2)
    p = inverse_rank / inverse_rank.sum()
    weights: npt.NDArray[np.float64] = coefficient / (coefficient + p)
    return weights


def distil(
    teacher: Teacher,
    tokenizer_json: str,
    out: str | os.PathLike[str],
    *,
    dims: int = 256,
    sif: float = 1e-4,
    batch_size: int = 1024,
    teacher_name: str = "",
    show_progress: bool | None = None,
) -> Path:
    """Distil a static model from ``teacher`` into the folder ``out`` (see the module notes).

    Args:
        teacher: ``teacher(ids, mask)`` maps a padded ``(n, length)`` batch of token ids and
            its attention mask to the mean-pooled last hidden states, ``(n, hidden)``.
        tokenizer_json: The teacher's tokenizer (``tokenizers`` JSON, BERT-style with
            ``[CLS]``/``[SEP]``); written to the folder without its padding, truncation and
            special-token template.
        out: The folder to write; replaced only if another process has not written it first.
        dims: Dimensions kept by the PCA.
        sif: The SIF coefficient ``a``.
        batch_size: Tokens per teacher call.
        teacher_name: Recorded in ``config.json``.
        show_progress: A progress bar over the teacher calls (``None``: follow the logger).

    Returns:
        The folder.

    Raises:
        ModelError: The tokenizer has no ``[CLS]``/``[SEP]`` tokens, or the folder cannot be
            written.

    Example:
        >>> import tempfile
        >>> from tokenizers import Tokenizer, models, pre_tokenizers
        >>> tok = Tokenizer(models.WordLevel({t: i for i, t in enumerate(
        ...     ["[UNK]", "[CLS]", "[SEP]", "acme", "corp"])}, unk_token="[UNK]"))
        >>> tok.pre_tokenizer = pre_tokenizers.Whitespace()
        >>> rng = np.random.default_rng(0)
        >>> table = rng.normal(size=(5, 8))
        >>> def teacher(ids, mask):
        ...     return table[ids].mean(axis=1)
        >>> folder = distil(teacher, tok.to_str(), tempfile.mkdtemp() + "/m", dims=4)
        >>> StaticVectors.load(folder).encode(["acme corp"]).shape
        (1, 4)
    """
    out = Path(out)
    spec = json.loads(tokenizer_json)
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(tokenizer_json)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    if cls_id is None or sep_id is None:
        raise ModelError("distil needs a BERT-style tokenizer with [CLS] and [SEP] tokens")
    id_to_token = {i: t for t, i in tok.get_vocab().items()}
    size = tok.get_vocab_size()
    kept = np.array([i for i in range(size) if not _UNUSED.fullmatch(id_to_token.get(i, ""))])
    parts: list[npt.NDArray[np.floating[Any]]] = []
    starts = range(0, len(kept), batch_size)
    show = want_progress(show_progress, logger)
    for s in progress(starts, total=len(starts), desc="distil static model", show=show):
        ids = kept[s : s + batch_size]
        batch = np.stack([np.full(len(ids), cls_id), ids, np.full(len(ids), sep_id)], axis=1)
        parts.append(teacher(batch.astype(np.int64), np.ones_like(batch, dtype=np.int64)))
    pooled = np.concatenate(parts).astype(np.float64)
    vectors = _pca(pooled, min(dims, pooled.shape[1])) * _sif_weights(len(kept), sif)[:, None]
    table = np.zeros((size, vectors.shape[1]), np.float16)
    table[kept] = vectors.astype(np.float16)
    for key in ("padding", "truncation", "post_processor"):
        spec[key] = None  # a text's tokens alone: no [CLS]/[SEP], no padding, no length cap
    config = {
        "model_type": "model2vec",
        "architectures": ["StaticModel"],
        "hidden_dim": int(vectors.shape[1]),
        "normalize": True,
        "pooling": "mean",
        "sif_coefficient": sif,
        "apply_pca": dims,
        "linker_recipe": RECIPE,
        "teacher": teacher_name,
    }
    return _write_folder(out, table, json.dumps(spec, ensure_ascii=False), config)


def _write_folder(out: Path, table: npt.NDArray[np.float16], tokenizer: str, config: Any) -> Path:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as e:
        raise ModelError(
            f"cannot write the static model to {out.parent}: {e}. Set {STATIC_MODEL_ENV} "
            "to a writable folder"
        ) from e
    try:
        _write_safetensors(tmp / "model.safetensors", "embeddings", table)
        (tmp / "tokenizer.json").write_text(tokenizer, encoding="utf-8")
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        tmp.chmod(0o755)  # mkdtemp makes it private; the model is for every user of the env
        try:
            tmp.rename(out)
        except OSError:
            if not (out / "model.safetensors").is_file():
                raise
            logger.info("another process wrote the static model to %s first; kept that", out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("static model written to %s", out)
    return out


# -- run time -------------------------------------------------------------------------------


class StaticVectors:
    """A static model in memory: a token-vector table and the tokenizer that finds tokens.

    Args:
        table: ``(vocabulary size, dim)`` token vectors.
        tokenizer: A ``tokenizers.Tokenizer`` whose ids index ``table``.

    Example:
        >>> from tokenizers import Tokenizer, models, pre_tokenizers
        >>> tok = Tokenizer(models.WordLevel({"[UNK]": 0, "acme": 1, "corp": 2}, unk_token="[UNK]"))
        >>> tok.pre_tokenizer = pre_tokenizers.Whitespace()
        >>> model = StaticVectors(np.eye(3, dtype=np.float32), tok)
        >>> model.encode(["acme corp", "acme", "zzz"]).astype(float).round(3).tolist()
        [[0.0, 0.707, 0.707], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    """

    def __init__(self, table: npt.NDArray[np.floating[Any]], tokenizer: Any):
        self.table: Matrix = np.ascontiguousarray(table, dtype=np.float32)
        self.tokenizer = tokenizer
        unk = getattr(tokenizer.model, "unk_token", None)
        self.unk_id: int | None = tokenizer.token_to_id(unk) if unk else None

    @property
    def dim(self) -> int:
        """The vectors' dimension."""
        return int(self.table.shape[1])

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> StaticVectors:
        """Read a folder written by :func:`distil` (or by model2vec without quantisation).

        Raises:
            ModelError: The folder lacks ``model.safetensors`` or ``tokenizer.json``, or they
                do not fit together.
        """
        path = Path(path)
        from tokenizers import Tokenizer

        try:
            tensors = _read_safetensors(path / "model.safetensors")
        except (OSError, ValueError, KeyError) as e:
            raise ModelError(f"could not read the static model in {path}: {e}") from e
        try:
            tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        except Exception as e:  # tokenizers raises a plain Exception
            raise ModelError(f"could not read the static model's tokenizer in {path}: {e}") from e
        if set(tensors) != {"embeddings"}:
            raise ModelError(
                f"{path}: expected one tensor 'embeddings', found {sorted(tensors)} (a model2vec "
                "model with vocabulary quantisation is not supported)"
            )
        table = tensors["embeddings"]
        if table.ndim != 2 or table.shape[0] < tokenizer.get_vocab_size():
            raise ModelError(
                f"{path}: {table.shape[0]} vectors for {tokenizer.get_vocab_size()} tokens"
            )
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return cls(table, tokenizer)

    def encode(self, texts: Sequence[str], *, show_progress: bool | None = None) -> Matrix:
        """Unit vectors of ``texts``, ``(len(texts), dim)`` float32 (zeros where no token is
        known)."""
        out = np.zeros((len(texts), self.dim), np.float32)
        starts = range(0, len(texts), _TEXTS_PER_CHUNK)
        show = want_progress(show_progress, logger)
        for s in progress(starts, total=len(starts), desc="embed (static)", show=show):
            out[s : s + _TEXTS_PER_CHUNK] = self._mean(texts[s : s + _TEXTS_PER_CHUNK])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        normed: Matrix = out / norms
        return normed

    def _mean(self, texts: Sequence[str]) -> Matrix:
        """Mean token vector of each text.

        The tokenizer runs once per distinct space-separated word, not once per text: BERT-style
        pre-tokenisers split at every space anyway, so a text's tokens are its words' tokens in
        order, and record values repeat words a lot.
        """
        import polars as pl
        import scipy.sparse as sp

        words = pl.Series("text", list(texts), dtype=pl.Utf8).str.split(" ")
        per_text = words.list.len().to_numpy()
        groups = (
            words.explode().to_frame("word").with_row_index("at").group_by("word").agg("at")
        )  # fmt: skip
        positions = groups["at"].explode().to_numpy()
        code = np.empty(len(positions), np.int64)
        code[positions] = np.repeat(np.arange(groups.height), groups["at"].list.len().to_numpy())
        encoded = self.tokenizer.encode_batch(groups["word"].to_list(), add_special_tokens=False)
        ids = np.fromiter((i for e in encoded for i in e.ids), np.int64)
        word_of = np.repeat(np.arange(len(encoded)), [len(e.ids) for e in encoded])
        if self.unk_id is not None:
            keep = ids != self.unk_id
            ids, word_of = ids[keep], word_of[keep]
        word_counts = np.bincount(word_of, minlength=len(encoded))
        word_tokens = sp.csr_matrix(
            (np.ones(len(ids), np.float32), ids, np.concatenate([[0], np.cumsum(word_counts)])),
            shape=(len(encoded), self.table.shape[0]),
        )
        indptr = np.concatenate([[0], np.cumsum(per_text)])
        text_words = sp.csr_matrix(
            (np.ones(len(code), np.float32), code, indptr), shape=(len(texts), len(encoded))
        )
        counts = text_words @ word_counts.astype(np.float32)
        sums: Matrix = np.asarray((text_words @ word_tokens) @ self.table, np.float32)
        means: Matrix = sums / np.maximum(counts, 1.0)[:, None]
        return means
