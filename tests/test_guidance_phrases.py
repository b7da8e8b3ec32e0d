"""The phrase library: coverage of the shipped packs, rendering, schema errors and ranking."""

from __future__ import annotations

import re

import pytest

from gracedesk.errors import PhraseFileError
from gracedesk.guidance.phrases import VARIABLES, Library, clean_value, render, suggest
from gracedesk.model.guidance import STEPS
from test_guidance_support import make_signals

LIB = Library.default()
FULL = {
    "name": "Dana",
    "agent_name": "Sam",
    "issue": "the problem with your order",
    "time_frame": "by 5:00 pm today",
    "channel": "by phone",
    "option_a": "a replacement sent by express shipping",
    "option_b": "a full refund of 120.00 EUR",
    "amount": "120.00 EUR",
}
LEFTOVER = re.compile(r"[{}\[\]]")


def test_library_covers_every_step_emotion_cause_and_archetype() -> None:
    specs = [e.spec for e in LIB.entries]
    assert len(specs) >= 60
    for step in STEPS:
        assert sum(s.stage == step for s in specs) >= 5, step
    tagged = {t for s in specs for t in (*s.emotions, *s.causes, *s.archetypes)}
    for tag in (
        *("anger", "frustration", "disappointment", "confusion", "anxiety", "sadness"),
        *("unmet_expectations", "poor_service", "miscommunication", "lack_of_information"),
        *("personal_stress", "serial_complainer", "indecisive", "demanding", "aggressive"),
        "vague",
    ):
        assert tag in tagged, tag


@pytest.mark.parametrize("values", [{}, FULL], ids=["no-values", "all-values"])
def test_every_shipped_phrase_renders_cleanly(values) -> None:
    for e in LIB.entries:
        out = render(e.spec.text, values)
        needs = {v for v in re.findall(r"\{(\w+)\}", re.sub(r"\[[^\]]*\]", "", e.spec.text))}
        if any(VARIABLES[v] is None for v in needs) and not values:
            assert out is None, e.spec.id  # needs a value it cannot do without
            continue
        assert out is not None, e.spec.id
        assert not LEFTOVER.search(out), (e.spec.id, out)
        assert "  " not in out and " ," not in out and " ." not in out, (e.spec.id, out)


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        ("Hello[, {name}].", {"name": "Dana"}, "Hello, Dana."),  # optional segment kept
        ("Hello[, {name}].", {}, "Hello."),  # optional segment dropped whole
        ("Hello[, {name}].", {"name": "   "}, "Hello."),  # blank value = missing
        ("Sorry about {issue}.", {}, "Sorry about this."),  # neutral default
        ("I'll call {time_frame}.", {}, "I'll call as soon as I can."),  # neutral default
        ("Pick {option_a}.", {}, None),  # no default: the phrase cannot be used
        ("Hi[ {name}],[ I'm {agent_name}.]", {"agent_name": "Sam"}, "Hi, I'm Sam."),
        ("Hi[, {name}].", {"name": "{issue} [x]"}, "Hi, issue x."),  # template chars removed
        ("Hi[, {name}].", {"name": "Ann\n\tLee"}, "Hi, Ann Lee."),  # whitespace collapsed
        ("Refund {amount}.", {"amount": 12.5}, "Refund 12.5."),  # numbers are text
        ("Hi[, {name}].", {"name": True}, "Hi."),  # a bool is no name
        ("Hi[, {name}].", {"name": "😀 Zoë"}, "Hi, 😀 Zoë."),  # emoji and accents
    ],
)
def test_render(template, values, expected) -> None:
    assert render(template, values) == expected


def test_long_value_is_cut() -> None:
    out = render("Hi[, {name}].", {"name": "word " * 100})
    assert out is not None and len(out) < 140 and out.endswith("….")
    assert clean_value("x" * 500) is not None


def _pack(body: str, version: str = '"1"') -> str:
    return f'version = {version}\npack = "test"\n' + body


GOOD = '[[phrase]]\nid = "t.one"\nstage = "acknowledge"\ntext = "Sorry about {issue}."\n'

BAD_PACKS = [
    # (pack text, expected words in the error)
    (_pack(GOOD + 'colour = "red"\n'), ["t.one", "key 'colour'", "Extra inputs"]),  # unknown key
    (_pack(GOOD.replace("{issue}", "{isue}")), ["t.one", "key 'text'", "unknown variable {isue}"]),
    (_pack(GOOD.replace("acknowledge", "apologise")), ["t.one", "key 'stage'", "not a step"]),
    (_pack(GOOD + 'emotions = ["angry"]\n'), ["t.one", "key 'emotions'", "'angry'"]),
    (_pack(GOOD + 'archetypes = ["karen"]\n'), ["t.one", "key 'archetypes'"]),
    (_pack(GOOD + 'tone = "shouty"\n'), ["t.one", "key 'tone'"]),
    (_pack(GOOD.replace("{issue}.", "[{issue}.")), ["t.one", "unbalanced"]),  # open bracket
    (_pack(GOOD.replace("{issue}.", "{issue} [now].")), ["t.one", "holds no variable"]),
    (_pack(GOOD.replace("{issue}.", "{issue} }.")), ["t.one", "stray"]),  # stray brace
    (_pack(GOOD.replace('"t.one"', '"T One"')), ["phrase 'T One'", "key 'id'"]),  # bad id
    (_pack(GOOD.replace('text = "Sorry about {issue}."\n', "")), ["t.one", "key 'text'"]),
    (_pack(GOOD, version='"2"'), ["key 'version'"]),  # unsupported version
    (_pack(""), ["key 'phrase'"]),  # no phrases
    ('version = "1"\npack = \n', ["not valid TOML"]),  # broken TOML
]


