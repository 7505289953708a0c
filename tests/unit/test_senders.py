"""Who sent a message (messaging/senders.py): the broker-checked user, or, on the service's own copy,
the sender it names; nobody else's header counts."""

from cqrs_client.messaging.senders import MAX_SENDER_CHARS, SENDER_HEADER, naming, sender

SERVICE = "cqrs-command"


def test_a_message_is_its_user_ids_whatever_header_it_carries() -> None:
    assert sender("teller", {SENDER_HEADER: "cqrs-admin"}, SERVICE) == "teller"
    assert sender(None, {SENDER_HEADER: "cqrs-admin"}, SERVICE) is None
    assert sender("cqrs-query", {SENDER_HEADER: "cqrs-admin"}, SERVICE) == "cqrs-query"


def test_the_services_own_copy_is_the_sender_it_names() -> None:
    assert sender(SERVICE, naming({"keep": 1}, "teller"), SERVICE) == "teller"
    assert sender(SERVICE, naming({}, None), SERVICE) is None  # the first message named nobody


def test_a_message_of_the_services_own_user_without_the_header_is_that_users() -> None:
    # A pair whose services and operators share one login (the tests' pair) sends as that login.
    assert sender(SERVICE, {}, SERVICE) == SERVICE


def test_a_copy_replaces_the_sender_a_header_said() -> None:
    assert naming({SENDER_HEADER: "cqrs-admin", "keep": 1}, "teller") == {SENDER_HEADER: "teller", "keep": 1}


def test_a_named_sender_that_is_no_short_text_is_nobody() -> None:
    assert sender(SERVICE, {SENDER_HEADER: "x" * (MAX_SENDER_CHARS + 1)}, SERVICE) is None
    assert sender(SERVICE, {SENDER_HEADER: 7}, SERVICE) is None


def test_without_a_publisher_the_user_id_decides() -> None:
    assert sender(SERVICE, {SENDER_HEADER: "teller"}, None) == SERVICE
