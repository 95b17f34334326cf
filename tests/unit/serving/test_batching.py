import asyncio

import numpy as np
import pytest

from serving.batching import MicroBatcher


class CountingModel:
    def __init__(self, fail_on: int | None = None) -> None:
        self.calls: list[int] = []
        self.fail_on = fail_on

    def predict(self, rows: np.ndarray) -> np.ndarray:
        self.calls.append(len(rows))
        if self.fail_on is not None and self.fail_on in rows[:, 0]:
            raise ValueError("poisoned row")
        return rows[:, 0] * 10


def run(coroutine):
    return asyncio.run(coroutine)


def test_concurrent_requests_share_one_call_and_get_their_own_rows():
    model = CountingModel()
    batcher = MicroBatcher(model.predict, max_batch_size=16, wait_s=0)

    async def scenario():
        return await asyncio.gather(*(batcher.submit(np.array([[float(i)], [i + 0.5]])) for i in range(5)))

    results = run(scenario())
    assert model.calls == [10]
    for i, result in enumerate(results):
        assert result.tolist() == [i * 10.0, (i + 0.5) * 10]


def test_a_lone_request_is_not_delayed_and_max_size_splits_batches():
    model = CountingModel()
    batcher = MicroBatcher(model.predict, max_batch_size=3, wait_s=0)

    async def scenario():
        single = await batcher.submit(np.array([[1.0]]))
        many = await asyncio.gather(*(batcher.submit(np.array([[float(i)]])) for i in range(7)))
        return single, many

    single, many = run(scenario())
    assert single.tolist() == [10.0]
    assert [m.tolist() for m in many] == [[i * 10.0] for i in range(7)]
    assert model.calls == [1, 3, 3, 1]


def test_an_error_fails_only_the_batch_it_happened_in():
    model = CountingModel(fail_on=2)
    batcher = MicroBatcher(model.predict, max_batch_size=2, wait_s=0)

    async def scenario():
        return await asyncio.gather(*(batcher.submit(np.array([[float(i)]])) for i in range(4)), return_exceptions=True)

    results = run(scenario())
    assert [r.tolist() for r in results[:2]] == [[0.0], [10.0]]
    assert all(isinstance(r, ValueError) for r in results[2:])


def test_a_wait_collects_requests_that_arrive_later():
    model = CountingModel()
    batcher = MicroBatcher(model.predict, max_batch_size=16, wait_s=0.05)

    async def late(i: int):
        await asyncio.sleep(0.01 * i)
        return await batcher.submit(np.array([[float(i)]]))

    async def scenario():
        return await asyncio.gather(*(late(i) for i in range(3)))

    run(scenario())
    assert model.calls == [3]


@pytest.mark.parametrize("size", [1, 2])
def test_dict_outputs_are_split_per_request(size):
    batcher = MicroBatcher(lambda rows: {"a": rows[:, 0], "b": rows[:, 0] + 1}, max_batch_size=8, wait_s=0)

    async def scenario():
        return await asyncio.gather(*(batcher.submit(np.array([[float(i)]])) for i in range(size)))

    results = run(scenario())
    assert [r["b"].tolist() for r in results] == [[i + 1.0] for i in range(size)]
