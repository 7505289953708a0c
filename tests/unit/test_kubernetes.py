"""The Kubernetes manifests (deploy/kubernetes) set only settings the services read, with values they
accept, from files where the pods mount them. The objects themselves (strict decoding, probes, budgets,
security) are checked by `make k8s-check` (Go, no cluster); here only what needs the settings classes.

The manifests are read as text: the settings are in env files (base/config/*.env), and the few YAML
lines looked at are matched line by line, so no YAML parser is needed.
"""

import os
import re
from pathlib import Path
from typing import TypeVar

import pytest
from pydantic import TypeAdapter
from pydantic_settings import BaseSettings

from command_service.settings import CommandSettings
from cqrs_shared.runtime.secret_files import SUFFIX, is_secret
from query_service.settings import QuerySettings

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
CONFIG = KUBERNETES / "base" / "config"
GUIDE = ROOT / "docs" / "kubernetes.md"

# Which service reads each env file, and the ConfigMap that kustomize makes of it.
READERS: dict[str, tuple[type[BaseSettings], ...]] = {
    "common": (CommandSettings, QuerySettings),
    "command": (CommandSettings,),
    "query": (QuerySettings,),
}

# Added by issue 12 (quorum queues, the partitioned projector): the manifests depend on them.
ISSUE_12_SETTINGS = {"CQRS_QUEUE_TYPE": "quorum", "CQRS_EVENT_PARTITIONS": "4"}

# What a mounted Secret's files hold in the test: a broker URL per node (failover), as in a cluster.
SECRET_FILES = {
    "rabbitmq-url": "amqp://cqrs-x:pw@rabbitmq-0.rabbitmq:5672/cqrs,amqp://cqrs-x:pw@rabbitmq-1.rabbitmq:5672/cqrs",
    "postgres-dsn": "postgresql://cqrs_command:pw@postgres-rw:5432/cqrs?sslmode=verify-full",
    "mongodb-url": "mongodb://cqrs_query:pw@mongodb-0.mongodb:27017,mongodb-1.mongodb:27017/?replicaSet=rs0",
}

VARIABLE = re.compile(r"\bCQRS_[A-Z0-9_]*[A-Z0-9]\b")


def read_env(path: Path) -> dict[str, str]:
    """An env file as kustomize's configMapGenerator reads it: KEY=VALUE lines, # comments."""
    entries = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            entries[key.strip()] = value
    return entries


def variables(settings: type[BaseSettings]) -> dict[str, str]:
    """Every variable the class reads, to its field: CQRS_X, and CQRS_X_FILE for a secret."""
    found = {}
    for field, info in settings.model_fields.items():
        found[f"CQRS_{field.upper()}"] = field
        if is_secret(info):
            found[f"CQRS_{field.upper()}{SUFFIX}"] = field
    return found


def overlay_literals() -> list[tuple[str, str, str]]:
    """(overlay, ConfigMap, 'CQRS_X=value') for each literal an overlay merges into a ConfigMap."""
    found = []
    for kustomization in sorted(KUBERNETES.glob("overlays/*/kustomization.yaml")):
        config_map = ""
        for line in kustomization.read_text().splitlines():
            named = re.match(r"\s*-?\s*name:\s*cqrs-(\w+)-config\s*$", line)
            if named:
                config_map = named.group(1)
            literal = re.match(r"\s*-\s*(CQRS_[A-Z0-9_]+=.*)$", line)
            if literal:
                found.append((kustomization.parent.name, config_map, literal.group(1)))
    return found


SERVICE_OF: dict[type[BaseSettings], str] = {CommandSettings: "command", QuerySettings: "query"}

S = TypeVar("S", bound=BaseSettings)


def start(settings: type[S], secrets: Path, extra: dict[str, str] | None = None) -> S:
    """The settings the service's container reads: its environment is the common and its own
    ConfigMap (and ``extra``), each *_FILE path moved to a file under ``secrets`` that holds what
    the mounted Secret's file would hold; no CQRS_* variable of the developer's shell takes part."""
    service = SERVICE_OF[settings]
    env = read_env(CONFIG / "common.env") | read_env(CONFIG / f"{service}.env") | (extra or {})
    for key, value in env.items():
        if key.endswith(SUFFIX):
            name = Path(value).name
            (secrets / name).write_text(SECRET_FILES[name] + "\n")
            env[key] = str(secrets / name)
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.upper().startswith("CQRS_"):
                patch.delenv(name)
        for key, value in env.items():
            patch.setenv(key, value)
        return settings()


@pytest.mark.parametrize("config", sorted(READERS))
def test_every_setting_of_a_config_file_is_one_its_services_read(config: str) -> None:
    for key in read_env(CONFIG / f"{config}.env"):
        for settings in READERS[config]:
            assert key in variables(settings), f"{config}.env: {settings.__name__} reads no {key}"


