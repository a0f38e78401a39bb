"""Settings: the one table of `PAPERFEED_*` options, read from the environment (and a .env file).

Every option is declared once here with its default and help text; `paperfeed config` and
docs/settings.md are generated from this table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, Field, PrivateAttr, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from paperfeed.errors import ConfigError

PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "changethis", "secret", "devkey"}
DEV_SECRET = "paperfeed-development-only-secret"


def default_data_dir() -> Path:
    """The per-user data directory (`~/.local/share/paperfeed` on Linux)."""
    return Path(platformdirs.user_data_dir("paperfeed", appauthor=False))


def demo_data_dir() -> Path:
    """The demo's own data directory (`~/.local/share/paperfeed-demo` on Linux), used by
    `--demo` when PAPERFEED_DATA_DIR is unset, so the demo never writes into a real instance."""
    return Path(platformdirs.user_data_dir("paperfeed-demo", appauthor=False))


class FeatureRule(BaseModel):
    """An auto-feature rule: feature a recent paper (of `category`, if set) once it has at least
    `min_upvotes` upvotes (member + imported)."""

    category: str | None = None
    min_upvotes: int = Field(0, ge=0)
    max_age_days: int = Field(7, ge=0)


class Settings(BaseSettings):
    """All runtime settings. Build one with `Settings()` (env) or `Settings(field=...)` in tests."""

    model_config = SettingsConfigDict(
        env_prefix="PAPERFEED_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["development", "production"] = Field(
        "production",
        description="`development` allows the built-in secret and, without SMTP, puts "
        "digests in the outbox.",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the SQLite file, vector index and caches live.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default: sqlite:///<data_dir>/paperfeed.db. "
        "PostgreSQL: postgresql+psycopg://user:pass@host/db",
    )
    base_url: str = Field(
        "http://127.0.0.1:8000", description="Public URL of the site, used in emails and links."
    )
    secret_key: SecretStr = Field(
        SecretStr(""),
        description="Signs sessions, CSRF tokens and email links. Required outside development.",
    )
    timezone: str = Field("UTC", description="Timezone that decides 'today' and digest editions.")
    site_name: str = Field("paperfeed", description="Name shown in page titles and emails.")
    page_size: int = Field(50, ge=1, le=100, description="Papers per page on list pages.")
    trending_half_life_hours: float = Field(
        48.0, gt=0, description="Half-life of an upvote's weight in the trending score."
    )
    arxiv_api_url: str = Field(
        "https://export.arxiv.org/api/query", description="arXiv API endpoint (Atom)."
    )
    arxiv_oai_url: str = Field(
        "https://oaipmh.arxiv.org/oai", description="arXiv OAI-PMH endpoint."
    )
    hf_api_url: str = Field(
        "https://huggingface.co", description="Hugging Face base URL for /api/daily_papers."
    )
    arxiv_delay_seconds: float = Field(
        3.0, ge=0, description="Pause between arXiv requests (arXiv asks for one per 3 s)."
    )
    http_timeout_seconds: float = Field(30.0, gt=0, description="Timeout of upstream requests.")
    http_retries: int = Field(4, ge=0, le=10, description="Retries of a failed upstream request.")
    ingest_batch_size: int = Field(
        5000, ge=1, le=100_000, description="Records per committed batch in `paperfeed ingest`."
    )
    http_backoff_seconds: float = Field(
        2.0, ge=0, description="First retry pause; doubles per retry unless Retry-After says."
    )
    embedding_model: str = Field(
        "minilm-l6-v2",
        description="Embedding model: the bundled `minilm-l6-v2` or a path to a model directory.",
    )
    search_similarity_floor: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Cosine similarity below which a paper is not a search result by meaning "
        "alone (it may still match words); unset: the embedding model's calibrated value "
        "(0.40 for the bundled model; docs/search.md), 0 turns the floor off.",
    )
    search_posting_cap: int = Field(
        60_000,
        ge=0,
        description="Most papers the keyword side of one search ranks (ranking costs ~1 s per "
        "million matching papers): the commonest words of a query are left out until the rest "
        "fit; when keywords answer alone and even the rarest word matches more, only the "
        "most recently added this many matches are ranked. Such results say `Results limited`.",
    )
    vector_backend: Literal["auto", "files", "pgvector"] = Field(
        "auto",
        description="Where semantic search finds nearest vectors: `files` (per-machine index "
        "files under data_dir/vectors), `pgvector` (PostgreSQL's `vector` extension; no vector "
        "state on web machines) or `auto` (pgvector when the database has it, else files).",
    )
    smtp_host: str | None = Field(
        None,
        description="SMTP server. Unset: mail is written to the outbox (data_dir/outbox, "
        "`paperfeed outbox`); digests only in development.",
    )
    smtp_port: int = Field(25, description="SMTP port.")
    smtp_username: str | None = Field(None, description="SMTP user name.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_starttls: bool = Field(False, description="Use STARTTLS on the SMTP connection.")
    mail_from: str = Field("paperfeed <noreply@localhost>", description="From: address of mail.")
    digest_max_papers: int = Field(
        10, ge=1, le=100, description="Papers in one digest edition (its top trending)."
    )
    digest_send_hour: int = Field(
        17, ge=0, le=23, description="Local hour at which `serve --with-jobs` sends digests."
    )
    digest_claim_lease_seconds: int = Field(
        600, ge=1, description="A digest claim older than this is retried by another sender."
    )
    digest_retry_attempts: int = Field(
        4, ge=1, le=10, description="Tries per digest message on transient SMTP failures (4xx)."
    )
    digest_retry_backoff_seconds: float = Field(
        1.0, ge=0, description="First pause between digest retries; doubles after each try."
    )
    digest_hard_bounce_limit: int = Field(
        3, ge=1, description="Permanent (5xx) failures in a row that suspend a subscription."
    )
    subscribe_confirm_hours: int = Field(
        72, ge=1, description="How long a subscription confirmation link stays valid."
    )
    subscribe_pending_days: int = Field(
        7, ge=1, le=365,
        description="Subscriptions never confirmed are deleted after this many days "
        "(`paperfeed subscribers purge`, daily in `serve --with-jobs`).",
    )
    subscribe_rate_per_ip: int = Field(
        20, ge=1, description="Subscribe requests allowed per client IP per hour."
    )
    subscribe_rate_per_address: int = Field(
        3, ge=1, description="Subscribe requests allowed per email address per hour."
    )
    workers: int = Field(2, ge=1, le=64, description="Web worker processes for `serve`.")
    api_cache_seconds: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="Identical /api/daily_papers and /api/papers/search queries (and "
        "searches) share one answer for this long (per worker process); 0 disables the cache.",
    )
    # Members (accounts, votes, submissions, comments): see paperfeed/accounts/.
    registration_open: bool = Field(
        True, description="Sign-in links to unknown addresses create a member account."
    )
    session_days: int = Field(30, ge=1, le=365, description="Days a sign-in session lasts.")
    login_link_minutes: int = Field(
        15, ge=1, le=120, description="Minutes an emailed sign-in link stays valid (used once)."
    )
    submission_max_age_days: int = Field(
        14, ge=0, description="Members may submit papers at most this many days old "
        "(moderators may submit older ones)."
    )
    auto_feature_rules: list[FeatureRule] = Field(
        default_factory=list,
        description='JSON list of auto-feature rules, e.g. [{"category": "cs.CL", '
        '"min_upvotes": 5, "max_age_days": 7}]: papers matching a rule are featured on today\'s '
        "list after ingests and votes.",
    )
    signin_limit_per_hour: int = Field(
        5, ge=1, description="Sign-in requests per hour per address (or account) and IP."
    )
    signin_ip_limit_per_hour: int = Field(30, ge=1, description="Sign-in requests per hour per IP.")
    signin_account_limit_per_hour: int = Field(
        50, ge=1, description="Sign-in requests per hour per address or account from all IPs "
        "together (the slower global cap; per account and IP the limit is "
        "signin_limit_per_hour, so one attacker cannot lock a member out).",
    )
    vote_limit_per_minute: int = Field(60, ge=1, description="Votes per minute per account.")
    vote_ip_limit_per_minute: int = Field(300, ge=1, description="Votes per minute per IP.")
    submission_limit_per_day: int = Field(
        20, ge=1, description="Paper submissions per day per account."
    )
    submission_ip_limit_per_day: int = Field(
        60, ge=1, description="Paper submissions per day per IP."
    )
    comment_limit_per_hour: int = Field(30, ge=1, description="Comments per hour per account.")
    comment_ip_limit_per_hour: int = Field(120, ge=1, description="Comments per hour per IP.")
    thumbnail_dir: Path | None = Field(
        None,
        description="Where rendered paper thumbnails are cached (default: <data_dir>/thumbs). "
        "A shared directory (NFS, a mounted bucket) serves every web machine.",
    )
    thumbnail_pdf_url: str = Field(
        "https://arxiv.org/pdf/{id}",
        description="Where `paperfeed thumbs` fetches a paper's PDF ({id}: the arXiv id).",
    )
    thumbnail_days: int = Field(
        7, ge=1, le=3650,
        description="`paperfeed thumbs` renders papers featured in this many recent days.",
    )
    # 30 s rather than a few: writes show at once anyway (the cache is keyed by the content
    # version), so the lifetime only bounds time-dependent text (trending order, "today"), and
    # a render of a month page costs ~100 ms of CPU (bench/pages.py).
    page_cache_seconds: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="Visitors of a list, paper or search page, signed in or not, share one "
        "rendered page for at most this long (per worker; each visitor's votes, account links "
        "and CSRF token are filled in). Writes that change pages show at once regardless (the "
        "cache is keyed by a content version); 0 disables it.",
    )
    # Operations: logs, health and metrics, shutdown, backups (docs/operations.md).
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as `text` or `json` (one object per line, with the "
        "request id of the web request that wrote it)."
    )
    access_log: bool = Field(
        False, description="Log one line per web request (method, path, route, status, time)."
    )
    metrics_enabled: bool = Field(
        False, description="Serve Prometheus metrics at /metrics (404 while off)."
    )
    metrics_token: SecretStr = Field(
        SecretStr(""),
        description="When set, /metrics requires `Authorization: Bearer <token>`.",
    )
    shutdown_grace_seconds: float = Field(
        30.0, ge=0, le=3600,
        description="On SIGTERM, how long `serve` waits for requests in flight and a running "
        "job's current batch before it stops anyway.",
    )
    backup_dir: Path | None = Field(
        None,
        description="Where `serve --with-jobs` writes a daily backup of a SQLite instance "
        "(unset: no scheduled backups). Best on another disk.",
    )
    backup_hour: int = Field(
        3, ge=0, le=23, description="Local hour from which the daily backup job runs."
    )
    backup_keep_daily: int = Field(
        7, ge=1, le=366, description="Scheduled backups: keep the newest this many days."
    )
    backup_keep_weekly: int = Field(
        4, ge=0, le=520,
        description="Scheduled backups: also keep the newest backup of this many recent weeks.",
    )
    alerts_max_per_member: int = Field(
        50, ge=1, le=1000, description="Saved searches (alerts) a member may keep."
    )
    alerts_meaning_threshold: float = Field(
        0.55,
        gt=0,
        le=1,
        description="A semantic saved search matches a new paper whose embedding is at least "
        "this close (cosine) to the query's (calibration: docs/alerts.md).",
    )
    alerts_like_threshold: float = Field(
        0.65,
        gt=0,
        le=1,
        description="A 'papers like this one' alert matches a new paper at least this close "
        "(cosine) to the paper (calibration: docs/alerts.md).",
    )
    alerts_mail_max_papers: int = Field(
        20, ge=1, le=200, description="Papers listed per saved search in one alert email."
    )

    trusted_proxies: list[str] = Field(
        default_factory=list,
        description='JSON list of reverse proxies (IP addresses or networks, e.g. ["127.0.0.1", '
        '"10.0.0.0/8"]) whose X-Forwarded-For and X-Forwarded-Proto headers are believed. '
        "Empty: the socket's peer is the client, whatever headers say.",
    )
    _database_url_given: bool = PrivateAttr(False)

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        self._database_url_given = bool(self.database_url)
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'paperfeed.db'}"
        else:
            _check_database_url(self.database_url)
        from paperfeed.web.proxy import parse_networks

        try:
            parse_networks(self.trusted_proxies)  # a typo fails at start, not on every request
        except ValueError as exc:
            raise ConfigError(f"config: PAPERFEED_TRUSTED_PROXIES: {exc}") from None
        return self

    def chose_storage(self) -> bool:
        """Whether PAPERFEED_DATA_DIR or PAPERFEED_DATABASE_URL was set (environment, .env or
        arguments), as opposed to both falling back to their defaults."""
        return "data_dir" in self.model_fields_set or self._database_url_given

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    @property
    def db_url(self) -> str:
        assert self.database_url is not None  # filled by the validator
        return self.database_url

    def secret(self) -> str:
        """The signing secret; refuses placeholders outside development."""
        value = self.secret_key.get_secret_value()
        if value.strip().lower() in PLACEHOLDER_SECRETS:
            if self.is_development:
                return DEV_SECRET
            raise ConfigError(
                "config: PAPERFEED_SECRET_KEY is unset or a placeholder; set it to a long random "
                "string (python -c 'import secrets; print(secrets.token_urlsafe(32))'), or to "
                "try paperfeed out set PAPERFEED_ENVIRONMENT=development (what `paperfeed serve "
                "--demo` and `paperfeed --demo COMMAND` do)"
            )
        return value

    def redacted(self) -> dict[str, str]:
        """Effective settings as strings, secrets (and passwords in URLs) hidden."""
        from sqlalchemy.engine import make_url

        out: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                text = "**********" if value.get_secret_value() else ""
            elif name == "database_url" and value:
                text = make_url(value).render_as_string(hide_password=True)
            else:
                text = "" if value is None else str(value)
            out[name] = text
        return out


def _check_database_url(url: str) -> None:
    """Refuse a URL that is no database paperfeed speaks to, naming the setting (instead of
    SQLAlchemy's parse error or a missing MySQL driver, deep inside the first command)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        scheme = make_url(url).drivername
    except ArgumentError:
        scheme = None
    if scheme not in ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg"):
        said = f"starts with {scheme}://" if scheme else "is not a URL"
        raise ConfigError(
            f"config: PAPERFEED_DATABASE_URL {said}; paperfeed speaks to SQLite and to "
            "PostgreSQL through psycopg 3: use e.g. sqlite:////srv/paperfeed/paperfeed.db or "
            "postgresql+psycopg://user:password@host/paperfeed"
        )


def settings_error(exc: Exception) -> ConfigError | None:
    """A bad `PAPERFEED_*` value as one line naming the variable and what it takes (None when
    `exc` is not about the settings): the CLI shows this instead of "a bug in paperfeed"."""
    import re

    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    if isinstance(exc, ValidationError) and exc.title == Settings.__name__:
        errors = exc.errors()
        first = errors[0]
        loc = first.get("loc") or ()
        where = ".".join(str(part) for part in loc[1:])
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        name = f"PAPERFEED_{str(loc[0]).upper()}" if loc else "a PAPERFEED_* setting"
        return ConfigError(
            f"config: {name}{'.' + where if where else ''}: "
            f"{first.get('msg')} (got {str(first.get('input'))[:80]!r}){more}; "
            "see `paperfeed config` and docs/settings.md"
        )
    if isinstance(exc, SettingsError):
        m = re.search(r'field "([a-z0-9_]+)"', str(exc))
        name = f"PAPERFEED_{m.group(1).upper()}" if m else "a PAPERFEED_* setting"
        cause = exc.__cause__
        why = f": {' '.join(str(cause).split())[:120]}" if cause is not None else ""
        return ConfigError(f"config: {name} could not be read (it takes JSON){why}; "
                           "see docs/settings.md")
    return None
