"""What to crawl: source definitions loaded from ``config/sources.yaml``.

Sources are data, not code: one generic spider per *kind* (feed, sitemap, listing page, JSON API, hot list) reads its
behaviour from a ``SourceConfig``, so an admin adds a news site or a complaint board by editing YAML. Secrets never
live in the file: a JSON API names the environment variable holding its token (``auth.token_env``), a ``platform``
source (Weibo, WeChat public accounts, Douyin through an API the bank supplies, ``crawlers.platforms``) the
variables of its token or app id and secret (``platform.credentials``), and
``${NAME}`` placeholders (e.g. ``${SIM_HOST_PORT}``) are filled from given variables or the environment. Every
problem is reported as a ``ConfigError`` naming the file and the field, and every URL passes the SSRF check at load
time.

A source on a private network (an intranet portal, the simulated internet of ``yuqing demo``) names the one host and
port it may reach there, ``private_network: "host:port"`` — never a blanket switch, because whatever else its pages
link or redirect to must still be treated as the public internet. ``yuqing run`` additionally refuses such a source
unless the admin lists its id in ``YUQING_ALLOW_PRIVATE_SOURCES`` (``require_private_opt_in``): one file edit alone
must not open the internal network.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crawlers.platforms.config import PlatformOptions
from crawlers.ssrf import PrivateAllowance, UnsafeURLError, check_url, url_host_port
from yuqing.errors import ConfigError
from yuqing.yamlfile import load_yaml

SourceKind = Literal["rss", "sitemap", "listing", "json_api", "trending", "platform"]
ChannelName = Literal["news", "social", "complaint", "regulator", "trending"]
Authority = Literal[
    "national_media", "provincial_media", "local_media", "social", "complaint_platform", "regulator", "self_media"
]

# The shortest poll interval a source may ask for, in seconds (politeness towards the sites we read). Only the fault
# tests lower it (``YUQING_MIN_POLL_INTERVAL``): they wait for a source's second poll to fetch again what an outage
# lost, and the length of that wait is not what they test.
def _min_poll_interval(raw: str | None) -> int:
    """``YUQING_MIN_POLL_INTERVAL`` read as whole seconds ≥ 1 (default 30); anything else is a configuration error
    naming the variable, not a bare ``ValueError`` at import."""
    if raw is None or not raw.strip():
        return 30
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError("environment", [("YUQING_MIN_POLL_INTERVAL", f"expected whole seconds ≥ 1, got {raw!r}")])
    return value


MIN_POLL_INTERVAL = _min_poll_interval(os.environ.get("YUQING_MIN_POLL_INTERVAL"))
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SOURCE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_TEMPLATE_FIELD = re.compile(r"\{([^{}]+)\}")
OPT_IN_VARIABLE = "YUQING_ALLOW_PRIVATE_SOURCES"
PUBLIC_CATALOGUE_FILE = "sources.public.yaml"  # beside sources.yaml in the config directory


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ListingOptions(_Strict):
    """How to read a list page: which links are articles, and how to reach the next list page."""

    link_selector: str | None = Field(default=None, description="CSS selector of article links, e.g. 'ul.news a'")
    link_xpath: str | None = Field(default=None, description="XPath of article links (alternative to CSS)")
    link_pattern: str | None = Field(default=None, description="regex an article URL must match")
    title_selector: str | None = Field(
        default=None, description="CSS selector of the title inside a link that wraps a whole card (e.g. "
        "'h1.title'); default: the link's text")
    next_selector: str | None = Field(default=None, description="CSS selector of the next-page link")
    page_url_template: str | None = Field(
        default=None, description="URL of list page N with '{page}', e.g. 'https://x.cn/news/list_{page}.html'"
    )
    first_page: int = Field(default=1, ge=0)

    @field_validator("link_pattern")
    @classmethod
    def _valid_regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return v

    @field_validator("page_url_template")
    @classmethod
    def _has_page(cls, v: str | None) -> str | None:
        if v is not None and "{page}" not in v:
            raise ValueError("must contain '{page}'")
        return v


class FieldMapping(_Strict):
    """Dotted paths into one JSON item (``user.screen_name``) for each field an article needs."""

    id: str = "id"
    text: str = "text"
    title: str | None = None
    url: str | None = None
    url_template: str | None = Field(
        default=None, description="the item's page when the API gives no usable link, with {path} placeholders "
        "filled (URL-quoted) from the item, e.g. 'https://www.nfra.gov.cn/…/ItemDetail.html?docId={docId}'")
    created_at: str | None = "created_at"
    author: str | None = None
    metrics: dict[str, str] = Field(
        default_factory=dict, description="metric name → path, e.g. reposts: reposts_count"
    )
    meta: dict[str, str] = Field(
        default_factory=dict,
        description="extra values kept in article.meta, e.g. retweeted_text: retweeted_status.text",
    )

    @field_validator("url_template")
    @classmethod
    def _url_template(cls, v: str | None) -> str | None:
        return _template(v)


def _group_regex(v: str | None) -> str | None:
    """A regex with a capturing group 1 (what it captures is read as JSON), or a clear error."""
    if v is None:
        return None
    try:
        compiled = re.compile(v)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    if compiled.groups < 1:
        raise ValueError("needs a capturing group (…): group 1 is the JSON text")
    return v


def _template(v: str | None) -> str | None:
    if v is not None and not re.match(r"^https?://", v.strip(), re.I):
        raise ValueError("must be an http:// or https:// URL")
    if v is not None and not _TEMPLATE_FIELD.search(v):
        raise ValueError("needs at least one {placeholder}, e.g. {id}")
    return None if v is None else v.strip()


class ApiAuth(_Strict):
    """A bearer-style credential read from the environment at crawl time, never from the YAML file."""

    token_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    header: str = "Authorization"
    format: str = "Bearer {token}"

    @field_validator("format")
    @classmethod
    def _has_token(cls, v: str) -> str:
        if "{token}" not in v:
            raise ValueError("must contain '{token}'")
        return v


class JsonApiOptions(_Strict):
    """How to call a JSON API and map its items; paginate by page number or by a cursor, never both."""

    items_path: str = Field(default="data", description="dotted path to the list of items ('' = the top level)")
    fields: FieldMapping = Field(default_factory=FieldMapping)
    json_pattern: str | None = Field(
        default=None, description="regex whose group 1 is the JSON inside the response (JSONP 'cb({...})', "
        "'var list = {...};' in a script, '<!--s-data:{...}-->'); None = the whole body is JSON")
    params: dict[str, str] = Field(default_factory=dict, description="query parameters sent with every request")
    page_param: str | None = Field(default=None, description="query parameter carrying the page number")
    first_page: int = Field(default=1, ge=0)
    has_more_path: str | None = Field(default=None, description="path to a boolean saying more pages exist")
    cursor_param: str | None = Field(
        default=None, description="query parameter carrying the next-page cursor, e.g. max_id (instead of pages)"
    )
    cursor_path: str | None = Field(default=None, description="path to the next cursor in a response, e.g. max_id")
    auth: ApiAuth | None = None
    track_metrics: bool = Field(
        default=True, description="re-read known items every poll to update metrics and record a sample"
    )

    @field_validator("json_pattern")
    @classmethod
    def _json_regex(cls, v: str | None) -> str | None:
        return _group_regex(v)

    @model_validator(mode="after")
    def _one_pagination(self) -> JsonApiOptions:
        if self.page_param and self.cursor_param:
            raise ValueError("use page_param or cursor_param, not both")
        if bool(self.cursor_param) != bool(self.cursor_path):
            raise ValueError("cursor_param and cursor_path go together")
        return self


class TrendingFields(_Strict):
    """Where one hot-list entry's values are: dotted paths into the entry's JSON (format ``json``, or ``html`` with
    ``json_pattern``), or CSS selectors inside the entry's element (``html`` with ``item_selector``; ``::text`` and
    ``::attr(name)`` as in Scrapy). Only ``title`` is required: a list without ranks is ranked by position, one
    without heat has heat 0."""

    title: str = Field(min_length=1)
    url: str | None = None
    rank: str | None = None
    heat: str | None = None
    excerpt: str | None = None
    time: str | None = Field(default=None, description="when the entry went on the list, if the list says")


class TrendingOptions(_Strict):
    """How to read a hot list (热搜 / 热榜): where its entries are, which value is which, and the list's reach."""

    format: Literal["json", "html"] = "json"
    items_path: str = Field(default="", description="dotted path to the entry list in the JSON ('' = top level)")
    json_pattern: str | None = Field(
        default=None, description="regex whose group 1 is the JSON inside the response (JSONP, a script variable, "
        "'<!--s-data:{...}-->' in an HTML board)")
    item_selector: str | None = Field(default=None, description="CSS selector of each entry (html without JSON)")
    fields: TrendingFields
    rank_base: Literal[0, 1] = Field(default=1, description="0 when the list's rank field counts from 0")
    url_template: str | None = Field(
        default=None, description="a stable page for an entry without a link, {title} (or a JSON {path}) URL-quoted, "
        "e.g. 'https://s.weibo.com/weibo?q=%23{title}%23'")
    skip_when: list[str] = Field(
        default_factory=list, description="paths (or selectors) that, when present and truthy, mark an entry to "
        "leave out: advertisements, pinned official notices")
    params: dict[str, str] = Field(default_factory=dict, description="query parameters sent with the request")
    reach: int = Field(ge=0, description="the list's typical daily audience (people), a risk input")

    @field_validator("json_pattern")
    @classmethod
    def _json_regex(cls, v: str | None) -> str | None:
        return _group_regex(v)

    @field_validator("url_template")
    @classmethod
    def _url_template(cls, v: str | None) -> str | None:
        return _template(v)

    @model_validator(mode="after")
    def _one_way_in(self) -> TrendingOptions:
        if self.format == "json" and self.item_selector:
            raise ValueError("item_selector is for format: html (a JSON list is found with items_path)")
        if self.format == "html" and bool(self.json_pattern) == bool(self.item_selector):
            raise ValueError("an html list needs json_pattern (JSON embedded in the page) or item_selector, "
                             "exactly one")
        return self


