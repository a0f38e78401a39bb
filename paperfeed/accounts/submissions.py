""""Submit a paper": a member puts an arXiv paper on today's list (featured, submittedBy them).

The metadata comes from the arXiv API through the ingestion code (sources.arxiv_api) unless the
paper is already in the catalog. Refused: the same paper twice on one day (the message points
to the existing entry), papers older than `submission_max_age_days` unless a moderator submits,
and papers moderators have hidden.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from paperfeed import metrics
from paperfeed.accounts.guards import act
from paperfeed.autofeature import site_today
from paperfeed.config import Settings
from paperfeed.errors import BadRequest, Conflict, NotFound, SourceError
from paperfeed.models import Featured, Member, Paper, Submitter, normalize_arxiv_id
from paperfeed.storage.curation import featured_on
from paperfeed.storage.db import write
from paperfeed.storage.papers import add_featured, get_paper, upsert_papers

log = logging.getLogger(__name__)
Fetcher = Callable[[Settings, list[str]], list[Paper]]


class DuplicateSubmission(Conflict):
    """The paper is already on that day's list; `paper_id` lets pages link to it."""

    def __init__(self, paper_id: str, day: date) -> None:
        super().__init__(
            f"submit: {paper_id} is already on the list of {day.isoformat()}: /papers/{paper_id}"
        )
        self.paper_id = paper_id
        self.day = day


@dataclass(slots=True)
class Submission:
    paper_id: str
    day: date
    title: str

    def as_json(self) -> dict[str, object]:
        return {"id": self.paper_id, "date": self.day.isoformat(), "title": self.title,
                "url": f"/papers/{self.paper_id}"}


def arxiv_fetcher(settings: Settings, ids: list[str]) -> list[Paper]:
    """Fetch a submission's metadata while a member waits: one retry and a short timeout, not
    the batch ingest's patient backoff (4 retries, up to ~30 s), so a failing arXiv gives a
    clear error in seconds."""
    from paperfeed.sources.arxiv_api import fetch_by_ids

    quick = settings.model_copy(
        update={
            "http_retries": min(settings.http_retries, 1),
            "http_timeout_seconds": min(settings.http_timeout_seconds, 15.0),
        }
    )
    return fetch_by_ids(quick, ids)


def _check_possible(pid: str) -> None:
    """Refuse a new-style id no arXiv paper can have (month 00 or over 12, or before April
    2007, when the scheme began) before asking arXiv about it: a typo is the member's 400,
    not a lookup that answers 502 whenever arXiv is unreachable."""
    if "/" in pid:
        return  # old style (hep-th/9901001)
    yymm = pid[:4]
    if not 1 <= int(yymm[2:]) <= 12 or yymm < "0704":
        raise BadRequest(f"not an arXiv id: {pid!r} (no arXiv paper has it; expected e.g. "
                         "2401.01234: year, month, number)")


def submit_paper(
    engine: Engine, settings: Settings, member: Member, text: str, *, ip: str, now: datetime,
    fetch: Fetcher = arxiv_fetcher,
) -> Submission:
    """Feature the paper named by `text` (arXiv id or URL) on today's list for `member`."""
    pid = normalize_arxiv_id(text)
    _check_possible(pid)
    act(engine, settings, "submit", member, ip=ip, now=now)
    day = site_today(settings, now)
    with engine.connect() as conn:
        if featured_on(conn, pid, day) is not None:
            raise DuplicateSubmission(pid, day)
        stored = get_paper(conn, pid)
    if stored is not None and stored["hidden"]:
        raise NotFound(f"submit: {pid} was hidden by the moderators and cannot be submitted")
    fetched: Paper | None = None
    if stored is None or stored["published_at"] is None:
        try:
            found = [p for p in fetch(settings, [pid]) if p.id == pid]
        except SourceError as exc:
            log.warning("submit: looking up %s on arXiv failed: %s", pid, exc)
            raise SourceError(
                f"submit: arXiv could not be reached to look up {pid} just now; try again in a "
                "few minutes"
            ) from exc
        if not found:
            raise NotFound(f"submit: arXiv has no paper {pid}; check the id")
        fetched = found[0]
    published = fetched.published_at if fetched else stored["published_at"]  # type: ignore[index]
    limit = settings.submission_max_age_days
    too_old = published is not None and now - published > timedelta(days=limit)
    if too_old and not member.is_moderator:
        assert published is not None
        raise BadRequest(
            f"submit: {pid} was first published on {published.date().isoformat()}, more than "
            f"{limit} days ago; only recent papers can be submitted (ask a moderator)"
        )
    try:
        added, title = _store(engine, member, pid, day, fetched, now)
    except IntegrityError:  # a concurrent submission of the same paper won (PostgreSQL)
        added, title = 0, ""
    if added == 0:
        raise DuplicateSubmission(pid, day)
    if fetched is not None:  # a paper new to the catalog, fetched from arXiv
        metrics.count_ingest("submission", {"new": 1})
    from paperfeed.recommend.service import member_acted

    member_acted(engine, settings, member.id, now=now)  # "for you" learns from submissions
    return Submission(pid, day, title)


def _store(
    engine: Engine, member: Member, pid: str, day: date, fetched: Paper | None, now: datetime
) -> tuple[int, str]:
    with write(engine) as conn:
        if fetched is not None:
            upsert_papers(conn, [fetched], now=now)
        submitter = Submitter(name=member.username, fullname=member.display_name,
                              user_id=member.id)
        added = add_featured(
            conn, [Featured(pid, day, submitted_at=now, submitter=submitter, source="member")],
            now=now,
        )
        title = get_paper(conn, pid)["title"]  # type: ignore[index]
    return added, str(title)
