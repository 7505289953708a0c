"""The pair end to end through the `cqrs` CLI: what a user sees and the exit codes scripts rely on."""

import json
from uuid import uuid4

from tests.pair import Cli


def test_create_prefer_and_list_a_customer(cli: Cli) -> None:
    name = f"Ada {uuid4().hex[:8]}"
    created = cli("--json", "customer", "create", "--name", name, "--locale", "en-gb")
    assert created.returncode == 0, created.stderr
    reply = json.loads(created.stdout)
    assert (reply["status"], reply["version"]) == ("accepted", 1)
    customer_id = reply["id"]

    preferred = cli("customer", "make-preferred", customer_id)
    assert preferred.returncode == 0, preferred.stderr
    assert preferred.stdout.splitlines() == [
        f"accepted: customer {customer_id} is at version 2",
        f"token:    customer:{customer_id}@2",
    ]

    shown = cli("customer", "get", customer_id, "--min-version", "2", "--json")
    assert shown.returncode == 0, shown.stderr
    view = json.loads(shown.stdout)
    assert {k: view[k] for k in ("id", "name", "locale", "is_preferred", "version")} == {
        "id": customer_id,
        "name": name,
        "locale": "en-GB",
        "is_preferred": True,
        "version": 2,
    }

    listed = cli("customer", "preferred", "--json", "--limit", "500")
    assert customer_id in [item["id"] for item in json.loads(listed.stdout)["items"]]

    found = cli("customer", "find", name.upper(), "--json")
    page = json.loads(found.stdout)
    assert [item["id"] for item in page["items"]] == [customer_id]
    assert page["next"] is None

    table = cli("customer", "find", name)
    assert customer_id in table.stdout
    assert "NAME" in table.stdout


def test_human_output_of_get(cli: Cli) -> None:
    created = json.loads(cli("--json", "customer", "create", "--name", "Grace", "--locale", "en-US").stdout)
    shown = cli("customer", "get", created["id"], "--min-version", "1")
    assert shown.returncode == 0, shown.stderr
    lines = dict(line.split(None, 1) for line in shown.stdout.strip().splitlines())
    assert (lines["name"], lines["locale"], lines["preferred"], lines["version"]) == (
        "Grace",
        "en-US",
        "no",
        "1",
    )


def test_edit_and_change_locale_move_the_version(cli: Cli) -> None:
    created = json.loads(
        cli("--json", "customer", "create", "--name", "Lin", "--locale", "zh-hant-tw").stdout
    )
    customer_id = created["id"]
    assert cli("customer", "change-locale", customer_id, "pt-br").returncode == 0
    edited = json.loads(cli("--json", "customer", "edit", customer_id, "--name", "Lin Wei").stdout)
    assert edited["version"] == 3
    view = json.loads(cli("--json", "customer", "get", customer_id, "--min-version", "3").stdout)
    assert (view["name"], view["locale"], view["version"]) == ("Lin Wei", "pt-BR", 3)


def test_the_client_given_id_and_command_id_are_used(cli: Cli) -> None:
    customer_id, command_id = str(uuid4()), str(uuid4())
    args = ["--json", "customer", "create", "--name", "Eve", "--locale", "en", "--id", customer_id]
    first = json.loads(cli(*args, "--command-id", command_id).stdout)
    again = cli(*args, "--command-id", command_id)
    assert first["id"] == customer_id
    assert json.loads(again.stdout) == first
    duplicate = cli(*args)
    assert duplicate.returncode == 5
    assert json.loads(duplicate.stdout)["error"]["code"] == "already_exists"


def test_validation_errors_exit_5_with_per_field_messages(cli: Cli) -> None:
    result = cli("customer", "create", "--name", " ", "--locale", "en_US")
    assert result.returncode == 5
    assert "validation_error" in result.stderr
    assert "locale:" in result.stderr
    as_json = json.loads(cli("--json", "customer", "create", "--name", "x", "--locale", "??").stdout)
    assert as_json["status"] == "rejected"
    assert set(as_json["error"]["fields"]) == {"locale"}


def test_unknown_customer_exits_3(cli: Cli) -> None:
    missing = str(uuid4())
    got = cli("customer", "get", missing)
    assert got.returncode == 3
    assert "not_found" in got.stderr
    preferred = cli("--json", "customer", "make-preferred", missing)
    assert preferred.returncode == 3
    assert json.loads(preferred.stdout)["error"]["code"] == "not_found"


def test_a_view_that_does_not_catch_up_says_so_and_exits_4(cli: Cli) -> None:
    created = json.loads(cli("--json", "customer", "create", "--name", "Zoe", "--locale", "en").stdout)
    behind = cli("--json", "customer", "get", created["id"], "--min-version", "99")
    assert behind.returncode == 4
    assert json.loads(behind.stdout)["error"]["code"] == "view_behind"


def test_an_unreachable_broker_exits_4(cli: Cli) -> None:
    env = {**cli.env, "CQRS_RABBITMQ_URL": "amqp://cqrs-client:cqrs-client@127.0.0.1:1/cqrs"}
    result = Cli(env)("--json", "customer", "get", str(uuid4()))
    assert result.returncode == 4
    assert json.loads(result.stdout)["error"]["code"] == "broker_unavailable"


def test_expected_version_guards_against_lost_updates(cli: Cli) -> None:
    created = json.loads(cli("--json", "customer", "create", "--name", "Kim", "--locale", "ko").stdout)
    stale = cli("--json", "customer", "edit", created["id"], "--name", "Kim B", "--expected-version", "0")
    assert stale.returncode == 5
    assert json.loads(stale.stdout)["error"]["code"] == "concurrency_conflict"
    fresh = cli("--json", "customer", "edit", created["id"], "--name", "Kim B", "--expected-version", "1")
    assert json.loads(fresh.stdout)["version"] == 2
