"""The parser of ``cqrs completion bash|zsh``; cli/completion.py writes the script."""

from cqrs_shared.cli.parsers.common import Areas

AREA = "completion"
SHELLS = ("bash", "zsh")


def add_parsers(areas: Areas) -> None:
    area = areas.add_parser(
        AREA,
        help="print a shell completion script",
        description="Print a completion script for the shell; load it with "
        "`source <(cqrs completion bash)` (or zsh), or save it: bash-completion's "
        "~/.local/share/bash-completion/completions/cqrs.",
    )
    area.add_argument("shell", choices=SHELLS, help="the shell: %(choices)s")
