"""The generated parts of docs/: the settings tables (docs/configuration.md) and every `cqrs` verb's
`--help` (docs/cli.md), written from the code between markers in those pages; the prose around stays.

    uv run python tools/docs_reference.py write    # rewrite the generated parts (make reference)
    uv run python tools/docs_reference.py check    # exit 1 naming each page that differs

tests/unit/test_docs_reference.py runs the check in every `make test`. The help text is argparse's,
so it is written at a fixed width and without colour; another Python version may wrap it otherwise.
"""

import argparse
import contextlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import annotated_types
from pydantic import AnyHttpUrl, MongoDsn, PostgresDsn
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from command_service.settings import CommandSettings
from cqrs_client.redaction import redact
from cqrs_shared.cli import main as cli
from cqrs_shared.cli.status import StatusSettings
from cqrs_shared.runtime.secret_files import SUFFIX, is_secret, variable_of
from cqrs_shared.runtime.settings import BrokerSettings
from query_service.settings import QuerySettings

ROOT = Path(__file__).resolve().parents[1]
HELP_WIDTH = 100

# Who reads each settings class; a subclass's table lists only the fields it adds.
PARTICIPANTS: tuple[tuple[type[BaseSettings], str], ...] = (
    (BrokerSettings, "Both services (and the `cqrs` command line, which uses the broker URL)"),
    (CommandSettings, "The command service"),
    (QuerySettings, "The query service"),
    (StatusSettings, "`cqrs status`"),
)
_KINDS: dict[Any, str] = {
    bool: "`true` or `false`",
    int: "integer",
    float: "number",
    str: "text",
    dict: "JSON object",
    list: "JSON list",
    PostgresDsn: "PostgreSQL URL",
    MongoDsn: "MongoDB URL",
    AnyHttpUrl: "HTTP URL",
}
# A pattern that only lists its choices, such as ^(DEBUG|INFO)$, is shown as those choices.
_CHOICES = re.compile(r"\^\(([\w|]+)\)\$")


def _begin(name: str) -> str:
    return (
        f"<!-- BEGIN GENERATED {name}: tools/docs_reference.py writes it (make reference); edit the code -->"
    )


def _end(name: str) -> str:
    return f"<!-- END GENERATED {name} -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(info: FieldInfo) -> str:
    """The default as ``--help`` shows it (a URL without its password), JSON for lists and tables."""
    if info.is_required():
        return "none: required"
    value = info.get_default(call_default_factory=True)
    if isinstance(value, bool | dict | list):
        return f"`{json.dumps(value)}`"
    return f"`{redact(str(value))}`"


def _allowed(info: FieldInfo) -> str:
    annotation = info.annotation
    origin = get_origin(annotation)
    if origin is Literal:
        kind = ", ".join(f"`{choice}`" for choice in get_args(annotation))
    else:
        kind = _KINDS.get(origin or annotation, getattr(annotation, "__name__", str(annotation)))
    bounds = []
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge):
            bounds.append(f"≥ {item.ge:,}")
        elif isinstance(item, annotated_types.Gt):
            bounds.append(f"> {item.gt:,}")
        elif isinstance(item, annotated_types.Le):
            bounds.append(f"≤ {item.le:,}")
        elif isinstance(item, annotated_types.Lt):
            bounds.append(f"< {item.lt:,}")
        elif isinstance(item, annotated_types.MinLen):
            bounds.append(f"length ≥ {item.min_length:,}")
        elif isinstance(item, annotated_types.MaxLen):
            bounds.append(f"length ≤ {item.max_length:,}")
        elif pattern := getattr(item, "pattern", None):
            choices = _CHOICES.fullmatch(str(pattern))
            kind = ", ".join(f"`{c}`" for c in choices.group(1).split("|")) if choices else f"`{pattern}`"
    return ", ".join([kind, *bounds])


def _variables(kind: type[BaseSettings], field: str, info: FieldInfo) -> str:
    name = variable_of(kind, field)
    return f"`{name}`, `{name}{SUFFIX}`" if is_secret(info) else f"`{name}`"


