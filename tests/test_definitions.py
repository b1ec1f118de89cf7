"""Broken parser definitions and settings: one line naming file, pattern and key; non-zero exit."""

from __future__ import annotations

from pathlib import Path

import pytest

from logmetrics.parse.definitions import DefinitionError, load_definitions, load_file
from tests.conftest import run_cli

GOOD = '''app = "myapp"
[[pattern]]
name = "hello"
kind = "request"
contains = "HELLO"
regex = '^HELLO (?P<status>\\d+) (?P<duration_ms>[\\d.]+)$'
units = { duration_ms = "s" }
[[sample]]
line = "HELLO 503 1.5"
expect = { kind = "request", app = "myapp", status = 503, duration_ms = 1500.0, level = "error" }
'''


def write(tmp_path: Path, text: str) -> Path:
    d = tmp_path / "parsers"
    d.mkdir(exist_ok=True)
    (d / "myapp.toml").write_text(text)
    return d


@pytest.mark.parametrize(("change", "message"), [
    (("(?P<status>\\d+)", "(?P<status>\\d+"), "pattern 'hello': key 'regex': bad regular expression"),
    (('"s"', '"fortnights"'), "units.duration_ms"),
    (('kind = "request"\ncontains', 'kind = "banana"\ncontains'), "pattern 'hello': key 'kind': 'banana'"),
    (("(?P<status>", "(?P<colour>"), "pattern 'hello': key 'regex': group 'colour' is not a request event key"),
    (('name = "hello"', 'name = "hello"\nflavour = "x"'), "unknown key 'pattern.flavour'"),
    (('app = "myapp"', 'app = "myapp'), "not valid TOML"),
])
def test_broken_definitions_name_what_is_wrong(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    d = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(DefinitionError) as e:
        load_definitions([d])
    assert str(d / "myapp.toml") in str(e.value) and message in str(e.value), str(e.value)
    proc = run_cli("check", "--parsers", str(d))
    err = proc.stderr.decode()
    assert proc.returncode == 2 and message in err and "Traceback" not in err and err.count("\n") == 1, err


def test_user_definition_loads_and_its_samples_run(tmp_path: Path) -> None:
    d = write(tmp_path, GOOD)
    assert load_file(d / "myapp.toml").app == "myapp"
    proc = run_cli("check", "--parsers", str(d))
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    out = run_cli("parse", "--parsers", str(d), stdin=b"HELLO 200 0.25\n")
    assert b'"kind":"request"' in out.stdout and b'"duration_ms":250.0' in out.stdout


def test_a_sample_that_does_not_match_fails_check_with_a_diff(tmp_path: Path) -> None:
    d = write(tmp_path, GOOD.replace("status = 503", "status = 504"))
    proc = run_cli("check", "--parsers", str(d))
    out = proc.stdout.decode()
    assert proc.returncode == 2
    assert "myapp.toml: sample 'HELLO 503 1.5': key 'status': got 503, expected 504" in out
    assert proc.stderr.decode() == "logmetrics: error: check: 1 problem (listed above)\n"


def test_missing_parser_dir_and_bad_config_are_one_line_errors(tmp_path: Path) -> None:
    proc = run_cli("check", "--parsers", str(tmp_path / "nope"))
    assert proc.returncode == 2 and b"nope: parser directory does not exist" in proc.stderr
    cfg = tmp_path / "c.toml"
    cfg.write_text('listen = "127.0.0.1:9464"\nmax_lines = 5\n')
    proc = run_cli("check", "--config", str(cfg))
    assert proc.returncode == 2 and proc.stderr.decode().strip() == f"logmetrics: error: {cfg}: unknown key 'max_lines'"
    cfg.write_text('listen = "nowhere"\n')
    proc = run_cli("check", "--config", str(cfg))
    assert proc.returncode == 2 and b"key 'listen': 'nowhere' is not HOST:PORT" in proc.stderr


def test_check_flags_a_regex_that_backtracks_catastrophically(tmp_path: Path) -> None:
    d = tmp_path / "parsers"
    d.mkdir()
    (d / "evil.toml").write_text(
        'app = "evil"\n[[pattern]]\nname = "nested"\nkind = "log"\nregex = \'^(\\w+\\s?)*$\'\n'
        '[[sample]]\nline = "hello world"\nexpect = { kind = "log" }\n'
    )
    proc = run_cli("check", "--parsers", str(d), timeout=300)
    out = proc.stdout.decode()
    assert proc.returncode == 2
    assert f"{d / 'evil.toml'}: pattern 'nested': key 'regex': takes over 10s" in out, out
    assert "parsers/ollama.toml" not in out  # the built-in definitions are linear-time


def test_check_names_a_quadratic_user_regex_and_not_its_neighbours(tmp_path: Path) -> None:
    """A quadratic regex (not catastrophic) is measured, and named; a linear one beside it is not."""
    d = tmp_path / "parsers"
    d.mkdir()
    (d / "slow.toml").write_text(
        'app = "slow"\n'
        '[[pattern]]\nname = "quadratic"\nkind = "log"\nregex = \'a.*b\'\n'
        '[[pattern]]\nname = "fine"\nkind = "log"\nregex = \'^FINE (?P<msg>.*)$\'\n'
        '[[sample]]\nline = "a b"\nexpect = { kind = "log" }\n'
        '[[sample]]\nline = "FINE x"\nexpect = { kind = "log" }\n'
    )
    proc = run_cli("check", "--parsers", str(d), timeout=300)
    out = proc.stdout.decode()
    assert proc.returncode == 2, out
    assert f"{d / 'slow.toml'}: pattern 'quadratic': key 'regex': not linear" in out, out
    assert "'fine'" not in out


def test_check_rejects_a_user_redaction_rule_that_is_not_linear(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("redact_rules = { evil = '(a+)+$', fine = 'EMP-(?P<secret>\\d{6})' }\n")
    proc = run_cli("check", "--config", str(cfg), timeout=300)
    out = proc.stdout.decode()
    assert proc.returncode == 2, out
    assert "redact_rules.evil: " in out and "redact_rules.fine" not in out, out


def test_logfmt_keys_are_linear_on_long_runs() -> None:
    from logmetrics.parse.compile import parse_logfmt

    assert parse_logfmt("a" * 200_000 + " level=info") == {"level": "info"}
