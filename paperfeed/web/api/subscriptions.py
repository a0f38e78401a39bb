"""`POST /api/subscriptions`: subscribe to the digest from the API (double opt-in).

The answer is 202 with the same body whatever the address's state, like the HTML form.
"""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel, Field

from paperfeed.digests.subscribe import ANSWER, request_subscription, send_now
from paperfeed.models import utcnow

router = APIRouter(tags=["subscriptions"])


class SubscriptionCreate(BaseModel):
    email: str = Field(..., max_length=1000, examples=["you@example.org"])
    frequency: str = Field("daily", max_length=20, description="daily (weekdays) or weekly")


class SubscriptionAccepted(BaseModel):
    status: str = Field("pending_confirmation")
    message: str


@router.post("/subscriptions", status_code=202, response_model=SubscriptionAccepted)
def create_subscription(
    body: SubscriptionCreate, request: Request, background: BackgroundTasks
) -> SubscriptionAccepted:
    """Ask for the digest at `email`; a confirmation link is mailed (nothing else is sent
    before it is followed). 429 with Retry-After when rate-limited."""
    settings = request.app.state.settings
    address, mail = request_subscription(
        request.app.state.engine,
        settings,
        email=body.email,
        frequency=body.frequency,
        client=request.client.host if request.client else "unknown",
        now=utcnow(),
    )
    background.add_task(send_now, settings, mail)
    return SubscriptionAccepted(status="pending_confirmation", message=ANSWER.format(email=address))
