"""Who sent a message: the user RabbitMQ checked, or, on a copy a service made of it, the sender that
copy names (pure: no I/O).

    sender(message.user_id, message.headers, publisher="cqrs-command")

RabbitMQ refuses a message whose user_id is not its publisher's login, unless that login is tagged
``impersonator``, which no service role is (issue 20: a service could send commands as anyone).
So a service copies a message (a retry, a dead letter) as itself, naming the first sender in the
``cqrs-sender`` header, and that header counts only on a message the broker says this service
published: nobody else can write it, though any role that writes to a queue by name may send it.
"""

from collections.abc import Mapping

from aio_pika.abc import HeadersType

SENDER_HEADER = "cqrs-sender"
MAX_SENDER_CHARS = 256


def sender(user_id: str | None, headers: Mapping[str, object], publisher: str | None) -> str | None:
    """The sender of a message with ``user_id`` and ``headers``, received by ``publisher``'s service.

    On its own copy the header is always there, "" for a message that named no sender; without the
    header, a message of the service's own user is that user's (its users may share one login).
    """
    if publisher is None or user_id != publisher or SENDER_HEADER not in headers:
        return user_id
    named = headers[SENDER_HEADER]
    return named or None if isinstance(named, str) and len(named) <= MAX_SENDER_CHARS else None


def naming(headers: HeadersType, sender: str | None) -> HeadersType:
    """``headers`` naming ``sender`` ("" for none), in place of whatever a sender's header said."""
    return {**headers, SENDER_HEADER: sender or ""}
