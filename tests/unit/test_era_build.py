"""The era decision of a build, the spec's as-of fields and the one line a build shows (pure)."""

from __future__ import annotations

from datetime import date

import pytest

from envkit.era import AsOf, Era, choose_as_of, resolves_as_of_now
from envkit.era_build import era_choice, pins_of
from envkit.errors import UsageError
from envkit.releases import Floor, ForwardMove, resolution_line
from envkit.spec import EnvSpec, Lock, Requirement
from envkit.validate import Invalid

TODAY = date(2026, 11, 30)


def test_a_built_notebook_keeps_its_lock_and_any_other_is_resolved_as_of_its_era():
    assert choose_as_of("", recorded=True, today=TODAY) == AsOf(mode="keep")
    assert choose_as_of("", recorded=False, today=TODAY) == AsOf(mode="infer")
    assert choose_as_of("auto", recorded=True, today=TODAY) == AsOf(mode="infer")
    assert choose_as_of("now", recorded=False, today=TODAY) == AsOf(mode="now")
    assert choose_as_of("2019-03-02", recorded=True, today=TODAY) == AsOf(mode="date", when=date(2019, 3, 2))
    with pytest.raises(ValueError, match="in the future"):
        choose_as_of("2027-01-01", recorded=False, today=TODAY)
    with pytest.raises(UsageError, match="expected YYYY-MM-DD"):
        era_choice("last spring", recorded=False, today=TODAY)


def test_a_recent_inferred_era_resolves_as_of_now_but_a_given_date_does_not():
    recent = Era(when=date(2026, 11, 20), reason="the file's modification time")
    old = Era(when=date(2019, 3, 2), reason="last git commit touching the notebook")
    assert resolves_as_of_now(recent, inferred=True, today=TODAY)
    assert not resolves_as_of_now(recent, inferred=False, today=TODAY)
    assert not resolves_as_of_now(old, inferred=True, today=TODAY)
    assert resolves_as_of_now(Era(when=None, reason="nothing"), inferred=True, today=TODAY)


def test_as_of_is_stored_validated_and_in_the_digest_only_when_set():
    spec = EnvSpec(python="3.11", requirements=(Requirement.parse("pandas"),))
    dated = spec.with_changes(as_of="2019-03-02", as_of_reason="last git commit touching the notebook")
    assert "as_of" not in spec.to_json() and dated.digest() != spec.digest()
    # the digest of a spec without a date is what it was before eras existed
    assert spec.digest() == EnvSpec.from_json({"python": "3.11", "requirements": spec.to_json()["requirements"]}).digest()
    back = EnvSpec.from_json(dated.to_json())
    assert back == dated and back.digest() == dated.digest()
    with pytest.raises(Invalid, match="spec.as_of"):
        EnvSpec.from_json({"python": "3.11", "as_of": "2019-02-30"})
    lock = Lock(spec_digest=dated.digest(), python="3.11", packages=pins_of(("pandas==1.5.0", "--index-url x",
                                                                               "numpy==1.23.5")), source="era")
    assert Lock.from_json(lock.to_json()) == lock
    assert [p.line() for p in lock.packages] == ["numpy==1.23.5", "pandas==1.5.0"]


def test_the_one_line_names_the_date_the_reason_and_the_moves():
    era = Era(when=date(2019, 3, 2), reason="last git commit touching the notebook")
    move = ForwardMove(distribution="pandas", version="1.5.0", exclude_newer="2022-09-20T00:00:00Z",
                       reason="0.24.1 has no wheel for Python 3.11; 1.5.0 (2022-09-19) is the first that does")
    assert resolution_line(era, [move]) == ("resolved as of 2019-03-02: last git commit touching the notebook; "
                                            "moved forward: pandas 1.5.0 (0.24.1 has no wheel for Python 3.11)")
    assert resolution_line(era, []) == "resolved as of 2019-03-02: last git commit touching the notebook"
    floor = Floor(distribution="ipywidgets", version="7.5.1", uploaded=date(2019, 7, 29))
    assert resolution_line(era, [], [(floor, "5.2.2")]) == (
        "resolved as of 2019-03-02: last git commit touching the notebook; "
        "floor: ipywidgets>=7.5.1 (current a year earlier; uv had taken 5.2.2)")


def test_an_exact_pin_with_nothing_for_the_python_cannot_be_honoured():
    from datetime import datetime, timezone

    from envkit.releases import Release, unhonourable_pin

    when = datetime(2020, 1, 1, tzinfo=timezone.utc)
    old = Release(version="1.1.5", files=(("pandas-1.1.5-cp38-cp38-manylinux1_x86_64.whl", when),
                                          ("pandas-1.1.5.tar.gz", when)))
    new = Release(version="1.5.0", files=(("pandas-1.5.0-cp311-cp311-manylinux_2_17_x86_64.whl", when),))
    assert unhonourable_pin("==1.1.5", [old, new], "3.11") == (
        "==1.1.5: no release it allows has a distribution for Python 3.11")
    assert unhonourable_pin("==1.1.5", [old, new], "3.8") is None
    assert unhonourable_pin("==1.5.0", [old, new], "3.11") is None
    assert unhonourable_pin("==9.9", [old, new], "3.11") is None  # unknown to the index: the build says so
    assert unhonourable_pin(">=1.0", [old], "3.11") is None  # only exact pins are judged
