"""The parsers of `cqrs`: quick to build (argparse only), an explanation for every argument, the
exit codes and the environment in --help, the installed version, defaults that agree with the code."""

import argparse
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version

from cqrs_shared.cli import exits
from cqrs_shared.cli.main import ENVIRONMENT, parser
from cqrs_shared.cli.parsers import broker
from cqrs_shared.cli.status import StatusSettings
from cqrs_shared.messaging import access

HEAVY = ("aio_pika", "aiormq", "aiohttp", "pydantic", "pydantic_settings")


def cqrs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60, check=False)


def every_parser(top: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield top
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from every_parser(child)


def test_building_the_parsers_imports_neither_the_broker_client_nor_pydantic() -> None:
    probe = (
        "import sys; from cqrs_shared.cli.main import parser; parser().format_help(); "
        f"print([name for name in {HEAVY!r} if name in sys.modules])"
    )
    done = cqrs("-c", probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_cqrs_help_imports_neither_aio_pika_nor_pydantic() -> None:
    done = cqrs("-X", "importtime", "-m", "cqrs_shared.cli", "--help")
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "cqrs_shared.cli.main" in imported
    assert not {name for name in imported if name.split(".")[0] in HEAVY}


def test_every_argument_of_every_verb_says_what_it_is() -> None:
    unexplained = [
        f"{verb.prog} {action.option_strings or action.dest}"
        for verb in every_parser(parser())
        for action in verb._actions
        if not isinstance(action, argparse._SubParsersAction) and not action.help
    ]
    assert unexplained == []


def test_help_ends_with_the_exit_codes_and_the_environment() -> None:
    shown = parser().format_help()
    for code, meaning in exits.TABLE:
        assert f"  {code}  {meaning}" in shown
    for variable in ("CQRS_RABBITMQ_URL ", "CQRS_RABBITMQ_URL_FILE", "CQRS_COMMAND_HTTP_URL"):
        assert variable in shown
    codes = [code for code, _ in exits.TABLE]
    assert codes == sorted(set(codes))
    assert exits.EXIT_USAGE == 2  # argparse's own, for a command line it cannot parse


def test_version_is_the_installed_distributions() -> None:
    done = cqrs("-m", "cqrs_shared.cli", "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"cqrs {version('cqrs-shared')}\n"


def test_defaults_written_in_the_parsers_agree_with_the_code_they_name() -> None:
    assert broker.VHOST == access.VHOST
    definitions = parser().parse_args(["broker", "definitions", "--out", "-"])
    assert definitions.vhost == access.VHOST
    shown = " ".join(
        next(p for p in every_parser(parser()) if p.prog.endswith("definitions")).format_help().split()
    )
    assert f"else {access.Bounds.work:,})" in shown
    assert f"else {access.Bounds.dead_letter:,})" in shown
    for name, info in StatusSettings.model_fields.items():
        if name.endswith("_http_url"):
            assert f"CQRS_{name.upper()}" in ENVIRONMENT
            assert f"(default {str(info.default).rstrip('/')})" in ENVIRONMENT


def test_a_grant_names_the_roles_of_the_access_table() -> None:
    grant = next(p for p in every_parser(parser()) if p.prog.endswith("grant"))
    assert ", ".join(access.GRANTABLE) in " ".join(grant.format_help().split())
    assert (
        parser().parse_args(["broker", "grant", access.GRANTABLE[0], "someone"]).role == access.GRANTABLE[0]
    )
