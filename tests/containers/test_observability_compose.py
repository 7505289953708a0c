"""The observability kit's compose file (deploy/observability/compose.yml) merged into the stack by
Compose itself (`make test-containers` installs it): traces go to Jaeger, and Prometheus and
Grafana mount the kit's files."""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.pair import ROOT

KIT = ROOT / "deploy" / "observability"
DASHBOARD = KIT / "grafana" / "dashboards" / "cqrs-pair.json"
PROVISIONING = KIT / "grafana" / "provisioning"
COMPOSE = KIT / "compose.yml"


def compose_command() -> list[str]:
    """Compose v2 (`docker compose`) or v1 (`docker-compose`), whichever answers."""
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        version = subprocess.run([*command, "version"], capture_output=True, timeout=30, check=False)
        if version.returncode == 0:
            return command
    raise AssertionError(
        "neither `docker compose` nor `docker-compose` answers: make test-containers installs them"
    )


def bind_sources(service: dict[str, Any]) -> dict[str, str]:
    """A merged service's bind mounts, target to source (v1 prints them short, v2 long)."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        if source.startswith("/"):
            found[target] = source
    return found


def test_compose_merges_the_kit_into_the_stack_with_traces_to_jaeger() -> None:
    command = [*compose_command(), "-p", "cqrs-kit-check", "-f", "docker-compose.yml", "-f", str(COMPOSE)]
    # A clean environment: the defaults of the files, not this shell's OTEL_* or CQRS_* values.
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(Path.home())}
    done = subprocess.run(
        [*command, "--profile", "observability", "config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    for name in ("command-service", "query-service"):
        tracing = services[name]["environment"]
        assert tracing["OTEL_TRACES_EXPORTER"] == "otlp", name
        assert tracing["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318", name
    prometheus, grafana = bind_sources(services["prometheus"]), bind_sources(services["grafana"])
    assert Path(prometheus["/etc/prometheus"]) == KIT / "prometheus"
    assert Path(grafana["/etc/grafana/provisioning/datasources"]) == PROVISIONING / "datasources"
    assert Path(grafana["/etc/grafana/provisioning/dashboards"]) == PROVISIONING / "dashboards"
    assert Path(grafana["/etc/grafana/dashboards/cqrs-pair"]) == DASHBOARD.parent
    assert "4318" in json.dumps(services["jaeger"]["ports"])
