"""The OpenAPI 3.1 document of the hub API, generated from the route registry (`operations`),
the answer objects (`wire.objects`, JSON Schema by mashumaro), the request bodies
(`wire.bodies`, by `probatio.to_openapi`) and the push messages (`wire.messages`)."""

from __future__ import annotations

import typing
from collections.abc import Iterable
from datetime import datetime
from http import HTTPStatus
from typing import Any

import probatio as vol
from mashumaro.jsonschema import OPEN_API_3_1, JSONSchemaBuilder
from mashumaro.jsonschema.plugins import DocstringDescriptionPlugin

from doorward_hub.protocol import API_PREFIX
from doorward_hub.web.operations import Operation, Reply
from doorward_hub.wire.bodies import openapi_of_validators
from doorward_hub.wire.messages import PUSH_MESSAGES
from doorward_hub.wire.objects import Error, WireObject

type Document = dict[str, Any]

_SCHEMAS = "#/components/schemas"


def _mark_times(schemas: Document) -> None:
    """Times are written as ISO 8601 strings (`WireObject.Config`), which the JSON Schema of
    mashumaro only knows as strings: add their format."""
    for model in _wire_objects(WireObject):
        properties = schemas.get(model.__name__, {}).get("properties", {})
        for name, hint in typing.get_type_hints(model).items():
            if name in properties and datetime in {hint, *typing.get_args(hint)}:
                prop = properties[name]
                for option in prop.get("anyOf", [prop]):
                    if option.get("type") == "string":
                        option["format"] = "date-time"


def _wire_objects(base: type[WireObject]) -> list[type[WireObject]]:
    return [m for sub in base.__subclasses__() for m in (sub, *_wire_objects(sub))]


def _content(media: str, schema: Document) -> Document:
    return {"content": {media: {"schema": schema}}}


class _Writer:
    """Collects the component schemas while the operations are written."""

    def __init__(self) -> None:
        self._builder = JSONSchemaBuilder(
            OPEN_API_3_1,
            all_refs=True,
            ref_prefix=_SCHEMAS,
            plugins=[DocstringDescriptionPlugin()],
        )

    def ref(self, model: type[WireObject]) -> Document:
        return self._builder.build(model).to_dict()

    def components(self) -> Document:
        definitions: Document = self._builder.get_definitions().to_dict()
        _mark_times(definitions)
        return definitions

    def reply(self, reply: Reply) -> Document:
        result: Document = {"description": reply.description}
        body = reply.body
        if body is None and reply.status >= HTTPStatus.BAD_REQUEST:
            body = Error
        if isinstance(body, str):
            body = (body,)
        if isinstance(body, tuple):
            # Raw bytes: OpenAPI 3.1 describes them by the media type alone, without a schema.
            result["content"] = {
                media: {"schema": {"type": "object"}} if media == "application/json" else {}
                for media in body
            }
        elif body is not None:
            result |= _content("application/json", self.ref(body))
        if reply.headers:
            result["headers"] = {name: {"schema": {"type": "string"}} for name in reply.headers}
        return result

    def operation(self, operation: Operation) -> Document:
        result: Document = {"operationId": operation.name, "summary": operation.summary}
        if operation.description and operation.description != operation.summary:
            result["description"] = operation.description
        params = [p.openapi() for p in operation.params]
        if operation.query_token:
            params.append(
                {
                    "name": "token",
                    "in": "query",
                    "description": "the bearer token, for clients that cannot set headers",
                    "schema": {"type": "string"},
                }
            )
        if params:
            result["parameters"] = params
        if operation.body is not None:
            schema = vol.to_openapi(
                operation.body.schema,
                openapi_version="3.1.0",
                custom_serializer=openapi_of_validators,
                strict=True,
            )
            result["requestBody"] = {
                "description": operation.body.description,
                "required": operation.body.required,
                **_content("application/json", schema),
            }
        result["responses"] = {
            str(reply.status): self.reply(reply)
            for reply in sorted(operation.replies, key=lambda r: r.status)
        }
        if operation.access != "token":
            result["security"] = []
        return result


def openapi_document(version: str, operations: Iterable[Operation]) -> Document:
    """The whole document, for this hub version and these operations."""
    writer = _Writer()
    paths: dict[str, Document] = {}
    for operation in operations:
        paths.setdefault(operation.document_path, {})[operation.method.lower()] = writer.operation(
            operation
        )
    push = {"oneOf": [writer.ref(message) for message in PUSH_MESSAGES]}
    schemas = writer.components()
    schemas["PushMessage"] = {
        "description": "A message of the WebSocket push channel (`GET /ws`), told apart by `type`.",
        **push,
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Doorward hub API",
            "version": version,
            "description": "Local API of a Doorward hub. Concepts: docs/hub-api.md.",
        },
        "servers": [{"url": API_PREFIX}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
