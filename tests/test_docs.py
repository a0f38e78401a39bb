"""The generated reference docs match the code (datasette-style: docs cannot drift)."""

from __future__ import annotations

import pytest

from paperfeed.config import Settings
from paperfeed.docs import DOCS_DIR, GENERATORS, settings_markdown


@pytest.mark.parametrize("what", sorted(GENERATORS))
def test_generated_doc_is_up_to_date(what: str) -> None:
    path = DOCS_DIR / f"{what}.md"
    assert path.exists(), f"{path} missing; run `python -m paperfeed.docs write`"
    assert path.read_text(encoding="utf-8") == GENERATORS[what](), (
        f"docs/{what}.md is out of date with the code; run `python -m paperfeed.docs write`"
    )


def test_every_setting_is_documented_with_help_text() -> None:
    text = settings_markdown()
    for name, field in Settings.model_fields.items():
        assert f"`PAPERFEED_{name.upper()}`" in text
        assert field.description, f"setting {name} has no description in paperfeed/config.py"
