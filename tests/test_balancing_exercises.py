"""Tests for the self-checks of the load-balancing exercises."""

import math
import re

import numpy as np
import pytest

from imref import ImrefError
from imref.balancing import BalancingError, analysis
from imref.balancing.exercises import (
    RANDOM_CONNECTIONS,
    RANDOM_GATEWAYS,
    CheckResult,
    ExerciseAnswerError,
    check_keys_moved_on_join,
    check_mod_n_moved,
    check_random_max_load,
)


def _assert_mistake(result: CheckResult, mistake: str) -> None:
    assert not result.correct
    assert result.mistake == mistake


# -- exercise 1: keys moved when an 11th gateway joins ------------------------


def test_join_right_answer():
    result = check_keys_moved_on_join(10_000)
    assert result.correct
    assert result.mistake is None
    assert check_keys_moved_on_join(10_050).correct  # within 1%


def test_join_named_wrong_answers():
    _assert_mistake(check_keys_moved_on_join(11_000), "used_1_over_n")
    _assert_mistake(check_keys_moved_on_join(100_000), "counted_staying_keys")
    _assert_mistake(check_keys_moved_on_join(110_000), "counted_every_user")


def test_join_accepts_measured_ring_count():
    # A ring with 160 virtual nodes per gateway moved 0.0963 of 110,000 users.
    assert check_keys_moved_on_join(10_593).correct
    assert check_keys_moved_on_join(9_500).correct
    assert check_keys_moved_on_join(10_500).correct


def test_join_rejects_outside_tolerance():
    assert not check_keys_moved_on_join(9_200).correct
    assert not check_keys_moved_on_join(10_800).correct


def test_join_unknown_wrong_answer():
    result = check_keys_moved_on_join(5_000)
    assert not result.correct
    assert result.mistake is None
    assert "fair share" in result.message


# -- exercise 2: keys moved by mod-n hashing --------------------------------


def test_mod_n_right_answer():
    assert check_mod_n_moved(10 / 11).correct
    assert check_mod_n_moved(0.9091).correct
    # 10/11 rounded to two decimals.
    assert check_mod_n_moved(0.91).correct
    assert not check_mod_n_moved(0.92).correct
    assert check_mod_n_moved(np.float64(100 / 110)).correct


def test_mod_n_named_wrong_answers():
    _assert_mistake(check_mod_n_moved(1 / 11), "used_ring_fraction")
    _assert_mistake(check_mod_n_moved(0.9), "used_1_over_n_staying")
    _assert_mistake(check_mod_n_moved(1), "assumed_all_move")


def test_mod_n_right_answer_matches_brute_force():
    moved = sum(h % 10 != h % 11 for h in range(110)) / 110
    assert check_mod_n_moved(moved).correct


# -- exercise 3: max load of random placement --------------------------------


def test_random_max_load_right_answer():
    expected = 10_000 + math.sqrt(2 * 10_000 * math.log(10))
    assert expected == pytest.approx(10_214.6, abs=0.1)
    assert check_random_max_load(10_215).correct


def test_random_max_load_accepts_simulated_values():
    # Five simulated trials gave a fullest gateway of 10,131 on average.
    assert check_random_max_load(10_131).correct
    assert check_random_max_load(10_150).correct
    assert check_random_max_load(10_200).correct
    assert check_random_max_load(10_250).correct


def test_random_max_load_accepts_long_simulation():
    simulated = analysis.simulate_max_load(
        np.array([RANDOM_CONNECTIONS]), RANDOM_GATEWAYS, choices=1, seed=0, trials=1_000
    )[0]
    assert simulated == pytest.approx(10_154, abs=1)
    assert check_random_max_load(simulated).correct


def test_random_max_load_rejects_outside_band():
    assert check_random_max_load(10_080).mistake is None
    assert not check_random_max_load(10_080).correct
    assert not check_random_max_load(10_330).correct


def test_random_max_load_rejects_half_excess():
    # The mean plus half of sqrt(2 (m/n) ln n) = 214.6 is about 10,107.
    assert not check_random_max_load(10_100).correct
    assert not check_random_max_load(10_107).correct
    assert check_random_max_load(10_100).mistake is None


def test_random_max_load_rejects_far_above_formula():
    assert not check_random_max_load(10_300).correct
    assert check_random_max_load(10_300).mistake is None


def test_random_max_load_names_excess_only():
    for answer in (215, 214.6, 131, 250):
        result = check_random_max_load(answer)
        _assert_mistake(result, "gave_excess_only")
        assert "add the mean" in result.message


def test_random_max_load_excess_outside_band_unnamed():
    assert check_random_max_load(100).mistake is None
    assert check_random_max_load(300).mistake is None


def test_random_max_load_named_wrong_answers():
    _assert_mistake(check_random_max_load(10_000), "gave_mean")
    _assert_mistake(check_random_max_load(10_141), "used_log10")
    _assert_mistake(check_random_max_load(10_679), "used_m_not_mean")
    _assert_mistake(check_random_max_load(10_152), "dropped_factor_2")


def test_mistake_message_explains_once():
    result = check_keys_moved_on_join(11_000)
    assert result.message == "11000 is what you get if you used 1/n instead of 1/(n+1)"
    assert repr(result) == (
        "CheckResult(wrong, used_1_over_n: "
        "11000 is what you get if you used 1/n instead of 1/(n+1))"
    )


def test_mistake_codes_are_snake_case():
    results = [
        check_keys_moved_on_join(11_000),
        check_keys_moved_on_join(100_000),
        check_keys_moved_on_join(110_000),
        check_mod_n_moved(1 / 11),
        check_mod_n_moved(0.9),
        check_mod_n_moved(1),
        check_random_max_load(10_000),
        check_random_max_load(10_141),
        check_random_max_load(10_679),
        check_random_max_load(10_152),
        check_random_max_load(215),
    ]
    for result in results:
        assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", result.mistake), result
        assert result.mistake not in result.message


# -- answers that are not numbers --------------------------------------------


def test_numeric_string_answers_accepted():
    assert check_keys_moved_on_join("10000").correct
    assert check_keys_moved_on_join(" 10000\n").correct
    assert check_keys_moved_on_join("1e4").correct
    assert check_mod_n_moved("0.91").correct
    assert check_random_max_load("10215").correct


def test_numeric_string_wrong_answer_named():
    _assert_mistake(check_keys_moved_on_join("11000"), "used_1_over_n")
    _assert_mistake(check_random_max_load(" 215 "), "gave_excess_only")


@pytest.mark.parametrize(
    "answer",
    [
        "many",
        "",
        "  ",
        "10,000",
        "nan",
        "inf",
        None,
        [1],
        True,
        False,
        math.nan,
        math.inf,
    ],
)
def test_non_number_answer_raises(answer):
    with pytest.raises(ExerciseAnswerError, match="answer must be"):
        check_keys_moved_on_join(answer)


def test_non_number_error_names_value_and_fix():
    with pytest.raises(ExerciseAnswerError) as error:
        check_keys_moved_on_join("many")
    message = str(error.value)
    assert "'many'" in message
    assert "numeric string" in message


def test_answer_error_is_imref_and_value_error():
    assert issubclass(ExerciseAnswerError, ImrefError)
    assert issubclass(ExerciseAnswerError, BalancingError)
    assert issubclass(ExerciseAnswerError, ValueError)


def test_check_result_repr_one_line():
    text = repr(check_keys_moved_on_join(11_000))
    assert "\n" not in text
    assert text.startswith("CheckResult(wrong, ")
    assert "1/(n+1)" in text
