"""The bundled demo corpus: present in the package, loads through the hf-daily importer, and a
second load changes nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, func, select

from paperfeed.demo import ARCHIVE_NAME, STATE_KEY, archive_path, load_demo, sha256_of
from paperfeed.storage.jobs import get_state
from paperfeed.storage.schema import featured, papers


def test_demo_archive_ships_with_provenance_readme() -> None:
    path = archive_path()
    assert path.name == ARCHIVE_NAME and path.stat().st_size > 1_000_000
    readme = (path.parent / "README.md").read_text(encoding="utf-8")
    assert "Apache-2.0" in readme and sha256_of(path) in readme


def test_load_demo_imports_the_corpus_once(engine: Engine) -> None:
    first = load_demo(engine)
    assert (first.new, first.rejected) == (2926, 0)
    assert first.featured_new == 2930
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(papers)).scalar_one() == 2926
        days = conn.execute(select(func.count(func.distinct(featured.c.day)))).scalar_one()
        assert days == 123
    assert get_state(engine, STATE_KEY)["sha256"] == sha256_of(archive_path())

    second = load_demo(engine)
    assert (second.new, second.updated, second.featured_new) == (0, 0, 0)
    assert second.unchanged == 2926


def test_every_demo_file_is_package_data_so_a_plain_install_carries_it() -> None:
    import glob
    import tomllib

    from tests.conftest import REPO_ROOT

    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["paperfeed"]
    package = REPO_ROOT / "paperfeed"
    covered = {
        Path(p).resolve()
        for pattern in patterns
        for p in glob.glob(str(package / pattern), recursive=True)
    }
    demo_files = [p.resolve() for p in archive_path().parent.iterdir() if p.suffix != ".py" and p.is_file()]
    assert archive_path().resolve() in demo_files
    missing = [p.name for p in demo_files if p not in covered]
    assert not missing, f"not package data (add a glob to pyproject.toml): {missing}"
