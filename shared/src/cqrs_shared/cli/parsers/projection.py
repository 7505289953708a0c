"""The parsers of ``cqrs projection rebuild|status|verify``; cli/projection.py runs them."""

from cqrs_shared.cli.parsers.common import Areas, CliParser

AREA = "projection"


def add_parsers(areas: Areas, common: CliParser) -> None:
    area = areas.add_parser(AREA, parents=[common], help="the read model: rebuild, status, verify")
    verbs = area.add_subparsers(dest="verb", required=True)
    rebuild = verbs.add_parser(
        "rebuild", parents=[common], help="rebuild the read model from the event store"
    )
    rebuild.add_argument("--no-wait", action="store_true", help="start it and return (follow with status)")
    verbs.add_parser("status", parents=[common], help="the read model's generation and the last rebuild")
    verify = verbs.add_parser("verify", parents=[common], help="compare the read model with the event store")
    verify.add_argument("--sample", type=int, metavar="N", help="check N streams chosen at random")
