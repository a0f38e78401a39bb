"""arxiv-sanity-lite's recommender, rebuilt in numpy: the baseline `paperfeed eval recommend`
must beat.

arxiv-sanity-lite (compute.py, serve.py) embeds each paper as the tf-idf of its title, abstract
and author names (scikit-learn's TfidfVectorizer: English stop words dropped, unigrams and
bigrams, 20,000 features, min_df 5, max_df 0.1, sublinear tf, smoothed idf, l2 rows) and, per
request, trains a `LinearSVC(class_weight="balanced", C=0.1)` with the member's papers as
positives and every other paper as negatives. Here the same features feed two rankers: that
SVM (squared hinge, L2, intercept, solved by Newton-CG on sparse rows) and the centroid of the
member's papers (cosine). scikit-learn is not a dependency of paperfeed, so the vectorizer and
the solver are written out below; they follow scikit-learn's definitions, not its code.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

TOKEN = re.compile(r"\b[a-zA-Z_][a-zA-Z0-9_]+\b")

# The usual English stop-word list of IR systems (the Glasgow list scikit-learn ships).
STOP_WORDS = frozenset(
    """a about above across after afterwards again against all almost alone along already also
    although always am among amongst amoungst amount an and another any anyhow anyone anything
    anyway anywhere are around as at back be became because become becomes becoming been before
    beforehand behind being below beside besides between beyond bill both bottom but by call can
    cannot cant co con could couldnt cry de describe detail do done down due during each eg eight
    either eleven else elsewhere empty enough etc even ever every everyone everything everywhere
    except few fifteen fifty fill find fire first five for former formerly forty found four from
    front full further get give go had has hasnt have he hence her here hereafter hereby herein
    hereupon hers herself him himself his how however hundred i ie if in inc indeed interest into
    is it its itself keep last latter latterly least less ltd made many may me meanwhile might
    mill mine more moreover most mostly move much must my myself name namely neither never
    nevertheless next nine no nobody none noone nor not nothing now nowhere of off often on once
    one only onto or other others otherwise our ours ourselves out over own part per perhaps
    please put rather re same see seem seemed seeming seems serious several she should show side
    since sincere six sixty so some somehow someone something sometime sometimes somewhere still
    such system take ten than that the their them themselves then thence there thereafter thereby
    therefore therein thereupon these they thick thin third this those though three through
    throughout thru thus to together too top toward towards twelve twenty two un under until up
    upon us very via was we well were what whatever when whence whenever where whereafter whereas
    whereby wherein whereupon wherever whether which while whither who whoever whole whom whose
    why will with within without would yet you your yours yourself yourselves""".split()
)


def _strip_accents(text: str) -> str:
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def terms(text: str) -> list[str]:
    """Unigrams and bigrams of `text` after lower-casing and dropping stop words."""
    words = [w for w in TOKEN.findall(_strip_accents(text).lower()) if w not in STOP_WORDS]
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


@dataclass(slots=True)
class Sparse:
    """Rows of a sparse matrix in CSR form (float32 values, int32 column indices)."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    cols: int

    @property
    def rows(self) -> int:
        return len(self.indptr) - 1

    def take(self, rows: Sequence[int]) -> Sparse:
        starts, ends = self.indptr[rows], self.indptr[np.asarray(rows) + 1]
        pieces = [np.arange(s, e) for s, e in zip(starts, ends, strict=True)]
        pick = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(ends - starts)]).astype(np.int64)
        return Sparse(indptr, self.indices[pick], self.data[pick], self.cols)

    def dot(self, w: np.ndarray) -> np.ndarray:
        """X @ w for a dense vector."""
        out = np.zeros(self.rows, dtype=np.float64)
        lengths = np.diff(self.indptr)
        nonempty = lengths > 0
        if self.data.size:
            sums = np.add.reduceat(self.data * w[self.indices], self.indptr[:-1][nonempty])
            out[nonempty] = sums
        return out

    def tdot(self, r: np.ndarray) -> np.ndarray:
        """X.T @ r for a dense vector over the rows."""
        weights = self.data * np.repeat(r, np.diff(self.indptr))
        return np.bincount(self.indices, weights=weights, minlength=self.cols)

    def mean(self, rows: Sequence[int]) -> np.ndarray:
        sub = self.take(rows)
        return sub.tdot(np.full(sub.rows, 1.0 / max(1, sub.rows)))


