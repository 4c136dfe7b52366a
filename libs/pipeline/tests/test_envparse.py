"""Typed reads of environment variables: defaults, parsing, ranges, the variable named."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from pipeline.envparse import EnvReader, cache_dir
from pipeline.settings import WorkerSettings


class BadSetting(Exception):
    pass


def test_unset_or_blank_means_the_default() -> None:
    r = EnvReader({"BLANK": "  "}, BadSetting)
    for name in ("UNSET", "BLANK"):
        assert r.text(name, "d") == "d"
        assert r.integer(name, 7, 0, 10) == 7
        assert r.number(name, 0.5, 0, 1) == 0.5
        assert r.flag(name, True) is True
        assert r.path(name) is None


def test_values_are_parsed() -> None:
    env = {"T": " x ", "I": " 42", "F": "-1.5", "Y": "Yes", "N": "off", "P": "~/m.onnx"}
    r = EnvReader(env, BadSetting)
    assert r.text("T") == "x"
    assert r.integer("I", 0, 42, 42) == 42
    assert r.number("F", 0.0) == -1.5
    assert (r.flag("Y", False), r.flag("N", True)) == (True, False)
    assert r.path("P") == Path.home() / "m.onnx"


@pytest.mark.parametrize(
    ("value", "read", "message"),
    [
        ("many", lambda r: r.integer("V", 1), "V='many' is not an integer"),
        ("1.5", lambda r: r.integer("V", 1), "V='1.5' is not an integer"),
        ("fast", lambda r: r.number("V", 1.0), "V='fast' is not a number"),
        ("11", lambda r: r.integer("V", 1, 0, 10), r"V=11 is outside 0\.\.10"),
        ("-1", lambda r: r.integer("V", 1, 0), r"V=-1 is outside 0\.\."),
        ("2.5", lambda r: r.number("V", 1.0, None, 2.0), r"V=2\.5 is outside \.\.2\.0"),
        ("nan", lambda r: r.number("V", 1.0, 0.0, 2.0), r"V=nan is outside"),
        ("maybe", lambda r: r.flag("V", False), "V='maybe' is not true or false"),
    ],
)
def test_bad_values_raise_the_given_error_naming_the_variable(
    value: str, read: object, message: str
) -> None:
    with pytest.raises(BadSetting, match=message):
        read(EnvReader({"V": value}, BadSetting))  # type: ignore[operator]


def test_unbounded_number_takes_any_float_and_default_error_is_value_error() -> None:
    assert math.isinf(EnvReader({"V": "inf"}).number("V", 0.0))
    with pytest.raises(ValueError, match="V='x'"):
        EnvReader({"V": "x"}).integer("V", 0)


def test_cache_dir_follows_scripts_lib_sh() -> None:
    assert cache_dir({"PABX_CACHE": "/c", "XDG_CACHE_HOME": "/x"}) == Path("/c")
    assert cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/pabx")
    assert cache_dir({}) == Path.home() / ".cache" / "pabx"


def test_worker_settings_read_through_the_reader() -> None:
    s = WorkerSettings.from_env(9100, {"WORKER_CONCURRENCY": "8", "WORKER_NAME": " w1 "})
    assert (s.concurrency, s.name, s.metrics_port) == (8, "w1", 9100)
    assert s.stream_options() == {
        "concurrency": 8,
        "claim_idle_ms": 5000,
        "max_deliveries": 3,
        "max_age_s": 120,
    }
    with pytest.raises(ValueError, match=r"WORKER_MAX_DELIVERIES=0 is outside 1\.\.100"):
        WorkerSettings.from_env(9100, {"WORKER_MAX_DELIVERIES": "0"})
