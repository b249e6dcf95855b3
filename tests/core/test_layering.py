"""Dependencies point one way: api → incidents → sentiment → crawlers → yuqing (core); sim stands alone.

Only the composition root (the CLI and the modules that wire every stage together) may import upwards.
"""

from __future__ import annotations

import ast
from pathlib import Path

from yuqing.settings import PROJECT_ROOT

RANK = {"yuqing": 0, "crawlers": 1, "sentiment": 2, "incidents": 3, "api": 4}
COMPOSITION_ROOT = {"yuqing/cli.py", "yuqing/runtime.py", "yuqing/demo.py", "yuqing/demo_people.py",
                    "yuqing/service.py", "yuqing/schema.py", "yuqing/cli_report.py", "yuqing/cli_after_close.py",
                    "yuqing/cli_regulators.py", "yuqing/cli_complaints.py",
                    "yuqing/cli_media_report.py", "yuqing/cli_evidence.py", "yuqing/cli_check_config.py",
                    "yuqing/cli_backtest.py"}
COMPOSITION_ROOT_DIRS = ("yuqing/backtest/",)  # yuqing backtest: replays through every stage


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_no_module_imports_a_higher_layer():
    violations = []
    for package in [*RANK, "sim"]:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            rel = path.relative_to(PROJECT_ROOT).as_posix()
            if rel in COMPOSITION_ROOT or rel.startswith(COMPOSITION_ROOT_DIRS):
                continue
            for imported in _imports(path):
                if package == "sim":
                    if imported in RANK and imported != "yuqing":
                        violations.append(f"{rel} imports {imported} (sim may use only the core)")
                elif imported == "sim" or (imported in RANK and RANK[imported] > RANK[package]):
                    violations.append(f"{rel} imports {imported}")
    assert violations == []
