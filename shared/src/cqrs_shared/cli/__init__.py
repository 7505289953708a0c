"""The `cqrs` command line, on top of everything: commands, queries, operators' tools, provisioning."""
