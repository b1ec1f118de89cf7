"""Structure of the observability stack's files (compose, Loki, Promtail, Alloy, Grafana).

No Docker engine runs here, so these tests read the files the way each tool
would and check what would break at runtime: a dashboard query naming a metric
or event key the code does not produce, a datasource uid that does not exist,
an image that floats, a log mount that is writable, a default password.
Metric names come from the registry `logmetrics.metrics.MetricsSink` builds and
event keys from `logmetrics.events.event_json_schema()`, not from a copied list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import ROOT, replay_batches

COMPOSE = ROOT / "docker-compose.yml"
DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
PROMTAIL = ROOT / "promtail" / "promtail.yml"
ALLOY = ROOT / "alloy" / "config.alloy"
LOKI = ROOT / "loki" / "loki.yml"
LOKI_RULES = sorted((ROOT / "loki" / "rules").rglob("*.yml"))
PROM_RULES = sorted((ROOT / "prometheus" / "rules").glob("*.yml"))

ENV_REF = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")
LOG_MOUNT_TARGETS = ("/logs/", "/backfill")
# Labels Prometheus adds to every scraped series, and the histogram bucket label.
SCRAPE_LABELS = {"job", "instance"}
# Loki's own metrics the Prometheus rules use, with their labels (Loki 3.x, pkg/validation/validate.go;
# tests/test_stack_integration.py checks them against a real Loki's /metrics).
LOKI_METRICS = {"loki_discarded_samples_total": {"reason", "tenant"}}
# The label that gives every source file its own streams, and the event key it is read from.
FILE_LABEL, FILE_KEY = "logfile", "file"
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
                "unless", "offset"}


def split_volume(spec: str) -> tuple[str, str, str]:
    """(source, target, mode) of a short-syntax volume whose source may be ${VAR:-default}."""
    source = spec[: spec.index("}") + 1] if spec.startswith("${") else spec.split(":", 1)[0]
    target, _, mode = spec[len(source) + 1 :].partition(":")
    return source, target, mode or "rw"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def expand_defaults(text: str) -> str:
    """What `-config.expand-env=true` yields with no variable set: every default."""
    return ENV_REF.sub(lambda m: m.group(2) or "", text)


def dashboards() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in DASHBOARDS:
        yield path.name, json.loads(path.read_text(encoding="utf-8"))


def panel_targets(dashboard: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for panel in dashboard["panels"]:
        for sub in [panel, *panel.get("panels", [])]:
            for target in sub.get("targets", []):
                yield sub, target


def queries(uid: str) -> list[str]:
    """Every panel expression that runs against the datasource with this uid."""
    found = []
    for _, dash in dashboards():
        for panel, target in panel_targets(dash):
            ds = target.get("datasource") or panel.get("datasource") or {}
            if ds.get("uid") == uid:
                found.append(target["expr"])
    return found


def rule_exprs(paths: list[Path]) -> list[str]:
    return [rule["expr"] for p in paths for g in load_yaml(p)["groups"] for rule in g["rules"]]


# --- what the code produces -------------------------------------------------------------

@pytest.fixture(scope="module")
def registry_metrics() -> dict[str, set[str]]:
    """Sample names → label names, as the metrics module really exposes them after replaying samples/."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.parser import text_string_to_metric_families

    from logmetrics.parse.engine import Engine
    from logmetrics.sinks.metrics import METRIC_LABELS, MetricsSink, exposition

    registry = CollectorRegistry()
    engine = Engine()
    sink = MetricsSink(registry=registry, stats=engine.stats)
    for batch in replay_batches(engine, str(ROOT / "samples")):
        sink.write(batch)
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(exposition(registry).decode()):
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    # Metrics with no series on the samples still have their declared labels.
    for name, labels in METRIC_LABELS.items():
        histogram = name.endswith(("_duration_seconds", "_per_second"))
        for suffix in ("", "_bucket", "_sum", "_count") if histogram else ("",):
            names.setdefault(name + suffix, set(labels) | ({"le"} if suffix == "_bucket" else set()))
    assert names, "MetricsSink registered no metric"
    return names


