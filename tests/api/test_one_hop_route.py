"""``api.routing.OneHopRoute``: a synchronous endpoint runs in one worker thread and its response is validated
without a second hop, with FastAPI's parameters, status codes, response models and OpenAPI unchanged."""

from __future__ import annotations

import threading

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel
from starlette import concurrency

from api import routing


class Item(BaseModel):
    id: int
    name: str


def _app(route_class: type[APIRoute], seen: list[str]) -> FastAPI:
    router = APIRouter(prefix="/x", route_class=route_class)

    async def on_the_loop() -> None:
        seen.append("loop:" + threading.current_thread().name)

    @router.get("/items/{item_id}", response_model=Item, summary="one item", dependencies=[Depends(on_the_loop)])
    def get_item(item_id: int, name: str = Query("a", max_length=3)) -> Item:
        seen.append(threading.current_thread().name)
        if item_id == 404:
            raise HTTPException(404, "没有")
        return Item(id=item_id, name=name)

    @router.post("/items", response_model=Item, status_code=201)
    def make_item(item: Item) -> dict:
        seen.append(threading.current_thread().name)
        return {"id": item.id, "name": item.name, "extra": "dropped by the response model"}

    app = FastAPI()
    app.include_router(router)
    return app


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the functions handed to a worker thread (every hop goes through starlette's run_in_threadpool)."""
    calls: list[str] = []
    real = concurrency.run_in_threadpool

    async def counting(func, *args, **kwargs):
        calls.append(getattr(func, "__name__", repr(func)))
        return await real(func, *args, **kwargs)

    for module in ("fastapi.routing", "fastapi.dependencies.utils", "api.routing"):
        monkeypatch.setattr(f"{module}.run_in_threadpool", counting)
    return calls


def test_one_hop_instead_of_two_and_the_same_answers(hops: list[str]):
    seen: list[str] = []
    plain, one_hop = TestClient(_app(APIRoute, seen)), TestClient(_app(routing.OneHopRoute, seen))
    assert plain.get("/x/items/7?name=abc").json() == {"id": 7, "name": "abc"}
    plain_hops, hops[:] = list(hops), []
    answers = []
    for client in (plain, one_hop):
        answers.append([(r.status_code, r.json()) for r in (
            client.get("/x/items/7?name=abc"), client.get("/x/items/404"), client.get("/x/items/7?name=toolong"),
            client.post("/x/items", json={"id": 3, "name": "b"}))])
    assert answers[0] == answers[1]
    assert answers[1][3] == (201, {"id": 3, "name": "b"})
    hops[:], seen[:] = [], []
    one_hop.get("/x/items/7?name=abc")
    assert len(plain_hops) == 2 and len(hops) == 1, (plain_hops, hops)  # endpoint + validation, endpoint only
    loop, endpoint = seen
    assert loop.startswith("loop:") and loop != "loop:" + endpoint  # the endpoint still never runs on the loop


def test_openapi_is_unchanged():
    plain, one_hop = _app(APIRoute, []).openapi(), _app(routing.OneHopRoute, []).openapi()
    assert plain == one_hop
    assert plain["paths"]["/x/items/{item_id}"]["get"]["summary"] == "one item"
