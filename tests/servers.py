"""Where the test servers come from: environment variables, else testcontainers, else a clear failure.

Where the three CQRS_* URLs are not set and a Docker engine answers, each server is a generic
testcontainer of the image docker-compose.yml pins (CQRS_TEST_*_IMAGE overrides it), ready once the
project's own client has talked to it (tests/readiness.py). Nothing is ever skipped.
"""

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from testcontainers.core.container import DockerContainer

from cqrs_shared.messaging.access import ROLES
from tests.readiness import Probe, amqp_answers, fail_with_logs, mongodb_answers, postgres_answers, wait_ready

HOW_TO_START = (
    "run `make test` (it provisions local servers where no Docker engine answers), or "
    "`bash infra/provision.sh` and set CQRS_RABBITMQ_URL, CQRS_POSTGRES_DSN and CQRS_MONGODB_URL, "
    "or start a Docker engine"
)


@dataclass(frozen=True)
class Kind:
    """One server as a container: its image, port, environment, URL and the probe that says it is up."""

    image_variable: str
    default_image: str  # the same as docker-compose.yml's
    port: int
    url: Callable[[str, int], str]
    probe: Probe
    env: dict[str, str] = field(default_factory=dict)

    @property
    def image(self) -> str:
        return os.environ.get(self.image_variable) or self.default_image


KINDS = {
    "rabbitmq": Kind(
        "CQRS_TEST_RABBITMQ_IMAGE",
        "rabbitmq:4.1.4-management-alpine",
        5672,
        lambda host, port: f"amqp://cqrs-admin:cqrs-admin@{host}:{port}/",
        amqp_answers,
        # Its first user in place of guest (RabbitMQ reads these itself); the tests make the roles' own.
        {"RABBITMQ_DEFAULT_USER": "cqrs-admin", "RABBITMQ_DEFAULT_PASS": "cqrs-admin"},
    ),
    "postgres": Kind(
        "CQRS_TEST_POSTGRES_IMAGE",
        "postgres:17.6-alpine",
        5432,
        lambda host, port: f"postgresql://cqrs_command:cqrs_command@{host}:{port}/cqrs",
        postgres_answers,
        {"POSTGRES_USER": "cqrs_command", "POSTGRES_PASSWORD": "cqrs_command", "POSTGRES_DB": "cqrs"},
    ),
    "mongodb": Kind(
        "CQRS_TEST_MONGODB_IMAGE",
        "mongo:8.0.13",
        27017,
        lambda host, port: f"mongodb://{host}:{port}/",
        mongodb_answers,
    ),
}
LOOPBACK = "127.0.0.1"
# Broker URL -> its test container, so that rabbitmqctl runs inside it and not on this host.
_BROKERS: dict[str, DockerContainer] = {}


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False)
    return probe.returncode == 0


@contextmanager
def server_url(variable: str, kind: str) -> Iterator[str]:
    """The URL of a server: ``$variable`` if set, else a testcontainer of ``kind``."""
    given = os.environ.get(variable)
    if given:
        yield given
        return
    if not docker_available():
        pytest.fail(f"{kind}: {variable} is not set and no Docker engine answers; {HOW_TO_START}")
    with _container(kind) as url:
        yield url


@contextmanager
def _container(name: str) -> Iterator[str]:
    """A started container of ``name`` that answers its probe; removed on leaving, whatever happens."""
    kind = KINDS[name]
    container = DockerContainer(kind.image).with_envs(**kind.env)
    # Published on loopback only (a random port): test servers are not for the machine's neighbours.
    # docker-py takes (address, None) for "this address, any port"; testcontainers' with_bind_ports
    # takes a port only, so the mapping is set on its `ports` table directly.
    container.ports[str(kind.port)] = (LOOPBACK, None)  # type: ignore[assignment]
    with container:
        url = _url(container, kind)
        wait_ready(container, kind.image, url, kind.probe)
        if name == "rabbitmq":
            _BROKERS[url] = container
            _as_provisioned(container, kind.image)
        try:
            yield url
        finally:
            _BROKERS.pop(url, None)


def _as_provisioned(container: DockerContainer, image: str) -> None:
    """The broker as infra/provision.sh makes the local one: the consistent-hash exchange of the
    query service's partitions (README: Scaling out), the body limit (max_message_size), and the
    first user given the admin role's tags (an administrator, and the one role that impersonates:
    cqrs dlq replay sends a letter back as it was published; the image's own first user is an
    administrator only)."""
    steps = [
        ["rabbitmq-plugins", "-q", "enable", "rabbitmq_consistent_hash_exchange"],
        ["rabbitmqctl", "eval", "application:set_env(rabbit, max_message_size, 1048576)."],
        ["rabbitmqctl", "set_user_tags", "cqrs-admin", *ROLES["admin"].tags],
    ]
    for step in steps:
        status, output = container.exec(step)
        if status != 0:
            fail_with_logs(
                container, image, f"{' '.join(step[:2])} exited {status}: {output.decode(errors='replace')}"
            )


def _url(container: DockerContainer, kind: Kind) -> str:
    try:
        return kind.url(LOOPBACK, container.get_exposed_port(kind.port))
    except (TimeoutError, ConnectionError) as error:  # testcontainers: not running, or no port mapped
        why = f"no port {kind.port} to reach ({type(error).__name__}: {error})"
        fail_with_logs(container, kind.image, why)


class RabbitmqctlFailed(Exception):
    """rabbitmqctl exited non-zero; the message holds its command line and output."""


@dataclass(frozen=True)
class Rabbitmqctl:
    """``rabbitmqctl -q ...`` against one broker: inside its test container, or this host's own."""

    container: DockerContainer | None

    def __call__(self, *args: str, check: bool = True) -> str:
        """Its output (stdout and stderr)."""
        command = ["rabbitmqctl", "-q", *args]
        if self.container is None:
            done = subprocess.run(command, capture_output=True, timeout=60, check=False)
            status, output = done.returncode, done.stdout + done.stderr
        else:
            status, output = self.container.exec(command)
        if check and status != 0:
            raise RabbitmqctlFailed(f"{' '.join(command)} exited {status}: {output.decode(errors='replace')}")
        return output.decode(errors="replace")


def rabbitmqctl(url: str) -> Rabbitmqctl | None:
    """How to run rabbitmqctl on ``url``'s broker; None where this machine cannot.

    A test container runs it inside; a broker on this host's default port (infra/provision.sh's) is
    the one the host's rabbitmqctl talks to. Any other broker (remote, or a compose stack's on another
    port) is out of reach: rabbitmqctl would act on the wrong node.
    """
    if url in _BROKERS:
        return Rabbitmqctl(_BROKERS[url])
    parts = urlsplit(url)
    local = parts.hostname in {"127.0.0.1", "localhost"} and parts.port in {None, 5672}
    if local and shutil.which("rabbitmqctl") is not None:
        return Rabbitmqctl(None)
    return None
