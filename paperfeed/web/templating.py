"""Jinja2 environment for pages: autoescaping on, shared filters (dates, counts)."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from paperfeed.config import Settings
from paperfeed.feed import count_label, format_day
from paperfeed.web.csrf import csrf_input

TEMPLATES_DIR = Path(__file__).parent / "templates"


def http_url(value: object) -> str | None:
    """`value` if it is an http(s) URL, else None: keeps `javascript:` links off our pages."""
    if isinstance(value, str) and value.lower().startswith(("https://", "http://")):
        return value
    return None


def make_templates(settings: Settings) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.autoescape = True
    # Production never edits templates under a running server: without this, every
    # get_template (the page's, and each card's vote and save slots) stat()ed its file to see
    # whether it changed: ~10% of the search page's CPU at 75k papers (bench/pages.py).
    env.auto_reload = settings.is_development
    env.globals["site_name"] = settings.site_name
    env.globals["base_url"] = settings.base_url.rstrip("/")
    env.globals["csrf_input"] = csrf_input
    env.filters["day"] = format_day  # {{ paper.published_at|day(now) }} -> "Jun 16[, 2024]"
    env.filters["http_url"] = http_url  # {% if x|http_url %}<a href="{{ x|http_url }}">
    env.filters["count"] = count_label  # {{ n|count("author") }} -> "1 author" / "7 authors"
    from paperfeed.web import member_globals

    member_globals.register(env)
    from paperfeed.web import collect_globals

    collect_globals.register(env)
    from paperfeed import texmath
    from paperfeed.web.pages import private_feeds

    private_feeds.register(env)
    from paperfeed.web import cards

    cards.register(env)
    from paperfeed.web import card_cache

    card_cache.register(env)
    from paperfeed.web.pages import people

    people.register(env)
    env.filters["tex"] = texmath.to_html  # {{ paper.title|tex }}: escaped, math for KaTeX
    env.filters["plain"] = texmath.plain_text  # <title>, meta description: readable text
    return templates
