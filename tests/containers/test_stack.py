"""The container path end to end (`make test-containers`, infra/containers/check.sh).

docker-compose.yml is built and started by `make up`'s script, driven from this machine with the `cqrs`
command line, scaled to two command services, one of them killed; then all of it is removed. The
images are the official ones unless CQRS_*_IMAGE and CQRS_BASE_IMAGE say otherwise (check.sh sets the
stand-ins, as no registry is reachable here).
"""

import asyncio
import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import cast
from uuid import uuid4

import pytest

from cqrs_client.client import CqrsClient
from tests.delivery import created, events_of, visible
from tests.pair import ROOT, free_port
from tests.waiting import until

pytestmark = pytest.mark.timeout(900)  # a first build downloads wheels
UP_TIMEOUT = 900  # a first build downloads every wheel of both images
CUSTOMERS = 40


@dataclass
class Stack:
    env: dict[str, str]
    up_seconds: float

    @property
    def project(self) -> str:
        return self.env["COMPOSE_PROJECT_NAME"]

    @property
    def rabbitmq_url(self) -> str:
        return self.env["CQRS_RABBITMQ_URL"]

    @property
    def postgres_dsn(self) -> str:
        port = self.env["CQRS_POSTGRES_PORT"]
        return f"postgresql://cqrs_command:cqrs_command@127.0.0.1:{port}/cqrs"

    def script(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        return run(["bash", f"infra/containers/{name}", *args], self.env, UP_TIMEOUT)

    def compose(self, *args: str) -> subprocess.CompletedProcess[str]:
        line = '. infra/containers/compose.sh && "${COMPOSE[@]}" "$@"'
        return run(["bash", "-c", line, "compose", *args], self.env, 300)

    def cli(self, *args: str) -> dict[str, object]:
        done = run(["uv", "run", "--frozen", "cqrs", "--json", "--timeout", "30", *args], self.env, 60)
        assert done.returncode == 0, done.stdout + done.stderr
        parsed: dict[str, object] = json.loads(done.stdout)
        return parsed

    def containers(self, service: str) -> list[str]:
        """Ids of the service's running containers."""
        labels = [f"com.docker.compose.project={self.project}", f"com.docker.compose.service={service}"]
        filters = [part for label in labels for part in ("--filter", f"label={label}")]
        done = run(["docker", "ps", "-q", *filters], self.env, 30)
        return done.stdout.split()

    def containers_left(self) -> list[str]:
        label = f"label=com.docker.compose.project={self.project}"
        return run(["docker", "ps", "-a", "-q", "--filter", label], self.env, 30).stdout.split()

    def rabbitmqctl(self, *args: str) -> str:
        (broker,) = self.containers("rabbitmq")
        done = run(["docker", "exec", broker, "rabbitmqctl", "-q", *args], self.env, 60)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def inspect(self, container: str, template: str) -> str:
        return run(["docker", "inspect", "-f", template, container], self.env, 30).stdout.strip()


def run(argv: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def report(line: str) -> None:
    """A measured figure for check.sh's summary (CQRS_CHECK_REPORT), and for -s runs."""
    print(line)
    if path := os.environ.get("CQRS_CHECK_REPORT"):
        with Path(path).open("a") as out:
            out.write(line + "\n")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    project = f"cqrs-check-{secrets.token_hex(3)}"
    ports = {
        name: str(free_port())
        for name in ("RABBITMQ_PORT", "RABBITMQ_MANAGEMENT_PORT", "POSTGRES_PORT", "MONGODB_PORT")
    }
    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": project,
        "CQRS_COMMAND_IMAGE": os.environ.get("CQRS_COMMAND_IMAGE", f"{project}/command-service"),
        "CQRS_QUERY_IMAGE": os.environ.get("CQRS_QUERY_IMAGE", f"{project}/query-service"),
        **{f"CQRS_{name}": port for name, port in ports.items()},
        # The operators' user, as docker-compose.yml's definitions make it (default password).
        "CQRS_RABBITMQ_URL": f"amqp://cqrs-admin:cqrs-admin@127.0.0.1:{ports['RABBITMQ_PORT']}/cqrs",
    }
    started = time.monotonic()
    stack = Stack(env, 0.0)
    up = stack.script("up.sh")
    try:
        assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]
        stack.up_seconds = time.monotonic() - started
        report(f"make up: every container healthy and the pair answering after {stack.up_seconds:.0f} s")
        yield stack
    finally:
        down = stack.script("down.sh", "--volumes", "--timeout", "60")
        left = stack.containers_left()
        assert down.returncode == 0, down.stderr
        assert left == [], f"containers left after make down: {left}"


def test_up_runs_every_service_healthy_and_the_migration_once(stack: Stack) -> None:
    for service in ("rabbitmq", "postgres", "mongodb", "command-service", "query-service"):
        (container,) = stack.containers(service)
        assert stack.inspect(container, "{{.State.Health.Status}}") == "healthy", service
    assert stack.containers("migrate") == []  # it ran and exited
    logs = stack.compose("logs", "--no-color", "migrate").stdout
    assert "database schema up to date" in logs
    assert stack.inspect(stack.containers("command-service")[0], "{{.Config.User}}") == "10001:10001"


