"""Fixtures of the browser suite: one running product for the whole session, Chromium,
and a screenshot folder per test.

The stack is started once (starting Streamlit and three services per test would cost more
than the tests); every test therefore creates its own merchant, customer and invoice and
asserts only about those.
"""

import os
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from shared.config import get_settings
from shared.db import dispose_engines
from shared.security import reset_key_cache
from tests.e2e.recording import Screenshots, SoftChecks, slug
from tests.utils.e2e_stack import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Stack,
    artifacts_root,
    running_stack,
)

STACK_KEY = pytest.StashKey[Stack]()
REPORTS_KEY = pytest.StashKey[dict[str, pytest.TestReport]]()
CHECKS_KEY = pytest.StashKey[SoftChecks]()
# Streamlit reruns after every click; on a busy CI machine a rerun with a database query
# can take seconds, so waits are generous — they end as soon as the page is ready.
ACTION_TIMEOUT_MS = 20_000
EXPECT_TIMEOUT_MS = 20_000

expect.set_options(timeout=EXPECT_TIMEOUT_MS)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    item.stash.setdefault(REPORTS_KEY, {})[report.when] = report
    checks = item.stash.get(CHECKS_KEY, None)
    if report.failed and checks is not None and checks.failures:
        report.sections.append(("product problems seen before the failure", checks.summary()))
    stack = item.session.stash.get(STACK_KEY, None)
    if report.failed and stack is not None:
        # What the services said is usually the quickest way to the cause of a failure.
        report.sections.append(("LinkPay Desk service logs", stack.logs_report()))
        dead = stack.dead_services()
        if dead:
            report.sections.append(("dead services", ", ".join(dead)))
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    reports = request.node.stash.get(REPORTS_KEY, {})
    return any(report.failed for report in reports.values())


@pytest.fixture(scope="session")
def e2e_artifacts() -> Path:
    root = artifacts_root()
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture(scope="session")
def stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    e2e_artifacts: Path,
) -> Iterator[Stack]:
    work_dir = tmp_path_factory.mktemp("e2e-stack")
    with running_stack(work_dir, e2e_artifacts / "logs") as running:
        request.session.stash[STACK_KEY] = running
        yield running
        dead = running.dead_services()
        # A service that died during the run is a failure even if every test passed.
        assert not dead, f"services died during the run: {dead}\n{running.logs_report()}"


@pytest.fixture
def stack_settings(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """Points this process's settings at the running stack, for tests that prepare data
    with the product's own functions instead of clicking through pages already covered."""
    for name in list(os.environ):
        if name.startswith("LINKPAY_") and name not in stack.env:
            monkeypatch.delenv(name)
    for name, value in stack.env.items():
        if name.startswith("LINKPAY_"):
            monkeypatch.setenv(name, value)
    _reset_settings_caches()
    yield stack
    _reset_settings_caches()


def _reset_settings_caches() -> None:
    dispose_engines()
    get_settings.cache_clear()
    reset_key_cache()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture
def test_artifacts(request: pytest.FixtureRequest, e2e_artifacts: Path) -> Path:
    directory = e2e_artifacts / slug(request.node.name)
    # Screenshots of an earlier run would mislead whoever reads this folder.
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    return directory


@pytest.fixture
def context(
    request: pytest.FixtureRequest, browser: Browser, test_artifacts: Path
) -> Iterator[BrowserContext]:
    created = browser.new_context(
        viewport={"width": 1440, "height": 1000}, accept_downloads=True, locale="en-GB"
    )
    created.set_default_timeout(ACTION_TIMEOUT_MS)
    created.tracing.start(screenshots=True, snapshots=True)
    try:
        yield created
    finally:
        if _failed(request):
            for number, page in enumerate(created.pages, start=1):
                try:
                    page.screenshot(path=test_artifacts / f"99-failure-page{number}.png")
                except Exception as error:  # a crashed page must not hide the real failure
                    print(f"could not screenshot page {number}: {error}")
            created.tracing.stop(path=test_artifacts / "trace.zip")
        else:
            created.tracing.stop()
        created.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def shots(test_artifacts: Path) -> Screenshots:
    return Screenshots(test_artifacts)


@pytest.fixture
def checks(request: pytest.FixtureRequest, shots: Screenshots) -> SoftChecks:
    created = SoftChecks(shots)
    request.node.stash[CHECKS_KEY] = created
    return created
