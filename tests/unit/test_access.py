"""The broker roles' table: each role matches exactly the names it must touch; the definitions
document and the rabbitmqctl commands say the same; `cqrs broker` writes them."""

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from command_service.settings import COMMAND_TYPES
from cqrs_client.messaging import topology
from cqrs_shared.cli import main as cli
from cqrs_shared.cli.exits import EXIT_CONFIGURATION
from cqrs_shared.messaging import access
from cqrs_shared.messaging.access import (
    ROLES,
    Account,
    Bounds,
    definitions,
    grant_commands,
    grantable,
    password_hash,
    subscriber,
)

OWN = {
    "command": (topology.COMMAND_QUEUE, topology.STREAM_QUEUE, topology.TRANSFER_QUEUE),
    "query": (topology.EVENT_QUEUE, topology.QUERY_QUEUE),
}
PASSWORDS = {f"CQRS_RABBITMQ_{role.upper()}_PASSWORD": f"pw-{role}" for role in ROLES}


def allows(pattern: str, name: str) -> bool:
    """As RabbitMQ checks a permission: a regex search in the name."""
    return re.search(pattern, name) is not None


def family(queue: str) -> list[str]:
    """A queue with its dead-letter queue and retry queues, as topology names them."""
    retries = [topology.retry_queue(queue, delay) for delay in (0.25, 1.0, 2.0, 60.0, 3600.0)]
    return [queue, topology.dead_letter_queue(queue), *retries]


@pytest.mark.parametrize("service", ["command", "query"])
def test_a_service_may_declare_and_bind_its_own_queues_and_no_other(service: str) -> None:
    role, other = ROLES[service], next(name for name in OWN if name != service)
    for queue in OWN[service]:
        for name in family(queue):
            assert allows(role.configure, name), name
            assert allows(role.write, name), name  # a binding's destination
    for queue in OWN[other]:
        for name in family(queue):
            assert not allows(role.configure, name), name
            assert not allows(role.write, name), name
            assert not allows(role.read, name), name
    assert not allows(role.read, topology.dead_letter_queue(OWN[service][0]))  # operators read those


def test_only_the_command_service_publishes_events_and_only_the_client_nothing_by_queue_name() -> None:
    assert allows(ROLES["command"].write, topology.EVENTS_EXCHANGE)
    assert not allows(ROLES["query"].write, topology.EVENTS_EXCHANGE)
    assert not allows(ROLES["client"].write, topology.EVENTS_EXCHANGE)
    for service in ("command", "query"):  # replies, retries and requests go by queue name
        assert allows(ROLES[service].write, access.DEFAULT_EXCHANGE)
    assert not allows(ROLES["client"].write, access.DEFAULT_EXCHANGE)


def test_a_client_writes_only_the_commands_and_queries_exchanges_and_configures_and_reads_nothing() -> None:
    client = ROLES["client"]
    assert [
        name for name in (topology.COMMANDS_EXCHANGE, topology.QUERIES_EXCHANGE) if allows(client.write, name)
    ]
    names = [
        access.DEFAULT_EXCHANGE,
        topology.EVENTS_EXCHANGE,
        topology.DEAD_LETTER_EXCHANGE,
        *(name for queues in OWN.values() for queue in queues for name in family(queue)),
        "amq.gen-abc",
        topology.DIRECT_REPLY_TO,
    ]
    for name in names:
        assert not allows(client.write, name), name
        assert not allows(client.configure, name), name
        assert not allows(client.read, name), name
    assert client.tags == ()


def test_topic_permissions_name_every_command_type_and_every_event_stream() -> None:
    (commands,) = ROLES["client"].topics
    assert commands.exchange == topology.COMMANDS_EXCHANGE
    assert {key for key in COMMAND_TYPES if allows(commands.write, key)} == COMMAND_TYPES
    assert not allows(commands.write, "DropTables")
    assert not allows(commands.write, "Deposits")
    (events,) = ROLES["command"].topics
    assert events.exchange == topology.EVENTS_EXCHANGE
    assert allows(events.write, "customer.created")
    assert allows(events.write, "account.money_deposited")
    assert not allows(events.write, "ledger.cooked")


def test_the_command_service_binds_its_transfer_queue_to_the_events_by_the_transfer_keys_only() -> None:
    role = ROLES["command"]
    (events,) = role.topics
    assert allows(role.read, topology.EVENTS_EXCHANGE)  # a binding needs read on the exchange
    assert [key for key in topology.TRANSFER_KEYS if allows(events.read, key)] == list(topology.TRANSFER_KEYS)
    for key in ("#", "customer.*", "account.*", "transfer.#", "account.opened"):
        assert not allows(events.read, key), key


def test_no_role_that_writes_to_queues_by_name_impersonates_but_the_administrator() -> None:
    assert {name: role.tags for name, role in ROLES.items()} == {
        "command": (),
        "query": (),
        "client": (),
        "admin": ("administrator", "impersonator"),
    }