def test_the_broker_has_a_user_per_role_no_guest_and_each_service_connects_as_its_own(stack: Stack) -> None:
    users = dict(
        line.split("\t") for line in stack.rabbitmqctl("list_users", "--no-table-headers").splitlines()
    )
    assert users == {
        "cqrs-admin": "[administrator, impersonator]",
        "cqrs-command": "[]",
        "cqrs-query": "[]",
        "cqrs-client": "[]",
    }
    policies = stack.rabbitmqctl("list_policies", "-p", "cqrs", "--no-table-headers")
    work = next(line for line in policies.splitlines() if "cqrs-work-queues" in line)
    assert work.endswith('{"max-length":100000,"overflow":"reject-publish"}\t0'), work
    listed = stack.rabbitmqctl("list_connections", "--no-table-headers", "user", "vhost")
    rows = [line.split("\t") for line in listed.splitlines()]
    assert {row[0] for row in rows if row[1:] == ["cqrs"]} == {"cqrs-command", "cqrs-query"}, listed


def test_the_cli_drives_the_pair_in_containers(stack: Stack) -> None:
    customer = stack.cli("customer", "create", "--name", "Ada Lovelace", "--locale", "en-GB")
    assert customer["status"] == "accepted", customer
    customer_id = str(customer["id"])
    preferred = stack.cli("customer", "make-preferred", customer_id)
    account = stack.cli("account", "open", customer_id, "--currency", "EUR")
    assert account["status"] == "accepted", account
    account_id = str(account["id"])
    deposits = [stack.cli("account", "deposit", account_id, amount) for amount in ("10.00", "2.50", "0.25")]
    tokens = [str(reply["token"]) for reply in deposits]

    view = stack.cli("account", "get", account_id, *[arg for t in tokens for arg in ("--after-token", t)])
    assert view["balance"] == "12.75", view
    history = stack.cli("account", "history", account_id, "--after-token", tokens[-1])
    items = cast(list[dict[str, str]], history["items"])
    assert [item["amount"] for item in items] == ["0.25", "2.50", "10.00"], history
    shown = stack.cli("customer", "get", customer_id, "--after-token", str(preferred["token"]))
    assert shown["is_preferred"] is True, shown
    listed = stack.cli("customer", "preferred")
    assert customer_id in json.dumps(listed)


def test_scaled_replicas_share_the_commands_and_the_queries(stack: Stack) -> None:
    scaling = ("--scale", "command-service=2", "--scale", "query-service=2", "--no-recreate")
    scaled = stack.script("up.sh", *scaling)
    assert scaled.returncode == 0, scaled.stdout[-4000:] + scaled.stderr[-4000:]
    commands, queries = stack.containers("command-service"), stack.containers("query-service")
    assert (len(commands), len(queries)) == (2, 2)

    asyncio.run(create_customers(stack, CUSTOMERS))

    for replicas, queue in ((commands, "command-service.commands"), (queries, "query-service.rpc")):
        for replica in replicas:
            logs = run(["docker", "logs", replica], stack.env, 30).stderr
            assert queue in logs, f"{replica} took nothing off {queue}"


def test_a_killed_command_service_is_restarted_and_no_command_is_lost(stack: Stack) -> None:
    victim = stack.containers("command-service")[0]
    restarts = int(stack.inspect(victim, "{{.RestartCount}}"))
    pid = stack.inspect(victim, "{{.State.Pid}}")

    async def kill_while_sending() -> float:
        sending = asyncio.create_task(create_customers(stack, CUSTOMERS))
        await asyncio.sleep(0.3)
        run(["kill", "-KILL", pid], stack.env, 10)  # a crash, not a stop: the restart policy applies
        killed_at = time.monotonic()
        await sending
        return killed_at

    killed = asyncio.run(kill_while_sending())
    while time.monotonic() < killed + 120:
        health = stack.inspect(victim, "{{.RestartCount}} {{.State.Health.Status}}")
        if health == f"{restarts + 1} healthy":
            break
        time.sleep(1)
    assert health == f"{restarts + 1} healthy", health
    report(f"a killed command service: restarted and healthy again {time.monotonic() - killed:.0f} s later")


async def create_customers(stack: Stack, count: int) -> None:
    """``count`` new customers, each sent until it is answered, stored once, and visible in the view."""
    ids = [uuid4() for _ in range(count)]
    async with CqrsClient.connect(stack.rabbitmq_url, timeout=5) as client:
        await asyncio.gather(*(created(client, customer_id) for customer_id in ids))
        for customer_id in ids:
            await until(partial(visible, client, customer_id), timeout=60, what=f"{customer_id} in the view")
    assert await events_of(stack.postgres_dsn, ids) == count


def test_a_stopped_command_service_drains_and_exits_0(stack: Stack) -> None:
    leaving, staying = stack.containers("command-service")

    async def stop_while_sending() -> subprocess.CompletedProcess[str]:
        sending = asyncio.create_task(create_customers(stack, CUSTOMERS))
        await asyncio.sleep(0.3)
        # SIGTERM, then the stop grace period compose gives it: it stops taking commands, finishes those
        # in flight, and exits; the other replica takes the rest.
        stopped = await asyncio.to_thread(run, ["docker", "stop", "-t", "45", leaving], stack.env, 60)
        await sending
        return stopped

    stopped = asyncio.run(stop_while_sending())
    assert stopped.returncode == 0, stopped.stderr
    assert stack.inspect(leaving, "{{.State.Status}} {{.State.ExitCode}}") == "exited 0"
    assert stack.containers("command-service") == [staying]
    logs = run(["docker", "logs", leaving], stack.env, 30).stderr
    assert "finishing in-flight commands" in logs


def test_each_image_carries_its_oci_annotations(stack: Stack) -> None:
    for service in ("command-service", "query-service"):
        container = stack.containers(service)[0]  # replicas, after the scaling test, share one image
        labels = stack.inspect(container, "{{json .Config.Labels}}")
        assert f'"org.opencontainers.image.title":"{service}"' in labels, labels
        assert '"org.opencontainers.image.licenses":"Apache-2.0"' in labels, labels
        assert '"org.opencontainers.image.version":"0.1.0"' in labels, labels
