"""Who may do what on the broker: the pair's RabbitMQ roles and queue bounds, built from topology's
names, given as a definitions document or as rabbitmqctl commands (pure: no I/O).

    document = definitions([Account(ROLES["client"], "cqrs-client", password_hash("pw", salt))])
    grant_commands(ROLES["client"], "teller", VHOST)  # [["set_user_tags", "teller"], ...]
    grant_commands(grantable("subscriber", "ledger"), "ledger")  # a role made for its user

Permissions are regexes over resource names ("^$" matches none; the default exchange is named
``amq.default``). What RabbitMQ 3.10 checks, measured (tests/e2e/test_access.py): direct reply-to
needs no configure or read permission at all; declaring a queue with a dead-letter exchange needs
read on the queue and write on that exchange; a binding needs write on the queue and read on the
exchange; replies, retries and requests to a queue by name are writes on ``amq.default``. On a
topic exchange a binding's key is checked against the topic permission's read pattern (a user with
no topic permission on it may bind with any key), a publish's routing key against its write pattern;
a passive declare of an exchange needs no permission; an exchange declared with an alternate exchange
needs more than read on that one (a subscriber's, falling back to cqrs.events, is refused).
"""

import base64
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cqrs_client.messaging import topology
from cqrs_contracts import STREAM_TYPES, Command
from cqrs_shared.messaging.parsing import members

VHOST = "cqrs"
DEFAULT_EXCHANGE = "amq.default"
NOTHING = "^$"
EVERYTHING = ".*"
HASHING = "rabbit_password_hashing_sha256"
COMMAND_TYPES = tuple(sorted(str(model.model_fields["type"].default) for model in members(Command)))
WORK_QUEUES = (
    topology.COMMAND_QUEUE,
    topology.STREAM_QUEUE,
    topology.TRANSFER_QUEUE,
    topology.EVENT_QUEUE,
    topology.QUERY_QUEUE,
    topology.OPERATIONS_QUEUE,
)
# topology.dead_letter_queue(q) and topology.retry_queue(q, delay); tests/unit/test_access.py checks.
PARKED = r"(\.dlq|\.retry\..+)"
# The event queue, or its partitions (topology.event_partition): query-service.events.0, .1, ...
PARTITIONED = (topology.EVENT_QUEUE,)
PARTITION = r"(\.[0-9]+)?"
# Each query replica's own queue, for the others' announcements (topology.replica_queue).
REPLICA_QUEUES = topology.replica_queue("").replace(".", r"\.") + ".+"
RETRY = r"(\.retry\..+)"


def _escaped(name: str) -> str:
    """A queue or exchange name as a regex; a name in PARTITIONED stands for it and all its partitions."""
    escaped = name.replace(".", r"\.")
    return escaped + PARTITION if name in PARTITIONED else escaped


def _pattern(
    exchanges: Sequence[str] = (), queues: Sequence[str] = (), suffix: str = "", regexes: Sequence[str] = ()
) -> str:
    """Exactly these exchanges and queues; each queue also followed by ``suffix`` (a regex); and
    what ``regexes`` match."""
    parts = [name.replace(".", r"\.") for name in exchanges]
    if queues:
        group = "|".join(_escaped(name) for name in queues)
        parts.append(f"({group}){suffix}" if suffix else group)
    return "^(" + "|".join([*parts, *regexes]) + ")$"


@dataclass(frozen=True)
class TopicPermission:
    """The routing keys a role may publish with (write) and bind with (read) on a topic exchange."""

    exchange: str
    write: str
    read: str = NOTHING


