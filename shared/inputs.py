"""What a form sends to a create/update function: one model per form, checked once.

Each input model lists the fields a person edits, with their defaults, and cleans every
field with the same rule (and the same message, on the same field) as before; the
domain function then copies the cleaned values onto its row in one place. A value a
person can fix raises ``shared.errors.ValidationError``, so pages keep catching only
that. A mistake in the calling code (an unknown or misspelt field, a missing required
field, a value of the wrong type) raises ``TypeError``, just as an unknown keyword
argument did: it is a bug to fix, not a message for the user, and no value is dropped
silently.

An input model lives next to the function that takes it (CustomerInput in customers,
DraftInput in invoicing, ...): its checks are that module's rules, and those modules
import ``shared.models``, which holds the tables only. Inputs are plain pydantic models,
not SQLModel ones: they are not tables, and their defaults are the form's, not the
column's (a new customer's language is LV, a row without one is EN).
"""

from typing import Any

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo

from shared.errors import ValidationError
from shared.text import clean_multiline, clean_single_line


class FormInput(BaseModel):
    """Built by calling it with keywords: that is where pydantic's error becomes ours."""

    model_config = ConfigDict(
        extra="forbid",
        validate_default=True,
        # The pydantic error text would otherwise quote what was typed, an API secret too.
        hide_input_in_errors=True,
    )

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except pydantic.ValidationError as error:
            raise _translated(error) from None


def _translated(error: pydantic.ValidationError) -> Exception:
    problems = error.errors(include_input=False, include_url=False)
    ours = [problem["ctx"]["error"] for problem in problems if _is_ours(problem)]
    if len(ours) == len(problems):
        # Fields are declared in the order the checks ran before, so the first is the one
        # the form has always shown.
        return ours[0]
    bugs = "; ".join(
        f"{'.'.join(map(str, problem['loc'])) or error.title}: {problem['msg']}"
        for problem in problems
        if not _is_ours(problem)
    )
    return TypeError(f"{error.title}: {bugs}")


def _is_ours(problem: Any) -> bool:
    return isinstance(problem.get("ctx", {}).get("error"), ValidationError)


def single_line(label: str, *, max_length: int) -> AfterValidator:
    """``clean_single_line`` for an input field; the error names the field itself."""

    def clean(value: str, info: ValidationInfo) -> str:
        return clean_single_line(
            value, field=info.field_name or "", label=label, max_length=max_length
        )

    return AfterValidator(clean)


def multiline(label: str, *, max_length: int) -> AfterValidator:
    """``clean_multiline`` for an input field; the error names the field itself."""

    def clean(value: str, info: ValidationInfo) -> str:
        return clean_multiline(
            value, field=info.field_name or "", label=label, max_length=max_length
        )

    return AfterValidator(clean)
