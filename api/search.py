"""The search box's query: words cut exactly as the index cut the articles (``crawlers.search_index``).

Each whitespace-separated term becomes a phrase of bigram tokens and all terms must match (AND). For CJK text a
phrase of adjacent bigrams matches exactly the articles containing the term as a substring, so 挤兑 finds 挤兑
and 新华路 never finds an article that only says 新华. A lone CJK character is not indexed (``docs/search.md``):
inside a longer term it is skipped exactly as the index skipped it (ATM机 searches ATM), and a term that is
nothing but one character is refused with a message rather than answered with a silently wrong list.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, cast, literal, literal_column, select, table
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.sql import Select

from crawlers.models import Article
from crawlers.search_index import FTS_TABLE, SEP, ArticleSearch, run_tokens, runs

MAX_QUERY_CHARS = 100
MAX_TERMS = 8


class BadQuery(ValueError):
    """A search text that cannot be searched; the message is Chinese, for the user."""


@dataclass(frozen=True)
class SearchQuery:
    text: str
    phrases: tuple[tuple[str, ...], ...]  # per term: its tokens, SEP between runs


def parse(raw: str) -> SearchQuery | None:
    """The user's search text as phrases; None when it is empty; :class:`BadQuery` when it cannot be searched."""
    value = (raw or "").strip()
    if not value:
        return None
    if len(value) > MAX_QUERY_CHARS:
        raise BadQuery(f"搜索词过长：最多 {MAX_QUERY_CHARS} 个字符")
    terms = value.split()
    if len(terms) > MAX_TERMS:
        raise BadQuery(f"搜索词过多：最多 {MAX_TERMS} 个（以空格分隔）")
    phrases = []
    for term in terms:
        tokens: list[str] = []
        term_runs = runs(term)
        for run in term_runs:  # cut as document_tokens cuts: a lone CJK character adds no token and no separator
            toks = run_tokens(run)
            if toks and tokens:
                tokens.append(SEP)
            tokens += toks
        if not tokens and term_runs:
            raise BadQuery(f"无法搜索“{term}”：单独一个汉字不能搜索，中文搜索词至少两个字（如“挤兑”）")
        if not tokens:
            raise BadQuery(f"“{term}”中没有可搜索的文字（汉字、字母或数字）")
        phrases.append(tuple(tokens))
    return SearchQuery(value, tuple(phrases))


def fts5_expression(query: SearchQuery) -> str:
    """SQLite FTS5: each term a quoted phrase, all ANDed (tokens hold no quote, so none needs escaping)."""
    return " AND ".join('"' + " ".join(p) + '"' for p in query.phrases)


def tsquery_literal(query: SearchQuery) -> str:
    """PostgreSQL: each term a phrase (``'新华' <-> '华路'``; ``<2>`` across a separator), all ANDed."""
    parts = []
    for phrase in query.phrases:
        out, gap = "", 0
        for tok in phrase:
            if tok == SEP:
                gap += 1
                continue
            out += (f" <{gap + 1}> " if out else "") + f"'{tok}'"
            gap = 0
        parts.append(f"({out})")
    return " & ".join(parts)


def matching_ids(query: SearchQuery, dialect: str) -> Select:
    """The ids of the articles matching ``query``, as a subquery for ``Article.id.in_(…)``."""
    if dialect == "postgresql":
        return select(ArticleSearch.article_id).where(
            ArticleSearch.document.op("@@")(cast(literal(tsquery_literal(query)), TSQUERY)))
    fts = table(FTS_TABLE)
    return (select(literal_column("rowid")).select_from(fts)
            .where(literal_column(FTS_TABLE).op("MATCH")(fts5_expression(query))))


def condition(query: SearchQuery, dialect: str) -> ColumnElement[bool]:
    return Article.id.in_(matching_ids(query, dialect))
