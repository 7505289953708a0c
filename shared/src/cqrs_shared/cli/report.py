"""How ``cqrs`` reports a failure of its own: a line on stderr, or with --json one document on stdout
in the shape of the services' error replies (contracts/replies.py: CommandRejected, QueryFailed),

    {"status": "rejected" | "error", "error": {"code": ..., "message": ..., "fields": {...}}}

"rejected" when the CLI was refused (exit 5), "error" otherwise. Imports nothing heavy: usage and
configuration errors are reported before the broker's client is loaded.
"""

import json
import sys
from collections.abc import Mapping


def failure(
    code: str,
    message: str,
    as_json: bool,
    *,
    rejected: bool = False,
    fields: Mapping[str, str] | None = None,
    label: str = "error",
) -> None:
    """``label`` begins the line people read: "error", "configuration error", "refused"."""
    if as_json:
        error = {"code": code, "message": message, "fields": dict(fields or {})}
        print(json.dumps({"status": "rejected" if rejected else "error", "error": error}))
        return
    print(f"{label}: {message}", file=sys.stderr)
    for name, why in (fields or {}).items():
        print(f"  {name}: {why}", file=sys.stderr)