@pytest.mark.parametrize(("text", "words"), BAD_PACKS)
def test_schema_errors_name_file_phrase_and_key(text, words) -> None:
    with pytest.raises(PhraseFileError) as err:
        Library.from_texts({"my_pack.toml": text})
    msg = str(err.value)
    assert msg.startswith("[GD501] my_pack.toml")
    for w in words:
        assert w in msg, msg


def test_duplicate_ids_across_packs() -> None:
    with pytest.raises(PhraseFileError, match=r"b\.toml: phrase 't\.one': key 'id': duplicate"):
        Library.from_texts({"a.toml": _pack(GOOD), "b.toml": _pack(GOOD)})


@pytest.mark.parametrize(
    ("step", "overrides", "archetype", "top_id", "reason"),
    [
        # an angry customer gets an anger acknowledgement, with the score as the reason
        ("acknowledge", {"emotions": {"anger": 0.9}}, "none", "ack.anger.", "emotions.anger 0.90"),
        # an anxious one gets reassurance
        ("acknowledge", {"emotions": {"anxiety": 0.8}}, "none", "ack.anxiety.", "anxiety"),
        # the archetype outweighs an emotion
        (
            "acknowledge",
            {"emotions": {"anger": 0.6}},
            "serial_complainer",
            "ack.serial.",
            "archetype",
        ),
        # an indecisive customer gets two options
        ("offer", {}, "indecisive", "offer.two_options", "archetype indecisive"),
        # a threat gets the threat boundary
        ("boundary", {"abuse": {"threat": 0.9}}, "none", "boundary.threat", "abuse.threat 0.90"),
        # a confused customer gets step-by-step wording
        ("clarify", {"emotions": {"confusion": 0.9}}, "none", "clarify.confused.", "confusion"),
        # nothing specific: a general phrase, saying so
        ("close", {}, "none", "close.", "general phrase"),
    ],
)
def test_ranking(step, overrides, archetype, top_id, reason) -> None:
    got = suggest(LIB, step, make_signals(**overrides), FULL, archetype=archetype, limit=3)
    assert got and got[0].id.startswith(top_id), [p.id for p in got]
    assert any(reason in w for w in got[0].why), got[0].why
    assert [p.score for p in got] == sorted((p.score for p in got), reverse=True)
    assert all(p.stage == step and not LEFTOVER.search(p.text) for p in got)


def test_tagged_phrases_need_their_tag_and_options_need_values() -> None:
    calm = suggest(LIB, "acknowledge", make_signals(), {}, limit=50)
    assert calm and not any(p.id.startswith(("ack.anger", "ack.anxiety")) for p in calm)
    offers = suggest(LIB, "offer", make_signals(), {}, archetype="indecisive", limit=50)
    assert not any("{" in p.text for p in offers)
    assert not any(p.id.startswith("offer.two_options") for p in offers)  # no options given


def test_preferred_tone_breaks_ties() -> None:
    got = suggest(LIB, "listen", make_signals(), {}, tone="calm", limit=1)
    assert got[0].tone == "calm" and "calm tone suits this customer" in got[0].why


def test_a_nudge_gets_wait_phrases_and_no_tagged_ones() -> None:
    sig = make_signals(emotions={"confusion": 0.47})  # "Hello?? anyone?" scores like this
    assert suggest(LIB, "acknowledge", sig, FULL)[0].id == "ack.confusion.fair"  # the old pick
    got = suggest(LIB, "acknowledge", sig, FULL, waiting=True)
    assert got[0].id.startswith("wait.ack.") and "waiting" in got[0].text.lower()
    assert any("waiting for a reply" in w for w in got[0].why)
    specs = {e.spec.id: e.spec for e in LIB.entries}
    for p in got:
        if p.id.startswith("wait."):
            continue
        s = specs[p.id]
        assert not (s.emotions or s.causes or s.requests or s.abuse), p.id
    # built in: a custom library answers a nudge too
    mine = Library.from_texts(
        {
            "m.toml": 'version = "1"\npack = "m"\n[[phrase]]\nid = "x"\nstage = "acknowledge"\ntext = "Hi."\n'
        }
    )
    assert suggest(mine, "acknowledge", sig, FULL, waiting=True)[0].id.startswith("wait.ack.")
