"""Dependencies point one way: runner → api → incidents → sentiment → crawlers → yuqing (core); sim stands alone.

``runner`` is the composition root (the command line, the wiring of every stage, the demo, the backtest): it may
import every layer and ``sim`` (the demo runs the simulated internet), and no layer may import it. Lazy imports
inside functions count as much as top-level ones.
"""

from __future__ import annotations

import ast
from pathlib import Path

from yuqing.settings import PROJECT_ROOT

RANK = {"yuqing": 0, "crawlers": 1, "sentiment": 2, "incidents": 3, "api": 4, "runner": 5}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _violations() -> list[str]:
    violations = []
    for package in [*RANK, "sim"]:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            rel = path.relative_to(PROJECT_ROOT).as_posix()
            for imported in _imports(path):
                if package == "sim":
                    if imported in RANK and imported != "yuqing":
                        violations.append(f"{rel} imports {imported} (sim may use only the core)")
                elif imported == "sim" and package != "runner":
                    violations.append(f"{rel} imports sim")
                elif imported in RANK and RANK[imported] > RANK[package]:
                    violations.append(f"{rel} imports {imported}")
    return violations


def test_no_module_imports_a_higher_layer():
    assert _violations() == []


def test_the_core_imports_nothing_above_it():
    """The core has no exemptions left: everything that wires the layers together lives in ``runner``."""
    core = [v for v in _violations() if v.startswith("yuqing/")]
    assert core == []
    for path in sorted((PROJECT_ROOT / "yuqing").rglob("*.py")):
        assert not (_imports(path) & {"crawlers", "sentiment", "incidents", "api", "runner"}), path


def test_the_check_sees_a_violation(tmp_path, monkeypatch):
    """The checker itself can fail: an upward import planted in a copy of the core is reported."""
    import tests.core.test_layering as me

    fake = tmp_path / "yuqing"
    fake.mkdir()
    (fake / "bad.py").write_text("def f():\n    from runner.cli import main\n", encoding="utf-8")
    for package in RANK:
        (tmp_path / package).mkdir(exist_ok=True)
    (tmp_path / "sim").mkdir()
    monkeypatch.setattr(me, "PROJECT_ROOT", tmp_path)
    assert me._violations() == ["yuqing/bad.py imports runner"]
