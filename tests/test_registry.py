"""``lk.train``'s settings reach the right class through the registry, checked before any data
is read or any model fitted (the fits themselves are in test_train.py and test_boosted.py)."""

from __future__ import annotations

import pytest

import linker as lk
from linker.scoring import BoostedMatcher, DittoMatcher, StackedMatcher
from linker.scoring.registry import MATCHERS, TRAINERS, new_matcher


def test_every_trainable_model_is_a_loadable_matcher_type() -> None:
    assert set(TRAINERS.values()) == set(MATCHERS.values())
    assert list(TRAINERS) == ["ditto", "boosted", "stack"]


def test_settings_go_to_the_class_or_to_the_stacks_parts() -> None:
    ditto = new_matcher("ditto", {"max_len": 64, "seed": 3}, optional={"epochs": 2})
    assert isinstance(ditto, DittoMatcher)
    assert (ditto.max_len, ditto.seed, ditto.epochs) == (64, 3, 2)
    boosted = new_matcher("boosted", {"n_models": 2}, optional={"epochs": 2})
    assert isinstance(boosted, BoostedMatcher) and boosted.n_models == 2  # epochs: not its own
    stack = new_matcher(
        "stack",
        {"columns": ["name"], "hard_negatives": 1.5, "max_iter": 40, "lr": 1e-4},
        optional={"epochs": 1, "show_progress": False},
    )
    assert isinstance(stack, StackedMatcher)
    assert (stack.columns, stack.hard_negatives) == (["name"], 1.5)
    assert stack.boosted == {"max_iter": 40}
    assert stack.ditto == {"lr": 1e-4, "epochs": 1, "show_progress": False}


def test_an_unknown_setting_is_named_with_the_allowed_ones() -> None:
    with pytest.raises(lk.ConfigError) as caught:
        new_matcher("ditto", {"max_iter": 10, "colour": "red"})
    message = str(caught.value)
    assert "model='ditto' takes no setting ['colour', 'max_iter']" in message
    assert "(max_iter is a setting of model='boosted' and model='stack')" in message
    assert "colour is a setting" not in message
    assert "its settings are ['augment', 'augment_prob', 'backbone'," in message


def test_train_checks_its_settings_before_reading_the_pairs() -> None:
    missing = "no/such/pairs.txt"
    with pytest.raises(lk.ConfigError, match=r"model='forest' is not one of \['ditto'"):
        lk.train(missing, model="forest")
    with pytest.raises(lk.ConfigError, match="backbone is a setting of model='ditto'"):
        lk.train(missing, model="boosted", backbone="minilm")
    with pytest.raises(lk.ConfigError, match="hard_negatives is a setting of model='stack'"):
        lk.train(missing, model="ditto", hard_negatives=1.0)
    with pytest.raises(lk.InputError, match="not found"):  # valid settings: on to the pairs
        lk.train(missing, model="boosted", epochs=3, max_iter=10)
