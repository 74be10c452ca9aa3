"""Parameter safety (issue 9): nothing a user types can become code in papermill's injected cell.

Two lines of defence are tested: the command line refuses a crafted value before anything
is written (``govlib run``), and :func:`govlib.report.validate_notebook_parameters`
refuses it again just before injection. ``tests/test_runner.py`` already checks a few
crafted values; this adds the issue's exact payload, newline and Unicode-digit tricks, and
what papermill actually writes for validated values, paths with quotes included. Paths
given on the command line are the user's to choose (issue 13): a data or output folder
outside the project is accepted, wherever a symlink or ``..`` leads.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
from reliability_support import MONTH, govlib, make_toy_project, toy_env  # noqa: E402

from govlib.errors import UsageError
from govlib.report.batch.arguments import check_path, validate_notebook_parameters
from govlib.report.batch.run import run_batch
from govlib.timeutil import parse_month


def _payload(tmp_path: Path) -> tuple[str, Path]:
    pwned = tmp_path / "pwned"
    return f'2026-10"; import os; os.system("touch {pwned}") #', pwned


@pytest.mark.parametrize("option", ["--month", "--markets", "--lang", "--reports"])
def test_cli_refuses_crafted_values_and_writes_nothing(tmp_path, option):
    root = make_toy_project(tmp_path / "proj")
    data = root / "data"
    data.mkdir()
    payload, pwned = _payload(tmp_path)
    out = root / "reports"
    args = {"--month": MONTH, "--markets": "DE", "--lang": "", "--reports": "toy_ok"}
    args[option] = payload
    cmd = ["run", "--data", str(data), "--out", str(out), "--no-progress"]
    for k, v in args.items():
        cmd += [k, v]
    r = govlib(cmd, env=toy_env(root), timeout=120)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "error:" in r.stderr
    assert not pwned.exists() and not out.exists()
    assert not (root / ".cache" / "cubes").exists()


@pytest.mark.parametrize(
    "month",
    ["2026-10\n", "2026-10\nimport os", "\u0662\u0660\u0662\u0666-10", "２０２６-10", " 2026-10", "2026-10 "],
)
def test_month_must_be_plain_ascii_yyyy_mm(month):
    # `$` in a regex also matches before a trailing newline and `\d` matches any Unicode digit:
    # both were accepted before (a month folder named "2026-10\n" could be created)
    with pytest.raises(UsageError, match="YYYY-MM"):
        parse_month(month)
    with pytest.raises(UsageError):
        validate_notebook_parameters({"month": month})


def test_issue_payload_and_newline_variants_rejected_before_injection(tmp_path):
    payload, _ = _payload(tmp_path)
    for params in (
        {"month": payload},
        {"market": "GB\n"},
        {"markets": "DE,GB\n"},
        {"lang": "en_GB\n"},
        {"failed_markets": 'DE"'},
        {"cube_path": str(tmp_path) + '"; import os #'},
        {"cube_paths": f"{tmp_path},{tmp_path / 'missing'}"},
        {"cube_paths": f"{tmp_path},{tmp_path}\nimport os"},
    ):
        with pytest.raises(UsageError):
            validate_notebook_parameters(params)


def test_paths_outside_the_project_are_the_users_to_choose(tmp_path, monkeypatch):
    root = tmp_path / "root"
    root.mkdir()
    monkeypatch.chdir(root)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    # symlinks and ".." are resolved, not refused (the old "allowed roots" refused all three)
    for given, resolved in (
        (root / "link" / "reports", outside / "reports"),
        (root / ".." / "outside", outside),
        (Path("../outside"), outside),
    ):
        assert check_path(given, "output directory") == resolved.resolve()
    assert validate_notebook_parameters({"data_dir": str(root / "link")}) == {"data_dir": str(root / "link")}
    # still refused: a path that does not exist, control characters (they could end the injected line)
    for bad in (str(tmp_path / "missing"), str(outside) + "\n__import__('os')", str(outside) + "\x00"):
        with pytest.raises(UsageError):
            validate_notebook_parameters({"data_dir": bad})


def test_cli_accepts_data_and_output_outside_the_project(tmp_path):
    """``govlib run --data /elsewhere --out /elsewhere``, run from the project: was exit 2 ("allowed roots")."""
    from datasets import write_valid_dataset

    root = make_toy_project(tmp_path / "proj")
    elsewhere = tmp_path / "elsewhere"
    data = write_valid_dataset(elsewhere / "data", layout="partitioned")
    out = elsewhere / "reports"
    r = govlib(
        [
            "run",
            "--month",
            MONTH,
            "--markets",
            "DE",
            "--data",
            str(data),
            "--out",
            str(out),
            "--no-progress",
            "--jobs",
            "1",
        ],
        env=toy_env(root),
        cwd=root,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert (out / MONTH / "DE" / "toy_ok.html").exists() and (out / MONTH / "index.html").exists()


def test_validated_values_are_injected_as_string_literals(tmp_path):
    """What papermill writes for validated values: assignments of string constants, nothing else.

    A path may be anywhere and hold quotes, backslashes or ``#``: it stays one string constant.
    """
    from papermill.translators import PythonTranslator

    weird = tmp_path / "we\"ird\\ 'dir' #\"; import os #"
    weird.mkdir()
    params = validate_notebook_parameters(
        {
            "market": "GB",
            "month": MONTH,
            "markets": "DE,GB",
            "failed_markets": "",
            "lang": "en_GB",
            "data_dir": str(tmp_path),
            "cube_path": str(weird),
            "cube_paths": f"{tmp_path},{weird}",
        }
    )
    cell = PythonTranslator.codify(params)
    tree = ast.parse(cell)
    assigned = {}
    for node in tree.body:
        assert isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant), ast.dump(node)
        assigned[node.targets[0].id] = node.value.value
    assert assigned == params


def test_crafted_value_never_reaches_a_run(tmp_path):
    """Even through the Python API, a crafted month stops the batch before any file exists."""
    payload, pwned = _payload(tmp_path)
    (tmp_path / "data").mkdir()
    with pytest.raises(UsageError):
        run_batch(
            payload, markets="DE", data_dir=tmp_path / "data", out_dir=tmp_path / "reports", progress=False
        )
    assert not (tmp_path / "reports").exists() and not pwned.exists()
    assert os.listdir(tmp_path) == ["data"]
