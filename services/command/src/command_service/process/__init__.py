"""The transfer process manager: a pure core (transfers), its durable state (store), and the
consumer and sweeper that drive it (runner)."""
