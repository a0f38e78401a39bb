"""Auto-feature rules: communities that want no manual curation feature papers by rule.

A rule (settings.auto_feature_rules) matches a paper published within `max_age_days` of its
category (any of its categories; all when unset) once it has at least `min_upvotes` upvotes
(member + imported). Matching papers never featured before go on today's list with source
"rule". `matches` is pure; `apply_rules` runs after ingests (`paperfeed rules apply`) and after
each vote (for the voted paper).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from paperfeed.config import FeatureRule, Settings
from paperfeed.feed import local_today
from paperfeed.models import Featured
from paperfeed.storage.curation import rule_candidates
from paperfeed.storage.db import write
from paperfeed.storage.papers import add_featured


def site_today(settings: Settings, now: datetime) -> date:
    """Today's date in the site's timezone, for a naive-UTC `now`."""
    return local_today(now, settings.timezone)


def matches(rule: FeatureRule, paper: Mapping[str, Any], now: datetime) -> bool:
    published = paper.get("published_at")
    if published is None or now - published > timedelta(days=rule.max_age_days):
        return False
    if rule.category:
        cats = set(paper.get("categories") or []) | {paper.get("primary_category")}
        if rule.category not in cats:
            return False
    upvotes = int(paper.get("member_upvotes") or 0) + int(paper.get("upstream_upvotes") or 0)
    return upvotes >= rule.min_upvotes


def apply_rules(
    engine: Engine, settings: Settings, *, now: datetime, paper_ids: Iterable[str] | None = None
) -> list[str]:
    """Feature every candidate a rule matches on today's list; returns the featured ids."""
    rules = settings.auto_feature_rules
    if not rules:
        return []
    since = now - timedelta(days=max(r.max_age_days for r in rules))
    day = site_today(settings, now)
    with write(engine) as conn:
        chosen = [
            row["id"]
            for row in rule_candidates(conn, published_since=since, paper_ids=paper_ids)
            if any(matches(rule, dict(row), now) for rule in rules)
        ]
        add_featured(
            conn, [Featured(paper_id=pid, day=day, submitted_at=now, source="rule")
                   for pid in chosen], now=now,
        )
    return chosen
