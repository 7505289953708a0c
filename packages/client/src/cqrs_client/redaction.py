"""Passwords out of text that names a URL or a DSN, before it is logged or shown."""

import re

# user:password@ in any URL (amqp, postgresql, mongodb, http): the password goes, the rest stays. Up to
# the last @ of the word: a password with an unencoded @ in it must not leave its tail behind. Each
# part is bounded, so that a try at each position costs a bounded number of steps: unbounded, the
# scheme part made the pattern quadratic on dotted text (``a.a.a…``: 120 KB took ~38 s; issue 20).
_PASSWORD_IN_URL = re.compile(r"(\b[a-z][a-z0-9+.-]{0,31}://[^:/@\s]{0,256}:)\S{0,512}@", re.IGNORECASE)
# password=... as a DSN parameter (postgresql://host/db?password=..., libpq's "password=... host=...").
_PASSWORD_PARAMETER = re.compile(r"(\bpassword=)(?:'[^']*'|[^&\s'\"]+)", re.IGNORECASE)


def redact(text: str) -> str:
    """``amqp://user:secret@host`` -> ``amqp://user:***@host``, wherever it stands in ``text``."""
    if "://" not in text and "=" not in text:
        return text  # neither pattern can match (each needs its literal): most lines, at 1/40 the cost
    return _PASSWORD_PARAMETER.sub(r"\1***", _PASSWORD_IN_URL.sub(r"\1***@", text))
