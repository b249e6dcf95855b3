"""``yuqing config list / show / export / import`` and ``check-config`` over database documents, through the real
command line on a SQLite file: export → import round-trips, an import is all or nothing, ``--as`` must be an admin,
and check-config names a broken database document by its version."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.users import seed_users
from runner.cli import app
from yuqing import config_store
from yuqing.clock import FrozenClock
from yuqing.db import make_engine
from yuqing.migrate import upgrade
from yuqing.org import load_org
from yuqing.settings import PROJECT_ROOT

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("YUQING_DATABASE_URL", raising=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'yuqing.db'}")
    upgrade(engine)
    from datetime import UTC, datetime

    with Session(engine) as session:
        seed_users(session, load_org(PROJECT_ROOT / "config" / "org.yaml"), password="initial-Pass-1",
                   clock=FrozenClock(datetime(2026, 12, 1, tzinfo=UTC)))
        session.commit()
    engine.dispose()
    return tmp_path


def _documents(env: Path) -> dict[str, config_store.ConfigDocument]:
    engine = make_engine(f"sqlite:///{env / 'yuqing.db'}")
    with Session(engine) as session:
        docs = config_store.database_documents(session)
        session.expunge_all()
    engine.dispose()
    return docs


def test_export_import_round_trip_all_or_nothing_and_show(env: Path):
    out = env / "exported"
    result = runner.invoke(app, ["config", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "org.yaml").read_text(encoding="utf-8") == (PROJECT_ROOT / "config" / "org.yaml").read_text(
        encoding="utf-8")
    assert (out / "checklists" / "generic.yaml").is_file()
    same = runner.invoke(app, ["config", "import", str(out), "--as", "admin"])
    assert same.exit_code == 0 and "imported 0 documents" in same.output, same.output

    keywords = (out / "keywords.yaml").read_text(encoding="utf-8") + "\n# 仓库中的修改\n"
    (out / "keywords.yaml").write_text(keywords, encoding="utf-8")
    (out / "risk.yaml").write_text("weights: 5\n", encoding="utf-8")
    refused = runner.invoke(app, ["config", "import", str(out), "--as", "admin"])
    assert refused.exit_code == 2 and "risk.yaml (本次修改)" in refused.output, refused.output
    assert _documents(env) == {}
    assert runner.invoke(app, ["config", "import", str(out), "--as", "wangmin"]).exit_code == 2  # not an admin

    (out / "risk.yaml").write_text((PROJECT_ROOT / "config" / "risk.yaml").read_text(encoding="utf-8"),
                                   encoding="utf-8")
    done = runner.invoke(app, ["config", "import", str(out), "--as", "admin", "--note", "从 git 同步"])
    assert done.exit_code == 0 and "imported 1 documents: keywords.yaml" in done.output, done.output
    doc = _documents(env)["keywords.yaml"]
    assert (doc.version, doc.updated_by, doc.content) == (1, "admin", keywords)

    shown = runner.invoke(app, ["config", "show", "keywords.yaml"])
    assert shown.exit_code == 0 and shown.stdout == keywords and "keywords.yaml (数据库版本 1)" in shown.stderr
    listing = runner.invoke(app, ["config", "list"])
    assert "keywords.yaml" in listing.output and "数据库" in listing.output

    archive = env / "config.zip"
    assert runner.invoke(app, ["config", "export", "--out", str(archive)]).exit_code == 0
    with zipfile.ZipFile(archive) as zf:
        assert zf.read("keywords.yaml").decode("utf-8") == keywords
    again = runner.invoke(app, ["config", "import", str(archive)])
    assert again.exit_code == 0 and "imported 0 documents" in again.output


def test_check_config_validates_database_documents(env: Path):
    ok = runner.invoke(app, ["check-config"])
    assert ok.exit_code == 0, ok.output
    engine = make_engine(f"sqlite:///{env / 'yuqing.db'}")
    from datetime import UTC, datetime

    with Session(engine) as session:  # a broken document stored without validation (e.g. by hand in SQL)
        config_store.save_document(session, "levels.yaml", "levels: 3\n", actor="dba",
                                   clock=FrozenClock(datetime(2026, 12, 1, tzinfo=UTC)))
        session.commit()
    engine.dispose()
    broken = runner.invoke(app, ["check-config"])
    assert broken.exit_code == 2 and "levels.yaml (数据库版本 1): levels:" in broken.output, broken.output
