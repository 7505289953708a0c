"""What every parser of ``cqrs`` shares: the --json and --timeout options, usage errors as an exception,
choices named only when asked for. Imports argparse and nothing heavy: ``cqrs --help`` stays quick.

    parser = CliParser(prog="cqrs", parents=[options()])
    verb.add_argument("role", metavar="ROLE", choices=Deferred(lambda: access.GRANTABLE))
"""

import argparse
import math
from collections.abc import Callable, Collection, Iterator
from typing import NoReturn, TypeAlias

# The CLI's own default: of every wait for a reply, a connection or an HTTP answer.
DEFAULT_TIMEOUT_SECONDS = 10.0

Areas: TypeAlias = "argparse._SubParsersAction[CliParser]"  # what add_parsers adds an area to


class UsageError(Exception):
    """A command line argparse cannot take: ``str()`` is the verb and the reason, ``usage`` the verb's
    usage line."""

    def __init__(self, prog: str, reason: str, usage: str) -> None:
        super().__init__(f"{prog}: {reason}")
        self.usage = usage
        self.said = f"{usage}{prog}: error: {reason}\n"  # what argparse itself prints


class CliParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are raised, so that ``main`` reports them (as JSON with --json)
    and chooses the exit code; its subparsers are of this class too (argparse's default)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, message, self.format_usage())


class Deferred(Collection[str]):
    """Choices computed when first needed (a parse, a verb's --help, completion), so that building
    the parsers imports nothing: give the argument a ``metavar``, or argparse lists them at once."""

    def __init__(self, compute: Callable[[], Collection[str]]) -> None:
        self._compute = compute
        self._items: tuple[str, ...] | None = None

    def _all(self) -> tuple[str, ...]:
        if self._items is None:
            self._items = tuple(self._compute())
        return self._items

    def __contains__(self, item: object) -> bool:
        return item in self._all()

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def options(*, timeout: bool = True) -> CliParser:
    """The options a verb takes, before or after it: a parent of each parser. ``timeout=False`` for a
    verb that waits for nothing."""
    common = CliParser(add_help=False)
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print one JSON document on stdout (a failure too: {status, error: {code, message, fields}})",
    )
    if not timeout:
        return common
    common.add_argument(
        "--timeout",
        type=_seconds,
        default=argparse.SUPPRESS,
        metavar="SECONDS",
        help="how long to wait for the broker, a reply or a service's HTTP answer "
        f"(default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    return common


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {text!r}")
    return value
