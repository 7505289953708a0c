"""The query service: events -> read-optimised MongoDB documents -> answers over RabbitMQ RPC."""
