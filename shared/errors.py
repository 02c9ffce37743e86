"""Error types shared by every layer: the domain raises them, pages and routes show them.

This module imports nothing from LinkPay Desk, so the lowest modules (text, money) can
raise a form error without importing a feature module that imports them back.
"""


class ValidationError(ValueError):
    """Input a person can fix; ``field`` names the form field the message belongs to.

    The message is English text with ``{name}`` places for ``values``: ``str(error)`` is the
    English sentence (logs, API answers), and the dashboard translates ``template`` and
    fills in the same values, so a Latvian user reads the message in Latvian.
    """

    def __init__(self, message: str, *, field: str = "", **values: object) -> None:
        self.template = message
        self.values = values
        super().__init__(message.format(**values) if values else message)
        self.field = field


def on_field(error: ValidationError, field: str) -> ValidationError:
    """The same message and values, told next to ``field`` of the form that was typed in."""
    return ValidationError(error.template, field=field, **error.values)
