"""Secrets from files: a setting marked ``Secret`` may be given as ``CQRS_<NAME>_FILE=/path``.

That is how Docker and Kubernetes mount secrets (``/run/secrets/...``), and a file keeps the value out
of ``docker inspect``, ``/proc/<pid>/environ`` and shell history. Given both ways, or unreadable, it is a
configuration error naming the variable, never showing what the file holds.

    rabbitmq_url: Annotated[AmqpDsn, Secret()] = Field(...)   # CQRS_RABBITMQ_URL or CQRS_RABBITMQ_URL_FILE
"""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

SUFFIX = "_FILE"


class Secret:
    """Marks a setting that holds a secret: it may come from a file, and is never shown."""


class SecretFileError(Exception):
    """A ``*_FILE`` variable that cannot be used; the message names it and says why, without the content."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"{variable}: {reason}")
        self.variable = variable
        self.reason = reason


def is_secret(info: FieldInfo) -> bool:
    return any(isinstance(item, Secret) for item in info.metadata)


def variable_of(settings_cls: type[BaseSettings], field: str) -> str:
    """The environment variable of ``field``: ``CQRS_RABBITMQ_URL`` for ``rabbitmq_url``."""
    return f"{settings_cls.model_config.get('env_prefix', '')}{field}".upper()


def file_variable_in_use(
    settings_cls: type[BaseSettings], field: str, environ: Mapping[str, str]
) -> str | None:
    """``CQRS_<NAME>_FILE`` when ``field`` is a secret and that variable is set (not empty), else None."""
    info = settings_cls.model_fields.get(field)
    if info is None or not is_secret(info):
        return None
    variable = variable_of(settings_cls, field) + SUFFIX
    return variable if _lookup(environ, variable) else None


def _lookup(environ: Mapping[str, str], name: str) -> str:
    """The variable's value, "" when unset; names are matched ignoring case, as pydantic-settings does."""
    wanted = name.lower()
    return next((value for key, value in environ.items() if key.lower() == wanted), "")


def read_secret(variable: str, path: str) -> str:
    """The file's text less its trailing newline(s); SecretFileError when it cannot be used."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SecretFileError(variable, f"{path} is not UTF-8 text") from None
    except OSError as error:
        raise SecretFileError(
            variable, f"cannot read {path}: {error.strerror or type(error).__name__}"
        ) from None
    value = text.rstrip("\r\n")
    if not value:
        raise SecretFileError(variable, f"{path} is empty")
    return value


class SecretFiles(PydanticBaseSettingsSource):
    """The settings source: each ``Secret`` setting whose ``*_FILE`` variable is set, read from its file."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None = None) -> None:
        super().__init__(settings_cls)
        self._environ = os.environ if environ is None else environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        variable = variable_of(self.settings_cls, field_name)
        path = _lookup(self._environ, variable + SUFFIX) if is_secret(field) else ""
        if not path:
            return None, field_name, False
        if _lookup(self._environ, variable):
            raise SecretFileError(variable + SUFFIX, f"{variable} is set too; give one of the two")
        return read_secret(variable + SUFFIX, path), field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, info in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(info, name)
            if value is not None:
                values[key] = value
        return values
