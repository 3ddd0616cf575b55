"""Self-check functions for the exercises in the load-balancing notebook.

Each ``check_*`` function takes the learner's number, or a numeric string,
and returns a ``CheckResult``: correct, or the snake_case code of the known
wrong answer it matches, or neither. A known wrong answer is recognised by
recomputing the mistake, so the checks stay right if an exercise's numbers
change.
"""

from __future__ import annotations

import math
import numbers

from imref.balancing.errors import BalancingError
from imref.exercises import CheckResult

#: Exercise 1: users on a ring of gateways when one more gateway joins.
JOIN_USERS = 110_000
JOIN_GATEWAYS = 10
#: Relative distance from users / (n + 1) that exercise 1 accepts.
JOIN_TOLERANCE = 0.07

#: Exercise 2: mod-n hashing when the pool grows from 10 to 11 gateways.
MOD_N_BEFORE = 10
MOD_N_AFTER = 11

#: Exercise 3: long-lived connections placed on gateways uniformly at random.
RANDOM_CONNECTIONS = 100_000
RANDOM_GATEWAYS = 10
#: Range of the excess over the mean that exercise 3 accepts, as multiples
#: of sqrt(2 (m/n) ln n), which is 214.6 connections here.
RANDOM_EXCESS_ACCEPTED = (0.55, 1.25)


class ExerciseAnswerError(BalancingError, ValueError):
    """An exercise answer is neither a finite number nor a numeric string."""


def _as_number(answer: object) -> float:
    # numbers.Real covers int, float and the NumPy scalars, and a string such
    # as " 10000" is parsed as a float. bool is rejected because True would
    # silently count as 1.
    expected = "pass an int, a float or a numeric string such as '10000'"
    if isinstance(answer, str):
        try:
            value = float(answer.strip())
        except ValueError:
            raise ExerciseAnswerError(
                f"answer must be a number, got {answer!r}; {expected}"
            ) from None
    elif isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        raise ExerciseAnswerError(
            f"answer must be a number, got {answer!r}; {expected}"
        )
    else:
        value = float(answer)
    if not math.isfinite(value):
        raise ExerciseAnswerError(f"answer must be finite, got {answer!r}")
    return value


def _close(answer: float, target: float, rel: float) -> bool:
    return math.isclose(answer, target, rel_tol=rel, abs_tol=1e-12)


def _check(
    answer: object,
    right: float,
    accepted: tuple[float, float],
    wrong: list[tuple[str, str, float]],
    hint: str,
    *,
    rel: float,
) -> CheckResult:
    """Judge ``answer`` against an accepted range and a list of known mistakes.

    Each entry of ``wrong`` is a snake_case code for ``CheckResult.mistake``,
    the explanation that completes "N is what you get if you ...", and the
    value that mistake gives. A known mistake matches within ``rel`` of its
    value and is tested first, so an answer that reproduces a wrong formula
    to the unit is named even when it falls inside the accepted range. Any
    other answer inside ``accepted`` (inclusive) is right.
    """
    value = _as_number(answer)
    for mistake, explanation, number in wrong:
        if _close(value, number, rel):
            return CheckResult(
                False, mistake, f"{value:g} is what you get if you {explanation}"
            )
    low, high = accepted
    if low <= value <= high:
        return CheckResult(
            True, None, f"{value:g} is right: about {right:g} ({low:g} to {high:g})"
        )
    return CheckResult(False, None, f"{value:g} is not it; {hint}")


