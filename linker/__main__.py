"""``python -m linker`` runs the CLI."""

from __future__ import annotations

import sys

from linker.cli import main

sys.exit(main())
