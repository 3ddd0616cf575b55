"""The verdict of an exercise self-check, shared by every chapter's notebook."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckResult:
    """Verdict on one exercise answer: right or not, and which known mistake it is.

    ``mistake`` names a recognised wrong answer, such as ``"used_1_over_n"``,
    and is None for a right answer or a wrong one that no check recognises.
    """

    correct: bool
    mistake: str | None
    message: str

    def __repr__(self) -> str:
        if self.correct:
            return f"CheckResult(correct: {self.message})"
        return f"CheckResult(wrong, {self.mistake or 'unrecognised'}: {self.message})"
