"""Users of the pair's broker roles (cqrs_shared.messaging.access) on a test's own vhost.

with role_users(server, vhost_url, {"client": "client", "teller": "client"}) as users:
    users["teller"].url    # that user's URL on the vhost; users are removed on leaving
with role_users(server, vhost_url, {"ledger": "subscriber"}) as users:
    users["ledger"].queue  # subscriber.<its name>: a subscriber's role is made for its user
"""

import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from cqrs_client.messaging import topology
from cqrs_shared.messaging.access import Bounds, grant_commands, grantable, policy_commands
from tests.servers import Rabbitmqctl, rabbitmqctl


@dataclass(frozen=True)
class RoleUser:
    role: str
    name: str
    url: str

    @property
    def queue(self) -> str:
        """The queue a subscriber user may declare and read (and name others after)."""
        return topology.subscriber_queue(self.name)


def as_user(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    where = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{user}:{password}@{where}", parts.path, parts.query, ""))


def broker_ctl(server: str) -> Rabbitmqctl:
    ctl = rabbitmqctl(server)
    assert ctl is not None, f"rabbitmqctl cannot reach the broker at {urlsplit(server).hostname}"
    return ctl


@contextmanager
def role_users(server: str, vhost_url: str, roles: Mapping[str, str]) -> Iterator[dict[str, RoleUser]]:
    """A user per entry (label -> role) with unique name and password, permitted on ``vhost_url``'s
    vhost exactly as provisioning permits the role's user; deleted afterwards."""
    ctl = broker_ctl(server)
    vhost = urlsplit(vhost_url).path.lstrip("/")
    made: dict[str, RoleUser] = {}
    try:
        for label, role in roles.items():
            name, password = f"cqrs-test-{label}-{secrets.token_hex(4)}", secrets.token_hex(12)
            ctl("add_user", name, password)
            made[label] = RoleUser(role, name, as_user(vhost_url, name, password))
            for command in grant_commands(grantable(role, name), name, vhost):
                ctl(*command)
        yield made
    finally:
        for user in made.values():
            ctl("delete_user", user.name, check=False)


def bound_queues(server: str, vhost_url: str, bounds: Bounds) -> None:
    """The queue policies on ``vhost_url``'s vhost, with ``bounds``."""
    ctl = broker_ctl(server)
    for command in policy_commands(bounds, urlsplit(vhost_url).path.lstrip("/")):
        ctl(*command)


def connected_users(server: str, vhost_url: str) -> set[str]:
    """The users with a connection to ``vhost_url``'s vhost now."""
    vhost = urlsplit(vhost_url).path.lstrip("/")
    listed = broker_ctl(server)("list_connections", "--no-table-headers", "user", "vhost")
    rows = [line.split("\t") for line in listed.splitlines()]
    return {row[0] for row in rows if len(row) == 2 and row[1] == vhost}