def test_the_issue_12_settings_are_set_for_a_cluster() -> None:
    common, query = read_env(CONFIG / "common.env"), read_env(CONFIG / "query.env")
    assert common["CQRS_QUEUE_TYPE"] == ISSUE_12_SETTINGS["CQRS_QUEUE_TYPE"]
    assert query["CQRS_EVENT_PARTITIONS"] == ISSUE_12_SETTINGS["CQRS_EVENT_PARTITIONS"]
    assert "CQRS_QUEUE_TYPE" in variables(CommandSettings)
    assert "CQRS_QUEUE_TYPE" in variables(QuerySettings)
    assert "CQRS_EVENT_PARTITIONS" in variables(QuerySettings)


def test_the_passwords_come_only_from_files() -> None:
    for config in READERS:
        for key in read_env(CONFIG / f"{config}.env"):
            for settings in READERS[config]:
                info = settings.model_fields[variables(settings)[key]]
                assert key.endswith(SUFFIX) or not is_secret(info), f"{config}.env sets {key} as a value"


def test_the_command_service_starts_from_its_config_maps_and_secret(tmp_path: Path) -> None:
    settings = start(CommandSettings, tmp_path)
    assert settings.broker_urls() == SECRET_FILES["rabbitmq-url"].split(",")
    assert settings.queue_type == "quorum"
    assert settings.http_host == "0.0.0.0"
    assert settings.log_format == "json"
    assert settings.migrate_on_start is False
    assert settings.command_http_port == 8081
    assert str(settings.postgres_dsn) == SECRET_FILES["postgres-dsn"]


def test_the_query_service_starts_from_its_config_maps_and_secret(tmp_path: Path) -> None:
    settings = start(QuerySettings, tmp_path)
    assert len(settings.broker_urls()) == 2
    assert settings.queue_type == "quorum"
    assert settings.event_partitions == 4
    assert settings.http_host == "0.0.0.0"
    assert settings.query_http_port == 8082
    assert str(settings.mongodb_url).startswith("mongodb://cqrs_query:pw@mongodb-0.mongodb:27017,")


def test_what_an_overlay_merges_into_a_config_map_is_read_and_accepted(tmp_path: Path) -> None:
    literals = overlay_literals()
    assert literals, "the example overlay shows how to change a setting"
    for overlay, config, literal in literals:
        key, _, value = literal.partition("=")
        for settings in READERS[config]:
            assert key in variables(settings), f"overlays/{overlay}: {settings.__name__} reads no {key}"
            read = getattr(start(settings, tmp_path, {key: value}), variables(settings)[key])
            assert read == TypeAdapter(type(read)).validate_python(value), f"overlays/{overlay}: {key}"


def test_each_pod_mounts_its_secret_files_where_the_config_says() -> None:
    for service in ("command", "query"):
        manifest = (KUBERNETES / "base" / f"{service}-service.yaml").read_text()
        mounts = set(re.findall(r"mountPath: (\S+)", manifest))
        items = set(re.findall(r"- key: (\S+)\n\s+path: \1\n", manifest))
        for key, value in read_env(CONFIG / f"{service}.env").items():
            if key.endswith(SUFFIX):
                assert str(Path(value).parent) in mounts, f"{service}: {value} is not under a mount"
                assert Path(value).name in items, (
                    f"{service}: the Secret volume has no item {Path(value).name}"
                )


def test_the_containers_listen_where_the_probes_and_settings_say() -> None:
    for service, settings, field in (
        ("command", CommandSettings, "command_http_port"),
        ("query", QuerySettings, "query_http_port"),
    ):
        manifest = (KUBERNETES / "base" / f"{service}-service.yaml").read_text()
        port = read_env(CONFIG / f"{service}.env")[f"CQRS_{field.upper()}"]
        assert port == str(settings.model_fields[field].default)
        assert re.findall(r"containerPort: (\d+)", manifest) == [port]
        assert f'prometheus.io/port: "{port}"' in manifest


def test_the_guide_creates_the_secrets_with_the_keys_the_pods_mount() -> None:
    guide = GUIDE.read_text()
    for service in ("command", "query"):
        manifest = (KUBERNETES / "base" / f"{service}-service.yaml").read_text()
        keys = re.findall(r"- key: (\S+)", manifest)
        command = re.search(
            rf"kubectl (?:-n \S+ )?create secret generic cqrs-{service}-secrets(?:[^\n]*\\\n)*[^\n]*", guide
        )
        assert command, f"the guide does not create cqrs-{service}-secrets"
        assert sorted(re.findall(r"--from-file=([\w-]+)=", command.group(0))) == sorted(keys)


def test_every_setting_the_manifests_and_the_guide_name_exists() -> None:
    known = variables(CommandSettings) | variables(QuerySettings)
    # The guide may also name what the CLI and `cqrs broker definitions` read: the configuration page
    # lists them.
    listed = (ROOT / "docs" / "configuration.md").read_text()
    for path in [*KUBERNETES.rglob("*.yaml"), *KUBERNETES.rglob("*.env")]:
        for name in VARIABLE.findall(path.read_text()):
            assert name in known, f"{path.relative_to(ROOT)} names {name}, which no service reads"
    for name in VARIABLE.findall(GUIDE.read_text()):
        assert name in known or name in listed, f"docs/kubernetes.md names {name}, which nothing reads"