@pytest.fixture(scope="module")
def event_schema() -> tuple[set[str], set[str]]:
    """(every event key, every kind value) from the event JSON Schema."""
    from logmetrics.core import events
    keys: set[str] = set()
    kinds: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, sub in node.get("properties", {}).items():
                keys.add(key)
                if key == "kind":
                    kinds.update([sub["const"]] if "const" in sub else sub.get("enum", []))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(events.event_json_schema())
    assert {"ts", "app", "kind", "level", "msg", "line", "file"} <= keys
    assert kinds, "no kind values in the event schema"
    return keys, kinds


# --- files parse ----------------------------------------------------------------------

def test_every_yaml_and_json_file_parses() -> None:
    files = [COMPOSE, PROMTAIL, LOKI, *LOKI_RULES, *PROM_RULES,
             *(ROOT / "prometheus").glob("*.yml"), *(ROOT / "prometheus" / "tests").glob("*.yml"),
             *(ROOT / "grafana" / "provisioning").rglob("*.yml")]
    assert len(files) >= 10
    for path in files:
        assert isinstance(load_yaml(path), dict), path
    assert len(DASHBOARDS) == 2
    for name, dash in dashboards():
        assert dash["uid"] and dash["title"], name


# --- docker-compose --------------------------------------------------------------------

@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(COMPOSE)
    return data


def test_compose_has_the_stack(compose: dict[str, Any]) -> None:
    assert {"logmetrics", "demo", "loki", "promtail", "prometheus", "grafana"} <= set(compose["services"])
    assert compose["services"]["demo"]["command"][:2] == ["demo", "/demo-logs"]


