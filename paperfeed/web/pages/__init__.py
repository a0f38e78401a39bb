"""Server-rendered HTML pages (work without JavaScript).

One module per page; include new routers *above* `paper`, whose /papers/{a}/{b} route (for
old-style arXiv ids) would otherwise shadow them.
"""

from fastapi import APIRouter

from paperfeed.web.pages import (
    account,
    alerts,
    calendar,
    cite,
    collections,
    contributions,
    daily,
    digest_preview,
    feeds,
    foryou,
    moderation,
    own_data,
    paper,
    paper_markdown,
    people,
    period,
    private_feeds,
    search,
    subscribe,
    thumbs,
)

router = APIRouter()
router.include_router(feeds.router)  # first: /papers/date/{day}.atom before /papers/date/{day}
router.include_router(daily.router)
router.include_router(period.router)
router.include_router(account.router)
router.include_router(own_data.router)
router.include_router(contributions.router)
router.include_router(cite.router)  # before collections and paper: /papers/{id}.bib
router.include_router(collections.router)
router.include_router(alerts.router)
router.include_router(moderation.router)
router.include_router(search.router)
router.include_router(subscribe.router)
router.include_router(private_feeds.router)
router.include_router(foryou.router)
router.include_router(thumbs.router)
router.include_router(calendar.router)
router.include_router(people.router)
router.include_router(digest_preview.router)
router.include_router(paper_markdown.router)  # before paper: /papers/{id}.md
router.include_router(paper.router)  # keep last
