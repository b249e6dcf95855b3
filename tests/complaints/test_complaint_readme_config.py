"""README's configuration table names every configuration file shipped under config/ (complaints.yaml included)."""

from __future__ import annotations

import re

from yuqing.settings import PROJECT_ROOT


def test_every_config_file_is_in_the_readme_table():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    table = re.search(r"\| file \| what it holds \|\n(?:\|.*\n)+", readme)
    assert table, "the configuration table"
    shipped = sorted(p.name for p in (PROJECT_ROOT / "config").glob("*.yaml"))
    assert "complaints.yaml" in shipped
    missing = [name for name in shipped if f"`config/{name}`" not in table.group(0)]
    assert missing == []