class SourceConfig(_Strict):
    id: str = Field(pattern=SOURCE_ID_PATTERN)
    name: str = Field(min_length=1, description="display name, e.g. 江城晚报网")
    kind: SourceKind
    channel: ChannelName
    url: str = Field(min_length=1, description="feed / sitemap / first list page / API endpoint")
    authority: Authority
    enabled: bool = True
    poll_interval: int = Field(default=600, ge=MIN_POLL_INTERVAL, description="seconds between polls")
    max_pages: int = Field(default=5, ge=1, le=200, description="list/API/sitemap pages read per poll")
    max_items: int = Field(default=200, ge=1, description="article pages fetched per poll")
    listing: ListingOptions | None = None
    json_api: JsonApiOptions | None = None
    trending: TrendingOptions | None = None
    platform: PlatformOptions | None = None
    private_network: str | None = Field(
        default=None, description="the one 'host:port' this source may reach on a private network, e.g. "
        "'127.0.0.1:8100'; everything else it links or redirects to is checked as the public internet")
    respect_robots: bool = True
    headers: dict[str, str] = Field(
        default_factory=dict, description="sent only to the origin (scheme, host, port) of `url`, never to the "
        "other hosts its pages link or redirect to")

    @field_validator("private_network")
    @classmethod
    def _allowance(cls, v: str | None) -> str | None:
        # Stored in canonical form ("[::1]:8100", "127.0.0.1:8100") so logs and the opt-in message read the same.
        return None if v is None else str(PrivateAllowance.parse(v))

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        v = v.strip()
        if not re.match(r"^https?://", v, re.I):
            raise ValueError("must be an http:// or https:// URL")
        return v

    @model_validator(mode="before")
    @classmethod
    def _platform_url(cls, data: Any) -> Any:
        # A platform source's address is the endpoint the bank was given: `url` may be left out.
        if isinstance(data, dict) and data.get("kind") == "platform" and "url" not in data:
            platform = data.get("platform")
            if isinstance(platform, dict) and isinstance(platform.get("endpoint"), str):
                return {**data, "url": platform["endpoint"]}
        return data

    @model_validator(mode="after")
    def _options_match_kind(self) -> SourceConfig:
        if self.kind == "listing":
            opts = self.listing
            if opts is None or not (opts.link_selector or opts.link_xpath):
                raise ValueError("a listing source needs listing.link_selector or listing.link_xpath")
        if self.kind == "json_api" and self.json_api is None:
            raise ValueError("a json_api source needs json_api options (items_path, fields)")
        if self.kind != "json_api" and self.json_api is not None:
            raise ValueError(f"json_api options given for a {self.kind} source")
        if self.kind == "trending" and (self.trending is None or self.channel != "trending"):
            raise ValueError("a trending source needs trending options (fields, reach) and channel: trending")
        if self.kind != "trending" and self.trending is not None:
            raise ValueError(f"trending options given for a {self.kind} source")
        if self.kind == "platform" and self.platform is None:
            raise ValueError("a platform source needs platform options (name, endpoint, credentials)")
        if self.kind != "platform" and self.platform is not None:
            raise ValueError(f"platform options given for a {self.kind} source")
        if self.platform is not None and self.url.rstrip("/") != self.platform.endpoint:
            raise ValueError("url: leave it out for a platform source (its address is platform.endpoint)")
        return self

    @property
    def private_allowance(self) -> PrivateAllowance | None:
        """The parsed ``private_network`` (validated when the config was built)."""
        return None if self.private_network is None else PrivateAllowance.parse(self.private_network)

    @property
    def tracks_metrics(self) -> bool:
        """Items of this source are re-read every poll (their counters change; a hot list's ranks move)."""
        if self.kind in ("trending", "platform"):
            return True
        return self.kind == "json_api" and self.json_api is not None and self.json_api.track_metrics


