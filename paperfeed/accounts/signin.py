"""Sign-in: emailed one-time links, optional passwords, and server-side sessions.

- A link carries a 256-bit random token; only its hash is stored, it expires after
  `login_link_minutes` and is consumed by one conditional UPDATE (works once).
- Requesting a link answers the same whether or not the address has an account; mail is sent
  after the response (background task), so timing does not tell either. An unknown address
  (registration open) gets a link with no member behind it: the account is created when the
  link is used, so nobody can fill the members table with addresses they do not own.
- Limits per IP, per (account, IP) and a slower one per account (`_limit`): an attacker
  cannot lock a member out by failing on purpose from one address.
- A session is a row keyed by the hash of a random id; the cookie holds the id signed with the
  site secret. Every sign-in creates a new id (no fixation); sign-out deletes the row.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import urlencode

from itsdangerous import BadSignature, Signer
from sqlalchemy import Engine

from paperfeed.accounts import passwords
from paperfeed.accounts.secrets import hash_secret, new_secret
from paperfeed.config import Settings
from paperfeed.errors import BadRequest, Conflict, Forbidden, Unauthorized
from paperfeed.mail import Mailer
from paperfeed.models import Member
from paperfeed.storage import ratelimit
from paperfeed.storage import users as store
from paperfeed.storage.db import write

log = logging.getLogger(__name__)
SESSION_COOKIE = "pf_session"
EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
HOUR = 3600


def normalize_email(text: str) -> str:
    """The address lower-cased; BadRequest unless it has the shape of one and no control or
    invisible character (a BEL, a right-to-left override, a zero-width space: a link was
    mailed to such an address and the account listed as another one). The shape stays loose
    on purpose: `someone@intranet.local` is a fine address for a team's own instance."""
    email = text.strip().lower()
    if (len(email) > 320 or not EMAIL_RE.match(email)
            or any(unicodedata.category(c)[0] == "C" for c in email)):
        raise BadRequest("sign-in: that does not look like an email address")
    return email


# --- links ---------------------------------------------------------------------------------


def request_link(
    engine: Engine, settings: Settings, email_text: str, *, now: datetime, ip: str,
    next_path: str = "/",
) -> EmailMessage | None:
    """Prepare a sign-in email for `email_text` (None when nothing should be sent).

    Raises BadRequest for a malformed address and RateLimited past the limits; never says
    whether the address has an account.
    """
    email = normalize_email(email_text)
    _limit(engine, settings, f"addr:{hash_secret(email)}", ip=ip, now=now,
           what="sign-in requests for this email")
    token = new_secret()
    with write(engine) as conn:
        member = store.get_by_email(conn, email)
        if member is None and not settings.registration_open:
            return None
        if member is not None and member.banned:
            return None
        store.purge_login_tokens(conn, now=now)
        # No account is created here: only using the link proves the address (consume_link).
        store.add_login_token(
            conn, user_id=member.id if member else None, email=email,
            token_hash=hash_secret(token), now=now,
            expires_at=now + timedelta(minutes=settings.login_link_minutes),
        )
    return _link_message(settings, email, token, next_path)


def _limit(engine: Engine, settings: Settings, account: str, *, ip: str, now: datetime,
           what: str) -> None:
    """Sign-in limits that do not hand an attacker a lockout: per IP, per (account, IP) at
    the strict limit, and per account alone at a slower global cap. Five wrong tries from one
    address block that address, not the member trying from elsewhere; only an attacker with
    many addresses reaches the global cap (and then the other sign-in method still works)."""
    ratelimit.hit(engine, f"signin:ip:{ip}", limit=settings.signin_ip_limit_per_hour,
                  window_seconds=HOUR, now=now, what="sign-in requests from this address")
    ratelimit.hit(engine, f"signin:{account}:ip:{ip}", limit=settings.signin_limit_per_hour,
                  window_seconds=HOUR, now=now, what=what)
    ratelimit.hit(engine, f"signin:{account}", limit=settings.signin_account_limit_per_hour,
                  window_seconds=HOUR, now=now, what=what)


def link_url(settings: Settings, token: str, next_path: str = "/") -> str:
    """The emailed link; `next_path` (a local path) is where the member lands afterwards."""
    url = f"{settings.base_url.rstrip('/')}/signin/link?token={token}"
    if next_path != "/":
        url += "&" + urlencode({"next": next_path})
    return url


def _link_message(
    settings: Settings, email: str, token: str, next_path: str = "/"
) -> EmailMessage:
    msg = EmailMessage()
    msg["To"] = email
    msg["Subject"] = f"Sign in to {settings.site_name}"
    body = (
        f"Open this link to sign in to {settings.site_name}:\n\n"
        f"{link_url(settings, token, next_path)}\n\n"
        f"It works once and expires in {settings.login_link_minutes} minutes.\n"
        "If you did not ask to sign in, ignore this message.\n"
    )
    # 7bit keeps the link on one line, readable in the development log and copyable as is
    # (quoted-printable would break it with "=3D" and soft line breaks).
    msg.set_content(body, cte="7bit" if body.isascii() else "quoted-printable")
    return msg


