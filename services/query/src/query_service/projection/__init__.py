"""Projection: what each event changes (pure), applying it, read-your-writes, reading the command side."""
