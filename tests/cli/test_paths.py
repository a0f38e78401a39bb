"""Commands that write a file given a path the operator cannot write there (a directory, a
path under a file): one line naming the path and why, never "a bug in paperfeed"."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from paperfeed.cli import app


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("paths")
    env = {"PAPERFEED_DATA_DIR": str(root / "data"), "PAPERFEED_ENVIRONMENT": "development"}
    for args in (["init"], ["user", "create", "ada@example.org"]):
        done = CliRunner().invoke(app, args, env=env)
        assert done.exit_code == 0, done.output
    return env


@pytest.mark.parametrize("command", [
    ["export", "{dir}"], ["export", "{file}/x.jsonl"],
    ["user", "export", "ada@example.org", "--out", "{dir}"],
    ["user", "export", "ada@example.org", "--out", "{file}/x.json"],
])
def test_a_path_that_cannot_be_written_is_one_line(
    instance: dict[str, str], tmp_path: Path, command: list[str]
) -> None:
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    args = [a.format(dir=tmp_path, file=tmp_path / "a-file") for a in command]
    done = CliRunner().invoke(app, args, env=instance)
    assert done.exit_code == 1, done.output
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "a bug in paperfeed" not in lines[0] and str(tmp_path) in lines[0], lines[0]
