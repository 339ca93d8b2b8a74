"""Pair matching: turn candidate pairs into scores, and scores into decisions."""

from __future__ import annotations
