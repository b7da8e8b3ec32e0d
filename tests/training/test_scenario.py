"""The scenario loader: the fixed format, validated like a policy; errors name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gracedesk.errors import ScenarioInvalid, ScenarioNotFound
from gracedesk.training.scenario import (
    CAUSES,
    PERSONAS,
    dump_scenario,
    get_scenario,
    load_scenarios,
    parse_scenario,
)

from .conftest import DATA

GOOD = (DATA / "test-router-vague.toml").read_text("utf-8")


def test_packaged_library_loads_and_covers_every_persona_and_cause() -> None:
    scenarios = load_scenarios()
    assert len(scenarios) >= 20
    assert {s.persona for s in scenarios} == set(PERSONAS)
    assert {s.cause for s in scenarios} == set(CAUSES)
    assert [s.id for s in scenarios] == sorted(s.id for s in scenarios)


def test_extra_folder_adds_scenarios_and_get_finds_them() -> None:
    ids = {s.id for s in load_scenarios([DATA])}
    assert {"test-parcel-aggressive", "test-router-vague"} <= ids
    assert get_scenario("test-router-vague", [DATA]).persona == "vague"


def test_unknown_id_and_missing_folder() -> None:
    with pytest.raises(ScenarioNotFound, match="no scenario 'nope'"):
        get_scenario("nope")
    with pytest.raises(ScenarioNotFound, match="does not exist"):
        load_scenarios(["/nonexistent/folder"])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # an unknown key is an error, as in policy files
        (lambda t: 'colour = "red"\n' + t, "key 'colour': Extra inputs are not permitted"),
        # a persona outside the archetypes
        (lambda t: t.replace('"vague"', '"grumpy"', 1), "key 'persona'"),
        # a cause outside the five
        (lambda t: t.replace('"lack_of_information"', '"bad_luck"'), "key 'cause'"),
        # difficulty outside easy/medium/hard
        (lambda t: t.replace('"easy"', '"brutal"'), "key 'difficulty'"),
        # a placeholder that names no fact
        (lambda t: t.replace("Can you fix it?", "Order {order}?"), "unknown placeholder {order}"),
        # a start value outside [0, 1]
        (lambda t: t + "\n[start]\nanger = 1.5\n", "key 'start.anger'"),
        # a line bucket outside the list
        (lambda t: t.replace('when = "clarifying"', 'when = "sulking"'), "key 'lines.0.when'"),
        # an unknown rubric criterion
        (lambda t: t + "\n[rubric]\nspeed = 2\n", "key 'rubric.speed'"),
        # no resolution at all
        (
            lambda t: t.replace(
                'resolution = ["engineer visit", "new router", "replacement router", "line test"]',
                "resolution = []",
            ),
            "key 'resolution'",
        ),
        # not TOML
        (lambda t: t + "\n= broken\n", "not valid TOML"),
    ],
)
def test_bad_files_are_errors_that_name_the_file(edit, message: str) -> None:
    with pytest.raises(ScenarioInvalid) as info:
        parse_scenario(edit(GOOD), "mine/test-router-vague.toml", stem="test-router-vague")
    assert "mine/test-router-vague.toml" in str(info.value)
    assert message in str(info.value)


def test_id_must_equal_the_file_stem(tmp_path: Path) -> None:
    (tmp_path / "other-name.toml").write_text(GOOD, encoding="utf-8")
    with pytest.raises(ScenarioInvalid, match=r"other-name\.toml: key 'id'.*differs"):
        load_scenarios([tmp_path])


def test_duplicate_ids_across_folders_name_both_files(tmp_path: Path) -> None:
    (tmp_path / "test-router-vague.toml").write_text(GOOD, encoding="utf-8")
    with pytest.raises(ScenarioInvalid, match="is also in"):
        load_scenarios([DATA, tmp_path])


def test_dump_reads_back_equal(parcel, router) -> None:
    for s in (parcel, router):
        assert parse_scenario(dump_scenario(s), "dump", stem=s.id) == s


def test_defaults_by_difficulty_and_weights_normalised(router, parcel) -> None:
    assert router.start_state() == {"anger": 0.45, "trust": 0.5, "patience": 0.8}
    assert parcel.start_state()["anger"] == 0.8
    w = parcel.weights()
    assert abs(sum(w.values()) - 1.0) < 1e-9
    assert w["empathy"] > w["clarity"] > w["boundaries"]
