"""Websockets on the real Redis channel layer: authentication, Origin, per-object permission, sequence numbers
and resync from REST after a gap."""

import uuid

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from controlplane.core.broadcast import redis_client, send_now, sequence_key
from controlplane.rollouts.models import RolloutPolicy
from tests import factories

from .sockets import ORIGIN, connect, cookie_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_anonymous_foreign_and_wrong_origin_are_refused(deployment, people):
    attempts = [
        (ORIGIN,),
        (ORIGIN, cookie_for(people["foreign_deployer"])),
        ((b"origin", b"http://evil.example"), cookie_for(people["viewer"])),
    ]
    admin = cookie_for(people["admin"])

    async def outcome(path, *headers):
        """(handshake accepted, the close that followed): refusals after the handshake carry their code."""
        communicator, connected, code = await connect(path, *headers)
        if connected:
            closed = await communicator.receive_output(timeout=5)
            assert closed["type"] == "websocket.close", f"no data before the close: {closed}"
            code = closed["code"]
        await communicator.disconnect()
        return connected, code

    async def scenario():
        results = [await outcome(f"/ws/deployments/{deployment.pk}/", *headers) for headers in attempts]
        results.append(await outcome("/ws/deployments/999999/", ORIGIN, admin))
        results.append(await outcome(f"/ws/deployments/{deployment.pk}/logs/", ORIGIN))
        return results

    anonymous, foreign, bad_origin, missing, anonymous_logs = async_to_sync(scenario)()
    assert anonymous == (True, 4401) and anonymous_logs == (True, 4401)
    assert foreign == (True, 4403)
    assert bad_origin[0] is False, "a foreign Origin is refused during the handshake"
    assert missing == (True, 4403)


def test_an_idle_socket_stays_open(deployment, people):
    """channels_redis blocks 5 s per read: a socket that hears nothing for longer must still get the next push."""
    viewer = cookie_for(people["viewer"])

    async def scenario():
        communicator, _, _ = await connect(f"/ws/deployments/{deployment.pk}/logs/", ORIGIN, viewer)
        await communicator.receive_json_from(timeout=5)  # hello
        await communicator.receive_json_from(timeout=5)  # backlog
        assert await communicator.receive_nothing(timeout=7, interval=0.5)
        await sync_to_async(send_now)(f"deployment-{deployment.pk}-logs", "logs", {"lines": []})
        message = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return message

    assert async_to_sync(scenario)()["type"] == "logs"


def test_a_viewer_sees_rollout_events_in_order_and_can_detect_a_gap(deployment, people):
    policy = RolloutPolicy.objects.create(team=people["team"], name="direct", strategy="direct")
    deployer = factories.client_for(people["deployer"])
    viewer = cookie_for(people["viewer"])

    async def scenario():
        communicator, connected, _ = await connect(f"/ws/deployments/{deployment.pk}/", ORIGIN, viewer)
        assert connected
        hello = await communicator.receive_json_from(timeout=5)
        from asgiref.sync import sync_to_async

        response = await sync_to_async(deployer.post)(
            f"/api/v1/deployments/{deployment.pk}/rollouts/", {"version": 2, "policy": policy.pk}, format="json"
        )
        assert response.status_code == 201
        started = await communicator.receive_json_from(timeout=5)
        # A message numbered but never delivered (dropped while the client was slow): the next one shows the gap.
        await sync_to_async(redis_client().incr)(sequence_key(f"deployment-{deployment.pk}"))
        abort = await sync_to_async(deployer.post)(f"/api/v1/rollouts/{response.json()['id']}/abort/")
        assert abort.status_code == 200
        aborted = await communicator.receive_json_from(timeout=5)
        await sync_to_async(send_now)(f"deployment-elsewhere-{uuid.uuid4().hex}", "elsewhere", {})
        assert await communicator.receive_nothing(timeout=0.5), "other groups' messages never arrive here"
        await communicator.disconnect()
        return hello, started, aborted, response.json()["id"]

    hello, started, aborted, rollout_id = async_to_sync(scenario)()
    assert hello["type"] == "hello" and hello["group"] == f"deployment-{deployment.pk}"
    assert started["type"] == "rollout_event" and started["seq"] == hello["seq"] + 1
    assert started["data"]["event"]["kind"] == "started" and started["data"]["rollout"] == rollout_id
    assert aborted["data"]["phase"] == "aborted" and aborted["data"]["event"]["actor"] == "deployer"
    assert aborted["seq"] == started["seq"] + 2, "the client can see that one message never reached it"
    # after a gap, the REST history has everything the stream carried
    history = factories.client_for(people["viewer"]).get(f"/api/v1/rollouts/{rollout_id}/").json()["events"]
    assert [event["kind"] for event in history] == ["started", "aborted"]
