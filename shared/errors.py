"""Error types shared by every layer: the domain raises them, pages and routes show them.

This module imports nothing from LinkPay Desk, so the lowest modules (text, money) can
raise a form error without importing a feature module that imports them back.
"""


class ValidationError(ValueError):
    """Input a person can fix; ``field`` names the form field the message belongs to."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field
