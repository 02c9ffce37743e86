"""What the browser tests leave behind: numbered screenshots per step, and checks that
record a product problem without stopping the test."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:120] or "test"


class Screenshots:
    """``shots(page, "invoice-paid", step=10)`` → ``10-invoice-paid.png``; a second shot of
    the same step becomes ``10b-…``; without ``step`` the next number is used."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.taken: list[Path] = []
        self._last_step = 0
        self._per_step: dict[int, int] = {}

    @property
    def current_step(self) -> int:
        return max(self._last_step, 1)

    def __call__(self, page: Page, name: str, *, step: int | None = None) -> Path:
        step = self._last_step + 1 if step is None else step
        self._last_step = max(self._last_step, step)
        count = self._per_step[step] = self._per_step.get(step, 0) + 1
        suffix = "" if count == 1 else chr(ord("a") + count - 1)
        path = self.directory / f"{step:02d}{suffix}-{slug(name)}.png"
        page.screenshot(path=path, full_page=True)
        self.taken.append(path)
        return path


class SoftChecks:
    """Checks whose failure should not stop the journey: the step is recorded (with a
    screenshot) and the test goes on, so one run reports every product problem it meets.
    ``assert_all()`` at the end of the test fails it if any check failed."""

    def __init__(self, shots: Screenshots) -> None:
        self.shots = shots
        self.failures: list[str] = []

    @contextmanager
    def soft(
        self, expectation: str, page: Page | None = None, *, step: int | None = None
    ) -> Iterator[None]:
        try:
            yield
        # Playwright's own timeouts (a download that never starts) count as failed checks.
        except (AssertionError, PlaywrightError) as error:
            first_lines = "\n".join(str(error).splitlines()[:6])
            self.failures.append(f"{expectation}\n    {first_lines}")
            if page is not None:
                self.shots(page, f"problem-{expectation}", step=step or self.shots.current_step)

    def summary(self) -> str:
        return "\n\n".join(f"- {failure}" for failure in self.failures)

    def assert_all(self) -> None:
        assert not self.failures, f"product problems:\n{self.summary()}"
