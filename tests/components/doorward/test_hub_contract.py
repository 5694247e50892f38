"""The integration's client (`api.py`) against the hub's generated OpenAPI document and a live hub.

The client is a separate, hand-written copy of the wire shapes (it must install from HACS alone),
so this test is what keeps the two from drifting: every field the client reads is in the
document with a type the client accepts, the enums and protocol constants agree, and every call
the client makes against a real hub gets an answer that the document describes.
"""

import dataclasses
import json
import types
import typing
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from homeassistant.core import HomeAssistant
from openapi_schema_validator import OAS31Validator

from custom_components.doorward import api, const, data
from doorward_hub import protocol
from doorward_hub.models import ClipTrigger, DoorbellStatus, EventType
from doorward_hub.web.api_v1.clips import MAX_CLIPS_PAGE
from doorward_hub.wire import bodies
from doorward_simulator import SimulatedDoorbell
from tests.hub.openapi_contract import DocumentCheck, generated

from ..conftest import FRONT, HubRunner
from .recording import recording_hub, wait_buffering

DOCUMENT = generated()
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]

CLIENT_MODELS: dict[type, str] = {
    api.HubInfo: "HubInfo",
    api.PairingResult: "PairingResult",
    api.Doorbell: "Doorbell",
    api.HubEvent: "Event",
    api.Clip: "Clip",
    api.EventPage: "EventPage",
    api.ClipPage: "ClipPage",
    api.GroupStatus: "NeighborhoodStatus",
    api.GroupRemoval: "Removal",
    api.NeighborPost: "NeighborPost",
    api.ShareResult: "ClipShared",
}
"""Each model the client parses, and the document's schema of the same object."""

_JSON_TYPES: dict[type, set[str]] = {
    str: {"string"},
    int: {"integer"},
    float: {"number", "integer"},
    bool: {"boolean"},
    datetime: {"string"},
    frozenset: {"array"},
    list: {"array"},
}


def _types_of(schema: dict[str, Any]) -> set[str]:
    """The JSON types a property schema allows ("null" included)."""
    if "anyOf" in schema:
        return set().union(*(_types_of(option) for option in schema["anyOf"]))
    if "$ref" in schema:
        return _types_of(SCHEMAS[schema["$ref"].rsplit("/", 1)[1]])
    if "enum" in schema:
        return {"null" if v is None else "string" for v in schema["enum"]}
    kind = schema["type"]
    return set(kind) if isinstance(kind, list) else {kind}


def _client_types(hint: Any) -> tuple[set[type], bool]:
    """The Python types a client field holds, and whether it accepts None."""
    if isinstance(hint, types.UnionType):
        args = typing.get_args(hint)
        return {typing.get_origin(a) or a for a in args if a is not type(None)}, type(None) in args
    return {typing.get_origin(hint) or hint}, False


@pytest.mark.parametrize("model", list(CLIENT_MODELS), ids=lambda m: m.__name__)
def test_every_field_the_client_reads_is_documented_with_its_type(model: type) -> None:
    schema = SCHEMAS[CLIENT_MODELS[model]]
    hints = typing.get_type_hints(model)
    for field in dataclasses.fields(model):
        where = f"{model.__name__}.{field.name}"
        assert field.name in schema["properties"], f"{where} is not in the document"
        documented = _types_of(schema["properties"][field.name])
        accepted, optional = _client_types(hints[field.name])
        if "null" in documented:
            assert optional, f"{where}: the hub may send null, the client does not accept it"
        wanted = set().union(*(_JSON_TYPES.get(t, {"object"}) for t in accepted))
        assert documented - {"null"} <= wanted, f"{where}: {documented} vs {accepted}"
        if datetime in accepted:
            assert _format(schema["properties"][field.name]) == "date-time", where


def _format(schema: dict[str, Any]) -> str | None:
    options = schema.get("anyOf", [schema])
    return next((o["format"] for o in options if "format" in o), None)


def _enum(schema_name: str, prop: str) -> set[str]:
    schema = SCHEMAS[schema_name]["properties"][prop]
    if schema.get("type") == "array":
        schema = schema["items"]
    return set(schema["enum"])


def test_enums_agree_with_the_hub_and_its_document() -> None:
    statuses = _enum("Doorbell", "status")
    assert set(const.DOORBELL_STATUSES) == statuses == {s.value for s in DoorbellStatus}
    assert api.STATUS_PENDING_APPROVAL in statuses
    event_types = {const.EVENT_PRESS, const.EVENT_MOTION_START, const.EVENT_MOTION_STOP}
    assert event_types == _enum("Event", "type") == {t.value for t in EventType}
    triggers = {const.CLIP_TRIGGER_PRESS, const.CLIP_TRIGGER_MOTION, const.CLIP_TRIGGER_MANUAL}
    assert triggers == _enum("Clip", "trigger") == {t.value for t in ClipTrigger}
    capabilities = {const.CAPABILITY_MOTION, const.CAPABILITY_SNAPSHOT, const.CAPABILITY_VIDEO}
    assert (
        capabilities <= _enum("Doorbell", "capabilities") == {c.value for c in protocol.Capability}
    )


def test_protocol_constants_agree_with_the_hub() -> None:
    assert const.DEFAULT_PORT == protocol.DEFAULT_PORT
    assert api.API_PREFIX == protocol.API_PREFIX == DOCUMENT["servers"][0]["url"]
    assert data.WS_CLOSE_TOKEN_REVOKED == protocol.CLOSE_TOKEN_REVOKED
    assert const.SUPPORTED_API_VERSION == protocol.API_VERSION
    assert (const.ZEROCONF_HUB_ID, const.ZEROCONF_API, const.ZEROCONF_NAME) == (
        protocol.TXT_HUB_ID,
        protocol.TXT_API,
        protocol.TXT_NAME,
    )
    manifest = json.loads((Path(const.__file__).parent / "manifest.json").read_text())
    assert manifest["zeroconf"] == [protocol.HUB_SERVICE_TYPE]
    assert const.DEFAULT_RECORD_SECONDS == bodies.DEFAULT_MANUAL_SECONDS
    assert const.MAX_RECORD_SECONDS == bodies.MAX_MANUAL_SECONDS
    assert api.CLIPS_PAGE_LIMIT == MAX_CLIPS_PAGE


