"""promtool on prometheus/: config and rules are valid, and every alert is unit-tested.

`promtool test rules` proves each alert fires (and stays quiet) on series shaped
like logmetrics' metrics. To show those unit tests can fail, each alert is
disabled in turn in a temporary copy of the rules: the test run must then fail.
Skipped only when promtool is not installed (Debian: apt-get install prometheus).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PROM = ROOT / "prometheus"
RULE_FILES = sorted((PROM / "rules").glob("*.yml"))
TEST_FILES = sorted((PROM / "tests").glob("*.yml"))
PROMTOOL = shutil.which("promtool")

pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")


def promtool(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120)


def alerts() -> list[str]:
    return [r["alert"] for p in RULE_FILES for g in yaml.safe_load(p.read_text())["groups"]
            for r in g["rules"] if "alert" in r]


def alert_tests() -> list[dict[str, Any]]:
    return [case for p in TEST_FILES for test in yaml.safe_load(p.read_text())["tests"]
            for case in test.get("alert_rule_test", [])]


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.local.yml"])
def test_promtool_check_config(config: str) -> None:
    result = promtool("check", "config", PROM / config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_check_rules() -> None:
    result = promtool("check", "rules", *RULE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in result.stdout


def test_required_alerts_exist() -> None:
    names = set(alerts())
    assert {"LLMHighErrorRatio", "LLMSlowRequests", "LLMTimeoutsIncreasing", "LLMAppSilent",
            "LogmetricsDown", "LogmetricsUnrecognizedLinesRising"} <= names


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    cases = alert_tests()
    for name in alerts():
        mine = [c for c in cases if c["alertname"] == name]
        assert any(c.get("exp_alerts") for c in mine), f"{name}: no test where it fires"
        assert any(not c.get("exp_alerts") for c in mine), f"{name}: no test where it stays quiet"


def test_promtool_test_rules_passes() -> None:
    result = promtool("test", "rules", *TEST_FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("alert", alerts())
def test_unit_tests_fail_when_the_alert_is_broken(alert: str, tmp_path: Path) -> None:
    """Replace one alert's expression by one that never fires: the unit tests must notice."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    for path in RULE_FILES:
        doc = yaml.safe_load(path.read_text())
        for group in doc["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == alert:
                    rule["expr"] = "vector(1) == 0"
        (tmp_path / "rules" / path.name).write_text(yaml.safe_dump(doc))
    for path in TEST_FILES:
        shutil.copy(path, tmp_path / "tests" / path.name)
    result = promtool("test", "rules", *sorted((tmp_path / "tests").glob("*.yml")), cwd=tmp_path)
    assert result.returncode != 0, f"disabling {alert} went unnoticed"
    assert alert in result.stdout + result.stderr
