"""The observability kit (deploy/observability, docs/observability.md) against the running pair: every
metric its alert rules and dashboard read is one the services export, and the files are what
Prometheus, Grafana and Compose accept.

promtool (Prometheus's own checker) comes from infra/promtool.sh where it is not on PATH. The
merge of the kit's compose file into the stack is checked where Compose is installed, by
`make test-containers` (tests/containers/test_observability_compose.py).
"""

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from command_service.settings import CommandSettings
from cqrs_client.client import CqrsClient
from cqrs_contracts import (
    CommandRejected,
    CreateCustomer,
    Deposit,
    GetAccount,
    GetCustomer,
    GetCustomersWithName,
    OpenAccount,
    Withdraw,
)
from query_service.settings import QuerySettings
from tests.e2e.scenarios import accepted
from tests.pair import ROOT, Pair
from tests.promql import SYNTHETIC, exported_names, is_exported, metric_names
from tests.scrape import exposition, total

KIT = ROOT / "deploy" / "observability"
RULES = KIT / "prometheus" / "alerts.yml"
RULE_TESTS = KIT / "prometheus" / "alerts.test.yml"
SCRAPE_CONFIG = KIT / "prometheus" / "prometheus.yml"
DASHBOARD = KIT / "grafana" / "dashboards" / "cqrs-pair.json"
PROVISIONING = KIT / "grafana" / "provisioning"
COMPOSE = KIT / "compose.yml"
GUIDE = ROOT / "docs" / "observability.md"

RUNBOOK = "docs/operations.md#when-things-fail"
SEVERITIES = {"critical", "warning"}
# The job names the rules select by, and the port each service listens on unless told otherwise.
JOBS = {
    "command-service": CommandSettings.model_fields["command_http_port"].default,
    "query-service": QuerySettings.model_fields["query_http_port"].default,
}
DURATION = re.compile(r"^(\d+(ms|[smhdwy]))+$")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(RULES)["groups"] for rule in group["rules"]]


def dashboard_panels() -> list[dict[str, Any]]:
    return [panel for panel in json.loads(DASHBOARD.read_text())["panels"] if panel["type"] != "row"]


def dashboard_exprs() -> list[str]:
    return [target["expr"] for panel in dashboard_panels() for target in panel["targets"]]


def kit_exprs() -> dict[str, str]:
    """Every PromQL expression of the kit, by where it is."""
    found = {f"alert {rule['alert']}": rule["expr"] for rule in alert_rules()}
    for panel in dashboard_panels():
        for target in panel["targets"]:
            found[f"panel {panel['title']!r} {target['refId']}"] = target["expr"]
    return found


# --- the names: against the running pair -------------------------------------------------------


async def drive(client: CqrsClient) -> None:
    """A little of everything the dashboard shows: commands accepted and rejected, events projected,
    queries with and without a token (a consistency wait, a view cache read)."""
    customer = await accepted(client, CreateCustomer(name="Observed", locale="en"))
    account = await accepted(client, OpenAccount(customer_id=customer.id, currency="EUR"))
    deposit = await accepted(client, Deposit(account_id=account.id, amount="25.00"))
    refused = await client.send(Withdraw(account_id=account.id, amount="99.00"))
    assert isinstance(refused, CommandRejected)
    await client.ask(GetCustomer(customer_id=customer.id, token=deposit.token))
    await client.ask(GetCustomer(customer_id=customer.id))
    await client.ask(GetAccount(account_id=account.id, min_version=2))
    await client.ask(GetCustomersWithName(name="Observed"))


