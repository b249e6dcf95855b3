"""Every module of ``incidents`` (complaints included) and every ``yuqing`` command module can be imported first,
in a fresh interpreter: an import cycle shows only when the wrong module happens to be imported first (a script, a
worker or a test importing ``incidents.service`` or ``runner.cli_complaints`` before anything else), so each one
is tried first, on its own.

One subprocess loads the third-party libraries (no project module: asserted) and forks a child per module, which
imports that module and nothing else before it — fresh as far as the project is concerned, and quick. The
preloaded libraries are every heavy one the modules use, so a child's CPU is spent on project code only.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from yuqing.settings import PROJECT_ROOT

PROJECT_PACKAGES = ("yuqing", "crawlers", "sentiment", "incidents", "api", "sim")
# Every third-party library the modules below pull in, loaded once in the parent so that no child pays for it: the
# heavy ones are the crawlers' (scrapy, twisted, lxml, cryptography: about a third of each child's CPU when each
# child imported them itself - 15.0 -> 10.9 CPU s for the 78 children, measured side by side). A cycle among project
# modules does not depend on which libraries are already loaded, and a library missing here is only imported by the
# child itself (slower, never wrong).
THIRD_PARTY = ("sqlalchemy", "sqlalchemy.orm", "pydantic", "yaml", "typer", "fastapi", "starlette", "httpx",
               "jinja2", "scrapy", "scrapy.http", "twisted.internet", "lxml.html", "parsel", "w3lib.url",
               "cryptography", "OpenSSL", "service_identity", "chinese_calendar", "itsdangerous", "smtplib",
               "charset_normalizer", "defusedxml", "jmespath", "cssselect", "pydantic_settings", "dotenv")

CHILDREN = textwrap.dedent("""
    import importlib, os, sys, traceback
    for lib in sys.argv[1].split(","):
        try:
            importlib.import_module(lib)
        except ImportError:
            pass
    project = set(sys.argv[2].split(","))
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in project)
    assert not loaded, f"the third-party preload imported project modules: {loaded}"
    failed = []
    for name in sys.argv[3:]:
        pid = os.fork()
        if pid == 0:
            try:
                importlib.import_module(name)
            except BaseException:
                print(f"--- import {name} first:", file=sys.stderr)
                traceback.print_exc()
                sys.stderr.flush()
                os._exit(1)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            failed.append(name)
    print(",".join(failed))
""")


def _modules() -> list[str]:
    names = []
    for path in sorted((PROJECT_ROOT / "incidents").rglob("*.py")):
        parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    names += [f"runner.{p.stem}" for p in sorted((PROJECT_ROOT / "runner").glob("cli*.py"))]
    return names


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_every_incidents_module_and_command_module_imports_first():
    modules = _modules()
    assert {"incidents.service", "incidents.complaints.links", "incidents.complaints.scheduled",
            "runner.cli_complaints", "runner.cli_media_report"} <= set(modules)
    run = subprocess.run([sys.executable, "-c", CHILDREN, ",".join(THIRD_PARTY), ",".join(PROJECT_PACKAGES),
                          *modules], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    failed = [m for m in run.stdout.strip().split(",") if m]
    assert failed == [], f"modules that fail when imported first: {failed}\n{run.stderr[-6000:]}"