class SourcesFile(_Strict):
    variables: dict[str, str] = Field(default_factory=dict, description="defaults for ${NAME} placeholders")
    sources: list[SourceConfig]


def load_sources(path: Path | str, variables: dict[str, str] | None = None) -> list[SourceConfig]:
    """Load and validate a sources file.

    ``${NAME}`` is replaced from ``variables``, then ``os.environ``, then the file's own ``variables:`` defaults.
    """
    raw = load_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(path, [("", "expected a mapping with a 'sources' list")])
    defaults = raw.get("variables") or {}
    if not isinstance(defaults, dict):
        raise ConfigError(path, [("variables", "expected a mapping of NAME: value")])
    problems: list[tuple[str, str]] = []
    lookup = {**{str(k): str(v) for k, v in defaults.items()},
              **{k: v for k, v in os.environ.items() if k in defaults}, **(variables or {})}
    data = substitute_placeholders(raw, lookup, "", problems)
    if problems:
        raise ConfigError(path, problems)
    legacy = _legacy_fields(data)
    try:
        parsed = SourcesFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(path, legacy + [(_label(field, data), reason) for field, reason
                                          in ConfigError.from_validation(path, exc).problems]) from None
    if legacy:
        raise ConfigError(path, legacy)
    seen: dict[str, int] = {}
    for index, source in enumerate(parsed.sources):
        where = f"sources.{index}[{source.id}]"
        if source.id in seen:
            problems.append((f"{where}.id", f"duplicate id (also sources.{seen[source.id]})"))
        seen.setdefault(source.id, index)
        urls = [("platform.endpoint" if source.platform else "url", source.url)]
        if source.platform and source.platform.credentials.token_url:
            urls.append(("platform.credentials.token_url", source.platform.credentials.token_url))
        if source.listing and source.listing.page_url_template:
            urls.append(("listing.page_url_template", source.listing.page_url_template.replace("{page}", "1")))
        templates = [("trending.url_template", source.trending and source.trending.url_template),
                     ("json_api.fields.url_template", source.json_api and source.json_api.fields.url_template)]
        urls += [(field, _TEMPLATE_FIELD.sub("x", t)) for field, t in templates if t]
        for field, url in urls:
            try:
                check_url(url, source.private_allowance, resolve=False)
            except UnsafeURLError as exc:
                if source.private_network is None:
                    hint = (" (a trusted source on a private network names the one host and port it may reach: "
                            "private_network: \"host:port\")")
                else:
                    hint = f" (private_network allows only {source.private_network})"
                problems.append((f"{where}.{field}", f"unsafe URL: {exc}{hint}"))
    if problems:
        raise ConfigError(path, problems)
    return parsed.sources


