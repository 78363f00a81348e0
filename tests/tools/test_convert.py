"""JSON conversion of final answers and tool arguments."""

from __future__ import annotations

import datetime as dt
import decimal
import fractions
import json

import numpy as np
import sympy as sp

from trajkit.tools.convert import to_jsonable


def test_plain_values_pass_through():
    value = {"a": [1, 2.5, "x", None, True]}
    assert to_jsonable(value) == value


def test_numbers_keep_exactness_where_json_allows():
    assert to_jsonable(fractions.Fraction(3, 4)) == "3/4"
    assert to_jsonable(fractions.Fraction(4, 2)) == 2
    assert to_jsonable(decimal.Decimal("0.10")) == "0.10"
    assert to_jsonable(complex(1, 2)) == "(1+2j)"
    assert to_jsonable(float("inf")) == "inf"
    assert to_jsonable(sp.Rational(-5, 3)) == "-5/3"
    assert to_jsonable(sp.Float(0.25)) == 0.25
    assert to_jsonable(sp.pi) == "pi"
    assert to_jsonable(sp.FiniteSet(3, 1)) == [1, 3]
    assert to_jsonable(np.array([[1.5, np.nan]])) == [[1.5, "nan"]]
    assert to_jsonable(np.bool_(True)) is True


def test_keys_become_text_and_records_stay_records():
    value = to_jsonable({1: "a", (1, 2): "b", np.int64(3): "c", "nested": {"k": np.float64(1.0)}})
    assert value == {"1": "a", "(1, 2)": "b", "3": "c", "nested": {"k": 1.0}}
    json.dumps(value)


def test_dates_bytes_and_objects():
    assert to_jsonable(dt.date(2024, 1, 2)) == "2024-01-02"
    assert to_jsonable(dt.timedelta(minutes=1)) == 60.0
    assert to_jsonable(b"caf\xc3\xa9") == "café"

    class Hostile:
        def __str__(self):
            raise RuntimeError("no")

    assert to_jsonable(Hostile()) == "<unprintable Hostile>"


def test_deep_nesting_is_cut_not_crashed():
    value: list = []
    for _ in range(100):
        value = [value]
    json.dumps(to_jsonable(value))
