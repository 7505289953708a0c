"""Versioned SQL migrations, applied in order at start-up (see command_service.migrate)."""
