"""Open websockets keep checking who is on the other end (real Redis channel layer): removal from the team, logout,
a revoked token or a model moved away close the socket within one re-check interval (RAYLANE_WS_RECHECK_S). The logs
socket limits filter changes (4429) and sends at most RAYLANE_WS_BACKLOG_BYTES of backlog, the newest lines."""

import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import Client

from controlplane.accounts.models import ApiToken, Membership
from controlplane.accounts.services import token_create, token_revoke
from controlplane.monitoring import logs

from .sockets import ORIGIN, connect, cookie_for

pytestmark = pytest.mark.django_db(transaction=True)

RECHECK_S = 0.2


@pytest.fixture(autouse=True)
def quick_rechecks(settings):
    settings.RAYLANE_WS_RECHECK_S = RECHECK_S


async def closed_within_a_recheck(communicator) -> tuple[dict, int]:
    """The consumer's own notice, then its close: both must come within a few re-check intervals."""
    notice = json.loads((await communicator.receive_output(timeout=RECHECK_S * 3))["text"])
    closing = await communicator.receive_output(timeout=RECHECK_S * 3)
    assert closing["type"] == "websocket.close", closing
    return notice, closing["code"]


def stays_open_then(path: str, headers: tuple, revoke) -> tuple[dict, int, bool]:
    async def scenario():
        communicator, connected, _ = await connect(path, ORIGIN, *headers)
        assert connected
        hello = await communicator.receive_json_from(timeout=5)
        assert hello["type"] == "hello"
        if path.endswith("/logs/"):
            assert (await communicator.receive_json_from(timeout=5))["type"] == "backlog"
        # a full re-check interval and more with access intact: nothing happens
        still_open = await communicator.receive_nothing(timeout=RECHECK_S * 2, interval=RECHECK_S / 4)
        await sync_to_async(revoke)()
        notice, code = await closed_within_a_recheck(communicator)
        await communicator.disconnect()
        return notice, code, still_open

    return async_to_sync(scenario)()


def test_removal_from_the_team_closes_the_socket(deployment, people):
    def remove():
        Membership.objects.filter(user=people["viewer"], team=people["team"]).delete()

    notice, code, still_open = stays_open_then(
        f"/ws/deployments/{deployment.pk}/logs/", (cookie_for(people["viewer"]),), remove
    )
    assert still_open
    assert code == 4403 and notice == {"type": "closed", "code": 4403, "reason": "you may no longer see this"}


def test_logging_out_closes_the_socket(deployment, people):
    browser = Client()
    browser.force_login(people["viewer"])
    cookie = (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode())
    _, code, _ = stays_open_then(
        f"/ws/deployments/{deployment.pk}/", (cookie,), lambda: browser.post("/api/v1/auth/logout/")
    )
    assert code == 4401


def test_a_revoked_token_closes_the_socket(deployment, people):
    """The CLI authenticates its socket with its API token, as it does on the REST API."""
    _, key = token_create(user=people["viewer"], name="cli")
    bearer = (b"authorization", f"Bearer {key}".encode())

    def revoke():
        token_revoke(token=ApiToken.objects.get(name="cli"), actor=people["viewer"])

    notice, code, _ = stays_open_then(f"/ws/deployments/{deployment.pk}/", (bearer,), revoke)
    assert code == 4401 and "log in again" in notice["reason"]

    async def with_revoked_token():
        communicator, connected, _ = await connect(f"/ws/deployments/{deployment.pk}/", ORIGIN, bearer)
        closing = await communicator.receive_output(timeout=5)
        await communicator.disconnect()
        return connected, closing["code"]

    assert async_to_sync(with_revoked_token)() == (True, 4401)


def test_a_model_moved_to_another_team_leaves_its_old_team_s_sockets(deployment, people):
    def move():
        from controlplane.registry.services import model_move

        model_move(model=deployment.model, team=people["other_team"], user=people["site_admin"])

    _, code, _ = stays_open_then(f"/ws/deployments/{deployment.pk}/", (cookie_for(people["deployer"]),), move)
    assert code == 4403


def test_a_filter_flood_gets_one_error_then_4429(deployment, people, settings):
    settings.RAYLANE_WS_FILTER_BURST = 3
    settings.RAYLANE_WS_FILTER_RATE = 0  # no refill: the fourth message is over, whatever the timing

    viewer = cookie_for(people["viewer"])

    async def scenario():
        communicator, _, _ = await connect(f"/ws/deployments/{deployment.pk}/logs/", ORIGIN, viewer)
        await communicator.receive_json_from(timeout=5)  # hello
        await communicator.receive_json_from(timeout=5)  # backlog
        answers = []
        for level in ("INFO", "WARNING", "ERROR"):
            await communicator.send_json_to({"filters": {"level": level}})
            answers.append(await communicator.receive_json_from(timeout=5))
        await communicator.send_json_to({"filters": {"level": "DEBUG"}})
        error = await communicator.receive_json_from(timeout=5)
        closing = await communicator.receive_output(timeout=5)
        await communicator.disconnect()
        return answers, error, closing

    answers, error, closing = async_to_sync(scenario)()
    assert [answer["filters"]["level"] for answer in answers] == ["INFO", "WARNING", "ERROR"]
    assert error["type"] == "error" and "too many messages" in error["message"]
    assert closing == {"type": "websocket.close", "code": 4429}


def test_the_backlog_is_capped_in_bytes_keeping_the_newest_lines(deployment, people, settings):
    settings.RAYLANE_WS_BACKLOG_BYTES = 10_000
    lines = [
        {"at": "2026-01-01T00:00:00.000+00:00", "level": "INFO", "version": 1, "replica": "r1", "model": "iris",
         "request_id": "", "message": f"line {number} " + "x" * 1000}
        for number in range(60)
    ]  # fmt: skip
    logs.keep({deployment.pk: lines})

    viewer = cookie_for(people["viewer"])

    async def scenario():
        communicator, _, _ = await connect(f"/ws/deployments/{deployment.pk}/logs/", ORIGIN, viewer)
        await communicator.receive_json_from(timeout=5)  # hello
        first = await communicator.receive_output(timeout=5)
        await communicator.send_json_to({"filters": {"q": "line"}})
        again = await communicator.receive_output(timeout=5)
        await communicator.disconnect()
        return first["text"], again["text"]

    for text in async_to_sync(scenario)():
        backlog = json.loads(text)
        kept = backlog["data"]["lines"]
        assert len(text.encode()) < 10_000 + 500, "the whole message stays near the cap"
        assert 5 <= len(kept) < 10 and kept[-1]["message"].startswith("line 59 ")
        assert [line["message"].split()[1] for line in kept] == [str(n) for n in range(60 - len(kept), 60)]
        assert backlog["data"]["dropped"] == 60 - len(kept)
