"""``python -m cqrs_shared.asyncapi write|check DOCUMENT``: the AsyncAPI document.

write  write DOCUMENT from the code (``make asyncapi``)
check  fail unless DOCUMENT is what the code generates, and nothing the code generates breaks a
       message against the committed DOCUMENT nor against the one before its last change
       (``make contract-check``; the rules: asyncapi/compat.py)
"""

import difflib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from cqrs_shared.asyncapi import document, render
from cqrs_shared.asyncapi.compat import Breaking, breaking_changes

HOW_TO_PASS = (
    "Raise SCHEMA_VERSION on the model of each message named and add its upcaster (docs/evolution.md), "
    "or undo the change."
)


def _git(*args: str) -> str | None:
    """git's output, or None where it fails (no repository, no such revision, no git)."""
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    except OSError:
        return None
    return done.stdout if done.returncode == 0 else None


def baselines(path: str) -> list[tuple[str, dict[str, Any]]]:
    """The committed document and the one before the last commit that changed it, where they exist."""
    last = (_git("log", "-1", "--format=%H", "--", path) or "").strip()
    revisions = [("HEAD", "HEAD")] + (
        [(f"{last[:12]}^ (before its last change)", f"{last}^")] if last else []
    )
    found = []
    for label, revision in revisions:
        text = _git("show", f"{revision}:./{path}")
        if text is not None:
            found.append((label, json.loads(text)))
    return found


def _stale(path: str, generated: str) -> list[str]:
    """What differs between DOCUMENT and the generated one (the first lines of a diff), or nothing."""
    try:
        committed = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return [f"{path} does not exist"]
    lines = difflib.unified_diff(
        committed.splitlines(), generated.splitlines(), path, "generated", lineterm=""
    )
    return list(lines)[:30]


def _breaking(generated: str, bases: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Each breaking change of the generated document, with the baselines it breaks."""
    found: dict[Breaking, list[str]] = {}
    for label, old in bases:
        for change in breaking_changes(old, json.loads(generated)):
            found.setdefault(change, []).append(label)
    return [f"  {change}   (against {', '.join(labels)})" for change, labels in sorted(found.items())]


def check(path: str) -> int:
    """0 when DOCUMENT is up to date and nothing broke; else 1, having said what and how to pass."""
    generated = render(document())
    stale = _stale(path, generated)
    if stale:
        print(f"contract: {path} is not what the code generates; run `make asyncapi` and commit it:")
        print(*stale, sep="\n")
    bases = baselines(path)
    breaking = _breaking(generated, bases)
    if breaking:
        print(f"contract: {len(breaking)} breaking change(s), the message's schema version not raised:")
        print(*breaking, HOW_TO_PASS, sep="\n")
    if stale or breaking:
        return 1
    against = " and ".join(label for label, _ in bases) or "nothing (no committed document yet)"
    print(f"contract: {path} is up to date; no breaking change against {against}")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("write", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    command, path = argv
    if command == "check":
        return check(path)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(render(document()), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
