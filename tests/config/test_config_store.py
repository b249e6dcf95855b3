"""The configuration store (``yuqing.config_store``) and the validation in front of it (``api.config_admin``), on
SQLite and PostgreSQL: database documents win over files, every save is a revision, the generation moves with
each save, and a proposed text is checked with the start-up loaders, naming the document and the field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.config_admin import check_documents, save_checked, validate_and_save, validate_document
from yuqing import config_store
from yuqing.models import AuditEntry
from yuqing.settings import PROJECT_ROOT, Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on a private copy of the shipped configuration (files may be edited by the test)."""
    cdir = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", cdir)
    return Settings(config_dir=cdir, data_dir=tmp_path / "var", secret_key="k" * 40)


def test_database_document_wins_over_the_file_and_every_save_is_a_revision(session_factory, clock, settings):
    with session_factory() as session:
        file_text = (settings.config_dir / "keywords.yaml").read_text(encoding="utf-8")
        assert config_store.effective_text(session, settings.config_dir, "keywords.yaml") == file_text
        assert config_store.config_generation(session) == 0
        v1 = config_store.save_document(session, "keywords.yaml", file_text + "\n# one\n", actor="admin",
                                        clock=clock, note="first")
        gen1 = config_store.config_generation(session)
        v2 = config_store.save_document(session, "keywords.yaml", file_text + "\n# two\n", actor="zhao",
                                        clock=clock)
        session.commit()
        assert (v1, v2) == (1, 2)
        assert config_store.config_generation(session) > gen1 > 0
        assert config_store.effective_text(session, settings, "keywords.yaml").endswith("# two\n")
        history = config_store.revisions(session, "keywords.yaml")
        assert [(r.version, r.saved_by, r.note) for r in history] == [(2, "zhao", ""), (1, "admin", "first")]
        assert history[1].sha256 == config_store.sha256_of(file_text + "\n# one\n")
        rows = {d.name: d for d in config_store.list_documents(session, settings)}
        assert rows["keywords.yaml"].source == "database" and rows["keywords.yaml"].version == 2
        assert rows["keywords.yaml"].updated_by == "zhao"
        assert rows["org.yaml"].source == "file" and rows["org.yaml"].version == 0
        assert any(n.startswith("checklists/") for n in rows)
        assert rows["keywords.yaml"].description.startswith("监测方案")


def test_names_outside_the_configuration_are_refused(session_factory, clock, settings):
    with session_factory() as session:
        for bad in ("../secrets.yaml", "checklists/../../x.yaml", "notes.txt", "sub/dir.yaml", "settings.yaml"):
            with pytest.raises(config_store.UnknownDocument):
                config_store.save_document(session, bad, "a: 1", actor="admin", clock=clock)
        assert config_store.is_document_name("checklists/new-plan.yaml")


def test_effective_directory_holds_database_texts_and_links_to_files(session_factory, clock, settings):
    with session_factory() as session:
        config_store.save_document(session, "risk.yaml", "# saved\n" + (settings.config_dir / "risk.yaml")
                                   .read_text(encoding="utf-8"), actor="admin", clock=clock)
        session.commit()
        effective, versions = config_store.effective_settings(session, settings)
    assert versions == {"risk.yaml": 1}
    assert effective.config_dir != settings.config_dir and effective.config_dir.parent.name == "config-effective"
    assert (effective.config_dir / "risk.yaml").read_text(encoding="utf-8").startswith("# saved")
    assert (effective.config_dir / "org.yaml").is_symlink()
    (settings.config_dir / "holidays.yaml").write_text("# edited on disk\n", encoding="utf-8")
    assert (effective.config_dir / "holidays.yaml").read_text(encoding="utf-8") == "# edited on disk\n"
    assert effective.org_path == effective.config_dir / "org.yaml"


def test_validation_names_document_and_field_and_an_invalid_save_changes_nothing(session_factory, clock, settings):
    levels = (settings.config_dir / "levels.yaml").read_text(encoding="utf-8")
    broken = levels.replace("ack_minutes: ", "ack_minutes: -", 1)
    assert broken != levels
    with session_factory() as session:
        problems = validate_document("levels.yaml", broken, settings=settings, session=session)
        assert problems and all(p.startswith("levels.yaml (本次修改): levels[") for p in problems), problems
        assert any("ack_minutes" in p for p in problems)
        audit_before = session.scalar(select(func.count()).select_from(AuditEntry))
        assert validate_and_save(session, "levels.yaml", broken, principal="admin", settings=settings,
                                 clock=clock) == problems
        assert config_store.get_document(session, "levels.yaml") is None
        assert config_store.config_generation(session) == 0
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before
        assert validate_document("levels.yaml", "levels: [unclosed", settings=settings, session=session)[0] \
            .startswith("levels.yaml (本次修改): YAML syntax error")


