"""The parsers of ``cqrs``, one module per area; they import argparse and light constants only, so that
``cqrs --help`` loads neither the broker's client nor pydantic (tests/unit/test_cli.py checks)."""
