"""The one exception tree of linker.

Every error the library raises on purpose is a :class:`LinkerError`, so a caller can catch
them all with one ``except``. The children also derive from the matching built-in, so code
that already catches ``ValueError`` keeps working::

    LinkerError
    ├── ConfigError (ValueError)       bad argument or option value: what is allowed is listed
    ├── InputError (ValueError)        bad data: missing column, empty table, duplicate or null id,
    │                                  reserved ``__lk_`` column name, unreadable file
    ├── NotFittedError (AttributeError)  predict/transform before fit
    ├── ModelError                     a model cannot be found, loaded or saved
    └── RerankError                    an LLM rerank call failed for good

Messages name the file, column or row at fault and say what to do next.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "InputError",
    "LinkerError",
    "ModelError",
    "NotFittedError",
    "RerankError",
]


class LinkerError(Exception):
    """Base class of every error linker raises on purpose."""


class ConfigError(LinkerError, ValueError):
    """An argument or option has a value linker does not accept."""


class InputError(LinkerError, ValueError):
    """The input data cannot be used as given (missing column, empty table, bad id, bad file)."""


class NotFittedError(LinkerError, AttributeError):
    """A fitted-state attribute or method was used before ``fit``."""


class ModelError(LinkerError):
    """A model could not be found, loaded or saved."""


class RerankError(LinkerError):
    """An LLM rerank call failed after its retries."""