def test_cross_file_check_names_the_document_that_breaks(session_factory, clock, settings):
    """levels.yaml (saved in the database) names liuqiang in a reporting chain; an org.yaml without him is refused,
    the problem naming the database copy of levels.yaml and the field."""
    import yaml

    levels = (settings.config_dir / "levels.yaml").read_text(encoding="utf-8")
    anchor = ("      - {key: head_office, label: 总行办公室, scope: head_office, roles: [monitor, commander], "
              "ack_minutes: 30}\n")
    assert anchor in levels
    group = "      - {key: named, label: 指定联系人, scope: branch, people: [liuqiang]}\n"
    named = levels.replace(anchor, anchor + group, 1)
    org = yaml.safe_load((settings.config_dir / "org.yaml").read_text(encoding="utf-8"))
    org["people"] = [p for p in org["people"] if p["id"] != "liuqiang"]
    without = yaml.safe_dump(org, allow_unicode=True, sort_keys=False)
    with session_factory() as session:
        assert validate_and_save(session, "levels.yaml", named, principal="admin", settings=settings,
                                 clock=clock) == []
        problems = validate_document("org.yaml", without, settings=settings, session=session)
        assert "levels.yaml (数据库版本 1): levels[Ⅰ级].reporting_chain[7].people[0]: no person 'liuqiang' in the " \
               "org chart" in problems, problems
        assert config_store.get_document(session, "org.yaml") is None


def test_valid_save_is_versioned_audited_and_labelled_in_later_errors(session_factory, clock, settings):
    risk = (settings.config_dir / "risk.yaml").read_text(encoding="utf-8")
    with session_factory() as session:
        assert validate_and_save(session, "risk.yaml", risk + "\n# tuned\n", principal="admin", settings=settings,
                                 clock=clock, note="调参") == []
        doc = config_store.get_document(session, "risk.yaml")
        assert doc.version == 1 and doc.updated_by == "admin"
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "config.save")).one()
        assert entry.object_id == "risk.yaml" and entry.data["version"] == 1 and entry.data["note"] == "调参"
        # a second document saved together with a broken one: all or nothing
        before = config_store.config_generation(session)
        problems = save_checked(session, {"keywords.yaml": "plans: 3", "risk.yaml": risk}, actor="admin",
                                settings=settings, clock=clock)
        assert problems and config_store.config_generation(session) == before
        assert config_store.get_document(session, "risk.yaml").version == 1


def test_pre_existing_problems_elsewhere_do_not_block_a_fix(session_factory, clock, settings):
    (settings.config_dir / "reports.yaml").write_text("daily: {hour: 99}\n", encoding="utf-8")
    keywords = (settings.config_dir / "keywords.yaml").read_text(encoding="utf-8")
    with session_factory() as session:
        result = check_documents(session, {"keywords.yaml": keywords}, settings=settings)
    assert result.problems == []
    assert result.pre_existing and all(str(settings.config_dir / "reports.yaml") in p for p in result.pre_existing)


def test_old_effective_directories_are_pruned_but_young_ones_kept(session_factory, clock, settings):
    import os
    import time

    base = settings.data_dir / "config-effective"
    old = [base / f"gen-{i}-old" for i in range(12)]
    young = [base / f"gen-{i}-young" for i in range(3)]
    for i, d in enumerate(old):
        d.mkdir(parents=True)
        os.utime(d, (time.time() - 3 * 86400 + i, time.time() - 3 * 86400 + i))
    for d in young:
        d.mkdir(parents=True)
    with session_factory() as session:
        config_store.save_document(session, "risk.yaml", "# x\n", actor="admin", clock=clock)
        session.commit()
        effective, _ = config_store.effective_settings(session, settings)
        assert all(d.is_dir() for d in young) and effective.config_dir.is_dir()
        kept = [d for d in old if d.is_dir()]
        assert kept == old[-(config_store.KEEP_GENERATIONS - 1 - len(young)):]  # the newest of the old ones
        shutil.rmtree(effective.config_dir)  # removed under a running process: written again on the next call
        again, _ = config_store.effective_settings(session, settings)
    assert again.config_dir == effective.config_dir and (again.config_dir / "risk.yaml").read_text() == "# x\n"


@pytest.mark.postgres
def test_two_first_saves_at_once_become_two_versions_not_a_server_error(postgres_engine, clock, settings):
    """Both sessions find no row for the document; the second insert waits on the first's uncommitted key, then
    becomes version 2 instead of failing on the primary key (a 500 before). PostgreSQL only: SQLite lets one
    writer in at a time, so two saves never both reach the insert there."""
    import threading

    from yuqing.db import make_sessionmaker

    session_factory = make_sessionmaker(postgres_engine)
    first, second = session_factory(), session_factory()
    try:
        assert config_store.save_document(first, "levels.yaml", "# a\n", actor="admin", clock=clock) == 1
        got: list[object] = []

        def save_second() -> None:
            try:
                got.append(config_store.save_document(second, "levels.yaml", "# b\n", actor="zhao", clock=clock))
                second.commit()
            except Exception as exc:  # reported below by the assertion
                got.append(exc)

        worker = threading.Thread(target=save_second)
        worker.start()
        worker.join(1.0)
        assert worker.is_alive(), "the second save should wait for the first's uncommitted row"
        first.commit()
        worker.join(30)
        assert got == [2]
    finally:
        first.close()
        second.close()
    with session_factory() as session:
        assert [(r.version, r.saved_by) for r in config_store.revisions(session, "levels.yaml")] == [
            (2, "zhao"), (1, "admin")]
        assert config_store.effective_text(session, settings, "levels.yaml") == "# b\n"
