"""The ``lsqnet`` command line: the demo runs, user errors exit 2 with one line, no traceback."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from lsqnet.cli import main


def test_demo_prints_accuracies_and_times(capsys):
    assert main(["demo", "--hidden", "256", "--max-iter", "3"]) == 0
    out = capsys.readouterr().out
    linear = re.search(r"linear least squares \(64-10\)\s+([0-9.]+)\s+([0-9.]+)s", out)
    bpls = re.search(r"BPLS 64-256-10, \d sweep\(s\)\s+([0-9.]+)\s+([0-9.]+)s", out)
    assert linear and bpls, out
    # One hidden layer clearly beats the linear least-squares classifier on held-out digits.
    assert float(bpls.group(1)) > float(linear.group(1)) + 0.02
    assert "flops (exact)" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--hidden", "0"], "positive integer"),
        (["demo", "--hidden", "abc"], "positive integer"),
        (["demo", "--max-iter", "-1"], "positive integer"),
        (["bogus"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_entry_point_runs_as_a_module():
    proc = subprocess.run(
        [sys.executable, "-m", "lsqnet.cli", "demo", "--hidden", "0"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "--hidden" in proc.stderr