@dataclass(frozen=True)
class Role:
    name: str
    configure: str
    write: str
    read: str
    topics: tuple[TopicPermission, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def user(self) -> str:
        """The user of this role that provisioning makes."""
        return f"cqrs-{self.name}"


_COMMAND_SIDE = (topology.COMMAND_QUEUE, topology.STREAM_QUEUE, topology.TRANSFER_QUEUE)
# The commands, the events, and the outside readers' door to the stream queue.
_COMMAND_EXCHANGES = (topology.COMMANDS_EXCHANGE, topology.EVENTS_EXCHANGE, topology.STREAMS_EXCHANGE)
_QUERY_SIDE = (topology.EVENT_QUEUE, topology.QUERY_QUEUE, topology.OPERATIONS_QUEUE)
# The events, their partitions' hash exchange, and the query replicas' announcements.
_QUERY_EXCHANGES = (topology.EVENTS_EXCHANGE, topology.PARTITIONS_EXCHANGE, topology.REPLICAS_EXCHANGE)
_EVENT_KEYS = "(" + "|".join(STREAM_TYPES) + r")\.[a-z_]+"
_TRANSFER_BINDINGS = "^(" + "|".join(re.escape(key) for key in topology.TRANSFER_KEYS) + ")$"

# A service declares its exchanges and queues, binds and consumes its own, and publishes replies,
# retries and dead letters. Replies to direct reply-to need the default exchange, which reaches any
# queue by name; so no service may also impersonate (issue 20): it publishes its retries and dead
# letters as itself, naming their sender in a header that only it is believed on (senders.py).
ROLES = {
    "command": Role(
        "command",
        configure=_pattern(
            (*_COMMAND_EXCHANGES, topology.DEAD_LETTER_EXCHANGE),
            _COMMAND_SIDE,
            PARKED + "?",
        ),
        write=_pattern(
            (topology.EVENTS_EXCHANGE, topology.DEAD_LETTER_EXCHANGE, DEFAULT_EXCHANGE),
            _COMMAND_SIDE,
            PARKED + "?",
        ),
        # cqrs.events read: the transfer process manager binds its queue to it, by TRANSFER_KEYS only.
        read=_pattern(
            (*_COMMAND_EXCHANGES, topology.DEAD_LETTER_EXCHANGE),
            _COMMAND_SIDE,
            RETRY + "?",
        ),
        topics=(TopicPermission(topology.EVENTS_EXCHANGE, f"^{_EVENT_KEYS}$", _TRANSFER_BINDINGS),),
    ),
    "query": Role(
        "query",
        configure=_pattern(
            (*_QUERY_EXCHANGES, topology.QUERIES_EXCHANGE, topology.DEAD_LETTER_EXCHANGE),
            _QUERY_SIDE,
            PARKED + "?",
            (REPLICA_QUEUES,),
        ),
        write=_pattern(
            (
                topology.PARTITIONS_EXCHANGE,
                topology.REPLICAS_EXCHANGE,
                topology.DEAD_LETTER_EXCHANGE,
                DEFAULT_EXCHANGE,
            ),
            _QUERY_SIDE,
            PARKED + "?",
            (REPLICA_QUEUES,),
        ),
        read=_pattern(
            (*_QUERY_EXCHANGES, topology.QUERIES_EXCHANGE, topology.DEAD_LETTER_EXCHANGE),
            _QUERY_SIDE,
            RETRY + "?",
            (REPLICA_QUEUES,),
        ),
    ),
    # Sends commands and queries, takes replies by direct reply-to; declares nothing.
    "client": Role(
        "client",
        configure=NOTHING,
        write=_pattern((topology.COMMANDS_EXCHANGE, topology.QUERIES_EXCHANGE)),
        read=NOTHING,
        topics=(TopicPermission(topology.COMMANDS_EXCHANGE, _pattern(queues=COMMAND_TYPES)),),
    ),
    # Operators: cqrs dlq (reads dead letters, replays them as they were published: impersonator),
    # cqrs status, cqrs projection; the management UI. An administrator can give itself any right
    # (users, permissions), so no narrower set would bind it: it is the one role that impersonates.
    "admin": Role("admin", EVERYTHING, EVERYTHING, EVERYTHING, tags=("administrator", "impersonator")),
}


SUBSCRIBER = "subscriber"
# A subscriber's user name is in its queues' names (topology.subscriber_queue), so it may hold no dot:
# user "a" owns subscriber.a.<anything>, which would include subscriber.a.b, the queue of user "a.b".
SUBSCRIBER_USER = re.compile(r"[A-Za-z0-9_@-]{1,128}")
# The keys a subscriber may bind cqrs.events with: one stream type's events, by name or by wildcard
# (customer.*, account.money_deposited); not a bare "#", which would take stream types added later,
# that its grant never named.
_BINDING_KEYS = "(" + "|".join(STREAM_TYPES) + r")\.([a-z_]+|\*|#)"


def subscriber(user: str) -> Role:
    """The role of an outside reader of the events, made for ``user``: it declares, binds and consumes
    its own queues, subscriber.<user> and subscriber.<user>.<anything> (and exchanges so named: its
    dead-letter exchange), binds them to cqrs.events by event keys, sends stream reads (ReadAll) to
    cqrs.streams, which reaches the command side's stream queue only (answered for the users in
    CQRS_EVENT_READERS), and does nothing else: no publishing to the pair's other exchanges or to
    the default one (a write there reaches every queue by name, whatever the routing key: topic
    permissions bind topic exchanges only), no other queue, no command, no query.

        subscriber("ledger").configure  # '^subscriber\\.ledger(\\..+)?$'
    """
    if not SUBSCRIBER_USER.fullmatch(user):
        raise ValueError(
            f"a subscriber's user name must be 1 to 128 of A-Z a-z 0-9 _ @ - (its queues are named "
            f"{topology.subscriber_queue('<user>')}, and a dot would reach into another user's), got {user!r}"
        )
    own = topology.subscriber_queue(user).replace(".", r"\.") + r"(\..+)?"
    return Role(
        SUBSCRIBER,
        configure=f"^{own}$",
        write=_pattern((topology.STREAMS_EXCHANGE,), regexes=(own,)),
        read=_pattern((topology.EVENTS_EXCHANGE,), regexes=(own,)),
        topics=(TopicPermission(topology.EVENTS_EXCHANGE, write=NOTHING, read=f"^{_BINDING_KEYS}$"),),
    )


# What `cqrs broker grant` gives: a role of the table, or one made for the user it is given to.
GRANTABLE = (*sorted(ROLES), SUBSCRIBER)


def grantable(name: str, user: str) -> Role:
    """Role ``name`` (one of GRANTABLE) as given to ``user``; ValueError where ``user`` cannot have it."""
    if name == SUBSCRIBER:
        return subscriber(user)
    if name not in ROLES:
        raise ValueError(f"no role {name!r}: one of {', '.join(GRANTABLE)}")
    return ROLES[name]


@dataclass(frozen=True)
class Bounds:
    """Queue lengths the policies set: a work queue refuses beyond ``work`` (the refused message goes
    to its dead-letter queue), a dead-letter or retry queue beyond ``dead_letter`` (the publisher
    gets a nack: nothing is dropped)."""

    work: int = 100_000
    dead_letter: int = 1_000_000


def policies(bounds: Bounds) -> list[dict[str, Any]]:
    """The two queue policies (policies, not queue arguments: those cannot change on a queue that exists)."""
    return [
        {
            "name": "cqrs-work-queues",
            "pattern": _pattern(queues=WORK_QUEUES),
            "apply-to": "queues",
            "definition": {"max-length": bounds.work, "overflow": "reject-publish"},
            "priority": 0,
        },
        {
            "name": "cqrs-parked-queues",
            "pattern": _pattern(queues=WORK_QUEUES, suffix=PARKED),
            "apply-to": "queues",
            "definition": {"max-length": bounds.dead_letter, "overflow": "reject-publish"},
            "priority": 0,
        },
    ]


def password_hash(password: str, salt: bytes) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password)), 4-byte salt."""
    if len(salt) != 4:
        raise ValueError(f"the salt must be 4 bytes, got {len(salt)}")
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


@dataclass(frozen=True)
class Account:
    role: Role
    user: str
    password_hash: str


def definitions(accounts: Sequence[Account], vhost: str = VHOST, bounds: Bounds = Bounds()) -> dict[str, Any]:
    """A RabbitMQ definitions document: the vhost, the users with their permissions, the policies.

    Import it at boot (``load_definitions``) or into a running broker (``rabbitmqctl
    import_definitions``); both add and update, and remove nothing (guest, say).
    """
    return {
        "users": [
            {
                "name": account.user,
                "password_hash": account.password_hash,
                "hashing_algorithm": HASHING,
                "tags": list(account.role.tags),
                "limits": {},
            }
            for account in accounts
        ],
        "vhosts": [{"name": vhost}],
        "permissions": [
            {
                "user": account.user,
                "vhost": vhost,
                "configure": account.role.configure,
                "write": account.role.write,
                "read": account.role.read,
            }
            for account in accounts
        ],
        "topic_permissions": [
            {"user": account.user, "vhost": vhost, "exchange": t.exchange, "write": t.write, "read": t.read}
            for account in accounts
            for t in account.role.topics
        ],
        "policies": [{"vhost": vhost, **policy} for policy in policies(bounds)],
    }


def grant_commands(role: Role, user: str, vhost: str = VHOST) -> list[list[str]]:
    """rabbitmqctl arguments giving an existing ``user`` ``role`` on ``vhost`` (tags replaced)."""
    commands = [
        ["set_user_tags", user, *role.tags],
        ["set_permissions", "-p", vhost, user, role.configure, role.write, role.read],
    ]
    commands += [
        ["set_topic_permissions", "-p", vhost, user, t.exchange, t.write, t.read] for t in role.topics
    ]
    return commands


def policy_commands(bounds: Bounds, vhost: str = VHOST) -> list[list[str]]:
    """rabbitmqctl arguments setting the queue policies on ``vhost``."""
    return [
        [
            "set_policy",
            "-p",
            vhost,
            "--apply-to",
            policy["apply-to"],
            "--priority",
            str(policy["priority"]),
            policy["name"],
            policy["pattern"],
            json.dumps(policy["definition"]),
        ]
        for policy in policies(bounds)
    ]
