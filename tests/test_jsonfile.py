"""JSON from outside the build: nesting, integer length and non-finite numbers bounded before use."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pipeline.jsonfile import MAX_DEPTH, MAX_DIGITS, JSONInputError, nesting_depth, parse_json


def test_a_flat_record_parses_as_json_does():
    doc = parse_json(b'{"a": [1, 2.5, "x]"], "b": null, "c": true}')
    assert doc == {"a": [1, 2.5, "x]"], "b": None, "c": True}


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000, 200_000])
def test_nesting_deeper_than_the_bound_is_refused_not_a_recursion_error(depth):
    with pytest.raises(JSONInputError, match=f"deeper than {MAX_DEPTH}"):
        parse_json("[" * depth + "]" * depth)


def test_nesting_at_the_bound_parses():
    assert parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = '{"a": "' + "[" * 1000 + '\\" {"}'
    assert nesting_depth(text) == 1 and parse_json(text) == {"a": "[" * 1000 + '" {'}


@pytest.mark.parametrize(
    "text", ["[NaN]", "[Infinity]", "[-Infinity]", "[1e4000]", "[-1e4000]", '{"v": 1.5e309}']
)
def test_non_finite_numbers_are_refused(text):
    with pytest.raises(JSONInputError):
        parse_json(text)


@pytest.mark.parametrize("digits", [MAX_DIGITS + 1, 400, 5_000])
def test_a_long_integer_is_refused_by_its_length(digits):
    with pytest.raises(JSONInputError, match=f"an integer of {digits} digits"):
        parse_json("[-" + "7" * digits + "]")


def test_nonfinite_reads_nan_and_infinity_for_a_reader_that_names_the_field():
    value = parse_json('{"loss": NaN, "big": 1e4000}', nonfinite=True)
    assert math.isnan(value["loss"]) and value["big"] == math.inf
    with pytest.raises(JSONInputError, match="deeper"):
        parse_json("[" * 100 + "]" * 100, nonfinite=True)


def test_text_that_is_not_json_is_one_short_line():
    with pytest.raises(JSONInputError) as err:
        parse_json('{"a": ' + "x" * 500)
    assert "\n" not in str(err.value) and len(str(err.value)) <= 100


def test_bytes_that_are_not_utf8_are_a_value_error():
    with pytest.raises(ValueError):
        parse_json(b'{"a": "\xff"}')


@given(raw=st.binary(max_size=300) | st.text(alphabet='[]{}"\\,:0123456789.eE-+ NaIfinty', max_size=300))
@example(raw="[" * 3_000)
@example(raw='"' + "[" * 3_000)
@example(raw="[1" + "0" * 5_000 + "]")
def test_any_input_parses_or_is_a_value_error(raw):
    try:
        parse_json(raw)
    except ValueError:
        pass
