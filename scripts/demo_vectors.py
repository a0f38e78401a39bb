"""Precompute the demo corpus's vectors shipped in paperfeed/demo/ (so `serve --demo` has semantic
search at once). Run again whenever the demo archive or the bundled model changes:

    PYTHONPATH=. python scripts/demo_vectors.py [--out paperfeed/demo]

It loads the demo corpus into a temporary store with `load_demo` and embeds it with
`paperfeed index`'s own code (`index_papers`), then writes `vectors.npy` (float16, one row per
paper), `ids.txt` (the rows' paper ids) and `model.txt` (the model id) for `index --import`.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import numpy as np

from paperfeed.config import Settings
from paperfeed.demo import load_demo
from paperfeed.search.embed import Embedder
from paperfeed.search.indexing import export_vectors, index_papers
from paperfeed.storage.db import connect, migrate

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "paperfeed" / "demo")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO)
    with tempfile.TemporaryDirectory(prefix="paperfeed-demo-vectors-") as tmp:
        settings = Settings(data_dir=Path(tmp), environment="development")
        engine = connect(settings)
        migrate(engine)
        load_demo(engine)
        embedder = Embedder.load(settings)
        summary = index_papers(engine, settings, embedder=embedder, progress=True)
        logging.info("%s", summary.line())
        ids, matrix = export_vectors(engine, embedder.model_id, embedder.dim)
        engine.dispose()
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "vectors.npy", matrix.astype(np.float16))
    (args.out / "ids.txt").write_text("".join(f"{i}\n" for i in ids), "utf-8")
    (args.out / "model.txt").write_text(embedder.model_id + "\n", "utf-8")
    logging.info("wrote %d vectors to %s", len(ids), args.out)


if __name__ == "__main__":
    main()
