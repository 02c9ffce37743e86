"""A wrong setting or an unreachable server is one line saying what to change and exit code 3,
never a traceback; a fresh `run --no-demo` says how to create the first user."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.config import PROJECT_ROOT
from tests.utils.callback_service import free_port


def _cli(*arguments: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKPAY_")}
    return subprocess.run(
        [sys.executable, "-m", "shared.operations.cli", *arguments],
        env={**env, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("database_url", "says"),
    [
        ("not a url", "LINKPAY_DATABASE_URL is not a database URL LinkPay Desk can use"),
        ("postgresql+psycopg://linkpay@127.0.0.1:{port}/linkpay", "cannot be reached"),
    ],
)
def test_a_bad_or_unreachable_database_is_one_line_and_exit_3(
    tmp_path: Path, database_url: str, says: str
) -> None:
    url = database_url.format(port=free_port())  # nothing listens there

    done = _cli("--data-dir", str(tmp_path / "d"), "--database-url", url, "init-db", cwd=tmp_path)

    assert done.returncode == 3
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_a_data_folder_that_cannot_be_made_names_the_folder_and_the_setting(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    done = _cli("--data-dir", str(blocker / "data"), "init-db", cwd=tmp_path)

    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        f"error: Cannot use {blocker / 'data'}: Not a directory. Check that the folder exists "
        f"and is writable (LINKPAY_DATA_DIR is {blocker / 'data'})."
    ]


def test_run_without_demo_on_a_fresh_folder_says_how_to_create_the_first_user(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKPAY_")}
    ports = {
        f"--{service}-port": str(free_port()) for service in ("dashboard", "callback", "sandbox")
    }
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "shared.operations.cli", "--data-dir", str(tmp_path / "d")),
            *("run", "--no-demo", *(item for pair in ports.items() for item in pair)),
        ],
        env={**env, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            if "Press Ctrl-C" in line:
                break
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "  linkpay-desk create-user NAME --role admin\n" in seen, "".join(seen)
