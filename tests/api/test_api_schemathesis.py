"""Schemathesis over the app's own ``/openapi.json``: generated requests to every API operation, on a seeded
database, as an admin and as a branch monitor — no answer may be a server error, and every answer must be what the
schema says (status code documented, content type, body matching its response model).

Both generation modes: requests the schema allows (positive) and requests it does not (negative: wrong types,
out-of-range ids, missing fields — they must be refused with a documented 4xx, never a 5xx). Bounded so it runs in
about a minute: ``MAX_EXAMPLES`` generated cases per operation, caller and mode. The run prints the
number of operations and of checked calls (``pytest -s`` shows them). Writes are included: lifecycle actions and
creates run on the throwaway database (most generated ids name nothing and answer 404, some hit the seeded rows).
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

MAX_EXAMPLES = 6  # per operation, caller and mode
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)  # requests the schema allows, and requests it does not
SEEDED_IDS = 3  # ids 1..3 name seeded rows of most tables (see seed)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def seed(make) -> None:
    """Rows for the generated ids to find: two crises (story, articles, alert, incident, tasks) and a lone alert."""
    make.crisis(unit_id="xinhualu", title="新华路网点排长队取不出钱")
    make.crisis(unit_id="binjiang", title="滨江支行理财亏损维权")
    story = make.story(unit_id="guangminglu", title="光明路支行服务差")
    make.article(story=story, unit_id="guangminglu")
    make.alert(story=story, level="IV", ack_in=timedelta(minutes=30))
    make.session.commit()


def test_schemathesis_finds_no_server_error_and_every_answer_matches_the_schema(app, make, token_for, capsys):
    seed(make)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 60, "the API describes fewer operations than it serves"
    for _ in range(SEEDED_IDS):  # tokens 1..3 are someone else's: a generated DELETE may revoke them, not ours
        token_for("sunhua")
    callers = {"admin": token_for("admin"), "monitor": token_for("wangmin")}
    calls = 0
    statuses: Counter[int] = Counter()
    failures: list[str] = []

    def runner(operation, headers, mode):
        @given(case=operation.as_strategy(generation_mode=mode), seeded=st.none() | st.integers(1, SEEDED_IDS))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def run(case, seeded) -> None:
            nonlocal calls
            calls += 1
            if mode is GenerationMode.POSITIVE and seeded is not None:  # often name a seeded row, not a missing one
                for name in case.path_parameters or {}:
                    if name.endswith("_id"):
                        case.path_parameters[name] = seeded
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            statuses[response.status_code] += 1
        return run

    for operation in operations:
        for (who, headers), mode in itertools.product(callers.items(), MODES):
            try:
                runner(operation, headers, mode)()
            except Unsatisfiable:  # nothing to get wrong: an operation without parameters or body
                assert mode is GenerationMode.NEGATIVE and not operation.path_parameters and not operation.query, \
                    operation.label
            except (Exception, BaseExceptionGroup) as exc:  # every operation's first failure, reported together
                # a flaky failure (first call failed, the replay passed) hides its cause in its sub-exceptions
                causes = "".join(f"\n  caused by {type(e).__name__}: {str(e)[:700]}"
                                 for e in getattr(exc, "exceptions", ()))
                failures.append(f"{operation.label} as {who} ({mode}): {str(exc)[:1500]}{causes}")
    with capsys.disabled():
        print(f"\nschemathesis: {len(operations)} operations, {calls} calls × {len(CHECKS)} checks, "
              f"{len(failures)} operations failing; answers by status: {dict(sorted(statuses.items()))}")
    assert statuses[200] + statuses[201] > len(operations), "hardly any generated request reached a handler's success"
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("cursor", ["garbage", "eyJzIjoiYWJjIiwiayI6WzFdfQ", "x" * 1024])
def test_a_tampered_cursor_is_a_400_in_the_standard_error_shape(client, token_for, cursor):
    r = client.get("/api/v1/alerts", params={"cursor": cursor}, headers=token_for("admin"))
    assert r.status_code == 400 and set(r.json()) == {"detail"} and "游标" in r.json()["detail"]
