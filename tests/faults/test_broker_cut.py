"""The TCP connection to the broker is cut under load (no close from the broker, a network fault).

Each service either reconnects by itself or, where aio-pika's reconnect hangs, its watchdog exits
after CQRS_BROKER_GRACE and `make run` starts it again. Either way no command is lost or applied
twice, and the view catches up. The pair runs on a vhost and databases of its own, behind a proxy
that can cut every connection through it.
"""

import asyncio
import signal
from functools import partial
from uuid import uuid4

import pytest

from cqrs_shared.client import CqrsClient
from tests.delivery import created, events_of, visible
from tests.faults.isolated import proxy_to, through
from tests.faults.supervised import make_run
from tests.pair import Pair
from tests.resources import fresh_mongo, fresh_postgres, fresh_vhost, no_vhost
from tests.waiting import until

CUSTOMERS = 60


async def test_no_command_is_lost_when_the_broker_connection_is_cut(
    pair: Pair, rabbitmq_server: str, postgres_server: str, mongodb_url: str
) -> None:
    with fresh_vhost(rabbitmq_server) as vhost:
        if vhost is None:
            pytest.fail(no_vhost(rabbitmq_server))
        async with (
            fresh_postgres(postgres_server, "cqrs_cut") as dsn,
            fresh_mongo(mongodb_url, "cqrs_cut") as read_db,
            proxy_to(vhost) as (port, proxy),
        ):
            env = {
                **pair.env,
                "CQRS_RABBITMQ_URL": through(vhost, port),
                "CQRS_POSTGRES_DSN": dsn,
                "CQRS_MONGODB_DATABASE": read_db,
                "CQRS_BROKER_GRACE": "5",
                "CQRS_RUN_MIN_UPTIME": "2",
            }
            with make_run(env, pair.log_dir / "run-broker-cut.log") as run:
                await run.ready()
                await asyncio.sleep(2.5)  # past CQRS_RUN_MIN_UPTIME: a restart is a restart
                ids = [uuid4() for _ in range(CUSTOMERS)]
                async with CqrsClient.connect(vhost, timeout=5) as client:
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
            assert await events_of(dsn, ids) == CUSTOMERS, log
