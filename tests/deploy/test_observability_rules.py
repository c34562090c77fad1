"""deploy/observability: the alert rules and the Grafana dashboard parse, their PromQL parses, and
every metric they name is exported by a running service (the suite's stack, scraped on /metrics)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import promql_parser
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from lbb.devstack import Stack
from tests.conftest import eventually

FOLDER = Path(__file__).resolve().parents[2] / "deploy" / "observability"
ALERTS = FOLDER / "alerts.yml"
DASHBOARD = FOLDER / "grafana-dashboard.json"
# What each alert of issue 22 watches: the rules must cover all five.
WATCHED = {
    "outbox lag": "lbb_outbox_lag_seconds",
    "consumer lag": "lbb_consumer_lag",
    "DLQ growth": "lbb_dead_letters_total",
    "delivery failures": "lbb_events_published_total",
    "5xx rate": "lbb_http_requests_total",
}
# Gauges the services set by themselves from the start: a sample proves the loop behind them runs.
SET_AT_START = ("lbb_consumer_lag", "lbb_dlq_depth", "lbb_outbox_lag_seconds")


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (parsed, not guessed with a regex)."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit, None)
    return names


def test_alert_rules_are_well_formed_and_cover_what_operators_watch() -> None:
    rules = alert_rules()
    assert len({r["alert"] for r in rules}) == len(rules)
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in {"page", "warn", "info"} and rule["annotations"]["summary"]
        promql_parser.parse(rule["expr"])  # raises on a syntax error
    named = {name for rule in rules for name in metric_names(rule["expr"])}
    assert {what: metric for what, metric in WATCHED.items() if metric not in named} == {}


def test_the_dashboard_is_grafana_json_whose_queries_parse() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["panels"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for expr in dashboard_exprs():
        promql_parser.parse(expr)


def test_a_broken_expression_or_name_would_be_caught() -> None:
    with pytest.raises(ValueError):
        promql_parser.parse("sum(rate(lbb_dead_letters_total[5m]")
    assert metric_names('sum by (t) (rate(a_total{x="1"}[5m])) / max(b) > 0 and on (s) c') == {"a_total", "b", "c"}


def exported(text: str) -> tuple[set[str], set[str]]:
    """(names a query may use, names that have a sample now) in a /metrics answer."""
    names: set[str] = set()
    sampled: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}
        names.update(family.name + s for s in suffixes.get(family.type, ()))
        sampled.update(sample.name for sample in family.samples)
    return names, sampled


async def test_every_metric_named_is_exported_by_a_running_service(stack: Stack) -> None:
    wanted = {name for e in [r["expr"] for r in alert_rules()] + dashboard_exprs() for name in metric_names(e)}
    async with httpx.AsyncClient(timeout=10) as client:

        async def scrape() -> tuple[set[str], set[str]] | None:
            names: set[str] = set()
            sampled: set[str] = set()
            for process in stack.processes.values():
                found = exported((await client.get(f"{process.url}/metrics")).text)
                names |= found[0]
                sampled |= found[1]
            return (names, sampled) if set(SET_AT_START) <= sampled else None

        names, _ = await eventually(scrape, timeout_s=60, what=f"the services to set {SET_AT_START}")
    assert sorted(wanted - names) == []