def check_keys_moved_on_join(answer: object) -> CheckResult:
    """Check how many of 110,000 users move when an 11th gateway joins a ring of 10.

    The ideal count is users / (n + 1), and any answer within 7% of it is
    right: a ring with 160 virtual nodes per gateway moves about 6% more
    or fewer users than the ideal, and the 1/n mistake is 10% above it.

    Raises:
        ExerciseAnswerError: if the answer is not a number or a numeric string.
    """
    users, n = JOIN_USERS, JOIN_GATEWAYS
    ideal = users / (n + 1)
    return _check(
        answer,
        right=ideal,
        accepted=(ideal * (1 - JOIN_TOLERANCE), ideal * (1 + JOIN_TOLERANCE)),
        wrong=[
            ("used_1_over_n", "used 1/n instead of 1/(n+1)", users / n),
            ("counted_staying_keys", "counted keys that stayed", users * n / (n + 1)),
            (
                "counted_every_user",
                "counted every user, as mod-n hashing would move almost all",
                users,
            ),
        ],
        hint="the new gateway ends up with its fair share of the users",
        rel=0.01,
    )


def check_mod_n_moved(answer: object) -> CheckResult:
    """Check the fraction of keys that ``hash % n`` moves when n goes from 10 to 11.

    The answer is the exact fraction, 1 - min(a, b) / lcm(a, b) = 10/11, within
    0.5%, so that 0.91, the fraction rounded to two decimals, counts as right.

    Raises:
        ExerciseAnswerError: if the answer is not a number or a numeric string.
    """
    a, b = MOD_N_BEFORE, MOD_N_AFTER
    right = 1 - min(a, b) / math.lcm(a, b)
    return _check(
        answer,
        right=right,
        accepted=(right * 0.995, right * 1.005),
        wrong=[
            (
                "used_ring_fraction",
                "assumed mod-n hashing is as sticky as a ring",
                1 / b,
            ),
            (
                "used_1_over_n_staying",
                "took 1/n as the keys that stay, not 1/(n+1)",
                1 - 1 / a,
            ),
            (
                "assumed_all_move",
                f"assumed every key moves, but residues below {min(a, b)} stay",
                1.0,
            ),
        ],
        hint="count the residues h mod 110 for which h % 10 == h % 11",
        rel=0.001,
    )


def check_random_max_load(answer: object) -> CheckResult:
    """Check the estimated max load of 100,000 random connections on 10 gateways.

    The estimate m/n + sqrt(2 (m/n) ln n) = 10,214.6 runs high for ten
    gateways: 1,000 trials of ``analysis.simulate_max_load`` (seed 0) put the
    fullest gateway 154 connections above the mean on average, about 0.7
    times sqrt(2 (m/n) ln n).
    So an answer is right when its excess over the mean is between 0.55 and
    1.25 times sqrt(2 (m/n) ln n), from 10,118 to 10,268.
    That range takes the notebook's five-trial simulation (10,131) and the
    formula rounded to tens, but not the mean plus half the excess (10,107).
    An answer that reproduces a wrong formula to within one connection is
    named as that mistake, and so is an answer inside the accepted range of
    the excess alone, without the mean.

    Raises:
        ExerciseAnswerError: if the answer is not a number or a numeric string.
    """
    m, n = RANDOM_CONNECTIONS, RANDOM_GATEWAYS
    mean = m / n
    excess = math.sqrt(2 * mean * math.log(n))
    low, high = RANDOM_EXCESS_ACCEPTED
    value = _as_number(answer)
    if low * excess <= value <= high * excess:
        return CheckResult(
            False,
            "gave_excess_only",
            f"{value:g} is the excess over the mean; add the mean m/n = {mean:g}",
        )
    return _check(
        value,
        right=mean + excess,
        accepted=(mean + low * excess, mean + high * excess),
        wrong=[
            ("gave_mean", "gave the mean load, not the max", mean),
            (
                "used_log10",
                "used log base 10, not ln",
                mean + math.sqrt(2 * mean * math.log10(n)),
            ),
            (
                "used_m_not_mean",
                "used m instead of m/n under the root",
                mean + math.sqrt(2 * m * math.log(n)),
            ),
            (
                "dropped_factor_2",
                "forgot the factor 2 under the root",
                mean + math.sqrt(mean * math.log(n)),
            ),
        ],
        hint="start from the mean m/n and add sqrt(2 (m/n) ln n)",
        rel=1 / mean,
    )
