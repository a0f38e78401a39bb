"""Jinja2 environment for pages: autoescaping on, shared filters (dates, counts)."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from paperfeed.config import Settings
from paperfeed.web.csrf import csrf_input

TEMPLATES_DIR = Path(__file__).parent / "templates"


def make_templates(settings: Settings) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.autoescape = True
    env.globals["site_name"] = settings.site_name
    env.globals["base_url"] = settings.base_url.rstrip("/")
    env.globals["csrf_input"] = csrf_input
    return templates
