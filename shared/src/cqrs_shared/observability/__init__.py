"""Observability: JSON logs with redaction, metrics, traces, the probes' HTTP server and readiness."""
