"""Server-rendered HTML pages (work without JavaScript).

One module per page; include new routers *above* `paper`, whose /papers/{a}/{b} route (for
old-style arXiv ids) would otherwise shadow them.
"""

from fastapi import APIRouter

from paperfeed.web.pages import daily, paper, period

router = APIRouter()
router.include_router(daily.router)
router.include_router(period.router)
router.include_router(paper.router)  # keep last
