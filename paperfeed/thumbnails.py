"""Paper thumbnails: page 1 of the PDF rendered by a job, and a generated cover for the rest.

Pages never wait for a PDF: a card's `<img src="/thumbs/{id}">` is answered from the cache
directory (`PAPERFEED_THUMBNAIL_DIR`, default `<data_dir>/thumbs`) when the job has rendered
the paper, and with `cover_svg()` — title, first author, primary category on a colour picked
from the category — otherwise. `paperfeed thumbs` (and `serve --with-jobs`, hourly) renders
recently featured papers: it fetches each PDF with the same polite client as the arXiv source
(one request per PAPERFEED_ARXIV_DELAY_SECONDS, bounded retries), renders page 1 with pdfium
(pypdfium2) and writes a small WebP atomically. A PDF that cannot be fetched or parsed is noted
(`<id>.failed`, retried after `RETRY_FAILED_DAYS`) and the job goes on with the next paper.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from markupsafe import escape
from sqlalchemy import Engine

from paperfeed import shutdown
from paperfeed.config import Settings
from paperfeed.errors import PaperfeedError

log = logging.getLogger(__name__)

WIDTH = 240  # pixels; cards show it at 120 CSS px, sharp on 2x screens
MAX_PDF_BYTES = 60 * 1024 * 1024
RETRY_FAILED_DAYS = 7
COVER_W, COVER_H = 240, 310
PALETTE = ["#1d4ed8", "#047857", "#b45309", "#7c3aed", "#be123c", "#0e7490", "#4d7c0f",
           "#9333ea", "#c2410c", "#0f766e", "#a21caf", "#1e40af"]


def thumb_dir(settings: Settings) -> Path:
    return settings.thumbnail_dir or settings.data_dir / "thumbs"


def _file_stem(paper_id: str) -> str:
    """`hep-th/9901001` -> `hep-th_9901001` (ids are validated before they get here)."""
    return re.sub(r"[^A-Za-z0-9.\-]", "_", paper_id)


def thumb_path(settings: Settings, paper_id: str) -> Path:
    return thumb_dir(settings) / f"{_file_stem(paper_id)}.webp"


def failed_path(settings: Settings, paper_id: str) -> Path:
    return thumb_dir(settings) / f"{_file_stem(paper_id)}.failed"


# --- the generated cover ----------------------------------------------------------------------


def _wrap(text: str, width: int, max_lines: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if len(word) > width:
            word = word[: width - 1] + "…"
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: width - 1].rstrip() + "…"
    return lines


def cover_svg(title: str, first_author: str | None, category: str | None) -> str:
    """An SVG cover (no scripts, no external references; every text escaped). Its colour
    follows the primary category (the title when there is none), so a list is not uniform."""
    seed = (category or title or "").encode()
    colour = PALETTE[hashlib.blake2b(seed, digest_size=1).digest()[0] % len(PALETTE)]
    lines = _wrap(title, 12, 6)
    tspans = "".join(
        f'<tspan x="18" dy="{0 if i == 0 else 31}">{escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    author = escape(_wrap(first_author or "", 20, 1)[0] if first_author else "")
    cat = escape((category or "")[:16])
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{COVER_W}" height="{COVER_H}" '
        f'viewBox="0 0 {COVER_W} {COVER_H}" role="img">'
        f'<rect width="{COVER_W}" height="{COVER_H}" fill="{colour}"/>'
        f'<rect x="10" y="10" width="{COVER_W - 20}" height="{COVER_H - 20}" rx="6" '
        f'fill="none" stroke="#fff" stroke-opacity=".35"/>'
        f'<text x="18" y="48" fill="#fff" font-family="system-ui,sans-serif" font-size="25" '
        f'font-weight="700">{tspans}</text>'
        f'<text x="18" y="{COVER_H - 46}" fill="#fff" fill-opacity=".9" '
        f'font-family="system-ui,sans-serif" font-size="17">{author}</text>'
        f'<text x="18" y="{COVER_H - 24}" fill="#fff" fill-opacity=".75" '
        f'font-family="ui-monospace,monospace" font-size="13">{cat}</text></svg>'
    )


# --- rendering ----------------------------------------------------------------------------------


class ThumbnailError(PaperfeedError):
    status = 422


def render_first_page(pdf: bytes, *, width: int = WIDTH) -> bytes:
    """Page 1 of `pdf` as WebP bytes, `width` pixels wide. ThumbnailError for anything that
    is not a readable PDF (empty, truncated, encrypted, zero pages)."""
    import pypdfium2 as pdfium

    if not pdf.startswith(b"%PDF") and b"%PDF" not in pdf[:1024]:
        raise ThumbnailError("thumbnails: not a PDF (no %PDF header)")
    try:
        doc = pdfium.PdfDocument(pdf)
    except pdfium.PdfiumError as exc:
        raise ThumbnailError(f"thumbnails: unreadable PDF ({exc})") from None
    try:
        if len(doc) == 0:
            raise ThumbnailError("thumbnails: the PDF has no pages")
        page = doc[0]
        page_width = page.get_width() or 612
        scale = max(0.05, min(4.0, width / page_width))
        bitmap = page.render(scale=scale, may_draw_forms=False)
        image = bitmap.to_pil().convert("RGB")
        max_height = int(width * 1.6)  # a banner-shaped page is cropped, not a sliver
        if image.height > max_height:
            image = image.crop((0, 0, image.width, max_height))
        out = io.BytesIO()
        image.save(out, format="WEBP", quality=78, method=4)
        return out.getvalue()
    except pdfium.PdfiumError as exc:
        raise ThumbnailError(f"thumbnails: could not render page 1 ({exc})") from None
    finally:
        doc.close()


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# --- the job ------------------------------------------------------------------------------------


@dataclass(slots=True)
class ThumbSummary:
    rendered: int = 0
    skipped: int = 0  # already there, or failed recently
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.rendered} rendered, {self.failed} failed (cover kept), "
                f"{self.skipped} skipped")


def needs_work(settings: Settings, paper_id: str, now: datetime) -> bool:
    if thumb_path(settings, paper_id).exists():
        return False
    failed = failed_path(settings, paper_id)
    if failed.exists():
        age = now - datetime.fromtimestamp(failed.stat().st_mtime)
        return age > timedelta(days=RETRY_FAILED_DAYS)
    return True


def generate(
    settings: Settings,
    paper_ids: Iterable[str],
    fetch: Callable[[str], bytes],
    *,
    now: datetime,
    limit: int | None = None,
) -> ThumbSummary:
    """Render the thumbnail of each paper that lacks one; `fetch(url)` returns PDF bytes.

    One bad PDF (or an upstream error) never stops the job: it is noted and skipped."""
    summary = ThumbSummary()
    done = 0
    for pid in paper_ids:
        if limit is not None and done >= limit:
            break
        shutdown.check("thumbnails")  # serve is stopping: the rest waits for the next run
        if not needs_work(settings, pid, now):
            summary.skipped += 1
            continue
        done += 1
        url = settings.thumbnail_pdf_url.format(id=pid)
        try:
            pdf = fetch(url)
            if len(pdf) > MAX_PDF_BYTES:
                raise ThumbnailError(f"thumbnails: PDF larger than {MAX_PDF_BYTES >> 20} MB")
            write_atomically(thumb_path(settings, pid), render_first_page(pdf))
            failed_path(settings, pid).unlink(missing_ok=True)
            summary.rendered += 1
        except Exception as exc:  # SourceError, ThumbnailError, a disk error: note, go on
            summary.failed += 1
            summary.errors.append(f"{pid}: {exc}")
            log.warning("thumbnail %s: %s (the card keeps its generated cover)", pid, exc)
            write_atomically(failed_path(settings, pid), str(exc).encode())
    return summary


def render_recent(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime,
    days: int | None = None,
    ids: list[str] | None = None,
    limit: int | None = None,
) -> ThumbSummary:
    """The job: thumbnails for `ids`, or for papers featured in the last `days` days."""
    from paperfeed.sources.http import Fetcher
    from paperfeed.storage import people

    if ids is None:
        since = (now - timedelta(days=days or settings.thumbnail_days)).date()
        with engine.connect() as conn:
            ids = people.featured_ids_since(conn, since)
    with Fetcher(settings, name="arXiv PDF", delay=settings.arxiv_delay_seconds) as fetcher:
        return generate(settings, ids, fetcher.get, now=now, limit=limit)
