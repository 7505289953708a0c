"""Create a customer, then read it back as soon as the view has it. Run it with the pair up:

CQRS_RABBITMQ_URL=amqp://cqrs-client:cqrs-client@127.0.0.1:5672/cqrs python examples/client_quickstart.py
"""

import asyncio
import os

from cqrs_client import CqrsClient, raise_for_rejection
from cqrs_contracts import CreateCustomer, GetCustomer


async def main() -> None:
    async with CqrsClient.connect(os.environ["CQRS_RABBITMQ_URL"], timeout=10) as client:
        reply = await client.send(CreateCustomer(name="Ada Lovelace", locale="en-GB"), attempts=3)
        created = raise_for_rejection(reply)  # a CommandAccepted, or CommandRejectedError
        ada = await client.ask(GetCustomer(customer_id=created.id, token=created.token))
        print(f"{ada.name} ({ada.locale}) is customer {ada.id} at version {ada.version}")


if __name__ == "__main__":
    asyncio.run(main())
