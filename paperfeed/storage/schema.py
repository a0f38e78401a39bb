"""Table definitions (SQLAlchemy Core). Migrations in `migrations/` create exactly these tables.

Portable types only: dialect-specific objects (the SQLite FTS5 index, PostgreSQL tsvector and
pgvector columns) live in the migrations and in `storage/dialects/`, never in shared SQL.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
)

metadata = MetaData()

# A paper is keyed by its arXiv id without version; `version` is the latest version seen.
papers = Table(
    "papers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("version", Integer, nullable=True),
    Column("title", Text, nullable=False),
    Column("abstract", Text, nullable=False),
    # Ordered list of {"name": str, "hf_user": str | None}
    Column("authors", JSON, nullable=False),
    Column("authors_text", Text, nullable=False, default=""),  # "A; B; C" for keyword search
    Column("categories", JSON, nullable=False),
    Column("primary_category", String(32), nullable=True),
    Column("published_at", DateTime(timezone=False), nullable=True),  # UTC, naive
    Column("updated_at", DateTime(timezone=False), nullable=True),  # arXiv "updated"
    Column("comment", Text, nullable=True),
    Column("journal_ref", Text, nullable=True),
    Column("doi", String(255), nullable=True),
    Column("github_repo", String(512), nullable=True),
    Column("project_page", String(512), nullable=True),
    Column("github_stars", Integer, nullable=True),
    Column("ai_summary", Text, nullable=True),
    Column("ai_keywords", JSON, nullable=True),
    Column("organization", JSON, nullable=True),
    Column("upstream_upvotes", Integer, nullable=False, default=0),  # snapshot from HF
    Column("member_upvotes", Integer, nullable=False, default=0),  # = count(votes), kept exact
    Column("upstream_comments", Integer, nullable=False, default=0),
    Column("hidden", Boolean, nullable=False, default=False),  # moderation: out of all feeds
    Column("source", String(32), nullable=False),
    Column("content_hash", String(64), nullable=False),  # decides new/updated/unchanged
    Column("indexed_at", DateTime, nullable=False),  # first time we stored it
    Column("modified_at", DateTime, nullable=False),  # last time its content changed
)
Index("ix_papers_published_at", papers.c.published_at)
Index("ix_papers_indexed_at", papers.c.indexed_at)
Index("ix_papers_primary_category", papers.c.primary_category)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(128), nullable=True),
    Column("email", String(320), nullable=True, unique=True),  # lower-cased; NULL: external
    Column("password_hash", String(255), nullable=True),
    Column("role", String(16), nullable=False, default="member"),  # member|moderator|admin
    Column("banned", Boolean, nullable=False, default=False),
    Column("external", Boolean, nullable=False, default=False),  # imported HF user, no sign-in
    Column("avatar_url", String(512), nullable=True),
    Column("hf_id", String(64), nullable=True),
    Column("created_at", DateTime, nullable=False),
    # The profile page lists the member's upvotes only when they say so (settings page).
    Column("public_upvotes", Boolean, nullable=False, default=False, server_default=false()),
    # Set when the member deleted their account: the row stays, emptied of everything
    # personal, so votes and comments kept as anonymous still point somewhere.
    Column("deleted_at", DateTime, nullable=True),
)
# `Alice` beside `alice` would be impersonation: usernames are unique whatever their case.
Index("uq_users_username_lower", func.lower(users.c.username), unique=True)

# "Featured on day D" — the daily list. Indexed papers are not featured unless listed here.
featured = Table(
    "featured",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("day", Date, nullable=False),
    Column("submitted_at", DateTime, nullable=False),
    Column("submitter_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("source", String(32), nullable=False),  # hf | member | rule | admin
    Column("removed", Boolean, nullable=False, default=False),  # moderation
    UniqueConstraint("paper_id", "day", name="uq_featured_paper_day"),
)
Index("ix_featured_day", featured.c.day)
Index("ix_featured_submitter", featured.c.submitter_id)

sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),  # sha256 of the cookie's random id
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
)

login_tokens = Table(
    "login_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    # NULL until the link is used when the address has no account yet (created at first use).
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("email", String(320), nullable=True),  # lower-cased; the address the link went to
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("used_at", DateTime, nullable=True),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("last_used_at", DateTime, nullable=True),
)

votes = Table(
    "votes",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", DateTime, nullable=False),
)
Index("ix_votes_paper", votes.c.paper_id, votes.c.created_at)

comments = Table(
    "comments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("edited_at", DateTime, nullable=True),
    Column("hidden", Boolean, nullable=False, default=False),
    Column("deleted", Boolean, nullable=False, default=False),
)
Index("ix_comments_paper", comments.c.paper_id, comments.c.created_at)

moderation_log = Table(
    "moderation_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("actor_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("action", String(64), nullable=False),
    Column("target_type", String(32), nullable=False),
    Column("target_id", String(128), nullable=False),
    Column("reason", Text, nullable=True),
    Column("created_at", DateTime, nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),  # lower-cased
    Column("frequency", String(16), nullable=False),  # daily | weekly
    Column("status", String(16), nullable=False),  # pending|confirmed|unsubscribed|suspended
    Column("user_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("confirmed_at", DateTime, nullable=True),
    Column("unsubscribed_at", DateTime, nullable=True),
    Column("hard_bounces", Integer, nullable=False, default=0),
)

# One row per (subscription, edition): the claim that makes sending exactly-once.
deliveries = Table(
    "deliveries",
    metadata,
    Column(
        "subscription_id",
        Integer,
        ForeignKey("subscriptions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("edition", String(16), primary_key=True),  # YYYY-MM-DD or YYYY-Www
    Column("status", String(16), nullable=False),  # claimed | sent | failed | skipped
    Column("claimed_by", String(128), nullable=True),
    Column("claimed_at", DateTime, nullable=True),
    Column("sent_at", DateTime, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("message_id", String(255), nullable=True),
)
Index(
    "ix_deliveries_edition_status",
    deliveries.c.edition,
    deliveries.c.status,
    deliveries.c.claimed_by,
)

embeddings = Table(
    "embeddings",
    metadata,
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("model_id", String(128), nullable=False),
    Column("content_hash", String(64), nullable=False),  # re-embed when the text changes
    Column("dim", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),  # float32 little-endian
    Column("created_at", DateTime, nullable=False),
)
Index("ix_embeddings_model", embeddings.c.model_id)

# Small key/value state for resumable jobs (OAI resumption tokens, last harvested day, ...).
job_state = Table(
    "job_state",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

# Leases so two machines never run the same scheduled job at once.
job_leases = Table(
    "job_leases",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", DateTime, nullable=False),
)

# Fixed-window counters for rate limits, shared by all web workers through the database.
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("window_start", DateTime, nullable=False),
    Column("count", Integer, nullable=False),
)

# Private feed URLs: the token in the URL is `{id}-{HMAC(secret, id:nonce)}`, so a member can
# see their URL again, and revoking (deleting the row) kills it for good. `kind` names the
# feed ("upvotes", "foryou", "saved-search", "collection", ...), `arg` its object if any.
feed_tokens = Table(
    "feed_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("arg", String(255), nullable=False, default=""),
    Column("nonce", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_used_at", DateTime, nullable=True),
    UniqueConstraint("user_id", "kind", "arg", name="uq_feed_tokens_user_kind_arg"),
)

# Collections: a member's named lists of papers (private or public), ordered by `position`.
collections = Table(
    "collections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("name_key", String(100), nullable=False),  # case-folded name: unique per member
    Column("description", Text, nullable=True),
    Column("public", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("user_id", "name_key", name="uq_collections_user_name"),
)

collection_items = Table(
    "collection_items",
    metadata,
    Column(
        "collection_id",
        Integer,
        ForeignKey("collections.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("note", Text, nullable=True),
    Column("added_at", DateTime, nullable=False),
)
Index("ix_collection_items_order", collection_items.c.collection_id, collection_items.c.position)
Index("ix_collection_items_paper", collection_items.c.paper_id)

# "Mark as read": the paper leaves the member's own views of their collections.
read_marks = Table(
    "read_marks",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("read_at", DateTime, nullable=False),
)

# Who wrote a paper and which organisation published it, one row per (paper, author): the
# lookup side of author and organisation pages (`storage/authors.py` keeps them in step with
# papers.authors / papers.organization on every upsert). `name_key` is the normalised name
# (NFKC, case-folded, single spaces), so "Yann  LeCun" and "yann lecun" are one author.
paper_authors = Table(
    "paper_authors",
    metadata,
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("name_key", String(255), nullable=False),
)
Index("ix_paper_authors_name_key", paper_authors.c.name_key)

paper_orgs = Table(
    "paper_orgs",
    metadata,
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("org_key", String(128), nullable=False),  # Hugging Face organisation name, lowered
    Column("name", String(128), nullable=False),
    Column("fullname", String(255), nullable=True),
)
Index("ix_paper_orgs_org_key", paper_orgs.c.org_key)

# "For you": one small row per member holding the fitted personal model (a query vector over
# the paper embeddings, a keyword profile, an author profile and the papers it was fitted on)
# and their choices.
recommend_profiles = Table(
    "recommend_profiles",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("model_id", String(128), nullable=True),  # embedding model of `weights`
    Column("dim", Integer, nullable=True),
    Column("weights", LargeBinary, nullable=True),  # float32 little-endian, `dim` values
    Column("keywords", JSON, nullable=True),  # {term: weight}, the top terms of the positives
    Column("anchors", JSON, nullable=True),  # [[paper_id, kind], ...]: positives for reasons
    Column("positives", Integer, nullable=False, default=0),
    Column("negatives", Integer, nullable=False, default=0),
    Column("categories", JSON, nullable=True),  # arXiv categories picked at cold start
    Column("popularity", Boolean, nullable=False, default=False),  # opt-in upvote blend
    Column("version", Integer, nullable=False, default=0),  # bumped by every fit
    Column("fitted_at", DateTime, nullable=True),
    Column("updated_at", DateTime, nullable=False),
    Column("authors", JSON, nullable=True),  # {normalised author name: weight} (migration 0014)
    Column("topics", JSON, nullable=True),  # ai_keywords topics picked at cold start
    Column("missing", Integer, nullable=True),  # liked papers without a vector at the last fit
)

# What a member told the recommender about a paper, besides upvotes and submissions:
# more (more like this), less (not interested), up / down (active-learning thumbs),
# seed (picked at cold start), import (from a BibTeX or ORCID list of their own papers).
recommend_feedback = Table(
    "recommend_feedback",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
)
Index("ix_recommend_feedback_user", recommend_feedback.c.user_id, recommend_feedback.c.created_at)

# Version counters of what pages show (storage/versions.py): `content` goes up in every write
# transaction that changes a list, a paper or its counts, so cached page fragments keyed by it
# are never served after a change, in any worker or on any machine.
site_versions = Table(
    "site_versions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# Saved searches: words and filters in the search syntax (`query`), and/or "papers like this
# one" (`like_paper_id`); `delivery` says how the member hears of new matches. New papers are
# matched as they arrive (alerts/), never by re-running searches over the catalog.
saved_searches = Table(
    "saved_searches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("query", Text, nullable=False, default=""),
    Column(
        "like_paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), nullable=True
    ),
    Column("semantic", Boolean, nullable=False, default=False),  # also close in meaning
    Column("rule", JSON, nullable=True),  # the compiled query (alerts/rules.py), made on save
    Column("delivery", String(16), nullable=False),  # daily | weekly | digest | none (feed)
    Column("vector", LargeBinary, nullable=True),  # the query's embedding (semantic searches)
    Column("model_id", String(128), nullable=True),  # the model that made `vector`
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("last_match_at", DateTime, nullable=True),
)
Index("ix_saved_searches_user", saved_searches.c.user_id)

# The percolator's inverted index: a search can only match a paper holding one of its anchor
# tokens (its rarest required word, each of its categories as "cat:<c>", or "*": any paper).
saved_search_anchors = Table(
    "saved_search_anchors",
    metadata,
    Column("token", String(80), primary_key=True),
    Column(
        "search_id",
        Integer,
        ForeignKey("saved_searches.id", ondelete="CASCADE"),
        primary_key=True,
    ),
)
Index("ix_saved_search_anchors_search", saved_search_anchors.c.search_id)

saved_search_matches = Table(
    "saved_search_matches",
    metadata,
    Column(
        "search_id",
        Integer,
        ForeignKey("saved_searches.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("matched_at", DateTime, nullable=False),
    Column("score", Float, nullable=False),
    Column("via", String(16), nullable=False),  # words | meaning | like
    Column("edition", String(16), nullable=True),  # the alert mail / digest that carried it
)
Index("ix_saved_search_matches_recent", saved_search_matches.c.search_id,
      saved_search_matches.c.matched_at)
Index("ix_saved_search_matches_edition", saved_search_matches.c.edition)

# Which new papers the matcher has looked at (words; meaning once the paper had a vector).
alert_scans = Table(
    "alert_scans",
    metadata,
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("indexed_at", DateTime, nullable=False),
    Column("words_at", DateTime, nullable=False),
    Column("meaning_at", DateTime, nullable=True),
)
Index("ix_alert_scans_pending", alert_scans.c.meaning_at, alert_scans.c.indexed_at)

# One row per (member, alert edition): the same exactly-once claim protocol as `deliveries`.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("edition", String(16), primary_key=True),  # YYYY-MM-DD or YYYY-Www
    Column("status", String(16), nullable=False),
    Column("claimed_by", String(128), nullable=True),
    Column("claimed_at", DateTime, nullable=True),
    Column("sent_at", DateTime, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("message_id", String(255), nullable=True),
)
Index(
    "ix_alert_deliveries_edition_status",
    alert_deliveries.c.edition,
    alert_deliveries.c.status,
    alert_deliveries.c.claimed_by,
)