def add_public_catalogue(sources: list[SourceConfig], path: Path, *, allowed_private: list[str],
                         variables: dict[str, str] | None = None) -> list[SourceConfig]:
    """``sources`` plus the entries the bank enabled in the public catalogue (``config/sources.public.yaml``).

    The whole catalogue is validated (a broken entry fails start-up and ``check-config`` even while disabled, so
    enabling it later cannot fail at 3 a.m.); only enabled entries are crawled. An enabled entry whose id is also in
    the bank's own sources file is an error: one id, one source, one health record.
    """
    if not path.exists():
        return sources
    catalogue = load_sources(path, variables)
    require_private_opt_in(catalogue, allowed_private, path)
    own = {s.id for s in sources}
    clashes = [(f"sources.{i}[{s.id}].id", "also in the bank's sources file: enable it in one file only")
               for i, s in enumerate(catalogue) if s.enabled and s.id in own]
    if clashes:
        raise ConfigError(path, clashes)
    return [*sources, *(s for s in catalogue if s.enabled)]


def require_private_opt_in(sources: list[SourceConfig], allowed_ids: list[str], path: Path | str) -> None:
    """Refuse enabled sources with a ``private_network`` whose id the admin has not listed by name.

    The sources file says what a source may reach; the opt-in, in the process environment, says the person running
    ``yuqing run`` accepts it — so a changed or swapped sources file alone cannot point the crawler inward.
    """
    allowed = set(allowed_ids)
    missing = [(i, s) for i, s in enumerate(sources)
               if s.enabled and s.private_network is not None and s.id not in allowed]
    if not missing:
        return
    wanted = ",".join(dict.fromkeys([*allowed_ids, *(s.id for _, s in missing)]))
    problems = [(f"sources.{i}[{s.id}].private_network",
                 f"要访问内网地址 {s.private_network}，但未获管理员放行（not listed in {OPT_IN_VARIABLE}）")
                for i, s in missing]
    problems.append(("", f"确认这些来源可信后，在环境变量中按 id 放行（comma-separated ids）："
                         f"{OPT_IN_VARIABLE}={wanted}"))
    raise ConfigError(path, problems)


