"""The Grafana dashboard (infra/grafana) checked as text: docker-compose provisions it with its
datasources, every panel uses a provisioned datasource, every Prometheus expression names a
series the metrics service exports, and every SQL panel reads analyst views that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from lts_metrics.prometheus_release import GAUGES, HISTOGRAMS
from lts_metrics.schema import VIEWS

ROOT = Path(__file__).resolve().parents[1]
GRAFANA = ROOT / "infra" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "lts-flow-metrics.json"
EXPORTED = {
    "lts_metrics_time_to_triage_seconds_bucket",
    "lts_metrics_sla_tickets",
    *(g.name for g in GAUGES),
    *(f"{h.name}_bucket" for h in HISTOGRAMS),
}


def _panels() -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = json.loads(DASHBOARD.read_text())["panels"]
    return panels


def _datasources() -> dict[str, str]:
    loaded = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "lts-flow.yaml").read_text()
    )
    return {d["uid"]: d["type"] for d in loaded["datasources"]}


def test_compose_provisions_grafana_with_the_dashboard_and_its_datasources() -> None:
    grafana = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["grafana"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"]}

    assert mounts["./infra/grafana/provisioning"] == "/etc/grafana/provisioning"
    assert mounts["./infra/grafana/dashboards"] == "/var/lib/grafana/dashboards"
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "lts-flow.yaml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_every_panel_uses_a_provisioned_datasource() -> None:
    datasources = _datasources()

    for panel in _panels():
        for target in panel["targets"]:
            assert datasources[target["datasource"]["uid"]] == target["datasource"]["type"]


def test_every_prometheus_expression_names_an_exported_series() -> None:
    exprs = [t["expr"] for p in _panels() for t in p["targets"] if "expr" in t]

    named = {name for expr in exprs for name in re.findall(r"lts_metrics_[a-z_]+", expr)}
    assert exprs
    assert named <= EXPORTED, named - EXPORTED


def test_every_sql_panel_reads_existing_analyst_views() -> None:
    sqls = [t["rawSql"] for p in _panels() for t in p["targets"] if "rawSql" in t]

    views = {name for sql in sqls for name in re.findall(r"metrics\.(v_[a-z_]+)", sql)}
    assert len(sqls) == 4  # the DORA tiles
    assert views <= set(VIEWS), views - set(VIEWS)


def test_the_dashboard_covers_the_issue_s_charts() -> None:
    titles = " | ".join(p["title"] for p in _panels()).lower()

    for wanted in (
        "time to triage",
        "time to release",
        "sla compliance",
        "rollback rate",
        "test pass rate",
        "adoption",
        "deployment frequency",
        "lead time",
        "change failure rate",
        "recovery time",
    ):
        assert wanted in titles, wanted
