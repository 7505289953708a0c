"""What ties a deposit or a withdrawal to a transfer: the transfer, the other account, and which leg.

A transfer moves money between two accounts in steps (a process manager on the command side): the
withdrawal from the source (``debit``), the deposit to the destination (``credit``), and, when the
credit fails after the debit, the deposit back to the source (``refund``). Each step is an ordinary
Deposit or Withdraw that carries its leg, and the event it causes carries it on to the histories.
"""

from typing import Final, Literal
from uuid import UUID

from cqrs_contracts.base import Tolerant

TransferStep = Literal["debit", "credit", "refund"]

DEBIT: Final = "debit"
CREDIT: Final = "credit"
REFUND: Final = "refund"


class TransferLeg(Tolerant):
    """One step of a transfer on one account: ``counterpart`` is the other account of the transfer."""

    transfer_id: UUID
    counterpart: UUID
    step: TransferStep
