"""``cqrs`` after the parse, for the verbs that talk to the pair: read the settings, connect, run the
verb, and turn each failure into one report and its exit code (the table is cli/exits.py's)."""

import argparse
import asyncio
import logging

from aiormq.exceptions import ChannelAccessRefused
from pydantic import ValidationError

from cqrs_client.client import CqrsClient
from cqrs_client.errors import BrokerUnavailable, RemoteError, ReplayRefused, RequestTimeout
from cqrs_contracts import CommandRejected, ErrorCode, ErrorInfo
from cqrs_shared.cli import ops, output, projection, requests, transfers
from cqrs_shared.cli.configuration import ConfigurationError, read
from cqrs_shared.cli.exits import EXIT_CONFIGURATION, EXIT_ERROR, EXIT_REJECTED, EXIT_UNAVAILABLE
from cqrs_shared.cli.parsers import ops as ops_parsers
from cqrs_shared.cli.parsers import projection as projection_parsers
from cqrs_shared.cli.parsers import transfer as transfer_parsers
from cqrs_shared.cli.report import failure
from cqrs_shared.messaging.parsing import field_errors
from cqrs_shared.runtime.settings import BrokerSettings


def run(args: argparse.Namespace, as_json: bool, timeout: float) -> int:
    # The CLI reports failures itself, once, in its own words; library logs would repeat them.
    logging.disable(logging.ERROR)
    try:
        url = str(read(BrokerSettings).rabbitmq_url)
        return asyncio.run(_verb(args, url, as_json, timeout))
    except ConfigurationError as error:
        failure("configuration_error", str(error), as_json, label="configuration error")
        return EXIT_CONFIGURATION
    except ValidationError as error:
        info = ErrorInfo(
            code=ErrorCode.VALIDATION_ERROR, message="invalid arguments", fields=field_errors(error)
        )
        output.show(CommandRejected(command_id=None, error=info), as_json)
        return EXIT_REJECTED
    except RemoteError as error:
        output.error(error.info, as_json)
        return requests.exit_code(error.info.code)
    except (RequestTimeout, BrokerUnavailable) as error:
        code = "timeout" if isinstance(error, RequestTimeout) else "broker_unavailable"
        failure(code, str(error), as_json)
        return EXIT_UNAVAILABLE
    except ReplayRefused as error:
        failure("replay_refused", str(error), as_json, rejected=True)
        return EXIT_REJECTED
    except ChannelAccessRefused as error:  # this URL's user may not (docs/security.md: Users and permissions)
        why = f"{error} (cqrs {args.area} needs more than this user's permissions; operators: the admin role)"
        failure("access_refused", why, as_json, rejected=True)
        return EXIT_REJECTED
    except KeyboardInterrupt:
        return EXIT_ERROR


async def _verb(args: argparse.Namespace, url: str, as_json: bool, timeout: float) -> int:
    if args.area in ops_parsers.AREAS:
        return await ops.run(args, url, as_json, timeout)
    if args.area == projection_parsers.AREA:
        async with CqrsClient.connect(url, timeout=timeout) as client:
            return await projection.run(args, client, as_json)
    if args.area == transfer_parsers.AREA:
        async with CqrsClient.connect(url, timeout=timeout) as client:
            return await transfers.run(args, client, as_json)
    message = requests.message(args)  # invalid arguments are refused before connecting
    async with CqrsClient.connect(url, timeout=timeout) as client:
        return await requests.run(args, message, client, as_json)