def send_quietly(settings: Settings, message: EmailMessage) -> None:
    """Send a sign-in email after the response; failures are logged, never shown (they would
    tell whether the address has an account)."""
    try:
        with Mailer(settings, transactional=True) as mailer:
            mailer.send(message)
    except Exception:  # noqa: BLE001 - any SMTP/OS error: log and move on
        log.exception("mail: could not send a sign-in link to %s", message["To"])


INVALID_LINK = "sign-in: this link is invalid, already used or expired; request a new one"


def describe_link(engine: Engine, token: str, *, now: datetime) -> tuple[str | None, str] | None:
    """(username or None for a new account, email) a usable link signs into, without using
    it; None when it is invalid, used or expired."""
    with engine.connect() as conn:
        found = store.peek_login_token(conn, hash_secret(token or ""), now=now)
        if found is None:
            return None
        user_id, email = found
        member = store.get_by_id(conn, user_id) if user_id is not None else None
        if member is None and email:
            member = store.get_by_email(conn, email)
    if member is not None:
        return member.username, member.email or email or ""
    return None, email or ""


def consume_link(
    engine: Engine, token: str, *, now: datetime, settings: Settings | None = None
) -> Member:
    """The member a link signs in, creating the account on the first link of a new address;
    BadRequest when the link is unknown, used or expired."""
    with write(engine) as conn:
        found = store.consume_login_token(conn, hash_secret(token or ""), now=now)
        if found is None:
            raise BadRequest(INVALID_LINK)
        user_id, email = found
        member = store.get_by_id(conn, user_id) if user_id is not None else None
        if member is None and user_id is None and email:
            member = store.get_by_email(conn, email)
            if member is None and (settings is None or settings.registration_open):
                try:
                    member = store.create_user(conn, email=email, now=now)
                    log.info("accounts: new member %s", member.username)
                except Conflict:  # another link for this address was used at the same time
                    member = store.get_by_email(conn, email)
    if member is None:
        raise BadRequest(INVALID_LINK)
    if member.banned:
        raise Forbidden("sign-in: this account is banned")
    return member


# --- passwords -----------------------------------------------------------------------------


def password_signin(
    engine: Engine, settings: Settings, login: str, password: str, *, now: datetime, ip: str
) -> Member:
    """The member for (email or username, password); one generic error otherwise."""
    _limit(engine, settings, f"login:{hash_secret(login.strip().lower())}", ip=ip, now=now,
           what="sign-in attempts for this account")
    with engine.connect() as conn:
        member = store.get_by_login(conn, login)
        stored = store.password_hash(conn, member.id) if member else None
    # A banned account gets the same answer as a wrong password: a different one would
    # confirm the password to whoever is guessing it.
    if not passwords.verify(stored, password) or member is None or member.banned:
        raise Unauthorized("sign-in: wrong email/username or password")
    if stored and passwords.needs_rehash(stored):
        with write(engine) as conn:
            store.set_password_hash(conn, member.id, passwords.hash_password(password))
    return member


# --- sessions ------------------------------------------------------------------------------


def _signer(settings: Settings) -> Signer:
    return Signer(settings.secret(), salt="paperfeed.session")


def start_session(engine: Engine, settings: Settings, member: Member, *, now: datetime) -> str:
    """Create a fresh session row; returns the signed cookie value."""
    sid = new_secret()
    with write(engine) as conn:
        store.purge_sessions(conn, now=now)
        store.add_session(
            conn, id_hash=hash_secret(sid), user_id=member.id, now=now,
            expires_at=now + timedelta(days=settings.session_days),
        )
    return _signer(settings).sign(sid).decode()


def session_hash(settings: Settings, cookie: str | None) -> str | None:
    """The stored hash for a cookie value, or None when the signature is bad."""
    if not cookie:
        return None
    try:
        sid = _signer(settings).unsign(cookie).decode()
    except BadSignature:
        return None
    return hash_secret(sid)


def session_member(
    engine: Engine, settings: Settings, cookie: str | None, *, now: datetime
) -> Member | None:
    id_hash = session_hash(settings, cookie)
    if id_hash is None:
        return None
    with engine.connect() as conn:
        return store.session_member(conn, id_hash, now=now)


def end_session(engine: Engine, settings: Settings, cookie: str | None) -> None:
    id_hash = session_hash(settings, cookie)
    if id_hash is not None:
        with write(engine) as conn:
            store.delete_session(conn, id_hash)
