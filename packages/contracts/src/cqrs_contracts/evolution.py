"""Old messages read as new ones: upcasters keyed by (type, schema_version), applied on every read.

A stored event keeps the schema it was written in (the event store is never rewritten); whoever
reads it (the command side's store, the projector, a rebuild) brings it up to the version its code
knows, one step at a time. A message newer than the reader knows is refused with a typed error, so
that it waits (dead-lettered with ``unsupported_schema_version``) for a reader that knows it.

To change a message incompatibly: raise its SCHEMA_VERSION, and add here the step from the old
version to the new one (docs/evolution.md).
"""

from collections.abc import Callable, Mapping
from typing import Any

Data = dict[str, Any]
Upcaster = Callable[[Data], Data]


class NewerSchema(ValueError):
    """A message in a schema version this reader does not know yet (or of a type it does not know)."""


def _unreferenced(data: Data) -> Data:
    """Money moved before version 2 had no reference: an empty one."""
    return {"reference": "", **data}


UPCASTERS: Mapping[tuple[str, int], Upcaster] = {
    ("MoneyDeposited", 1): _unreferenced,
    ("MoneyWithdrawn", 1): _unreferenced,
}


def upcast(data: Data, version: object, current: Mapping[str, int]) -> Data:
    """``data`` (a message body of schema ``version``) in the ``current`` version of its type.

    A type not in ``current`` is left to validation; a version newer than current raises
    NewerSchema; one with no way up (or not a positive integer) raises ValueError.
    """
    type_name = data.get("type")
    latest = current.get(type_name) if isinstance(type_name, str) else None
    if latest is None:
        return data
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"schema_version must be a positive integer, got {version!r}")
    if version > latest:
        raise NewerSchema(f"{type_name} schema_version {version} is newer than this reader's {latest}")
    while version < latest:
        step = UPCASTERS.get((str(type_name), version))
        if step is None:
            raise ValueError(f"{type_name} schema_version {version} can no longer be read")
        data, version = step(data), version + 1
    return data
