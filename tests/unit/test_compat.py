"""The breaking-change check: each rule of contracts/compat.py, the breaking way and the harmless way."""

import copy
from typing import Any

import pytest

from cqrs_shared.asyncapi import document
from cqrs_shared.asyncapi.compat import Breaking, breaking_changes

Json = dict[str, Any]
STRING: Json = {"type": "string"}


def obj(required: tuple[str, ...] = (), **properties: Json) -> Json:
    return {"type": "object", "properties": properties, "required": list(required)}


def api(written: tuple[str, ...] = (), **payloads: Json) -> Json:
    """A small AsyncAPI document: one message per payload, version 1; ``written`` are the pair's own."""
    return versioned({name: 1 for name in payloads}, written, **payloads)


def versioned(versions: dict[str, int], written: tuple[str, ...] = (), **payloads: Json) -> Json:
    messages = {
        name: {"payload": payload, "x-schema-version": versions[name]} for name, payload in payloads.items()
    }
    channel = {name: {"$ref": f"#/components/messages/{name}"} for name in payloads}
    sent = [{"$ref": f"#/channels/c/messages/{name}"} for name in written]
    return {
        "channels": {"c": {"messages": channel}},
        "operations": {"publish": {"action": "send", "channel": {"$ref": "#/channels/c"}, "messages": sent}},
        "components": {
            "messages": messages,
            "schemas": {"ErrorCode": {"type": "string", "enum": ["a", "b"]}},
        },
    }


def changes(old: Json, new: Json) -> list[str]:
    return [str(change) for change in breaking_changes(old, new)]


def test_a_removed_message_breaks() -> None:
    assert changes(api(A=obj(), B=obj()), api(A=obj())) == ["B: message removed"]


def test_a_new_message_is_fine() -> None:
    assert changes(api(A=obj()), api(A=obj(), B=obj())) == []


def test_a_removed_field_breaks() -> None:
    assert changes(api(A=obj(x=STRING, y=STRING)), api(A=obj(x=STRING))) == ["A: payload.y: field removed"]


def test_a_new_optional_field_is_fine_also_for_readers() -> None:
    assert changes(api(("A",), A=obj(x=STRING)), api(("A",), A=obj(x=STRING, y=STRING))) == []


def test_a_new_required_field_breaks() -> None:
    new = obj(("y",), x=STRING, y=STRING)
    assert changes(api(A=obj(x=STRING)), api(A=new)) == ["A: payload.y: required field added"]


def test_a_field_made_required_breaks() -> None:
    assert changes(api(A=obj(x=STRING)), api(A=obj(("x",), x=STRING))) == [
        "A: payload.x: field made required"
    ]


def test_a_field_made_optional_breaks_only_readers() -> None:
    old, new = obj(("x",), x=STRING), obj(x=STRING)
    assert changes(api(A=old), api(A=new)) == []
    assert changes(api(("A",), A=old), api(("A",), A=new)) == ["A: payload.x: field no longer required"]


def test_a_changed_type_breaks() -> None:
    old, new = obj(x=STRING), obj(x={"type": "integer"})
    assert changes(api(A=old), api(A=new)) == ["A: payload.x: type changed: no longer takes string"]


def test_a_narrowed_type_breaks() -> None:
    old = obj(x={"anyOf": [STRING, {"type": "null"}]})
    assert changes(api(A=old), api(A=obj(x=STRING))) == ["A: payload.x: type changed: no longer takes null"]


def test_a_widened_type_breaks_only_readers() -> None:
    old, new = obj(x=STRING), obj(x={"anyOf": [STRING, {"type": "null"}]})
    assert changes(api(A=old), api(A=new)) == []
    assert changes(api(("A",), A=old), api(("A",), A=new)) == ["A: payload.x: type widened: may now be null"]


def test_a_removed_enum_value_breaks() -> None:
    old, new = obj(x={"enum": ["a", "b"]}), obj(x={"enum": ["a"]})
    assert changes(api(A=old), api(A=new)) == ['A: payload.x: value(s) no longer taken: "b"']


def test_an_added_enum_value_breaks_only_readers() -> None:
    old, new = obj(x={"enum": ["a"]}), obj(x={"enum": ["a", "b"]})
    assert changes(api(A=old), api(A=new)) == []
    assert changes(api(("A",), A=old), api(("A",), A=new)) == ['A: payload.x: value(s) added: "b"']


def test_a_new_error_code_is_fine_for_readers_too() -> None:
    old = api(("A",), A=obj(code={"$ref": "#/components/schemas/ErrorCode"}))
    new = copy.deepcopy(old)
    new["components"]["schemas"]["ErrorCode"]["enum"].append("c")
    assert changes(old, new) == []
    del new["components"]["schemas"]["ErrorCode"]["enum"][0]
    assert changes(old, new) == ['A: payload.code: value(s) no longer taken: "a"']


def test_a_new_stream_type_is_fine_for_readers_too_also_where_the_old_document_had_it_inline() -> None:
    """Readers set a stream type they do not know aside (contracts: events.unreadable, StreamList);
    before stream types were one named schema, each field had them inline."""
    old = api(("A",), A=obj(kind={"type": "string", "enum": ["customer", "account"]}))
    new = api(("A",), A=obj(kind={"$ref": "#/components/schemas/StreamType"}))
    new["components"]["schemas"]["StreamType"] = {"type": "string", "enum": ["customer", "account", "x"]}
    assert changes(old, new) == []
    new["components"]["schemas"]["StreamType"]["enum"] = ["customer", "x"]
    assert changes(old, new) == ['A: payload.kind: value(s) no longer taken: "account"']