def _legacy_fields(data: Any) -> list[tuple[str, str]]:
    """``allow_private_network: true`` (a whole-source switch) is gone; say what to write instead."""
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
        return []
    problems: list[tuple[str, str]] = []
    for index, entry in enumerate(data["sources"]):
        if not isinstance(entry, dict) or "allow_private_network" not in entry:
            continue
        label = f"sources.{index}[{entry['id']}]" if entry.get("id") else f"sources.{index}"
        try:
            host, port = url_host_port(str(entry.get("url", "")))
            example = str(PrivateAllowance(host, port))
        except (UnsafeURLError, ValueError):
            example = "host:port"
        del entry["allow_private_network"]
        problems.append((f"{label}.allow_private_network",
                         f"该字段已取消（no longer supported）：删除它；若该来源确实在内网，改写为 "
                         f"private_network: \"{example}\"（只允许访问这一个主机和端口），"
                         f"并在环境变量 {OPT_IN_VARIABLE} 中列出来源 id"))
    return problems


def substitute_placeholders(value: Any, variables: dict[str, str], where: str,
                            problems: list[tuple[str, str]]) -> Any:
    """Replace ``${NAME}`` in every string of ``value`` from ``variables`` or the environment; an unknown name is
    left as written and reported in ``problems`` at its ``where`` path (shared with the admin source editor)."""
    if isinstance(value, str):
        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return variables[name]
            if name in os.environ:
                return os.environ[name]
            problems.append((where, f"unknown placeholder ${{{name}}} (not given and not in the environment)"))
            return match.group(0)

        return _PLACEHOLDER.sub(repl, value)
    if isinstance(value, dict):
        return {k: substitute_placeholders(v, variables, f"{where}.{k}" if where else str(k), problems)
                for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_placeholders(v, variables, f"{where}.{i}" if where else str(i), problems)
                for i, v in enumerate(value)]
    return value


def _label(field: str, data: Any) -> str:
    """Add the source id to a ``sources.N.field`` path so the admin sees which source is wrong."""
    match = re.match(r"^sources\.(\d+)(\..*)?$", field)
    if not match or not isinstance(data, dict):
        return field
    try:
        source_id = data["sources"][int(match.group(1))].get("id")
    except (KeyError, IndexError, TypeError, AttributeError):
        return field
    return f"sources.{match.group(1)}[{source_id}]{match.group(2) or ''}" if source_id else field
