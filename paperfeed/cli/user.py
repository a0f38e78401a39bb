"""`paperfeed user create | set-role | token | ban | export | delete`: manage members from the
command line (export and delete answer a member's request for their data or their deletion)."""

from __future__ import annotations

from pathlib import Path

import orjson
import typer

from paperfeed.accounts import moderating, own_data, profile
from paperfeed.accounts.signin import normalize_email
from paperfeed.cli.common import load_settings, ready_engine
from paperfeed.models import ROLES, utcnow
from paperfeed.storage import moderation
from paperfeed.storage import users as store
from paperfeed.storage.db import write

app = typer.Typer(help="Manage members: create accounts, roles and API tokens.",
                  no_args_is_help=True)


@app.command("create")
def create(
    email: str = typer.Argument(..., help="The member's email address (their sign-in)."),
    username: str | None = typer.Option(None, "--username", help="Public username."),
    admin: bool = typer.Option(False, "--admin", help="Make the member an admin."),
) -> None:
    """Create a member who signs in with an emailed link to EMAIL."""
    engine = ready_engine(load_settings())
    address = normalize_email(email)
    if username is not None and not profile.USERNAME_RE.match(username):
        _fail(f"invalid username {username!r}: 2-39 letters, digits, '.', '_' or '-'")
    with write(engine) as conn:
        existing = store.get_by_email(conn, address)
        if existing is not None:
            hint = (f"paperfeed user set-role {address} admin" if admin and not existing.is_admin
                    else f"paperfeed user set-role {address} ROLE")
            _fail(f"{address} already has an account: {existing.username} ({existing.role}); "
                  f"to change its role: {hint}")
        if username is not None and store.username_taken(conn, username):
            _fail(f"the username {username!r} is taken; choose another with --username")
        member = store.create_user(conn, email=address, now=utcnow(), username=username,
                                   role="admin" if admin else "member")
    typer.echo(f"created {member.role} {member.username} <{member.email}>")


MEMBER_HELP = "The member's email address or username."


@app.command("set-role")
def set_role(
    email: str = typer.Argument(..., metavar="MEMBER", help=MEMBER_HELP),
    role: str = typer.Argument(..., help=f"One of: {', '.join(ROLES)}."),
) -> None:
    """Change a member's role (logged in the moderation log)."""
    engine = ready_engine(load_settings())
    member = moderating.set_role(engine, email, role, actor=None, now=utcnow())
    typer.echo(f"{member.username} is now {member.role}")


@app.command("token")
def token(
    email: str = typer.Argument(..., metavar="MEMBER", help=MEMBER_HELP),
    name: str = typer.Option("cli", "--name", help="Label shown on the settings page."),
) -> None:
    """Print a new personal access token for MEMBER (for scripts: Authorization: Bearer)."""
    engine = ready_engine(load_settings())
    with engine.connect() as conn:
        member = store.require_member(conn, email)
    typer.echo(profile.create_api_token(engine, member, name=name, now=utcnow()))


@app.command("ban")
def ban(
    username: str = typer.Argument(..., metavar="MEMBER", help=MEMBER_HELP),
    reason: str = typer.Option(..., "--reason", help="Why (kept in the moderation log)."),
    unban: bool = typer.Option(False, "--unban", help="Lift the ban instead."),
) -> None:
    """Ban (or unban) a member; their sessions end (logged in the moderation log)."""
    engine = ready_engine(load_settings())
    now = utcnow()
    with write(engine) as conn:
        member = store.require_member(conn, username)
        store.set_banned(conn, member.id, not unban)
        moderation.record(conn, actor_id=None, action="unban_member" if unban else "ban_member",
                          target_type="user", target_id=member.username, reason=reason, now=now)
    typer.echo(f"{member.username} {'unbanned' if unban else 'banned'}")


@app.command("export")
def export(
    email: str = typer.Argument(..., help="The member's email address."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here instead of stdout."),
) -> None:
    """Print everything the member created as JSON ("download my data", for a request by mail)."""
    settings = load_settings()
    engine = ready_engine(settings)
    with engine.connect() as conn:
        member = store.require_by_email(conn, normalize_email(email))
    data = own_data.export_data(engine, settings, member, now=utcnow())
    text = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        typer.echo(f"wrote {out} ({len(text):,} bytes)", err=True)


@app.command("delete")
def delete(
    email: str = typer.Argument(..., help="The member's email address."),
    content: str = typer.Option(
        ..., "--content", help="keep: votes and comments stay as anonymous; remove: they go."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a member's account for good (sessions, links, tokens, collections, subscriptions;
    votes and comments kept as anonymous or removed)."""
    engine = ready_engine(load_settings())
    choice = own_data.check_content(content)
    with engine.connect() as conn:
        member = store.require_by_email(conn, normalize_email(email))
    if not yes and not typer.confirm(
        f"Delete {member.username} <{member.email}> and {choice} their votes and comments?"
    ):
        _fail("nothing deleted")
    shown = own_data.delete_account(engine, member, content=choice, confirm=None, now=utcnow())
    typer.echo(f"deleted {member.username}; kept content shows as {shown}"
               if choice == "keep" else f"deleted {member.username} and their votes and comments")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)
