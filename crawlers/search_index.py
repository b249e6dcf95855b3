"""The full-text index of articles matched to the bank: CJK character bigrams, kept current from the round.

Chinese has no spaces, so no database tokenizer finds words in it. Both databases are therefore given text that
is already cut into tokens here, in Python, by :func:`document_tokens`: every run of CJK characters becomes its
overlapping character bigrams (新华路网点 → 新华 华路 路网 网点), every run of Latin letters or digits one
lower-cased word, and a separator token (:data:`SEP`) stands between runs so a phrase never spans punctuation.
A query is cut the same way and searched as a *phrase* of those tokens, so for CJK it matches exactly the
documents containing the query as a substring: 挤兑 (one bigram) is found, 新华路 (新华 then 华路, adjacent) never
matches a text that only says 新华. ``docs/search.md`` has the measurements behind this choice.

Where the tokens live:

* SQLite: an FTS5 table ``article_fts`` (rowid = article id, ``unicode61`` tokenizer over the space-separated
  tokens), created after ``article_search`` by the migration and by ``create_all`` (a DDL listener below).
* PostgreSQL: the ``document`` column of ``article_search``, a ``tsvector`` built from the same tokens with their
  positions (literal, so the ``simple`` parser never re-cuts them), under a GIN index.

``article_search`` records which articles are indexed and from which ``content_hash``; :func:`index_pending`
(run once per pipeline round, after classification) indexes every matched article that has no row yet or whose
text changed since. It never touches the ingest stage's code or rows.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DDL,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    bindparam,
    column,
    delete,
    event,
    insert,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, Session, mapped_column

from crawlers.models import Article, ArticleStage
from yuqing.clock import Clock
from yuqing.db import Base, UTCDateTime

SEP = "ǂ"  # a letter unicode61 keeps as a token, which no query term can produce: marks a break between runs
FTS_TABLE = "article_fts"
MAX_POSITION = 16_383  # PostgreSQL keeps tsvector positions up to this; later tokens of a long text are not indexed
INDEXED_STAGES = (ArticleStage.matched, ArticleStage.classified, ArticleStage.scored)
BATCH = 500

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN_RE = re.compile(f"[{_CJK}]+|[0-9a-z]+")
_CJK_RE = re.compile(f"[{_CJK}]")


class ArticleSearch(Base):
    """One indexed article: the text version indexed (``content_hash``) and, on PostgreSQL, its token vector."""

    __tablename__ = "article_search"
    __table_args__ = (Index("ix_article_search_document", "document", postgresql_using="gin"),)

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), doc="the article's content_hash when indexed")
    indexed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    document: Mapped[str | None] = mapped_column(
        Text().with_variant(TSVECTOR(), "postgresql"),
        doc="PostgreSQL: the bigram tsvector; SQLite: NULL (the tokens are in the FTS5 table article_fts)")


FTS_CREATE = (f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(doc, "
              "tokenize = 'unicode61 remove_diacritics 0')")
event.listen(ArticleSearch.__table__, "after_create", DDL(FTS_CREATE).execute_if(dialect="sqlite"))
event.listen(ArticleSearch.__table__, "before_drop",
             DDL(f"DROP TABLE IF EXISTS {FTS_TABLE}").execute_if(dialect="sqlite"))


def is_fts_table(name: str | None) -> bool:
    """The FTS5 table and its shadow tables (``article_fts_data`` …): SQLite's, not the models'."""
    return bool(name) and (name == FTS_TABLE or name.startswith(FTS_TABLE + "_"))


# --- tokens ----------------------------------------------------------------------------------------------------
def runs(value: str) -> list[str]:
    """The CJK and Latin/digit runs of ``value`` after NFKC (full-width ＡＢＣ１ → abc1) and lower-casing."""
    return _RUN_RE.findall(unicodedata.normalize("NFKC", value or "").lower())


def run_tokens(run: str) -> list[str]:
    """Bigrams of a CJK run (a lone character gives none: see docs/search.md), or the Latin/digit run itself."""
    if _CJK_RE.match(run):
        return [run[i:i + 2] for i in range(len(run) - 1)]
    return [run]


def document_tokens(title: str, body: str) -> list[str]:
    """The token stream of an article: title runs, two separators, body runs, with one separator between runs."""
    out: list[str] = []
    for part, value in enumerate((title, body)):
        if part:
            out += [SEP, SEP]
        for i, run in enumerate(runs(value)):
            toks = run_tokens(run)
            if not toks:
                continue
            if i and out and out[-1] != SEP:
                out.append(SEP)
            out += toks
    return out


def tsvector_literal(tokens: Iterable[str]) -> str:
    """A ``tsvector`` literal (``'新华':1 '华路':2``) keeping each token's position; separators take a position
    but are not stored. Tokens hold only CJK, a-z and 0-9, so no quoting is needed."""
    positions: dict[str, list[int]] = {}
    for pos, tok in enumerate(tokens, 1):
        if pos > MAX_POSITION:
            break
        if tok != SEP:
            positions.setdefault(tok, []).append(pos)
    return " ".join(f"'{tok}':{','.join(map(str, p[:256]))}" for tok, p in positions.items())


# --- keeping the index current ---------------------------------------------------------------------------------
def pending_ids(session: Session, limit: int = BATCH) -> list[int]:
    """Matched articles not yet indexed, or whose text changed since (``content_hash``), oldest first."""
    return list(session.scalars(_PENDING, {"limit": limit}))


# Built once, the limit bound per call: ``pending_ids`` runs on every pipeline round, and building the statement
# and its cache key each time cost more than running it on a quiet round.
_PENDING = (select(Article.id).outerjoin(ArticleSearch, ArticleSearch.article_id == Article.id)
            .where(Article.stage.in_(INDEXED_STAGES))
            .where(or_(ArticleSearch.article_id.is_(None), ArticleSearch.content_hash != Article.content_hash))
            .order_by(Article.id).limit(bindparam("limit", type_=Integer)))


def index_articles(session: Session, article_ids: list[int], *, now: datetime) -> int:
    """(Re)index the given articles in the caller's transaction, in bulk statements; returns how many."""
    if not article_ids:
        return 0
    postgres = session.get_bind().dialect.name == "postgresql"
    rows = session.execute(select(Article.id, Article.title, Article.text, Article.content_hash)
                           .where(Article.id.in_(article_ids))).all()
    ids = [r[0] for r in rows]
    session.execute(delete(ArticleSearch).where(ArticleSearch.article_id.in_(ids)))
    docs = [{"id": aid, "hash": content_hash, "at": now, "doc": document_tokens(title or "", body or "")}
            for aid, title, body, content_hash in rows]
    if postgres:
        for d in docs:
            d["doc"] = tsvector_literal(d["doc"])
        session.execute(text("INSERT INTO article_search (article_id, content_hash, indexed_at, document) "
                             "VALUES (:id, :hash, :at, CAST(:doc AS tsvector))"), docs)
    else:
        session.execute(delete(fts_table()).where(literal_column("rowid").in_(ids)))
        session.execute(text(f"INSERT INTO {FTS_TABLE}(rowid, doc) VALUES (:id, :doc)"),
                        [{"id": d["id"], "doc": " ".join(d["doc"])} for d in docs])
        session.execute(insert(ArticleSearch), [{"article_id": d["id"], "content_hash": d["hash"],
                                                 "indexed_at": d["at"]} for d in docs])
    return len(rows)


def fts_table() -> Any:
    return table(FTS_TABLE, column("doc"))


def index_pending(session: Session, *, clock: Clock, batch: int = BATCH) -> int:
    """Index every matched article not yet (or no longer) indexed, committing each batch; returns how many."""
    done = 0
    while ids := pending_ids(session, batch):
        done += index_articles(session, ids, now=clock.now())
        session.commit()
    return done


def index_search(session_factory, clock: Clock) -> int:
    """The pipeline round's step (``runner.runtime.run_round``): index what ingest matched since last round."""
    with session_factory() as session:
        return index_pending(session, clock=clock)
