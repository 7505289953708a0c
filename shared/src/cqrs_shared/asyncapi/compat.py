"""Breaking changes between two AsyncAPI documents of the message API, compared message by message.

The rule (``make contract-check``): a change to a message that would break a deployed sender or
reader needs that message's schema version raised (``SCHEMA_VERSION`` on its model, written as the
message's ``x-schema-version``); then anything goes for that message. The same holds for a model
inside a message (an event in StreamEvents): its own version raised, it may change. Otherwise these
break a message:

- the message removed, or its routing key changed;
- a field removed (payload or headers, at any depth: ``payload.result.items[].name``);
- a field's type changed or narrowed: a JSON type it no longer takes, a const changed, an enum value
  removed, a format or pattern added or changed, a bound tightened (maxLength, maxItems, maximum
  lowered; minLength, minItems, minimum raised);
- a required field added, or a field made required.

A message the pair writes (in a ``send`` operation or a reply: events, replies, dead letters) has
deployed readers as well; for it these break too: a type widened (null, say), an enum value added, a
bound loosened, a field no longer required.

Fine: a new message, a new optional field, a loosened input; a new member of a tagged union (an
event in StreamEvents) counts as a new message, which readers must expect. So does a new value of an
open enum (OPEN_ENUMS), where the old or the new document names it: an ErrorCode, a StreamType (a
new kind of stream comes with event types of its own, which a reader that does not know them sets
aside: docs/evolution.md). Titles, descriptions, defaults and examples are not compared.

>>> [str(change) for change in breaking_changes(committed, generated)]  # doctest: +SKIP
['CreateCustomer: payload.locale: field removed']
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Json = Mapping[str, Any]
Alternatives = dict[str, tuple[str | None, Json]]
OPEN_ENUMS = frozenset({"#/components/schemas/ErrorCode", "#/components/schemas/StreamType"})
_UPPER = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")
_LOWER = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum")


@dataclass(frozen=True, order=True)
class Breaking:
    """One breaking change: the message, where in it (``payload.x.y``; empty: the message), what."""

    message: str
    path: str
    change: str

    def __str__(self) -> str:
        return (
            f"{self.message}: {self.path}: {self.change}" if self.path else f"{self.message}: {self.change}"
        )


def breaking_changes(old: Json, new: Json) -> list[Breaking]:
    """Every change from ``old`` to ``new`` that breaks a message whose schema version was not raised."""
    found: list[Breaking] = []
    old_messages, new_messages = _messages(old), _messages(new)
    written = _written(old)
    for name, was in sorted(old_messages.items()):
        now = new_messages.get(name)
        if now is None:
            found.append(Breaking(name, "", "message removed"))
            continue
        before, after = _version(was), _version(now)
        if after > before:
            continue
        if after < before:
            found.append(Breaking(name, "", f"schema version lowered from {before} to {after}"))
        if was.get("x-routing-key") != now.get("x-routing-key"):
            found.append(Breaking(name, "", f"routing key changed from {was.get('x-routing-key')!r}"))
        diff = _Diff(old, new, readers=name in written)
        for part in ("payload", "headers"):
            diff.schema(was.get(part, {}), now.get(part, {}), part)
        found += [Breaking(name, path, change) for path, change in diff.found]
    return found


def _messages(doc: Json) -> dict[str, Json]:
    return dict(doc.get("components", {}).get("messages", {}))


def _version(message_or_schema: Json) -> int:
    return int(message_or_schema.get("x-schema-version", 1))


def _pointer(doc: Json, ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _message_name(doc: Json, ref: str) -> str:
    target = _pointer(doc, ref)
    return str(target.get("$ref", ref)).rsplit("/", 1)[-1]


def _written(doc: Json) -> set[str]:
    """The messages the pair writes: those of its ``send`` operations and of every reply."""
    refs: list[str] = []
    for operation in doc.get("operations", {}).values():
        if operation.get("action") == "send":
            refs += [message["$ref"] for message in operation.get("messages", [])]
        refs += [message["$ref"] for message in operation.get("reply", {}).get("messages", [])]
    return {_message_name(doc, ref) for ref in refs}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {str: "string", float: "number", type(None): "null", list: "array"}.get(type(value), "object")


def _kinds(schema: Json) -> list[str]:
    """The JSON types a (resolved, single) schema takes: ``type``, else those of its values, else any."""
    declared = schema.get("type")
    if declared:
        return list(declared) if isinstance(declared, list) else [declared]
    values = _allowed(schema) or set()
    return sorted({_json_type(json.loads(value)) for value in values}) or ["any"]


def _tagged(schema: Json) -> str:
    """An object, told apart from others in a union by its ``type`` or ``status`` const."""
    properties = schema.get("properties", {})
    tags = [properties[key].get("const") for key in ("type", "status") if key in properties]
    return f"object {tags[0]}" if tags and tags[0] is not None else "object"


def _paired(was: Alternatives, now: Alternatives) -> tuple[Alternatives, Alternatives]:
    """One object on each side is the same object, whatever its tag; several are paired by tag."""
    objects = [[kind for kind in side if kind.startswith("object")] for side in (was, now)]
    if len(objects[0]) != 1 or len(objects[1]) != 1:
        return was, now
    untagged = [
        {("object" if kind.startswith("object") else kind): alt for kind, alt in side.items()}
        for side in (was, now)
    ]
    return untagged[0], untagged[1]


def _allowed(schema: Json) -> set[str] | None:
    """The values a schema is restricted to (as JSON text), or None."""
    if "const" in schema:
        return {json.dumps(schema["const"])}
    if "enum" in schema:
        return {json.dumps(value) for value in schema["enum"]}
    return None


class _Diff:
    """Walks an old and a new schema side by side, collecting (path, change) that break."""

    def __init__(self, old_doc: Json, new_doc: Json, *, readers: bool) -> None:
        self.docs = (old_doc, new_doc)
        self.readers = readers
        self.found: list[tuple[str, str]] = []

    def _break(self, path: str, change: str, *, readers_only: bool = False) -> None:
        if self.readers or not readers_only:
            self.found.append((path, change))

    def _alternatives(self, side: int, schema: Json, ref: str | None = None) -> Alternatives:
        """Each JSON type ``schema`` takes (a union's objects by their tag), with its schema and $ref."""
        while "$ref" in schema:
            ref, schema = schema["$ref"], _pointer(self.docs[side], schema["$ref"])
        branches = schema.get("anyOf") or schema.get("oneOf")
        if not branches:
            return {_tagged(schema) if kind == "object" else kind: (ref, schema) for kind in _kinds(schema)}
        return {
            kind: found for branch in branches for kind, found in self._alternatives(side, branch).items()
        }

    def schema(self, old: Json, new: Json, path: str, depth: int = 0) -> None:
        if depth > 32:  # a recursive schema: deep enough
            return
        was, now = _paired(self._alternatives(0, old), self._alternatives(1, new))
        if "any" in now:
            if "any" not in was:
                self._break(path, "may now be anything", readers_only=True)
            return
        for kind in sorted(was.keys() - now.keys()):
            self._break(path, f"type changed: no longer takes {kind}")
        for kind in sorted(now.keys() - was.keys()):
            if not kind.startswith("object "):  # a new member of a tagged union: a new message
                self._break(path, f"type widened: may now be {kind}", readers_only=True)
        for kind in sorted(was.keys() & now.keys()):
            (ref, before), (new_ref, after) = was[kind], now[kind]
            if _version(after) <= _version(before):  # an embedded model whose version was raised: fine
                open_enum = bool({ref, new_ref} & OPEN_ENUMS)  # the new document may name it first
                self._same(before, after, path, open_enum=open_enum, depth=depth)

    def _same(self, old: Json, new: Json, path: str, *, open_enum: bool, depth: int) -> None:
        self._values(_allowed(old), _allowed(new), path, open_enum)
        for key in ("format", "pattern", *_UPPER, *_LOWER):
            before, after = old.get(key), new.get(key)
            if before != after:
                loosened = after is None or (before is not None and _loosened(key, before, after))
                self._break(path, _change(key, before, after), readers_only=loosened)
        if "items" in old and "items" in new:
            self.schema(old["items"], new["items"], f"{path}[]", depth + 1)
        self._object(old, new, path, depth)

    def _values(self, old: set[str] | None, new: set[str] | None, path: str, open_enum: bool) -> None:
        if new is not None and old is None:
            self._break(path, f"now restricted to {_listed(new)}")
        elif old is not None and new is None and not open_enum:
            self._break(path, f"no longer restricted to {_listed(old)}", readers_only=True)
        elif old is not None and new is not None:
            if old - new:
                self._break(path, f"value(s) no longer taken: {_listed(old - new)}")
            if new - old and not open_enum:
                self._break(path, f"value(s) added: {_listed(new - old)}", readers_only=True)

    def _object(self, old: Json, new: Json, path: str, depth: int) -> None:
        was, now = old.get("properties", {}), new.get("properties", {})
        required_before, required_after = set(old.get("required", [])), set(new.get("required", []))
        for name in sorted(was):
            if name not in now:
                self._break(f"{path}.{name}", "field removed")
            else:
                self.schema(was[name], now[name], f"{path}.{name}", depth + 1)
        for name in sorted(required_after - required_before):
            self._break(f"{path}.{name}", "field made required" if name in was else "required field added")
        for name in sorted((required_before - required_after) & now.keys()):
            self._break(f"{path}.{name}", "field no longer required", readers_only=True)
        extra_before, extra_after = old.get("additionalProperties"), new.get("additionalProperties")
        if isinstance(extra_before, dict) and isinstance(extra_after, dict):
            self.schema(extra_before, extra_after, f"{path}.*", depth + 1)


def _loosened(key: str, before: Any, after: Any) -> bool:
    """Whether a bound moved to take more (a format or pattern that changed takes other values)."""
    if key in _UPPER:
        return bool(after > before)
    if key in _LOWER:
        return bool(after < before)
    return False


def _change(key: str, before: Any, after: Any) -> str:
    if before is None:
        return f"{key} {after!r} added"
    if after is None:
        return f"{key} {before!r} removed"
    if key in _UPPER or key in _LOWER:
        return f"{key} {'lowered' if after < before else 'raised'} from {before} to {after}"
    return f"{key} changed from {before!r} to {after!r}"


def _listed(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))
