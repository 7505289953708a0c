"""Which users may send which commands (command_service.grants): pure."""

import pytest

from command_service.grants import Grants
from command_service.settings import COMMAND_TYPES

TELLER = Grants.parse({"teller": ["Deposit", "Withdraw"], "ops": ["*"]}, COMMAND_TYPES)


def test_no_grants_let_every_sender_send_every_command() -> None:
    assert Grants.parse({}, COMMAND_TYPES).refusal(None, "OpenAccount") is None


def test_a_user_may_send_what_it_is_granted() -> None:
    assert TELLER.refusal("teller", "Deposit") is None
    assert TELLER.refusal("ops", "OpenAccount") is None


@pytest.mark.parametrize(
    ("user", "command", "why"),
    [
        ("teller", "OpenAccount", "user 'teller' may not send OpenAccount (allowed: Deposit, Withdraw)"),
        ("stranger", "Deposit", "user 'stranger' may send no command"),
        (None, "Deposit", "the message has no user_id: with grants set, a command must say who sends it"),
    ],
)
def test_anything_else_is_refused_with_the_reason(user: str | None, command: str, why: str) -> None:
    assert TELLER.refusal(user, command) == why


def test_an_unknown_command_type_in_the_grants_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="unknown command type"):
        Grants.parse({"teller": ["Depositt"]}, COMMAND_TYPES)