@pytest.fixture
async def hub(hass: HomeAssistant, tmp_path: Path) -> AsyncIterator[HubRunner]:
    """A hub recording short clips."""
    async with recording_hub(tmp_path / "hub") as runner:
        yield runner


async def test_the_client_against_a_live_hub(
    hass: HomeAssistant, hub: HubRunner, doorbell: SimulatedDoorbell
) -> None:
    """Every call of the client, answered by a real hub; every answer checked by the document."""
    checker = DocumentCheck(DOCUMENT)

    async def check(
        session: aiohttp.ClientSession,
        context: types.SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        response = params.response
        if response.status == 101 or response.url.path.endswith(f"/doorbells/{FRONT}/video"):
            return  # the WebSocket (its messages are checked below), the endless live video
        body = await response.read()  # kept by aiohttp: the client reads the same bytes
        checker.check(params.method, params.url, params.headers, response, body)

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(check)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        anonymous = api.DoorwardClient(session, "127.0.0.1", hub.port)
        info = await anonymous.info()
        assert info.hub_id == hub.hub_id
        paired = await anonymous.pair(await hub.new_code(), "contract test")
        with pytest.raises(api.DoorwardInvalidCodeError):
            await anonymous.pair("WRONG-CODE", "contract test")
        client = api.DoorwardClient(session, "127.0.0.1", hub.port, paired.token)

        (front,) = [d for d in await client.doorbells() if d.id == FRONT]
        assert front.online
        assert front.adopted
        assert (await client.set_privacy_mode(FRONT, True)).privacy_mode
        assert not (await client.set_privacy_mode(FRONT, False)).privacy_mode
        await hub.wait_online(FRONT)
        assert (await client.snapshot(FRONT))[:2] == b"\xff\xd8"

        ws = await client.ws_connect(0, heartbeat=30)
        await wait_buffering(hub)
        await doorbell.press()
        messages = await _until(ws, [], "clip", 1)
        await client.record(FRONT, 1)
        await _until(ws, messages, "clip", 2)
        await _until(ws, messages, "snapshot", 1)

        page = await client.events()
        assert page.events
        # Events and clip messages share the seq: the highest is the last clip's here.
        seqs = [m["event"]["seq"] if m["type"] == "event" else m.get("seq") for m in messages]
        assert page.last_seq == max(s for s in seqs if isinstance(s, int)) > page.events[-1].seq
        press = next(e for e in page.events if e.type == const.EVENT_PRESS)
        assert (await client.event_snapshot(press.seq))[:2] == b"\xff\xd8"
        with pytest.raises(api.DoorwardNotFoundError):
            await client.event_snapshot(press.seq + 1000)

        clips = await client.all_clips(FRONT, since=0, until=2**40)
        assert {c.trigger for c in clips} == {const.CLIP_TRIGGER_PRESS, const.CLIP_TRIGGER_MANUAL}
        assert (await client.clips(doorbell_id=FRONT, limit=1)).more
        assert (await client.clip(clips[0].id)).size == clips[0].size
        with pytest.raises(api.DoorwardNotFoundError):
            await client.clip(clips[0].id + 1000)
        async with client.open_stream(f"/clips/{clips[0].id}/thumbnail") as response:
            assert (await response.read())[:2] == b"\xff\xd8"
        async with client.open_stream(
            f"/clips/{clips[0].id}/video", {"Range": "bytes=0-99"}
        ) as response:
            assert response.status == 206
            assert len(await response.read()) == 100
        async with session.get(client.video_url(FRONT)) as response:  # the token in the query
            assert response.status == 200
            assert response.content_type == "video/mp2t"
        with pytest.raises(api.DoorwardNotFoundError):
            await client.record("nobody", 1)

        await client.revoke_token(paired.token_id)
        closed = await ws.receive()
        assert (closed.type, ws.close_code) == (
            aiohttp.WSMsgType.CLOSE,
            protocol.CLOSE_TOKEN_REVOKED,
        )
        with pytest.raises(api.DoorwardAuthenticationError):
            await client.doorbells()

    # The push messages the integration parses match the document's PushMessage schema, and
    # the client parses each object in them.
    validator = OAS31Validator(
        {"$ref": "#/components/schemas/PushMessage", "components": DOCUMENT["components"]}
    )
    parsers = {"event": ("event", api.HubEvent), "doorbell": ("doorbell", api.Doorbell)}
    parsers["clip"] = ("clip", api.Clip)
    for message in messages:
        validator.validate(message)
        if message["type"] in parsers:
            key, model = parsers[message["type"]]
            api.parse(model, message[key])
    assert {m["type"] for m in messages} >= {"hello", "doorbell", "event", "clip", "snapshot"}
    seen = {status for _, _, status in checker.seen}
    assert {200, 202, 204, 206, 401, 404} <= seen


async def _until(
    ws: aiohttp.ClientWebSocketResponse, messages: list[dict[str, Any]], kind: str, count: int
) -> list[dict[str, Any]]:
    """Read push messages into `messages` until `count` of `kind` have arrived."""
    while sum(m["type"] == kind for m in messages) < count:
        messages.append(await ws.receive_json(timeout=30))
    return messages
