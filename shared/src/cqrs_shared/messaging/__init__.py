"""RabbitMQ adapters: topology, message conversion, confirmed publishing, consumers and RPC."""
