"""Where the test servers come from: environment variables, else testcontainers, else a clear failure.

`make test` provisions local servers (infra/provision.sh) and exports the three CQRS_* URLs. Where
they are not set and a Docker engine answers, testcontainers starts the same official images as
docker-compose.yml. Nothing is ever skipped: a missing server fails the run and says how to start it.
"""

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

IMAGES = {
    "rabbitmq": "rabbitmq:4.1.4-management-alpine",
    "postgres": "postgres:17.6-alpine",
    "mongodb": "mongo:8.0.13",
}
HOW_TO_START = (
    "run `make test` (it provisions local servers), or `bash infra/provision.sh` and set "
    "CQRS_RABBITMQ_URL, CQRS_POSTGRES_DSN and CQRS_MONGODB_URL, or start a Docker engine"
)


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
def _container(kind: str) -> Iterator[str]:
    if kind == "rabbitmq":
        from testcontainers.rabbitmq import RabbitMqContainer

        with RabbitMqContainer(IMAGES[kind]) as rabbit:
            host, port = rabbit.get_container_host_ip(), rabbit.get_exposed_port(5672)
            yield f"amqp://guest:guest@{host}:{port}/"
    elif kind == "postgres":
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer(IMAGES[kind], driver=None) as postgres:
            yield postgres.get_connection_url()
    else:
        from testcontainers.mongodb import MongoDbContainer

        with MongoDbContainer(IMAGES[kind]) as mongo:
            yield mongo.get_connection_url()