def test_a_changed_const_breaks() -> None:
    old, new = obj(type={"const": "A", "type": "string"}), obj(type={"const": "B", "type": "string"})
    assert changes(api(A=old), api(A=new)) == [
        'A: payload.type: value(s) no longer taken: "A"',
    ]


@pytest.mark.parametrize(
    ("old", "new", "change"),
    [
        ({"maxLength": 200}, {"maxLength": 100}, "maxLength lowered from 200 to 100"),
        ({}, {"maxLength": 100}, "maxLength 100 added"),
        ({"minLength": 1}, {"minLength": 2}, "minLength raised from 1 to 2"),
        ({"format": "uuid"}, {"format": "date-time"}, "format changed from 'uuid' to 'date-time'"),
        ({}, {"pattern": "^[a-z]+$"}, "pattern '^[a-z]+$' added"),
    ],
)
def test_a_tightened_string_breaks(old: Json, new: Json, change: str) -> None:
    assert changes(api(A=obj(x=STRING | old)), api(A=obj(x=STRING | new))) == [f"A: payload.x: {change}"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"maxLength": 100}, {"maxLength": 200}),
        ({"maxLength": 100}, {}),
        ({"minLength": 2}, {"minLength": 1}),
    ],
)
def test_a_loosened_string_breaks_only_readers(old: Json, new: Json) -> None:
    assert changes(api(A=obj(x=STRING | old)), api(A=obj(x=STRING | new))) == []
    assert len(changes(api(("A",), A=obj(x=STRING | old)), api(("A",), A=obj(x=STRING | new)))) == 1


def test_numbers_and_lists_have_bounds_too() -> None:
    old = obj(n={"type": "integer", "maximum": 10}, xs={"type": "array", "items": STRING, "maxItems": 5})
    new = obj(n={"type": "integer", "maximum": 9}, xs={"type": "array", "items": STRING, "maxItems": 4})
    assert changes(api(A=old), api(A=new)) == [
        "A: payload.n: maximum lowered from 10 to 9",
        "A: payload.xs: maxItems lowered from 5 to 4",
    ]


def test_a_change_deep_inside_names_its_path_through_refs_and_lists() -> None:
    old = api(A=obj(items={"type": "array", "items": {"$ref": "#/components/schemas/Item"}}))
    old["components"]["schemas"]["Item"] = obj(name=STRING, size={"type": "integer"})
    new = copy.deepcopy(old)
    del new["components"]["schemas"]["Item"]["properties"]["size"]
    assert changes(old, new) == ["A: payload.items[].size: field removed"]


def test_a_raised_schema_version_allows_any_change() -> None:
    old = api(A=obj(("x",), x=STRING))
    assert changes(old, versioned({"A": 2}, A=obj(("y",), y={"type": "integer"}))) == []


def test_a_lowered_schema_version_breaks() -> None:
    old = versioned({"A": 2}, A=obj())
    assert changes(old, api(A=obj())) == ["A: schema version lowered from 2 to 1"]


def test_a_changed_routing_key_breaks() -> None:
    old, new = api(A=obj()), api(A=obj())
    old["components"]["messages"]["A"]["x-routing-key"] = "a.happened"
    new["components"]["messages"]["A"]["x-routing-key"] = "a.occurred"
    assert changes(old, new) == ["A: routing key changed from 'a.happened'"]


def test_headers_are_compared_like_payloads() -> None:
    old, new = api(A=obj()), api(A=obj())
    old["components"]["messages"]["A"]["headers"] = obj(traceparent=STRING)
    new["components"]["messages"]["A"]["headers"] = obj()
    assert changes(old, new) == ["A: headers.traceparent: field removed"]


def test_the_generated_document_has_no_break_against_itself() -> None:
    assert breaking_changes(document(), document()) == []


def test_a_field_removed_from_a_command_is_named_in_the_real_document() -> None:
    old = document()
    new = copy.deepcopy(old)
    del new["components"]["schemas"]["CreateCustomer"]["properties"]["locale"]
    new["components"]["schemas"]["CreateCustomer"]["required"].remove("locale")
    assert breaking_changes(old, new) == [Breaking("CreateCustomer", "payload.locale", "field removed")]


def test_objects_of_a_union_are_told_apart_by_their_tag() -> None:
    a, b = obj(type={"const": "A"}, x=STRING), obj(type={"const": "B"}, y=STRING)
    old, new = obj(thing={"oneOf": [a, b]}), obj(thing={"oneOf": [a, obj(type={"const": "B"})]})
    assert changes(api(A=old), api(A=new)) == ["A: payload.thing.y: field removed"]
    assert changes(api(A=old), api(A=obj(thing={"oneOf": [a]}))) == [
        "A: payload.thing: type changed: no longer takes object B"
    ]


def test_a_new_member_of_a_tagged_union_is_a_new_message_for_readers_too() -> None:
    a, b = obj(type={"const": "A"}), obj(type={"const": "B"})
    old, new = obj(thing={"oneOf": [a]}), obj(thing={"oneOf": [a, b]})
    assert changes(api(("A",), A=old), api(("A",), A=new)) == []


def test_an_embedded_model_whose_version_was_raised_may_change() -> None:
    old = api(("A",), A=obj(event={"$ref": "#/components/schemas/E"}))
    old["components"]["schemas"]["E"] = obj(x=STRING) | {"x-schema-version": 1}
    new = copy.deepcopy(old)
    new["components"]["schemas"]["E"] = obj(("y",), y=STRING) | {"x-schema-version": 2}
    assert changes(old, new) == []
    new["components"]["schemas"]["E"]["x-schema-version"] = 1
    assert changes(old, new) == [
        "A: payload.event.x: field removed",
        "A: payload.event.y: required field added",
    ]
