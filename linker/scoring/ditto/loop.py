"""The torch side of the Ditto matcher: batching, one training epoch, scoring.

Kept apart from :mod:`linker.scoring.ditto.model` (the estimator) so the estimator reads as
settings and steps. torch is imported by the caller and passed in as module objects, so
importing this module stays cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["length_batches", "pair_logits", "predict_texts", "train_epoch"]

logger = logging.getLogger(__name__)

Texts = Sequence[tuple[str, str]]


def length_batches(
    lengths: Sequence[int], batch_size: int, rng: np.random.Generator | None
) -> list[list[int]]:
    """Batches of indices that group similar lengths (less padding).

    With ``rng`` (training): shuffle, sort within windows of 50 batches, shuffle the batches.
    Without (scoring): sorted by length, longest first.

    Example:
        >>> length_batches([5, 1, 3], 2, None)
        [[0, 2], [1]]
    """
    idx = np.arange(len(lengths))
    lens = np.asarray(lengths)
    if rng is None:
        order = np.argsort(-lens, kind="stable")
        return [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    idx = rng.permutation(idx)
    window = batch_size * 50
    batches: list[list[int]] = []
    for w in range(0, len(idx), window):
        chunk = idx[w : w + window]
        chunk = chunk[np.argsort(-lens[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size].tolist() for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def _encode(tokenizer: Any, texts: Texts, max_len: int, device: Any) -> Any:
    batch = tokenizer(
        [a for a, _ in texts],
        [b for _, b in texts],
        truncation="longest_first",
        max_length=max_len,
        padding=True,
        return_tensors="pt",
    )
    return {k: v.to(device) for k, v in batch.items()}


def pair_logits(torch: Any, model: Any, batch: Any, pooling: str) -> Any:
    """The two class logits of a batch.

    ``pooling="cls"``: the model's own head (the pooler on ``[CLS]``, then the classifier).
    ``pooling="mean"``: the classifier on the attention-masked mean of the last hidden
    states, the pooling sentence-transformers checkpoints were trained with, so the head
    starts from a meaningful pair representation. It needs a plain linear ``classifier``
    (BERT-like models); other heads fall back to ``"cls"``.
    """
    classifier = getattr(model, "classifier", None)
    if pooling != "mean" or not isinstance(classifier, torch.nn.Linear):
        return model(**batch).logits
    hidden = model.base_model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
    dropout = getattr(model, "dropout", None)
    return classifier(dropout(pooled) if dropout is not None else pooled)


def train_epoch(
    torch: Any,
    model: Any,
    tokenizer: Any,
    texts: Texts,
    labels: npt.NDArray[np.int64],
    *,
    optimizer: Any,
    scheduler: Any,
    batch_size: int,
    max_len: int,
    rng: np.random.Generator,
    device: Any,
    on_step: Callable[[float], None],
    stop: Callable[[], bool] | None,
    pooling: str = "cls",
    class_weight: Any = None,
) -> tuple[float, bool]:
    """One pass over ``texts``; returns the mean loss and whether ``stop()`` ended it early.

    ``class_weight``: a tensor of two loss weights (non-match, match), or ``None``.
    """
    model.train()
    lengths = [len(a) + len(b) for a, b in texts]
    losses: list[float] = []
    autocast = device.type == "cuda"
    for rows in length_batches(lengths, batch_size, rng):
        if stop is not None and stop():
            return float(np.mean(losses)) if losses else float("nan"), True
        batch = _encode(tokenizer, [texts[i] for i in rows], max_len, device)
        y = torch.as_tensor(labels[rows], device=device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = pair_logits(torch, model, batch, pooling)
        loss = torch.nn.functional.cross_entropy(logits.float(), y, weight=class_weight)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        on_step(losses[-1])
    return float(np.mean(losses)) if losses else float("nan"), False


def predict_texts(
    torch: Any,
    model: Any,
    tokenizer: Any,
    texts: Texts,
    *,
    batch_size: int,
    max_len: int,
    device: Any,
    progress: Callable[[int], None] | None = None,
    pooling: str = "cls",
) -> npt.NDArray[np.float32]:
    """Match probability of each serialized pair (softmax of the two logits)."""
    model.eval()
    out = np.zeros(len(texts), dtype=np.float32)
    lengths = [len(a) + len(b) for a, b in texts]
    autocast = device.type == "cuda"
    with torch.inference_mode():
        for rows in length_batches(lengths, batch_size, None):
            batch = _encode(tokenizer, [texts[i] for i in rows], max_len, device)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
                logits = pair_logits(torch, model, batch, pooling).float()
            out[rows] = torch.softmax(logits, dim=-1)[:, 1].cpu().numpy()
            if progress is not None:
                progress(len(rows))
    return out
