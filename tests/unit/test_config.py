"""Settings as a newcomer meets them: .env.example copied to .env works unchanged."""

import os
from pathlib import Path

import pytest

from shared.config import PROJECT_ROOT, Settings


def test_env_example_copied_as_is_leaves_every_default_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("LINKPAY_"):
            monkeypatch.delenv(name)
    example = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    (tmp_path / ".env").write_text(example.replace("./var", str(tmp_path / "var")), "utf-8")
    monkeypatch.chdir(tmp_path)

    settings = Settings()

    assert settings.resolved_secret_key_file == tmp_path / "var" / "secret.key"
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'var' / 'linkpay.db'}"
    assert settings.smtp_username is None
