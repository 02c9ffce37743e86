"""The browser benchmark's B side starts the dashboard with Streamlit's own settings."""

import pytest

from benchmarks.browser_worker import (
    FRAMEWORK_DEFAULTS,
    _dashboard_command,
    _with_framework_defaults,
)
from shared.config import get_settings


@pytest.fixture
def launcher_env(monkeypatch):
    """The launcher's command is built from settings the helper writes to the environment:
    registered here first so they are restored afterwards."""
    monkeypatch.setenv("LINKPAY_DASHBOARD_PORT", "8599")
    monkeypatch.setenv("LINKPAY_DASHBOARD_HOST", "127.0.0.1")
    yield
    get_settings.cache_clear()


def test_framework_defaults_replace_the_launchers_settings_only(launcher_env):
    launcher = _dashboard_command(8599)
    reversed_ = _with_framework_defaults(launcher)

    assert reversed_[reversed_.index("--runner.postScriptGC") + 1] == "true"
    assert reversed_[reversed_.index("--server.fileWatcherType") + 1] == "auto"
    assert launcher[launcher.index("--runner.postScriptGC") + 1] == "false"
    changed = [i for i, (a, b) in enumerate(zip(launcher, reversed_, strict=True)) if a != b]
    assert [launcher[i - 1] for i in changed] == list(FRAMEWORK_DEFAULTS)
