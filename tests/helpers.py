"""Small helpers shared by tests of several packages."""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session


@dataclass
class CallCount:
    """How many times the function a ``counting_calls`` block replaced was called inside it."""

    calls: int = 0


@contextmanager
def counting_calls(owner: Any, name: str) -> Iterator[CallCount]:
    """Replace ``owner.name`` (a module's function) by a wrapper that counts its calls and calls it, for the
    block only: the original is put back when the block ends, on error too, so a test that replays the same work
    twice counts each replay on its own (a wrapper left in place would be wrapped again and count both)."""
    real = getattr(owner, name)
    count = CallCount()

    def counted(*args: Any, **kwargs: Any) -> Any:
        count.calls += 1
        return real(*args, **kwargs)

    setattr(owner, name, counted)
    try:
        yield count
    finally:
        setattr(owner, name, real)


@contextmanager
def scratch_schema(postgres_url: str) -> Iterator[Engine]:
    """An engine whose connections work in a new, empty PostgreSQL schema of their own (``search_path``), dropped
    with everything in it when the block ends, on error too: tests share one ``test`` database, so each gets a
    namespace nobody else writes to. The caller creates tables in it (``upgrade`` or ``create_all``)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(postgres_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


_CREATED_TEMPLATE: list[Path] = []  # this process's SQLite file with every table created, made on first use


def created_sqlite_engine(path: Path) -> Engine:
    """An engine on a new SQLite file at ``path`` with every table of ``all_metadata()`` created: a copy of one file
    this process created once, the bytes ``create_all`` writes, made by SQLite's own backup (~8 ms of CPU against
    ~50 ms for ``create_all`` of the 48 tables, which hundreds of tests would otherwise repeat)."""
    from runner.schema import all_metadata
    from yuqing.db import make_engine

    if not _CREATED_TEMPLATE:
        directory = tempfile.mkdtemp(prefix="yuqing-created-schema-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        template = Path(directory) / "created.db"
        engine = make_engine(f"sqlite:///{template}")
        all_metadata().create_all(engine)
        engine.dispose()
        _CREATED_TEMPLATE.append(template)
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(_CREATED_TEMPLATE[0])) as src, closing(sqlite3.connect(path)) as dst:
        src.backup(dst)  # consistent even if the template's WAL was not checkpointed
    return make_engine(f"sqlite:///{path}")


@contextmanager
def scratch_sqlite_session(path: Path) -> Iterator[Session]:
    """A session on a new SQLite file at ``path`` with every table created, closed and its engine disposed when the
    block ends: for tests that replay rounds on two databases side by side and compare what each wrote."""
    from yuqing.db import make_sessionmaker

    engine = created_sqlite_engine(path)
    session = make_sessionmaker(engine)()
    try:
        yield session
    finally:
        session.close()
        engine.dispose()


# A second and a third branch for tests of posts that name the places of several branches (crawlers.matching rule
# j): the shipped org chart has one branch, which hides how such a post reaches each branch it concerns.
MORE_BRANCHES: dict[str, list[dict[str, Any]]] = {
    "units": [
        {"id": "hanbei", "kind": "branch", "parent": "head-office", "name": "示例银行汉北分行",
         "short_name": "汉北分行", "aliases": ["示例银行汉北市分行"],
         "regions": ["汉北", "汉北市"], "address": "汉北市长江路 8 号"},
        {"id": "hankoulu", "kind": "outlet", "parent": "hanbei", "name": "示例银行汉北分行汉口路网点",
         "short_name": "汉口路网点", "aliases": ["示例银行汉口路网点"], "regions": ["汉口路"],
         "address": "汉北市汉口路 12 号"},
        {"id": "dongshan", "kind": "branch", "parent": "head-office", "name": "示例银行东山分行",
         "short_name": "东山分行", "aliases": ["示例银行东山市分行"],
         "regions": ["东山市"], "address": "东山市人民路 1 号"},
    ],
    "people": [
        {"id": "lina", "name": "李娜", "title": "汉北分行综合管理部值班监测员", "unit": "hanbei", "roles": ["monitor"],
         "contacts": {"email": "lina@hb.shili-bank.example", "phone": "13900000001"}},
        {"id": "gaoyan", "name": "高岩", "title": "汉北分行综合管理部总经理", "unit": "hanbei", "roles": ["commander"],
         "contacts": {"email": "gaoyan@hb.shili-bank.example"}},
        {"id": "songtao", "name": "宋涛", "title": "东山分行综合管理部值班监测员", "unit": "dongshan",
         "roles": ["monitor"], "contacts": {"email": "songtao@ds.shili-bank.example"}},
    ],
}


def org_with_more_branches(dest: Path) -> Path:
    """The shipped org chart with 汉北分行 (and its 汉口路网点) and 东山分行 added, written to ``dest``."""
    import yaml

    root = Path(__file__).resolve().parents[1]
    data = yaml.safe_load((root / "config/org.yaml").read_text(encoding="utf-8"))
    data["units"] += MORE_BRANCHES["units"]
    data["people"] += MORE_BRANCHES["people"]
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return dest


def config_with_more_branches(dest: Path) -> Path:
    """A config directory (laid over config/) whose org chart has the branches of :func:`org_with_more_branches`,
    with regulators.yaml giving those branches their recipients (the check refuses a branch without them)."""
    import yaml

    root = Path(__file__).resolve().parents[1]
    org_with_more_branches(dest / "org.yaml")
    regulators = yaml.safe_load((root / "config/regulators.yaml").read_text(encoding="utf-8"))
    for kind, name in (("regulator_report", "国家金融监督管理总局汉北监管分局"),
                       ("pboc_report", "中国人民银行汉北市分行")):
        regulators["recipients"].append({"key": f"{kind}_more", "name": name, "department": "办公室",
                                         "contact": "值班电话 0710-5550100（示例）", "methods": ["书面报告"],
                                         "reports": [kind], "branches": ["hanbei", "dongshan"]})
    (dest / "regulators.yaml").write_text(yaml.safe_dump(regulators, allow_unicode=True, sort_keys=False),
                                          encoding="utf-8")
    return dest
