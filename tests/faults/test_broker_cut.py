"""The TCP connection to the broker is cut under load (no close from the broker, a network fault).

Each service either reconnects by itself or, where aio-pika's reconnect hangs, its watchdog exits
after CQRS_BROKER_GRACE and `make run` starts it again. Either way no command is lost or applied
twice, and the view catches up. The pair runs on a vhost and databases of its own, behind a proxy
that can cut every connection through it.
"""

import asyncio
import signal
from functools import partial
from pathlib import Path
from uuid import uuid4

from cqrs_client.client import CqrsClient
from tests.delivery import created, events_of, visible
from tests.faults.supervised import make_run
from tests.own import own_resources
from tests.resources import Servers
from tests.waiting import until

CUSTOMERS = 60


async def test_no_command_is_lost_when_the_broker_connection_is_cut(servers: Servers, tmp_path: Path) -> None:
    overrides = {"CQRS_BROKER_GRACE": "5", "CQRS_RUN_MIN_UPTIME": "2"}
    async with own_resources(servers, overrides, proxied=True) as own:
        proxy = own.proxy
        assert proxy is not None
        with make_run(own.env, tmp_path / "run-broker-cut.log") as run:
            await run.ready()
            await asyncio.sleep(2.5)  # past CQRS_RUN_MIN_UPTIME: a restart is a restart
            ids = [uuid4() for _ in range(CUSTOMERS)]
            async with CqrsClient.connect(own.amqp_url, timeout=5) as client:
                sending = asyncio.gather(*(created(client, customer_id) for customer_id in ids))
                await asyncio.sleep(0.2)
                assert proxy.stdout is not None
                proxy.send_signal(signal.SIGUSR1)
                cut = (await proxy.stdout.readline()).split()
                assert int(cut[1]) >= 2, run.output()  # a connection of each service at least
                await sending
                for customer_id in ids:
                    await until(
                        partial(visible, client, customer_id),
                        timeout=60,
                        what=f"{customer_id} in the view",
                    )
                log = run.output()
        assert await events_of(own.dsn, ids) == CUSTOMERS, log
