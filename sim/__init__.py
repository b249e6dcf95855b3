"""A simulated Chinese internet that plays a scripted public-opinion crisis for 示例银行.

Why it exists: yuqing has to be demonstrated, tested and benchmarked against something that behaves like the real
web (news sites with GBK pages and odd markup, RSS and news sitemaps, a Weibo-like API with tokens and rate limits,
a complaint board, regulator notices) without touching the internet, and against a story whose ground truth is
known. Everything here runs on 127.0.0.1 and is driven by an injectable clock, so a twelve-hour crisis can be
replayed in seconds (``ScaledClock``) or inspected frame by frame (``FrozenClock``).

Layout:

- ``sim.model``     plain dataclasses for items (articles, posts, complaints, penalties) and growth curves;
- ``sim.content``   the hand-written Chinese content: the crisis itself and ~80 % background/distractors;
- ``sim.scenario``  ``Scenario`` / ``build_scenario(start)``: content placed on a timeline with stable ids;
- ``sim.render``    HTML/XML rendering of the sites (several page layouts, charsets, hostile pages);
- ``sim.server``    ``create_app``, ``SimServer`` (in-loop uvicorn) and the blocking ``serve`` for ``yuqing sim``;
- ``sim.demo_sources`` ``DEMO_SOURCES_FILE`` (``sim/sources.yaml``), the sources that crawl the sim — demo only,
  kept out of ``config/`` so a bank's configuration never carries a private-network allowance it did not write.
"""

from __future__ import annotations

# Re-exported for ``sim.DEMO_SOURCES_FILE``; import from ``sim.demo_sources`` where a ``tests/sim`` directory on
# sys.path can shadow this package's ``__init__`` (pytest's rootdir insertion).
from sim.demo_sources import DEMO_SOURCES_FILE, SIM_HOST_PORT_VARIABLE, demo_source_ids, demo_source_variables

__all__ = ["DEMO_SOURCES_FILE", "SIM_HOST_PORT_VARIABLE", "demo_source_ids", "demo_source_variables"]