def test_compose_images_are_pinned_to_exact_versions(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        if "build" in svc:
            continue
        image = svc["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag != "latest", f"{name}: {image} is not pinned"
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: {image} is not an exact version"
    images = {svc["image"].rpartition(":")[0]: svc["image"].rpartition(":")[2]
              for svc in compose["services"].values() if "build" not in svc}
    major, minor, _ = (int(x) for x in images["grafana/loki"].split("."))
    assert (major, minor) >= (3, 4), "Loki must be a 3.x >= 3.4 (loki.yml is checked against 3.4+)"
    assert images["grafana/promtail"].startswith("3."), "Promtail is EOL: pin its last 3.x release"


def test_compose_log_mounts_are_read_only(compose: dict[str, Any]) -> None:
    checked = 0
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes", []):
            source, target, mode = split_volume(volume)
            is_host_path = source.startswith((".", "/", "${"))
            shared_events = target == "/events" and name != "logmetrics"
            if is_host_path or target.startswith(LOG_MOUNT_TARGETS) or shared_events:
                assert mode == "ro", f"{name}: {volume} must be read-only"
                checked += 1
    assert checked >= 20


def test_compose_log_dirs_come_from_env_with_sample_defaults(compose: dict[str, Any]) -> None:
    sources = {split_volume(v)[0] for v in compose["services"]["logmetrics"]["volumes"]}
    for var, default in [("OLLAMA_LOG_DIR", "./samples/ollama"), ("DEEPCHAT_LOG_DIR", "./samples/deepchat"),
                         ("DOCKER_CONTAINERS_DIR", "./samples/docker/containers")]:
        assert f"${{{var}:-{default}}}" in sources
    for source in sources:
        m = ENV_REF.fullmatch(source)
        if m and m.group(2) and m.group(2).startswith("./"):
            assert (ROOT / m.group(2)).is_dir(), f"default {m.group(2)} does not exist"


def test_compose_ports_bind_to_localhost(compose: dict[str, Any]) -> None:
    ports = [p for svc in compose["services"].values() for p in svc.get("ports", [])]
    assert len(ports) >= 4
    for port in ports:
        assert str(port).startswith("127.0.0.1:"), port


def test_compose_grafana_password_has_no_default_and_no_anonymous_access(compose: dict[str, Any]) -> None:
    env = compose["services"]["grafana"]["environment"]
    password = env["GF_SECURITY_ADMIN_PASSWORD"]
    assert re.fullmatch(r"\$\{GF_ADMIN_PASSWORD:\?[^}]+\}", password), password
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert "admin" not in COMPOSE.read_text().split("GF_ADMIN_PASSWORD", 1)[1].split("\n", 1)[0]


def test_compose_containers_are_non_root_read_only_and_healthchecked(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        user = str(svc.get("user", ""))
        m = ENV_REF.fullmatch(user)
        effective = m.group(2) if m else user
        assert effective and effective.split(":")[0] not in ("0", "root"), f"{name}: user {user!r}"
        assert svc.get("read_only") is True, f"{name}: root filesystem not read-only"
        assert svc.get("healthcheck", {}).get("test"), f"{name}: no healthcheck"
        for dep, cond in svc.get("depends_on", {}).items():
            assert cond["condition"] == "service_healthy", f"{name} -> {dep}"
    assert set(compose["services"]["promtail"]["depends_on"]) == {"loki", "logmetrics"}
    assert set(compose["services"]["grafana"]["depends_on"]) == {"loki", "prometheus"}


def test_compose_shares_events_through_a_named_volume(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "events" in compose["volumes"]
    assert "events:/events" in services["logmetrics"]["volumes"]
    assert "events:/events:ro" in services["promtail"]["volumes"]
    output = services["logmetrics"]["environment"]["LOGMETRICS_OUTPUT"]
    assert services["promtail"]["environment"]["LOGMETRICS_EVENTS_FILE"] == output
    assert services["alloy"]["environment"]["LOGMETRICS_EVENTS_FILE"] == output


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11\.\d+-slim\S*$", text, re.M)
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert "pip install ." in text
    health = next(line for line in text.splitlines() if "CMD [\"python\"" in line)
    assert "urllib.request" in health and "/healthz" in health and "127.0.0.1" in health
    assert 'ENTRYPOINT ["logmetrics"]' in text and 'CMD ["run"]' in text
    for var in ("LOGMETRICS_PATHS", "LOGMETRICS_OUTPUT", "LOGMETRICS_POSITIONS", "LOGMETRICS_LISTEN",
                "LOGMETRICS_START_AT"):
        assert var in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ignored[0:1] == ["#"] or "*" in ignored
    for needed in ("!pyproject.toml", "!README.md", "!logmetrics/", "!parsers/"):
        assert needed in ignored


# --- Loki -----------------------------------------------------------------------------

def test_loki_config_runs_with_defaults_only() -> None:
    text = LOKI.read_text()
    for m in ENV_REF.finditer(text):
        assert m.group(2) is not None, f"${{{m.group(1)}}} has no default"
    cfg = yaml.safe_load(expand_defaults(text))
    schema = cfg["schema_config"]["configs"][-1]
    assert (schema["store"], schema["schema"], schema["object_store"]) == ("tsdb", "v13", "filesystem")
    limits = cfg["limits_config"]
    assert limits["reject_old_samples"] is False
    assert limits["allow_structured_metadata"] is True
    assert cfg["compactor"]["retention_enabled"] is True
    assert cfg["compactor"]["delete_request_store"] == "filesystem"
    assert cfg["querier"]["query_ingesters_within"] == 0
    # Single binary + filesystem store: without -1 Loki sets this look-back to max_chunk_age + ~41m and
    # it overrides query_ingesters_within, hiding backfilled entries older than that until flushed.
    assert cfg["ingester"]["query_store_max_look_back_period"] == -1
    assert cfg["schema_config"]["configs"][-1]["object_store"] == "filesystem", "-1 is valid on filesystem only"
    ruler = cfg["ruler"]["storage"]
    assert ruler["type"] == "local"
    # auth disabled -> tenant "fake": rules must sit in <directory>/fake/
    assert cfg["auth_enabled"] is False
    assert {p.parent.name for p in LOKI_RULES} == {"fake"}
    compose_loki = load_yaml(COMPOSE)["services"]["loki"]
    assert "./loki/rules:" + compose_loki["environment"]["LOKI_RULES_DIR"] + ":ro" in compose_loki["volumes"]


def test_loki_rules_use_shipped_labels_and_event_keys(event_schema: tuple[set[str], set[str]]) -> None:
    names = [rule["alert"] for p in LOKI_RULES for g in load_yaml(p)["groups"] for rule in g["rules"]]
    assert {"OllamaNoLogLines", "LLM5xxBurst", "LLMTimeoutBurst"} <= set(names)
    for expr in rule_exprs(LOKI_RULES):
        check_logql(expr, event_schema)


# --- Promtail / Alloy ---------------------------------------------------------------

def promtail_config() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(expand_defaults(PROMTAIL.read_text()))
    return data


def stream_labels() -> set[str]:
    """Every label Promtail puts on a stream (static labels and pipeline labels)."""
    labels = set()
    for job in promtail_config()["scrape_configs"]:
        for static in job["static_configs"]:
            labels |= {k for k in static["labels"] if not k.startswith("__")}
        for stage in job.get("pipeline_stages", []):
            labels |= set(stage.get("labels") or {})
    return labels | {"filename"}


def promtail_stages(job_name: str) -> dict[str, Any]:
    job = next(j for j in promtail_config()["scrape_configs"] if j["job_name"] == job_name)
    return {next(iter(stage)): stage[next(iter(stage))] for stage in job["pipeline_stages"]}


def promtail_label_sources(job_name: str) -> dict[str, str]:
    """label -> the extracted (event) key it is set from, for one job's `labels` stage."""
    stages = promtail_stages(job_name)
    extracted = stages["json"]["expressions"]
    return {label: extracted[source or label] for label, source in stages["labels"].items()}


def test_promtail_events_job() -> None:
    text = PROMTAIL.read_text()
    for m in ENV_REF.finditer(text):
        assert m.group(2) is not None, f"${{{m.group(1)}}} has no default"
    jobs = {job["job_name"]: job for job in promtail_config()["scrape_configs"]}
    events = jobs["logmetrics"]
    static = events["static_configs"][0]["labels"]
    assert static["job"] == "logmetrics" and "host" in static
    stages = promtail_stages("logmetrics")
    assert set(stages["labels"]) == {"app", "kind", "level", FILE_LABEL}, "only bounded keys become labels"
    assert stages["timestamp"] == {"source": "ts", "format": "RFC3339"}
    assert stages["json"]["expressions"]["ts"] == "ts"
    assert stages["labeldrop"] == ["filename"]
    raw = [j for j in jobs.values() if any(s["labels"]["job"] == "rawlogs" for s in j["static_configs"])]
    assert len(raw) >= 2
    compose_env = load_yaml(COMPOSE)["services"]["logmetrics"]["environment"]
    assert static["__path__"] == compose_env["LOGMETRICS_OUTPUT"]


def test_promtail_puts_each_source_file_in_its_own_streams(event_schema: tuple[set[str], set[str]]) -> None:
    """Loki refuses an entry more than max_chunk_age/2 older than the newest of its stream: files read
    one after another must not share streams, so the event's source file is a label (bounded by the
    number of files followed), in the live and the backfill job alike, next to the existing labels."""
    keys, _ = event_schema
    assert FILE_KEY in keys
    assert FILE_LABEL not in keys, "a label named like an event key would be renamed <key>_extracted by | json"
    wanted = {"app": "app", "kind": "kind", "level": "level", FILE_LABEL: FILE_KEY}
    for job in ("logmetrics", "logmetrics-backfill"):
        assert promtail_label_sources(job) == wanted, job
    labels = stream_labels()
    assert {"job", "source", "host", "app", "kind", "level", FILE_LABEL} <= labels


def test_promtail_listeners_run_outside_compose_and_grpc_stays_on_loopback() -> None:
    server = promtail_config()["server"]
    assert server["grpc_listen_address"] == "127.0.0.1", "nothing uses Promtail's gRPC: keep it off the network"
    assert server["grpc_listen_port"] == 0
    raw = yaml.safe_load(PROMTAIL.read_text())["server"]
    for key in ("http_listen_address", "http_listen_port", "grpc_listen_address"):
        assert ENV_REF.fullmatch(str(raw[key])), f"server.{key} must come from the environment"
    compose_env = load_yaml(COMPOSE)["services"]["promtail"]["environment"]
    grpc_var = ENV_REF.fullmatch(raw["grpc_listen_address"])
    assert grpc_var and grpc_var.group(1) not in compose_env, "compose keeps the loopback default too"


def alloy_map(block: str, opening: str) -> dict[str, str]:
    """The `{key = "value", ...}` object that follows `opening` in an Alloy block."""
    m = re.search(opening + r" = \{([^}]*)\}", block)
    assert m, opening
    return dict(re.findall(r'(\w+)\s*=\s*"([^"]*)"', m.group(1)))


def test_alloy_config_mirrors_promtail() -> None:
    text = re.sub(r"//[^\n]*", "", ALLOY.read_text())
    for component in ("local.file_match", "loki.source.file", "loki.process", "loki.write"):
        assert f'{component} "' in text, component
    for call in re.finditer(r"sys\.env\(\"(\w+)\"\)", text):
        before = text[: call.start()]
        assert before.endswith("coalesce("), f"sys.env({call.group(1)}) has no default"
    promtail_env = {m.group(1) for m in ENV_REF.finditer(PROMTAIL.read_text())}
    alloy_env = set(re.findall(r"sys\.env\(\"(\w+)\"\)", text))
    assert alloy_env <= promtail_env, alloy_env - promtail_env
    for name, job in (("events", "logmetrics"), ("backfill", "logmetrics-backfill")):
        block = re.search(r'loki\.process "' + name + r'" \{(.*?)\n\}', text, re.S)
        assert block, f'loki.process "{name}"'
        extracted = alloy_map(block.group(1), r"stage\.json \{\s*expressions")
        labels = alloy_map(block.group(1), r"stage\.labels \{\s*values")
        sources = {label: extracted[source or label] or (source or label) for label, source in labels.items()}
        assert sources == promtail_label_sources(job), f'loki.process "{name}" differs from Promtail\'s {job}'
        assert re.search(r'stage\.timestamp \{\s*source = "ts"\s*format = "RFC3339"', block.group(1))
    static = set(re.findall(r'"(\w+)"\s*=', text))
    assert {"job", "host", "source", "app"} <= static <= stream_labels() | {"__path__"}


# --- Grafana ---------------------------------------------------------------------------

def test_grafana_provisioning() -> None:
    ds = load_yaml(ROOT / "grafana" / "provisioning" / "datasources" / "datasources.yml")
    by_uid = {d["uid"]: d for d in ds["datasources"]}
    assert by_uid["prometheus"]["type"] == "prometheus"
    assert by_uid["loki"]["type"] == "loki"
    grafana_env = load_yaml(COMPOSE)["services"]["grafana"]["environment"]
    for d in ds["datasources"]:
        for var in ENV_REF.findall(d["url"]):
            assert var[0] in grafana_env, f"{var[0]} not set for grafana in compose"
    providers = load_yaml(ROOT / "grafana" / "provisioning" / "dashboards" / "logmetrics.yml")["providers"]
    assert providers[0]["type"] == "file"
    path_var = ENV_REF.fullmatch(providers[0]["options"]["path"])
    assert path_var and path_var.group(1) in grafana_env
    mounted = {split_volume(v)[1] for v in load_yaml(COMPOSE)["services"]["grafana"]["volumes"]}
    assert grafana_env[path_var.group(1)] in mounted


def test_dashboards_reference_existing_datasources_and_have_app_variable() -> None:
    ds = load_yaml(ROOT / "grafana" / "provisioning" / "datasources" / "datasources.yml")
    uids = {d["uid"] for d in ds["datasources"]}
    for name, dash in dashboards():
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        assert "app" in variables, name
        assert variables["app"]["datasource"]["uid"] in uids
        assert dash["time"]["from"] in ("now-15m", "now-30m", "now-1h"), name
        ids = [p["id"] for p in dash["panels"]]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        for panel, target in panel_targets(dash):
            for ref in (panel.get("datasource"), target.get("datasource")):
                if ref:
                    assert ref["uid"] in uids, f"{name}/{panel['title']}: unknown datasource {ref}"
            expr = target["expr"]
            assert "$app" in expr or "app" not in expr, f"{name}: {expr}"
    titles = {dash["title"] for _, dash in dashboards()}
    assert titles == {"LLM serving", "LLM logs"}


def test_dashboards_cover_the_required_panels() -> None:
    prom = " ".join(queries("prometheus"))
    for needle in ("logmetrics_requests_total", "histogram_quantile(0.5,", "histogram_quantile(0.95,",
                   "histogram_quantile(0.99,", "logmetrics_timeouts_total", "logmetrics_tokens_total",
                   "logmetrics_model_load_duration_seconds", "logmetrics_lines_read_total",
                   "logmetrics_lines_unrecognized_total", "logmetrics_read_lag_bytes"):
        assert needle in prom, needle
    loki = " ".join(queries("loki"))
    for needle in ("quantile_over_time(0.95,", "unwrap duration_ms", 'kind=~"error|timeout"', "by (level)"):
        assert needle in loki, needle


# --- queries against what the code produces --------------------------------------------

def check_promql(expr: str, metrics: dict[str, set[str]]) -> None:
    used = set(re.findall(r"\b((?:logmetrics|loki)_\w+)", expr))
    unknown = used - set(metrics)
    assert not unknown, f"{expr}: no such metric {unknown}"
    allowed = set().union(*(metrics[m] for m in used)) | SCRAPE_LABELS
    labels = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)\s*\"", expr))
    for group in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
        labels |= {x.strip() for x in group.split(",") if x.strip()}
    assert labels <= allowed, f"{expr}: labels {labels - allowed} are not on {used}"


def check_logql(expr: str, schema: tuple[set[str], set[str]]) -> None:
    keys, kinds = schema
    selectors = re.findall(r"\{([^{}]*)\}", expr.split("|")[0] if "|" in expr else expr)
    selector_labels = {m for s in selectors for m in re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", s)}
    assert selector_labels <= stream_labels(), f"{expr}: {selector_labels - stream_labels()} not shipped"
    for value in re.findall(r'kind=~?"([^"]+)"', expr):
        assert set(value.split("|")) <= kinds, f"{expr}: unknown kind {value}"
    after_json = expr.split("| json", 1)[1] if "| json" in expr else ""
    used = set(re.findall(r"unwrap (\w+)", after_json))
    used |= set(re.findall(r"\|\s*(\w+)\s*(?:>=|<=|>|<|==|!=|=~)", after_json)) - {"__error__"}
    used |= set(re.findall(r"\{\{\s*\.(\w+)", after_json))
    for group in re.findall(r"\bby\s*\(([^)]*)\)", expr):
        used |= {x.strip() for x in group.split(",") if x.strip()}
    allowed = keys | stream_labels()
    assert used <= allowed, f"{expr}: {used - allowed} is neither an event key nor a label"


def test_prometheus_queries_use_real_metrics_and_labels(registry_metrics: dict[str, set[str]]) -> None:
    exprs = queries("prometheus") + rule_exprs(PROM_RULES)
    assert len(exprs) >= 20
    for expr in exprs:
        check_promql(expr, registry_metrics | LOKI_METRICS)
    assert any("loki_discarded_samples_total" in e for e in rule_exprs(PROM_RULES)), "no alert on Loki's refusals"


def test_every_panel_follows_the_app_variable(registry_metrics: dict[str, set[str]]) -> None:
    """Every selector of a series that has an `app` label (every Loki stream; every logmetrics metric
    declared with `app`) filters on $app: a panel that ignores the dashboard's app choice misleads."""
    for name, dash in dashboards():
        for panel, target in panel_targets(dash):
            expr = target["expr"]
            ds = (target.get("datasource") or panel.get("datasource") or {}).get("uid")
            if ds == "loki":
                selectors = [sel for sel in re.findall(r"\{[^{}]*\}", expr) if "job=" in sel]
                assert selectors and all('app=~"$app"' in sel for sel in selectors), f"{name}/{panel['title']}"
                continue
            for metric, selector in re.findall(r"\b(logmetrics_\w+)(\{[^}]*\})?", expr):
                if "app" in registry_metrics[metric]:
                    assert 'app=~"$app"' in selector, f"{name}/{panel['title']}: {metric} ignores $app"


def test_loki_queries_use_shipped_labels_and_event_keys(event_schema: tuple[set[str], set[str]]) -> None:
    exprs = queries("loki")
    assert len(exprs) >= 8
    for expr in exprs:
        check_logql(expr, event_schema)


def test_query_checks_reject_unknown_names(event_schema: tuple[set[str], set[str]]) -> None:
    """The two checkers above must be able to fail (a tiny registry stands in for the real one)."""
    metrics = {"logmetrics_requests_total": {"app", "method", "path", "code"}}
    check_promql('sum by (app, code) (rate(logmetrics_requests_total{app=~".*"}[5m]))', metrics)
    with pytest.raises(AssertionError):
        check_promql("rate(logmetrics_requests_totl[5m])", metrics)
    with pytest.raises(AssertionError):
        check_promql("sum by (model) (rate(logmetrics_requests_total[5m]))", metrics)
    check_promql("sum by (tenant, reason) (increase(loki_discarded_samples_total[10m]))", LOKI_METRICS)
    with pytest.raises(AssertionError):
        check_promql("sum by (stream) (increase(loki_discarded_samples_total[10m]))", LOKI_METRICS)
    check_logql('{job="logmetrics"} | json | unwrap duration_ms [1m]', event_schema)
    with pytest.raises(AssertionError):
        check_logql('{job="logmetrics"} | json | unwrap latency_ms [1m]', event_schema)
    with pytest.raises(AssertionError):
        check_logql('{job="logmetrics", status="500"}', event_schema)
    with pytest.raises(AssertionError):
        check_logql('{job="logmetrics", kind="warning"}', event_schema)
    with pytest.raises(AssertionError):
        check_logql('{job="logmetrics"} | json | line_format "{{.latency}}"', event_schema)


def test_the_demo_runs_out_of_the_box_and_feeds_the_tailer(compose: dict[str, Any]) -> None:
    """`docker compose up` alone lights the dashboards up: the demo needs no profile, and writes
    to a volume the tailer reads (read-only) under the folder its glob covers."""
    demo = compose["services"]["demo"]
    assert "profiles" not in demo
    assert demo["command"][:2] == ["demo", "/demo-logs"]
    volume = next(v.split(":")[0] for v in demo["volumes"] if v.split(":")[1] == "/demo-logs")
    tail_mounts = [v for v in compose["services"]["logmetrics"]["volumes"] if v.startswith(volume + ":")]
    assert tail_mounts and tail_mounts[0].endswith(":ro")
    target = tail_mounts[0].split(":")[1]
    paths = compose["services"]["logmetrics"]["environment"]["LOGMETRICS_PATHS"]
    assert "/logs/**/*.log" in paths and target.startswith("/logs/")


# --- Prometheus scrapes Loki; docs --------------------------------------------------------

def scrape_targets(path: Path) -> dict[str, list[str]]:
    return {job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
            for job in load_yaml(path)["scrape_configs"]}


def test_prometheus_scrapes_loki_in_and_outside_compose(compose: dict[str, Any]) -> None:
    """loki_discarded_samples_total is the only record of refused entries: both configs scrape Loki,
    prometheus.yml at the compose service, prometheus.local.yml where `loki` listens by default on a host."""
    in_compose = scrape_targets(ROOT / "prometheus" / "prometheus.yml")
    local = scrape_targets(ROOT / "prometheus" / "prometheus.local.yml")
    assert set(in_compose) == set(local) == {"logmetrics", "loki", "prometheus"}
    loki = yaml.safe_load(expand_defaults(LOKI.read_text()))["server"]
    port = loki["http_listen_port"]
    assert "loki" in compose["services"]
    assert any(str(p).endswith(f":{port}") for p in compose["services"]["loki"]["ports"])
    assert in_compose["loki"] == [f"loki:{port}"]
    assert local["loki"] == [f"127.0.0.1:{port}"]


def test_docs_name_every_alert_and_the_file_label() -> None:
    docs = (ROOT / "docs" / "stack.md").read_text()
    names = [r["alert"] for p in [*PROM_RULES, *LOKI_RULES] for g in load_yaml(p)["groups"]
             for r in g["rules"] if "alert" in r]
    for name in names:
        assert f"`{name}`" in docs, f"docs/stack.md does not list alert {name}"
    assert f"`{FILE_LABEL}`" in docs and "query_store_max_look_back_period" in docs