def test_the_policies_bound_work_queues_and_parked_queues_by_refusing() -> None:
    work, parked = access.policies(Bounds(work=7, dead_letter=70))
    # reject-publish, not reject-publish-dlx: a quorum queue does not know the latter and would drop
    # its oldest message instead (measured on RabbitMQ 3.10).
    assert work["definition"] == {"max-length": 7, "overflow": "reject-publish"}
    assert parked["definition"] == {"max-length": 70, "overflow": "reject-publish"}
    for queue in access.WORK_QUEUES:
        queue_itself, *kept = family(queue)
        assert allows(work["pattern"], queue_itself)
        assert not allows(parked["pattern"], queue_itself)
        for name in kept:
            assert allows(parked["pattern"], name), name
            assert not allows(work["pattern"], name), name


def test_a_password_hash_is_rabbitmqs_salted_sha256() -> None:
    salt = b"\x90\x8d\xc6\x0a"
    decoded = base64.b64decode(password_hash("test12", salt))
    assert decoded == salt + hashlib.sha256(salt + b"test12").digest()
    with pytest.raises(ValueError, match="4 bytes"):
        password_hash("test12", b"salt and pepper")


def test_definitions_give_each_user_its_role_on_the_vhost() -> None:
    accounts = [Account(role, role.user, f"hash-{role.name}") for role in ROLES.values()]
    document = definitions(accounts, "v", Bounds())
    assert document["vhosts"] == [{"name": "v"}]
    assert {user["name"]: user["tags"] for user in document["users"]} == {
        "cqrs-command": [],
        "cqrs-query": [],
        "cqrs-client": [],
        "cqrs-admin": ["administrator", "impersonator"],
    }
    assert {user["hashing_algorithm"] for user in document["users"]} == {access.HASHING}
    client = next(item for item in document["permissions"] if item["user"] == "cqrs-client")
    assert client == {"user": "cqrs-client", "vhost": "v", **_permissions(ROLES["client"])}
    assert sorted((item["user"], item["exchange"]) for item in document["topic_permissions"]) == [
        ("cqrs-client", topology.COMMANDS_EXCHANGE),
        ("cqrs-command", topology.EVENTS_EXCHANGE),
    ]
    assert [policy["vhost"] for policy in document["policies"]] == ["v", "v"]


def test_grant_commands_set_what_the_definitions_set() -> None:
    commands = grant_commands(ROLES["client"], "teller", "v")
    assert commands == [
        ["set_user_tags", "teller"],
        ["set_permissions", "-p", "v", "teller", *_permissions(ROLES["client"]).values()],
        [
            "set_topic_permissions",
            "-p",
            "v",
            "teller",
            "cqrs.commands",
            ROLES["client"].topics[0].write,
            "^$",
        ],
    ]


def test_cqrs_broker_definitions_writes_the_document_from_passwords_in_variables_and_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in PASSWORDS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CQRS_RABBITMQ_CLIENT_PASSWORD")
    (tmp_path / "client").write_text("from-a-file\n")
    monkeypatch.setenv("CQRS_RABBITMQ_CLIENT_PASSWORD_FILE", str(tmp_path / "client"))
    monkeypatch.setenv("CQRS_QUEUE_MAX_LENGTH", "500")
    out = tmp_path / "definitions.json"
    assert cli.main(["broker", "definitions", "--out", str(out), "--dead-letter-max-length", "900"]) == 0
    document = json.loads(out.read_text())
    hashes = {user["name"]: base64.b64decode(user["password_hash"]) for user in document["users"]}
    salt = hashes["cqrs-client"][:4]
    assert hashes["cqrs-client"] == salt + hashlib.sha256(salt + b"from-a-file").digest()
    assert [policy["definition"]["max-length"] for policy in document["policies"]] == [500, 900]
    assert oct(out.stat().st_mode & 0o777) == "0o644"


def test_cqrs_broker_definitions_names_a_missing_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name, value in PASSWORDS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CQRS_RABBITMQ_QUERY_PASSWORD")
    monkeypatch.delenv("CQRS_RABBITMQ_QUERY_PASSWORD_FILE", raising=False)
    assert cli.main(["broker", "definitions", "--out", str(tmp_path / "d.json")]) == EXIT_CONFIGURATION
    assert "CQRS_RABBITMQ_QUERY_PASSWORD: not set" in capsys.readouterr().err
    assert not (tmp_path / "d.json").exists()


