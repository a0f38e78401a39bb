"""Shared FastAPI dependencies, so routes stay thin: engine, settings, clock, client IP, member.

- `OptionalUser` / `CurrentUser`: the member of the session cookie (pages).
- `ApiUser`: the member of an `Authorization: Bearer <personal access token>` header (API
  routes; 401 without one). The API never trusts cookies, so it needs no CSRF token.
- `Now`: `app.state.clock()` when a test set one, else the real UTC clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy import Engine

from paperfeed.accounts.profile import member_for_token
from paperfeed.accounts.signin import SESSION_COOKIE
from paperfeed.config import Settings
from paperfeed.errors import Unauthorized
from paperfeed.models import Member, utcnow
from paperfeed.web import cookies
from paperfeed.web.sessions import member_for

_UNSET = object()
# Row ids in URLs: integer primary keys are 32-bit on PostgreSQL (and SQLite's are 64-bit), so
# a larger id is a 400 at the door instead of an OverflowError or DataError deep down.
MAX_ROW_ID = 2**31 - 1


def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def clock(request: Request) -> datetime:
    fn: Callable[[], datetime] | None = getattr(request.app.state, "clock", None)
    return fn() if fn is not None else utcnow()


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def load_member(request: Request) -> Member | None:
    """The session's member, looked up once per request (templates call this too).

    While a page is recorded to be shared by every visitor (web/pages/cache.py) the answer is
    None, "nobody", and the recording learns it was asked (its page then serves anonymous
    visitors only)."""
    recording = getattr(request.state, "fragments", None)
    if recording is not None:
        recording.consulted = True
        return None
    cached = getattr(request.state, "member", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    member = member_for(request, cookies.read(request, SESSION_COOKIE), now=clock(request))
    request.state.member = member
    return member


def optional_user(request: Request) -> Member | None:
    return load_member(request)


def current_user(request: Request) -> Member:
    member = load_member(request)
    if member is None:
        raise Unauthorized("accounts: sign in first (/signin)")
    return member


def api_user(request: Request) -> Member:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "api: send a personal access token as 'Authorization: Bearer <token>' "
            "(create one on /settings or with `paperfeed user token EMAIL`)"
        )
    member = member_for_token(get_engine(request), token, now=clock(request))
    request.state.member = member
    return member


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
Now = Annotated[datetime, Depends(clock)]
ClientIP = Annotated[str, Depends(client_ip)]
OptionalUser = Annotated[Member | None, Depends(optional_user)]
CurrentUser = Annotated[Member, Depends(current_user)]
ApiUser = Annotated[Member, Depends(api_user)]
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="A row id (1 .. 2^31-1).")]
