"""The deployment files hold together without a Docker engine: the compose file names real
commands and settings, the Dockerfile copies what exists and runs as a non-root user, and the
image's entry point works in a plain shell."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import yaml

from shared.config import PROJECT_ROOT, Settings
from shared.operations.cli import build_parser

COMPOSE = yaml.safe_load((PROJECT_ROOT / "compose.yaml").read_text())
DOCKERFILE = (PROJECT_ROOT / "Dockerfile").read_text().splitlines()
ENTRYPOINT = PROJECT_ROOT / "deploy" / "entrypoint.sh"


def _commands() -> set[str]:
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    return set(subparsers.choices)


def test_compose_runs_postgres_two_callback_replicas_and_the_dashboard_from_one_image() -> None:
    services = COMPOSE["services"]
    app_services = {name: s for name, s in services.items() if s.get("image") == "linkpay-desk"}

    assert [s["command"][0] for s in app_services.values()].count("callback-service") == 2
    assert {s["command"][0] for s in app_services.values()} <= _commands()
    assert services["postgres"]["healthcheck"]
    for name, service in app_services.items():
        assert service["build"] == "."
        if name != "migrate":
            assert service["depends_on"]["migrate"]["condition"] == (
                "service_completed_successfully"
            )
        settings = {key.removeprefix("LINKPAY_").lower() for key in service["environment"]}
        assert settings <= set(Settings.model_fields), settings - set(Settings.model_fields)
        assert service["environment"]["LINKPAY_DATABASE_URL"].startswith("postgresql+psycopg://")


def test_dockerfile_copies_what_exists_and_drops_root() -> None:
    copies = [line.split()[1:-1] for line in DOCKERFILE if line.startswith("COPY ")]
    for sources in copies:
        for source in sources:
            assert (PROJECT_ROOT / source).exists(), f"COPY {source}: not in the repository"
    users = [line.split()[1] for line in DOCKERFILE if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any(line.startswith("FROM python:3.11-slim") for line in DOCKERFILE)


def test_the_entry_point_listens_on_all_interfaces_and_keeps_data_private(tmp_path: Path) -> None:
    assert ENTRYPOINT.stat().st_mode & stat.S_IXUSR
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKPAY_")}
    env |= {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
        "PYTHONPATH": str(PROJECT_ROOT),
        "LINKPAY_DATA_DIR": str(tmp_path / "data"),
    }

    migrated = subprocess.run(
        ["sh", str(ENTRYPOINT), "init-db"], env=env, capture_output=True, text=True, timeout=120
    )
    checked = subprocess.run(
        ["sh", str(ENTRYPOINT), "doctor"], env=env, capture_output=True, text=True, timeout=120
    )

    assert migrated.returncode == 0, migrated.stderr
    assert stat.S_IMODE((tmp_path / "data" / "linkpay.db").stat().st_mode) == 0o600
    assert "callback service 0.0.0.0:8000" in checked.stdout
    assert "dashboard 0.0.0.0:8501" in checked.stdout
