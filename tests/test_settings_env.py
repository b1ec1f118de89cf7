"""Every settings key is also `LOGMETRICS_<KEY>` (README: "every key of the --config FILE is one too"),
between the config file and the flags, and a bad value names its variable in one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logmetrics.config import ConfigError, Settings, env_var, load_settings
from tests.conftest import ROOT, run_cli


def test_every_key_has_a_variable_and_is_read_from_it() -> None:
    for key in Settings.model_fields:
        assert env_var(key) == "LOGMETRICS_" + key.upper()
    env = {
        "LOGMETRICS_LABEL_LIMIT": "50", "LOGMETRICS_SERIES_LIMIT": "70", "LOGMETRICS_MAX_LINE_BYTES": "4096",
        "LOGMETRICS_REDACT": "false", "LOGMETRICS_DROP_PROMPTS": "yes", "LOGMETRICS_FOLLOW_SYMLINKS": "1",
        "LOGMETRICS_REDACT_DISABLE": "jwt, bearer", "LOGMETRICS_PATHS": "/a/*.log  /b",
        "LOGMETRICS_PARSERS": f"{ROOT / 'parsers'}:{ROOT / 'tests'}", "LOGMETRICS_LISTEN": "",
        "LOGMETRICS_REDACT_RULES": "{ employee = 'EMP-(?P<secret>\\d{6})' }",
        "LOGMETRICS_BUCKETS": "{ logmetrics_tokens_per_second = [1, 10, 100] }",
        "LOGMETRICS_FORMAT": "not a settings key: ignored here",
    }
    s = load_settings(None, {}, environ=env)
    assert (s.label_limit, s.series_limit, s.max_line_bytes) == (50, 70, 4096)
    assert (s.redact, s.drop_prompts, s.follow_symlinks, s.listen) == (False, True, True, None)
    assert s.redact_disable == ["jwt", "bearer"] and s.paths == ["/a/*.log", "/b"]
    assert s.parsers == [str(ROOT / "parsers"), str(ROOT / "tests")]
    assert s.redact_rules == {"employee": r"EMP-(?P<secret>\d{6})"}
    assert s.buckets["logmetrics_tokens_per_second"] == [1, 10, 100]
    assert load_settings(None, {}, environ={"LOGMETRICS_REDACT_DISABLE": '["jwt"]'}).redact_disable == ["jwt"]


def test_flags_beat_the_environment_which_beats_the_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("label_limit = 10\nseries_limit = 20\noutput_backups = 3\n")
    s = load_settings(cfg, {"output_backups": None}, environ={"LOGMETRICS_LABEL_LIMIT": "30"})
    assert (s.label_limit, s.series_limit, s.output_backups) == (30, 20, 3)
    s = load_settings(cfg, {"label_limit": 40}, environ={"LOGMETRICS_LABEL_LIMIT": "30"})
    assert s.label_limit == 40


@pytest.mark.parametrize(("env", "message"), [
    ({"LOGMETRICS_LABEL_LIMIT": "abc"}, "environment variable LOGMETRICS_LABEL_LIMIT='abc': "),
    ({"LOGMETRICS_LABEL_LIMIT": "0"}, "environment variable LOGMETRICS_LABEL_LIMIT='0': "),
    ({"LOGMETRICS_REDACT": "maybe"}, "environment variable LOGMETRICS_REDACT='maybe': "),
    ({"LOGMETRICS_REDACT_DISABLE": "nosuchrule"}, "'nosuchrule' is not a built-in rule"),
    ({"LOGMETRICS_BUCKETS": "{ nope"}, "environment variable LOGMETRICS_BUCKETS='{ nope': not a TOML inline table"),
    ({"LOGMETRICS_BUCKETS": "{ nope = [1] }"}, "environment variable LOGMETRICS_BUCKETS="),
])
def test_a_bad_variable_is_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_settings(None, {}, environ=env)
    assert message in str(e.value), str(e.value)


def test_through_the_command_line() -> None:
    """`LOGMETRICS_LABEL_LIMIT=abc` is one line naming the variable, exit 2; a good value is used."""
    proc = run_cli("replay", "samples/nginx", "-f", "prom", env={"LOGMETRICS_LABEL_LIMIT": "abc"}, cwd=ROOT)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("logmetrics: error: environment variable LOGMETRICS_LABEL_LIMIT='abc': "), err
    limited = run_cli("replay", "samples/nginx", "-f", "prom", env={"LOGMETRICS_LABEL_LIMIT": "2"}, cwd=ROOT)
    assert limited.returncode == 0, limited.stderr
    assert b'logmetrics_label_overflow_total{' in limited.stdout
    plain = run_cli("replay", "samples/nginx", "-f", "prom", cwd=ROOT)
    assert b'logmetrics_label_overflow_total{' not in plain.stdout
    check = run_cli("check", env={"LOGMETRICS_MAX_LINE_BYTES": "12"})
    assert check.returncode == 2 and b"LOGMETRICS_MAX_LINE_BYTES='12'" in check.stderr
    summary = run_cli("replay", "samples/nginx", "-f", "json", env={"LOGMETRICS_MAX_LINE_BYTES": "1024"}, cwd=ROOT)
    assert json.loads(summary.stdout)["lines_read"] > 0