def test_cqrs_broker_grant_prints_rabbitmqctl_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["broker", "grant", "client", "teller"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "rabbitmqctl set_user_tags teller"
    assert printed[1].startswith(
        "rabbitmqctl set_permissions -p cqrs teller '^$' '^(cqrs\\.commands|cqrs\\.queries)$'"
    )


def test_a_subscriber_may_declare_bind_and_read_its_own_queues_and_exchanges_and_no_others() -> None:
    role = subscriber("ledger")
    own = [
        topology.subscriber_queue("ledger"),
        topology.subscriber_queue("ledger", "dlq"),
        topology.subscriber_queue("ledger", "dlx"),
        topology.subscriber_queue("ledger", "by-customer", "2"),
    ]
    for name in own:
        assert allows(role.configure, name), name
        assert allows(role.write, name), name  # a binding's destination; its own dead-letter exchange
        assert allows(role.read, name), name
    others = [
        topology.subscriber_queue("ledger2"),
        topology.subscriber_queue("other"),
        "subscriberXledger",  # the dots are literal
        "subscriber.ledgerXdlq",
        "subscriber.",
        "xsubscriber.ledger",
        "amq.gen-abc",
        topology.DIRECT_REPLY_TO,
        *(name for queues in OWN.values() for queue in queues for name in family(queue)),
    ]
    for name in others:
        assert not allows(role.configure, name), name
        assert not allows(role.write, name), name
        assert not allows(role.read, name), name


def test_a_subscriber_reads_the_events_exchange_and_writes_to_none_of_the_pairs() -> None:
    role = subscriber("ledger")
    exchanges = [
        topology.COMMANDS_EXCHANGE,
        topology.EVENTS_EXCHANGE,
        topology.QUERIES_EXCHANGE,
        topology.DEAD_LETTER_EXCHANGE,
        topology.PARTITIONS_EXCHANGE,
        topology.REPLICAS_EXCHANGE,
        access.DEFAULT_EXCHANGE,
    ]
    assert [name for name in exchanges if allows(role.read, name)] == [topology.EVENTS_EXCHANGE]
    assert [name for name in exchanges if allows(role.write, name) or allows(role.configure, name)] == []
    assert role.tags == ()


def test_a_subscriber_sends_stream_reads_to_the_stream_queues_own_exchange_only() -> None:
    """cqrs.streams reaches command-service.streams alone (the command service binds it); the
    default exchange would reach every queue by name, and a subscriber may not bind cqrs.streams to
    a queue of its own to take others' requests."""
    role, command = subscriber("ledger"), ROLES["command"]
    assert allows(role.write, topology.STREAMS_EXCHANGE)
    assert not allows(role.read, topology.STREAMS_EXCHANGE)
    assert not allows(role.configure, topology.STREAMS_EXCHANGE)
    assert allows(command.configure, topology.STREAMS_EXCHANGE)  # declares it
    assert allows(command.read, topology.STREAMS_EXCHANGE)  # binds its stream queue to it
    assert not any(allows(ROLES[name].write, topology.STREAMS_EXCHANGE) for name in ("client", "query"))


@pytest.mark.parametrize(
    ("key", "allowed"),
    [
        ("customer.*", True),
        ("account.*", True),
        ("account.#", True),
        ("customer.created", True),
        ("account.money_deposited", True),
        ("#", False),
        ("*.*", False),
        ("*.created", False),
        ("ledger.*", False),
        ("customer.*.x", False),
        ("customer", False),
    ],
)
def test_a_subscriber_binds_the_events_by_one_stream_types_keys(key: str, allowed: bool) -> None:
    (events,) = subscriber("ledger").topics
    assert events.exchange == topology.EVENTS_EXCHANGE
    assert allows(events.read, key) is allowed
    assert not allows(events.write, key)


@pytest.mark.parametrize("user", ["a.b", "", "led ger", "x" * 129, "ledger\n", "a*", "^$"])
def test_a_subscriber_user_whose_name_could_reach_another_users_queues_is_refused(user: str) -> None:
    with pytest.raises(ValueError, match="a subscriber's user name"):
        subscriber(user)


def test_grantable_gives_the_tables_roles_as_they_are_and_makes_the_subscribers() -> None:
    assert grantable("client", "teller") is ROLES["client"]
    assert grantable("subscriber", "ledger") == subscriber("ledger")
    assert grantable("subscriber", "ledger") != subscriber("audit")
    with pytest.raises(ValueError, match="no role 'reader'"):
        grantable("reader", "ledger")


def test_cqrs_broker_grant_subscriber_prints_the_users_own_queues(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["broker", "grant", "subscriber", "ledger", "--vhost", "v"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "rabbitmqctl set_user_tags ledger",
        "rabbitmqctl set_permissions -p v ledger '^subscriber\\.ledger(\\..+)?$' "
        "'^(cqrs\\.streams|subscriber\\.ledger(\\..+)?)$' '^(cqrs\\.events|subscriber\\.ledger(\\..+)?)$'",
        "rabbitmqctl set_topic_permissions -p v ledger cqrs.events '^$' "
        "'^(customer|account|transfer)\\.([a-z_]+|\\*|#)$'",
    ]


def test_cqrs_broker_grant_refuses_a_subscriber_whose_name_has_a_dot(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["broker", "grant", "subscriber", "led.ger"]) == 2
    said = capsys.readouterr()
    assert said.out == ""
    assert "a dot would reach into another user's" in said.err


def _permissions(role: access.Role) -> dict[str, str]:
    return {"configure": role.configure, "write": role.write, "read": role.read}


def test_the_security_page_shows_the_permissions_the_table_gives() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text()
    for role in ROLES.values():
        for pattern in (role.configure, role.write, role.read, *(topic.write for topic in role.topics)):
            assert pattern in page, f"docs/security.md lacks the {role.name} role's {pattern}"
