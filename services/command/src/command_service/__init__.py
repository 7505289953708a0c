"""The command service: RabbitMQ commands -> pure decisions -> PostgreSQL -> published events."""