def settings_reference() -> str:
    """One table per participant: variable, default, what it may be, what it does."""
    parts = []
    for kind, readers in PARTICIPANTS:
        inherited = set(BrokerSettings.model_fields) if kind is not BrokerSettings else set()
        parts += [
            f"### {readers}",
            "",
            f"`{kind.__module__}.{kind.__name__}`",
            "",
            "| variable | default | allowed | what |",
            "|---|---|---|---|",
        ]
        for field, info in kind.model_fields.items():
            if field in inherited:
                continue
            cells = (_variables(kind, field, info), _default(info), _allowed(info), info.description or "")
            parts.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
        parts.append("")
    return "\n".join(parts)


@dataclass(frozen=True)
class Verb:
    parser: argparse.ArgumentParser
    summary: str


def _verbs(parser: argparse.ArgumentParser, summary: str) -> Iterator[Verb]:
    """The parser and every parser below it, depth first, in the order `--help` lists them."""
    yield Verb(parser, summary)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            summaries = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, child in action.choices.items():
                yield from _verbs(child, summaries.get(name, ""))


@contextlib.contextmanager
def _plain_help() -> Iterator[None]:
    """argparse wraps at the terminal's width (COLUMNS) and may colour (3.14): neither, here."""
    saved = {name: os.environ.get(name) for name in ("COLUMNS", "NO_COLOR")}
    os.environ.update(COLUMNS=str(HELP_WIDTH + 2), NO_COLOR="1")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def cli_reference() -> str:
    """Each verb of `cqrs`: a heading, its one-line summary, and its `--help`."""
    parts = []
    with _plain_help():
        for verb in _verbs(cli.parser(), ""):
            parts += [f"### `{verb.parser.prog}`", ""]
            if verb.summary:
                parts += [verb.summary[0].upper() + verb.summary[1:] + ".", ""]
            parts += ["```text", verb.parser.format_help().rstrip(), "```", ""]
    return "\n".join(parts)


@dataclass(frozen=True)
class Generated:
    page: Path
    name: str
    make: Callable[[], str]


GENERATED = (
    Generated(ROOT / "docs" / "configuration.md", "settings", settings_reference),
    Generated(ROOT / "docs" / "cli.md", "cli", cli_reference),
)


class MarkersMissing(Exception):
    """A page has lost the markers its generated part lives between."""


def spliced(text: str, name: str, body: str) -> str:
    """``text`` with what lies between the markers ``name`` replaced by ``body``."""
    pattern = re.compile(re.escape(_begin(name)) + r"\n.*?" + re.escape(_end(name)), re.S)
    if len(pattern.findall(text)) != 1:
        raise MarkersMissing(f"expected the markers once each:\n{_begin(name)}\n{_end(name)}")
    return pattern.sub(lambda _: f"{_begin(name)}\n\n{body.strip()}\n\n{_end(name)}", text)


def expected(generated: Generated) -> str:
    """The page as the generator would write it."""
    try:
        return spliced(generated.page.read_text(encoding="utf-8"), generated.name, generated.make())
    except MarkersMissing as error:
        raise MarkersMissing(f"{generated.page.relative_to(ROOT)}: {error}") from None


def stale() -> list[Path]:
    return [each.page for each in GENERATED if expected(each) != each.page.read_text(encoding="utf-8")]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("action", choices=["write", "check"])
    args = parser.parse_args(argv)
    try:
        if args.action == "write":
            for each in GENERATED:
                each.page.write_text(expected(each), encoding="utf-8")
            return 0
        behind = stale()
    except MarkersMissing as error:
        print(f"docs_reference: {error}", file=sys.stderr)
        return 2
    for page in behind:
        print(f"{page.relative_to(ROOT)} differs from the code: run `make reference`", file=sys.stderr)
    return 1 if behind else 0


if __name__ == "__main__":
    sys.exit(main())
