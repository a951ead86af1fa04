from __future__ import annotations

import json
import math

import click
from click.testing import CliRunner

from modelyard.cli.output import (
    SdkCommand,
    echo_json,
    format_duration,
    format_number,
    key_values,
    table,
)
from modelyard.errors import ResourceDoesNotExist


def test_table_aligns_numbers_right_and_text_left() -> None:
    text = table([["knn", 0.95, None], ["logistic-regression", 1.0, "x"]], ["NAME", "ACC", "NOTE"])
    assert text.splitlines() == [
        "NAME                  ACC  NOTE",
        "-------------------  ----  ----",
        "knn                  0.95",
        "logistic-regression     1  x",
    ]


def test_numeric_looking_strings_stay_left_aligned() -> None:
    lines = table([["p", "1"], ["q", "100"]], ["KEY", "VALUE"]).splitlines()
    assert lines[2] == "p    1"


def test_format_number_and_duration() -> None:
    assert format_number(0.958041958041958) == "0.958042"
    assert format_number(3.0) == "3"
    assert format_number(math.nan) == "NaN"
    assert format_number(-math.inf) == "-inf"
    assert format_duration(0, 1_500) == "1.5s"
    assert format_duration(0, 184_000) == "3m04s"
    assert format_duration(0, 7_500_000) == "2h05m"
    assert format_duration(0, None) == ""


def test_key_values_leaves_out_empty_values() -> None:
    assert key_values([("run id", "abc"), ("parent run id", None), ("status", "FINISHED")]) == (
        "run id: abc\nstatus: FINISHED"
    )


def test_json_writes_non_finite_floats_as_mlflow_does() -> None:
    @click.command()
    def show() -> None:
        echo_json({"values": [math.nan, math.inf, -math.inf, 1.5]})

    result = CliRunner().invoke(show)
    assert json.loads(result.output) == {"values": ["NaN", "Infinity", "-Infinity", 1.5]}


def test_sdk_errors_become_one_line() -> None:
    @click.command(cls=SdkCommand)
    def fail() -> None:
        raise ResourceDoesNotExist("Run with id=x not found")

    result = CliRunner().invoke(fail)
    assert result.exit_code == 1
    assert result.stderr == "Error: Run with id=x not found\n"
