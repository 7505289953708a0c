"""Where the messages travel: the brokers of the AsyncAPI document, each on the pair's vhost.

An AMQP URL names the vhost as its path (amqp://user:password@host:5672/cqrs), so each server's
``pathname`` is the vhost; the channels' bindings name it too (channels.py). Every participant logs
in as a user of its role (messaging/access.py): the security scheme says so.
"""

from cqrs_shared.asyncapi.schemas import JsonSchema
from cqrs_shared.messaging.access import VHOST

AMQP_VERSION = "0.9.1"
SECURITY_SCHEME = "roleUser"


def _server(host: str, protocol: str, description: str, **more: JsonSchema) -> JsonSchema:
    return {
        "host": host,
        "protocol": protocol,
        "protocolVersion": AMQP_VERSION,
        "pathname": f"/{VHOST}",
        "description": description,
        "security": [{"$ref": f"#/components/securitySchemes/{SECURITY_SCHEME}"}],
    } | more


def servers() -> JsonSchema:
    return {
        "local": _server(
            "127.0.0.1:5672",
            "amqp",
            f"The local broker (`make servers`, or the container stack of `make up`), vhost `{VHOST}`: "
            "plain AMQP on loopback, the users of `infra/local.env`.",
        ),
        "production": _server(
            "{host}:5671",
            "amqps",
            f"Your broker, over TLS (amqps://user:password@host:5671/{VHOST}?cafile=...), vhost "
            f"`{VHOST}`, provisioned from `cqrs broker definitions` or `cqrs broker grant`.",
            variables={"host": {"default": "rabbitmq.example.com", "description": "the broker's host name"}},
        ),
    }


def security_schemes() -> JsonSchema:
    return {
        SECURITY_SCHEME: {
            "type": "userPassword",
            "description": "A RabbitMQ user of one role on the vhost (command, query, client, admin, or a "
            "subscriber's own: `cqrs broker grant ROLE USER`); the broker checks each message's "
            "`user_id` against it.",
        }
    }
