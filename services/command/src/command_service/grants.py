"""Which RabbitMQ users may send which commands: pure, decided on what the service would run.

grants = Grants.parse({"teller": ["Deposit", "Withdraw"], "cqrs-client": ["*"]})
grants.refusal("teller", "OpenAccount")  # -> "user 'teller' may not send OpenAccount"

No grants at all: every sender may send every command (RabbitMQ's permissions still decide who
may publish). With grants, a command is judged by the type of the body the service parsed, never
by the routing key or the ``type`` property, and by the ``user_id`` RabbitMQ checked.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ANY = "*"


@dataclass(frozen=True)
class Grants:
    by_user: Mapping[str, frozenset[str]]

    @classmethod
    def parse(cls, table: Mapping[str, Sequence[str]], known: frozenset[str]) -> "Grants":
        """``table`` checked against the ``known`` command types; an unknown one is a ValueError."""
        for user, types in table.items():
            unknown = sorted(set(types) - known - {ANY})
            if unknown:
                raise ValueError(f"user {user!r}: unknown command type(s) {', '.join(unknown)}")
        return cls({user: frozenset(types) for user, types in table.items()})

    def refusal(self, user: str | None, command_type: str) -> str | None:
        """Why ``user`` may not send ``command_type``; None when it may."""
        if not self.by_user:
            return None
        if user is None:
            return "the message has no user_id: with grants set, a command must say who sends it"
        allowed = self.by_user.get(user)
        if allowed is None:
            return f"user {user!r} may send no command"
        if ANY in allowed or command_type in allowed:
            return None
        return f"user {user!r} may not send {command_type} (allowed: {', '.join(sorted(allowed))})"
