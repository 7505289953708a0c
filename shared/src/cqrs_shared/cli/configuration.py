"""The settings a verb of ``cqrs`` reads from the environment, once, after the parse.

A missing or malformed one is a ConfigurationError naming its variable: runtime.settings.load prints
and exits 2, as a service must; the command line reports it in its own words and exit code (6), as
JSON with --json.

    url = str(read(BrokerSettings).rabbitmq_url)   # or ConfigurationError("CQRS_RABBITMQ_URL: not set ...")
"""

import os
from collections.abc import Iterator
from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsError

from cqrs_shared.runtime.secret_files import SecretFileError, file_variable_in_use

S = TypeVar("S", bound=BaseSettings)


class ConfigurationError(Exception):
    """A setting that cannot be used; the message names its variable and says why (never its value)."""


def read(kind: type[S]) -> S:
    try:
        return kind()
    except SecretFileError as error:
        raise ConfigurationError(str(error)) from None
    except ValidationError as error:
        raise ConfigurationError("; ".join(_problems(kind, error))) from None
    except SettingsError as error:  # a value pydantic-settings cannot even decode
        raise ConfigurationError(str(error)) from None


def _problems(kind: type[BaseSettings], error: ValidationError) -> Iterator[str]:
    """As runtime.settings.load words them: a value read from a file is named by its _FILE variable."""
    prefix = str(kind.model_config.get("env_prefix", ""))
    for item in error.errors(include_url=False):
        field = "_".join(str(part) for part in item["loc"])
        name = file_variable_in_use(kind, field, os.environ) or f"{prefix}{field}".upper()
        yield f"{name}: {'not set (required)' if item['type'] == 'missing' else item['msg']}"
