"""``cqrs``: the pair's command line. Talks to the services through RabbitMQ (and ``status`` to their HTTP).

Prints for people by default and one JSON document with ``--json``. Building the parsers imports only
argparse (``cqrs --help`` in well under 0.3 s); what a verb needs is imported once it is parsed.
"""

import argparse
import sys
from collections.abc import Sequence

from cqrs_shared.cli import exits
from cqrs_shared.cli.parsers import broker, completion, ops, pair, projection, transfer
from cqrs_shared.cli.parsers.common import DEFAULT_TIMEOUT_SECONDS, CliParser, UsageError, options
from cqrs_shared.cli.report import failure

DISTRIBUTION = "cqrs-shared"
ENVIRONMENT = """\
environment:
  CQRS_RABBITMQ_URL       required (not for broker, completion): the AMQP URL with your user and the
                          vhost, amqp://USER:PASSWORD@HOST:5672/cqrs (amqps://... for TLS; for a
                          cluster, one URL per node separated by commas); a client's user sends
                          commands and queries, dlq, status and projection need an operator's
  CQRS_RABBITMQ_URL_FILE  a file holding that URL instead (a Docker or Kubernetes secret); not both
  CQRS_COMMAND_HTTP_URL   status: the command service's HTTP endpoint (default http://127.0.0.1:8081)
  CQRS_QUERY_HTTP_URL     status: the query service's HTTP endpoint (default http://127.0.0.1:8082)
  broker definitions reads CQRS_RABBITMQ_<ROLE>_PASSWORD[_FILE], CQRS_QUEUE_MAX_LENGTH and
  CQRS_DEAD_LETTER_MAX_LENGTH (cqrs broker definitions --help)"""


class _Version(argparse.Action):
    """--version: the installed distribution's, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[object] | None,
        option_string: str | None = None,
    ) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version(DISTRIBUTION)
        except PackageNotFoundError:
            found = f"unknown ({DISTRIBUTION} is not installed)"
        print(f"{parser.prog} {found}")
        parser.exit()


def parser() -> argparse.ArgumentParser:
    """The whole ``cqrs`` command line, every verb (tools/docs_reference.py writes docs/cli.md from it)."""
    common = options()
    top = CliParser(
        prog="cqrs",
        parents=[common],
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog=f"{exits.described()}\n\n{ENVIRONMENT}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action=_Version, help="print the installed version and exit")
    areas = top.add_subparsers(dest="area", required=True)
    pair.add_parsers(areas, common)
    transfer.add_parsers(areas, common)
    ops.add_parsers(areas, common)
    projection.add_parsers(areas, common)
    broker.add_parsers(areas)
    completion.add_parsers(areas)
    return top


_parser = parser  # the name tools/docs_reference.py calls


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    command_line = parser()
    try:
        args = command_line.parse_args(given)
    except UsageError as error:
        sys.stderr.write(error.said)
        if "--json" in given:
            failure("usage_error", str(error), as_json=True)
        return exits.EXIT_USAGE
    as_json: bool = getattr(args, "json", False)
    if args.area == completion.AREA:
        from cqrs_shared.cli.completion import script

        sys.stdout.write(script(args.shell, command_line))
        return exits.EXIT_OK
    if args.area == broker.AREA:  # provisioning: needs no broker
        from cqrs_shared.cli import broker as provisioning

        return provisioning.run(args, as_json=as_json)
    # The broker's client, pydantic, the contracts: imported here, once the command line is good.
    from cqrs_shared.cli import run

    return run.run(args, as_json, getattr(args, "timeout", DEFAULT_TIMEOUT_SECONDS))


if __name__ == "__main__":
    sys.exit(main())