async def test_every_metric_the_alerts_and_the_dashboard_read_is_exported(
    pair: Pair, client: CqrsClient
) -> None:
    await drive(client)
    command, query = await exposition(pair.command.url), await exposition(pair.query.url)
    names: set[str] = set()
    histograms: set[str] = set()
    for text in (command, query):
        more_names, more_histograms = exported_names(text)
        names |= more_names
        histograms |= more_histograms
    missing = {
        f"{where}: {name}"
        for where, expr in kit_exprs().items()
        for name in metric_names(expr)
        if name not in SYNTHETIC and not is_exported(name, names, histograms)
    }
    assert not missing, "read by the kit, exported by neither service:\n" + "\n".join(sorted(missing))
    # What was driven shows up in the series the panels read, not only in the declarations.
    assert total(command, "cqrs_messages_handled_total", outcome="rejected") >= 1
    assert total(query, "cqrs_messages_handled_total", outcome="applied") >= 3
    assert total(query, "cqrs_consistency_waits_total") >= 1


async def test_both_services_say_ready_in_their_metrics(pair: Pair) -> None:
    for service in (pair.command, pair.query):
        text = await exposition(service.url)
        assert total(text, "cqrs_ready") == 1, f"{service.name}: cqrs_ready is not 1"


def test_the_name_reader_finds_metrics_and_leaves_out_functions_labels_and_variables() -> None:
    expr = (
        'sum by (job, le) (rate(a_seconds_bucket{queue=~"x.y|z", le!="1"}[$__rate_interval] offset 5m))'
        ' / on (job) group_left () b_total > 0.5 and bool up unless absent(c{job="d"}) or e[5m:1m]'
        " or histogram_quantile(0.9, f)"
    )
    assert metric_names(expr) == {"a_seconds_bucket", "b_total", "up", "c", "e", "f"}
    names, histograms = exported_names(
        '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 1\n'
        "# TYPE n counter\n# HELP n n\n# TYPE g gauge\ng 1\n"
    )
    assert all(is_exported(name, names, histograms) for name in ("h_bucket", "h_count", "n_total", "g"))
    assert not is_exported("g_bucket", names, histograms)
    assert not is_exported("nope", names, histograms)


# --- the files' structure ----------------------------------------------------------------------


def test_the_rules_file_has_groups_of_alerts_each_with_severity_summary_and_runbook() -> None:
    document = load_yaml(RULES)
    assert set(document) == {"groups"}
    groups = document["groups"]
    assert len({group["name"] for group in groups}) == len(groups) > 0
    seen: set[str] = set()
    for group in groups:
        assert set(group) <= {"name", "interval", "rules"}, group.get("name")
        assert group["rules"], group.get("name")
        for rule in group["rules"]:
            name = rule.get("alert")
            assert isinstance(name, str), rule
            assert re.fullmatch(r"Cqrs[A-Z][A-Za-z]+", name), rule
            assert name not in seen, f"{name} twice"
            seen.add(name)
            assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}, name
            assert isinstance(rule["expr"], str), name
            assert rule["expr"].strip(), name
            assert "for" not in rule or DURATION.match(rule["for"]), f"{name}: for {rule['for']!r}"
            assert rule["labels"]["severity"] in SEVERITIES, name
            notes = rule["annotations"]
            assert {"summary", "description", "runbook_url"} <= set(notes), name
            assert notes["runbook_url"] == RUNBOOK, name
            assert all(isinstance(text, str) and text.strip() for text in notes.values()), name