class TfidfFeatures:
    """scikit-learn's TfidfVectorizer with arxiv-sanity-lite's parameters, fitted on a corpus."""

    def __init__(
        self, *, max_features: int = 20_000, min_df: int = 5, max_df: float = 0.1
    ) -> None:
        self.max_features = max_features
        self.min_df = min_df
        self.max_df = max_df
        self.vocab: dict[str, int] = {}
        self.idf = np.zeros(0, dtype=np.float32)

    def fit_transform(self, texts: Iterable[str]) -> Sparse:
        counts = [Counter(terms(t)) for t in texts]
        n = len(counts)
        df: Counter[str] = Counter()
        total: Counter[str] = Counter()
        for c in counts:
            df.update(c.keys())
            total.update(c)
        max_count = self.max_df * n
        kept = [t for t, d in df.items() if self.min_df <= d <= max_count]
        kept.sort(key=lambda t: (-total[t], t))
        kept = sorted(kept[: self.max_features])
        self.vocab = {t: i for i, t in enumerate(kept)}
        self.idf = np.array(
            [math.log((1 + n) / (1 + df[t])) + 1.0 for t in kept], dtype=np.float32
        )
        return self._rows(counts)

    def _rows(self, counts: Sequence[Counter[str]]) -> Sparse:
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        for c in counts:
            cols = [(self.vocab[t], n) for t, n in c.items() if t in self.vocab]
            cols.sort()
            values = np.array(
                [(1.0 + math.log(n)) * self.idf[i] for i, n in cols], dtype=np.float64
            )
            norm = float(np.sqrt((values**2).sum())) if values.size else 0.0
            indices.extend(i for i, _ in cols)
            data.extend((values / norm).tolist() if norm else values.tolist())
            indptr.append(len(indices))
        return Sparse(
            np.array(indptr, dtype=np.int64),
            np.array(indices, dtype=np.int64),
            np.array(data, dtype=np.float64),
            len(self.vocab),
        )


def linear_svm(
    x: Sparse, y: np.ndarray, *, c: float = 0.1, iterations: int = 30, tol: float = 1e-4
) -> tuple[np.ndarray, float]:
    """LinearSVC(class_weight="balanced", C=c): min 0.5|w|^2 + sum_i C_i max(0, 1 - y_i f_i)^2,
    f_i = w.x_i + b (the intercept is a regularised constant feature, as in liblinear).

    Newton-CG in the primal (liblinear's TRON without the trust region). `y` holds +1/-1."""
    n = x.rows
    pos = int((y > 0).sum())
    neg = n - pos
    weights = np.where(y > 0, n / (2.0 * max(pos, 1)), n / (2.0 * max(neg, 1))) * c
    w = np.zeros(x.cols, dtype=np.float64)
    b = 0.0

    def margins(w: np.ndarray, b: float) -> np.ndarray:
        return 1.0 - y * (x.dot(w) + b)

    def objective(w: np.ndarray, b: float) -> float:
        m = np.maximum(margins(w, b), 0.0)
        return 0.5 * float(w @ w + b * b) + float((weights * m * m).sum())

    for _ in range(iterations):
        m = margins(w, b)
        active = m > 0
        coef = np.where(active, -2.0 * weights * y * m, 0.0)
        grad_w = w + x.tdot(coef)
        grad_b = b + float(coef.sum())
        gnorm = math.sqrt(float(grad_w @ grad_w) + grad_b * grad_b)
        if gnorm < tol * max(1.0, math.sqrt(float(w @ w) + b * b)):
            break
        hw = np.where(active, 2.0 * weights, 0.0)

        def hess(vw: np.ndarray, vb: float, hw: np.ndarray = hw) -> tuple[np.ndarray, float]:
            t = hw * (x.dot(vw) + vb)
            return vw + x.tdot(t), vb + float(t.sum())

        # Conjugate gradient on H d = -g.
        dw, db = np.zeros_like(w), 0.0
        rw, rb = -grad_w, -grad_b
        pw, pb = rw.copy(), rb
        rr = float(rw @ rw) + rb * rb
        for _cg in range(50):
            hpw, hpb = hess(pw, pb)
            alpha = rr / max(float(pw @ hpw) + pb * hpb, 1e-30)
            dw += alpha * pw
            db += alpha * pb
            rw -= alpha * hpw
            rb -= alpha * hpb
            new_rr = float(rw @ rw) + rb * rb
            if math.sqrt(new_rr) < 0.1 * gnorm:
                break
            pw = rw + (new_rr / rr) * pw
            pb = rb + (new_rr / rr) * pb
            rr = new_rr
        # Backtracking line search (the squared hinge is piecewise quadratic).
        f0 = objective(w, b)
        step = 1.0
        slope = float(grad_w @ dw) + grad_b * db
        while step > 1e-4 and objective(w + step * dw, b + step * db) > f0 + 1e-4 * step * slope:
            step *= 0.5
        w, b = w + step * dw, b + step * db
    return w, b
