"The command-line contract: list / run / report / bench, and one-line errors with exit code 2 on bad input."
import os, subprocess, sys

import pytest

def cli(*args, timeout=300):
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "tinyrepro.cli", *args], capture_output=True, text=True, timeout=timeout, env=env)

def test_list_shows_every_paper():
    r = cli("list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert any(l.startswith("galore ") and "optim" in l for l in lines)
    assert any(l.startswith("color-filter ") and "selection" in l for l in lines)

@pytest.mark.parametrize("args, expected", [
    (["run", "no-such-paper", "--scale", "smoke"], "valid slugs: "),
    (["run", "galore", "--scale", "huge"], "invalid choice: 'huge'"),
    (["run", "galore", "--scale", "smoke", "--seeds", "a,b"], "--seeds takes comma-separated integers"),
    (["run", "galore", "--scale", "smoke", "--set", "warp=9"], "valid keys: "),
    (["run", "galore", "--scale", "smoke", "--set", "steps=many"], "cannot read 'many'"),
    (["run", "galore", "--bogus"], "unrecognized arguments: --bogus"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_input_is_one_line_and_exit_2(args, expected):
    r = cli(*args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert expected in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr

def test_run_writes_results(tmp_path):
    r = cli("run", "galore", "--scale", "smoke", "--seeds", "0", "--out", str(tmp_path), "--set", "steps=4")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "galore" / "smoke.json").exists()
    assert "Verdict:" in r.stdout

def test_report_is_a_markdown_table():
    r = cli("report")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("| paper | family |") and "galore" in r.stdout and "color-filter" in r.stdout

@pytest.mark.parametrize("sub", ["", "list", "run", "report", "bench"])
def test_help_is_complete(sub):
    r = cli(*([sub] if sub else []), "--help")
    assert r.returncode == 0 and "usage: tinyrepro" in r.stdout
    if sub == "run": assert "--scale" in r.stdout and "--seeds" in r.stdout and "--out" in r.stdout and "--set" in r.stdout

def test_bench_runs_small():
    r = cli("bench", "--steps", "2", "--rounds", "1")
    assert r.returncode == 0, r.stderr
    assert "ratio Trainer/plain" in r.stdout and "tokens/s" in r.stdout
