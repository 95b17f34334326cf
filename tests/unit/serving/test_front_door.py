"""The pool's LRU bookkeeping, without Ray: versions are evicted least recently used first."""

import asyncio

from serving.front_door import FrontDoor


class FakeServer:
    def __init__(self) -> None:
        self.unloaded: list[int] = []
        self.versions = {1: None, 2: None}

    def unload(self, number: int) -> None:
        self.unloaded.append(number)


def test_least_recently_used_versions_are_evicted_beyond_capacity():
    door = FrontDoor()
    door.capacity = 2
    door.servers = {"a": FakeServer(), "b": FakeServer()}
    door.used("a", 1)
    door.used("b", 1)
    door.touch("a")  # a was used again, so b is now the oldest
    door.used("b", 2)
    assert door.servers["b"].unloaded == [1]
    assert list(door.loaded) == [("a", 1), ("b", 2)]


def test_health_and_unknown_models_need_no_pool():
    door = FrontDoor()

    async def call(path: str):
        from starlette.requests import Request

        scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
        return await door(Request(scope))

    assert asyncio.run(call("/v2/health/ready")).status_code == 200
    response = asyncio.run(call("/v2/models/missing/infer"))
    assert response.status_code == 404 and b"missing" in response.body
