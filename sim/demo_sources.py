"""The demo's sources file, ``sim/sources.yaml``: what ``yuqing demo`` crawls on the simulated internet.

It lives in the sim package, not in ``config/``, because every source in it names a private ``host:port`` (the sim
runs on 127.0.0.1): a bank's own ``config/sources.yaml`` must not inherit such allowances. The demo points the
settings at this file, fills ``${SIM_HOST_PORT}`` with the port its sim got, and opts the file's sources in by id.
"""

from __future__ import annotations

from pathlib import Path

DEMO_SOURCES_FILE = Path(__file__).resolve().parent / "sources.yaml"
SIM_HOST_PORT_VARIABLE = "SIM_HOST_PORT"  # the placeholder DEMO_SOURCES_FILE uses for the sim's host:port


def demo_source_ids() -> list[str]:
    """Ids of the sources in ``DEMO_SOURCES_FILE``, which the demo opts in to their private network by name."""
    from yuqing.yamlfile import load_yaml

    data = load_yaml(DEMO_SOURCES_FILE)
    entries = data.get("sources", []) if isinstance(data, dict) else []
    return [str(e["id"]) for e in entries if isinstance(e, dict) and "id" in e]


def demo_source_variables(host: str, port: int) -> dict[str, str]:
    """Placeholder values making ``DEMO_SOURCES_FILE`` point at (and allow only) a sim on ``host:port``."""
    return {SIM_HOST_PORT_VARIABLE: f"{host}:{port}"}