def test_every_alert_has_a_scenario_that_fires_and_a_section_in_the_guide() -> None:
    alerts = {rule["alert"] for rule in alert_rules()}
    firing = {
        case["alertname"]
        for test in load_yaml(RULE_TESTS)["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert alerts - firing == set(), "alerts no promtool scenario sees firing"
    headings = set(re.findall(r"^#{2,4} `?(Cqrs\w+)`?", GUIDE.read_text(), re.MULTILINE))
    assert alerts - headings == set(), "alerts without a section in docs/observability.md"
    assert headings - alerts == set(), "sections in docs/observability.md of alerts that do not exist"


def test_the_dashboard_reads_prometheus_through_its_datasource_variable() -> None:
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] == "cqrs-pair"
    assert board["title"]
    [variable] = [v for v in board["templating"]["list"] if v["name"] == "datasource"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in dashboard_panels():
        where = panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
        assert panel["targets"], where
        assert all(t["expr"].strip() for t in panel["targets"]), where
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), where
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, where
        assert grid["h"] > 0, where
    exprs = " ".join(dashboard_exprs())
    for topic in (
        "command-service.commands",
        "query-service.rpc",
        "cqrs_projection_lag_events",
        "cqrs_projection_last_lag_seconds",
        "cqrs_dead_letters_total",
        "cqrs_outbox_backlog_events",
        "cqrs_commit_to_publish_seconds_bucket",
        'cqrs_view_reads_total{source="hit"}',
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
    ):
        assert topic in exprs, f"no panel reads {topic}"


def test_grafana_and_prometheus_configs_point_where_compose_mounts_them() -> None:
    [provider] = load_yaml(PROVISIONING / "dashboards" / "dashboards.yml")["providers"]
    sources = {
        s["type"]: s for s in load_yaml(PROVISIONING / "datasources" / "datasources.yml")["datasources"]
    }
    assert sources["prometheus"]["url"] == "http://prometheus:9090"
    compose = load_yaml(COMPOSE)["services"]
    mounts = dict(
        volume.split(":")[:2] for volume in compose["grafana"]["volumes"] if volume.startswith("./")
    )
    assert mounts["./deploy/observability/grafana/dashboards"] == provider["options"]["path"]
    for path in mounts:
        assert (ROOT / path).is_dir(), path
    scrape = load_yaml(SCRAPE_CONFIG)
    assert scrape["rule_files"] == [RULES.name]
    ports = {
        job["job_name"]: (job["dns_sd_configs"][0]["names"], job["dns_sd_configs"][0]["port"])
        for job in scrape["scrape_configs"]
        if job["job_name"] in JOBS
    }
    assert ports == {name: ([name], port) for name, port in JOBS.items()}
    for name in ("prometheus", "grafana", "jaeger"):
        assert compose[name]["profiles"] == ["observability"], name


# --- what Prometheus's own tools say ------------------------------------------------------------


def promtool(*args: str, cwd: Path) -> str:
    """Prometheus's checker: on PATH, else the one infra/promtool.sh unpacks (make test runs it first)."""
    binary = shutil.which("promtool")
    if binary is None:
        unpacked = subprocess.run(
            ["bash", str(ROOT / "infra" / "promtool.sh")],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert unpacked.returncode == 0, f"promtool: infra/promtool.sh failed: {unpacked.stderr}"
        binary = str(Path(unpacked.stdout.strip()) / "promtool")
    done = subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_promtool_accepts_the_rules_and_the_scrape_config() -> None:
    assert "SUCCESS" in promtool("check", "rules", RULES.name, cwd=RULES.parent)
    assert "SUCCESS" in promtool("check", "config", SCRAPE_CONFIG.name, cwd=SCRAPE_CONFIG.parent)


def test_promtool_sees_each_alert_fire_in_its_scenario_and_stay_quiet_in_the_others(tmp_path: Path) -> None:
    # promtool compares annotations whole: the scenarios give labels only, so they run on the rules
    # without annotations (whose templates the check above has parsed).
    rules = load_yaml(RULES)
    for group in rules["groups"]:
        for rule in group["rules"]:
            del rule["annotations"]
    (tmp_path / RULES.name).write_text(yaml.safe_dump(rules))
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    assert "SUCCESS" in promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)


def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    # Each query as a recording rule: `check rules` parses it as Prometheus would. Grafana puts a
    # duration in place of $__rate_interval before it sends the query.
    records = [
        {"record": f"cqrs:dashboard_query_{n}", "expr": expr.replace("$__rate_interval", "1m")}
        for n, expr in enumerate(dashboard_exprs())
    ]
    (tmp_path / "dashboard.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]})
    )
    assert f"SUCCESS: {len(records)} rules found" in promtool("check", "rules", "dashboard.yml", cwd=tmp_path)
