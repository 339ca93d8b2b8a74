"""Distil the packaged all-MiniLM-L6-v2 into the static model (``model="static"``), once.

Run by ``make install`` (and ``make demo``), so the first ``model="static"`` call does not pay
the build; offline, with the packages linker already needs (numpy, onnxruntime, tokenizers and
the packaged int8 MiniLM). Does nothing when the folder already holds a model, unless
``--force``. See ``linker.vectors.static`` for the recipe and ``models/README.md`` for costs.

Usage: ``python models/distill_static.py [OUT_DIR] [--force]`` (default OUT_DIR:
``linker.vectors.static.static_model_dir()``, which ``$LINKER_STATIC_MODEL`` moves).
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("out", type=Path, nargs="?", help="folder (default: static_model_dir())")
    p.add_argument("--force", action="store_true", help="rebuild even if the folder has a model")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from linker.vectors.embed import build_static_model
    from linker.vectors.static import static_model_dir

    out = args.out or static_model_dir()
    if args.force and out.exists():
        shutil.rmtree(out)
    if (out / "model.safetensors").is_file():
        print(f"static model already in {out}")  # noqa: T201 (a build script's report)
        return 0
    t0, c0 = time.perf_counter(), time.process_time()
    build_static_model(out, show_progress=True)
    print(  # noqa: T201
        f"static model in {out}: {time.perf_counter() - t0:.0f} s wall, "
        f"{time.process_time() - c0:.0f} CPU s, load average {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
