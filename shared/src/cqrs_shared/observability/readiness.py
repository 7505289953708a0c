"""The body of ``/readyz``: what a service says of itself (probes.py) and what ``cqrs status`` reads.

Readiness.of("command", {"broker": Check(ok=True)}, Outbox(backlog=0, oldest_age_seconds=0.0))
"""

from pydantic import BaseModel, ConfigDict


class Check(BaseModel):
    """One readiness check; the projection-lag check also says how far behind."""

    model_config = ConfigDict(extra="allow", frozen=True)
    ok: bool
    reason: str | None = None
    events: int | None = None
    seconds: float | None = None

    @classmethod
    def when(cls, ok: bool, otherwise: str) -> "Check":
        """Passing when ``ok``; else failing with the reason ``otherwise``."""
        return cls(ok=ok, reason=None if ok else otherwise)


class Outbox(BaseModel):
    model_config = ConfigDict(frozen=True)
    backlog: int
    oldest_age_seconds: float | None = None


class Readiness(BaseModel):
    """200 when ``ready``, else 503; readers ignore fields they do not know."""

    model_config = ConfigDict(extra="allow", frozen=True)
    service: str
    ready: bool
    checks: dict[str, Check] = {}
    outbox: Outbox | None = None

    @classmethod
    def of(cls, service: str, checks: dict[str, Check], outbox: Outbox | None = None) -> "Readiness":
        """Ready when every check passes."""
        return cls(service=service, ready=all(c.ok for c in checks.values()), checks=checks, outbox=outbox)
