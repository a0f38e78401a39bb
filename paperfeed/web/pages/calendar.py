"""The calendar date picker: a month grid whose days with papers link to their lists.

Plain HTML (works without JavaScript): list pages embed the month of the period they show in
a `<details>` popover, and `/calendar/YYYY-MM` is the same grid as a page. With JavaScript,
the popover's previous/next-month links swap in `/calendar/YYYY-MM?fragment=1` in place.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from paperfeed.feed import day_period, month_period, parse_month
from paperfeed.storage.days import day_counts
from paperfeed.web.pages.cache import cached_page

router = APIRouter()
WEEKDAYS = ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"]


def month_grid(request: Request, year: int, month: int, *, selected: date | None = None
               ) -> dict[str, Any]:
    """Weeks of day cells for the month (Monday first), each with its paper count and link."""
    period = month_period(year, month)
    with request.app.state.engine.connect() as conn:
        counts = day_counts(conn, period.start, period.end)
    cells: list[dict[str, Any]] = []
    # (year, month, day) numbers, not dates: December 9999's last week runs into year 10000,
    # which `date` cannot hold (monthdatescalendar raised, a 500 on /calendar/9999-12).
    for y, m, n_day in calendar.Calendar(firstweekday=0).itermonthdays3(year, month):
        if m != month:
            cells.append({"day": None, "in_month": False, "count": 0, "url": None,
                          "selected": False})
            continue
        d = date(y, m, n_day)
        n = counts.get(d, 0)
        cells.append({"day": d, "in_month": True, "count": n,
                      "url": day_period(d).path if n else None, "selected": d == selected})
    weeks = [cells[i : i + 7] for i in range(0, len(cells), 7)]
    prev_p, next_p = period.shifted(-1), period.shifted(1)
    return {
        "label": period.start.strftime("%B %Y"), "weeks": weeks, "weekdays": WEEKDAYS,
        "month_url": period.path, "total_days": len(counts),
        "prev": f"/calendar/{prev_p.label}" if prev_p else None,
        "next": f"/calendar/{next_p.label}" if next_p else None,
    }


@router.get("/calendar/{month}", response_class=HTMLResponse, include_in_schema=False)
def calendar_page(request: Request, month: str, fragment: bool = Query(False)) -> Response:
    period = parse_month(month)

    def render() -> Response:
        grid = month_grid(request, period.start.year, period.start.month)
        name = "_calendar.html" if fragment else "calendar.html"
        return request.app.state.templates.TemplateResponse(request, name, {"cal": grid})

    return cached_page(request, render)
