"""Deployment-specific recognizers (DATAVAULT_RECOGNIZERS): strict validation that names the file, section and item
but never a listed value, and the deny list, allow list, patterns and entity switches through the real Detector."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from datavault_dagster.domain import detect
from datavault_dagster.domain.anonymize import Anonymizer, Pseudonymizer
from datavault_dagster.domain.custom_rules import CustomRules, load_custom_rules, parse_custom_rules
from datavault_dagster.domain.detect import Detector, KnownPII
from datavault_dagster.domain.errors import ConfigError

KEY = bytes(range(32))
SECRET = "Zyxwv Qrstu"  # a deny value: it must never appear in an error message

RULES = r"""
version: 1
deny:
  - entity: PERSON
    values: ["Dr. Who", "Ziggy"]
allow:
  - "Johns Hopkins"
  - regex: "SKU-\\d+"
patterns:
  - name: hospital-mrn
    entity: ID
    regex: "\\bHOS-\\d{6}\\b"
    score: 0.9
    context: ["mrn", "patient"]
    window: 40
entities:
  AGE: false
"""


def write(tmp_path: Path, text: str, name: str = "recognizers.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector().load()


@pytest.fixture
def rules(tmp_path: Path) -> CustomRules:
    loaded = load_custom_rules(write(tmp_path, RULES))
    assert loaded is not None
    return loaded


def run(detector: Detector, monkeypatch: pytest.MonkeyPatch, rules: CustomRules | None, text: str,
        known: KnownPII | None = None) -> tuple[list[tuple[str, str, str]], str]:
    """(entity, text, source) of every span and the anonymized text, with `rules` on the shared test detector."""
    monkeypatch.setattr(detector, "custom", rules)
    spans = detector.detect(text, known)
    rendered = Anonymizer(Pseudonymizer(KEY), detector).render(text, spans)
    return [(s.entity, text[s.start:s.end], s.source) for s in spans], rendered


def pseudonym(name: str) -> str:
    return Pseudonymizer(KEY).person(name)


# --- validation ------------------------------------------------------------------------------------------------

def _deny(extra: str = "") -> str:
    return f'version: 1\ndeny:\n  - entity: PERSON\n    values: ["{SECRET}"]{extra}\n'


INVALID = [
    # (what, file text, where the message must point, what it must say)
    ("unknown section", _deny() + "denny: []\n", "", "unknown key 'denny' (did you mean 'deny'?)"),
    ("unknown key in a deny item", _deny("\n    vaules: [x]"), "deny item 1", "(did you mean 'values'?)"),
    ("a deny value as a key", _deny(f'\n    "{SECRET}": PERSON'), "deny item 1", "an unknown key; expected"),
    ("unknown key in a pattern", _deny() + 'patterns:\n  - {name: a, entity: ID, regex: "x", flags: i}\n',
     "patterns item 1", "unknown key 'flags'"),
    ("unknown key in an allow item", _deny() + 'allow:\n  - {pattern: "x"}\n', "allow item 1", "unknown key"),
    ("bad pattern regex", _deny() + 'patterns:\n  - {name: a, entity: ID, regex: "ok"}\n'
                                    '  - {name: b, entity: ID, regex: "HOS-(\\\\d{6}"}\n',
     "patterns item 2: regex", "does not compile: missing ), unterminated subpattern at position 4"),
    ("bad allow regex", _deny() + 'allow:\n  - "St. Olav"\n  - regex: "SKU-[\\\\d+"\n', "allow item 2: regex",
     "does not compile"),
    ("a regex matching nothing", _deny() + 'patterns:\n  - {name: a, entity: ID, regex: "\\\\d*"}\n',
     "patterns item 1: regex", "matches the empty text"),
    ("unknown deny entity", 'version: 1\ndeny:\n  - entity: PERSON\n    values: [ab]\n'
                            f'  - entity: {SECRET}\n    values: ["{SECRET}"]\n', "deny item 2: entity",
     "must be one of PERSON, DATE"),
    ("unknown pattern entity", _deny() + 'patterns:\n  - {name: a, entity: MRNS, regex: "x"}\n',
     "patterns item 1: entity", "must be one of"),
    ("unknown switched entity", _deny() + "entities:\n  AGES: false\n", "entities", "an unknown entity type"),
    ("values not a list", f'version: 1\ndeny:\n  - entity: PERSON\n    values: "{SECRET}"\n', "deny item 1: values",
     "must be a list of words or phrases, got text"),
    ("a number among the values", _deny().replace(f'"{SECRET}"]', f'"{SECRET}", 1234]'),
     "deny item 1: values item 2", "must be text, got a number (quote it in YAML)"),
    ("deny not a list", f'version: 1\ndeny:\n  PERSON: ["{SECRET}"]\n', "deny", "must be a list"),
    ("a deny item not a mapping", f'version: 1\ndeny:\n  - "{SECRET}"\n', "deny item 1", "must be a mapping"),
    ("score as text", _deny() + 'patterns:\n  - {name: a, entity: ID, regex: "x", score: "high"}\n',
     "patterns item 1: score", "must be a number above 0 and at most 1, got text"),
    ("score out of range", _deny() + 'patterns:\n  - {name: a, entity: ID, regex: "x", score: 1.5}\n',
     "patterns item 1: score", "must be above 0 and at most 1"),
    ("window not a number", _deny() + 'patterns:\n  - {name: a, entity: ID, regex: "x", context: [mrn], '
                                      'window: true}\n', "patterns item 1: window", "must be a whole number"),
    ("window without context", _deny() + 'patterns:\n  - {name: a, entity: ID, regex: "x", window: 10}\n',
     "patterns item 1: window", "only means something with context words"),
    ("a switch not true/false", _deny() + 'entities:\n  AGE: "no"\n', "entities: AGE", "must be true or false"),
    ("version as text", f'version: "1"\ndeny:\n  - entity: PERSON\n    values: ["{SECRET}"]\n', "version",
     "must be 1"),
    ("no version", f'deny:\n  - entity: PERSON\n    values: ["{SECRET}"]\n', "", "missing 'version'"),
    ("empty values", "version: 1\ndeny:\n  - entity: PERSON\n    values: []\n", "deny item 1: values",
     "must list at least one"),
    ("an empty value", _deny().replace(f'"{SECRET}"]', f'"{SECRET}", "  "]'), "deny item 1: values item 2",
     "must be at least 2 characters"),
    ("empty context", _deny() + 'patterns:\n  - {name: a, entity: ID, regex: "x", context: []}\n',
     "patterns item 1: context", "must list at least one"),
    ("an empty allow phrase", _deny() + 'allow:\n  - ""\n', "allow item 1", "must not be empty"),
    ("a value listed twice", _deny() + f'  - entity: ID\n    values: ["{SECRET.upper()}"]\n',
     "deny item 2: values item 1", "listed twice (also deny item 1)"),
    ("allowed and denied", _deny() + f'allow:\n  - "{SECRET.lower()}"\n', "allow", "1 phrase(s) also on the deny list"),
    ("two patterns of one name", _deny() + 'patterns:\n  - {name: a, entity: ID, regex: "x"}\n'
                                           '  - {name: a, entity: ID, regex: "y"}\n', "patterns item 2: name",
     "is also the name of patterns item 1"),
    ("a pattern without a regex", _deny() + "patterns:\n  - {name: a, entity: ID}\n", "patterns item 1",
     "missing 'regex'"),
    ("a key given twice", _deny() + "deny: []\n", "", "not valid YAML at line 5, column 1: a key is given twice"),
    ("broken YAML on the value's line", f'version: 1\ndeny:\n  - entity: PERSON\n    values: ["{SECRET}"\n', "",
     "not valid YAML at line 5"),
    ("an empty file", "", "", "must be a mapping with 'version: 1'"),
]


@pytest.mark.parametrize(("what", "text", "where", "says"), INVALID, ids=[c[0] for c in INVALID])
def test_a_broken_file_is_one_error_naming_file_section_and_item_never_a_value(
        tmp_path: Path, what: str, text: str, where: str, says: str):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_custom_rules(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {where}: " if where else f"{path}: "), message
    assert says in message, message
    assert "\n" not in message
    for part in SECRET.split():
        assert part.lower() not in message.lower(), message


def test_a_missing_or_unreadable_file_is_named(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read it \(No such file or directory\)"):
        load_custom_rules(tmp_path / "nope.yaml")
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("version: 1\nallow: ['Zürich']\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1\.yaml: not UTF-8 text$"):
        load_custom_rules(latin1)
    with pytest.raises(ConfigError, match=r": cannot read it \(Is a directory\)$"):
        load_custom_rules(tmp_path)


def test_the_example_in_deploy_parses_and_empty_sections_are_none(tmp_path: Path):
    example = Path(__file__).resolve().parents[2] / "deploy" / "recognizers.example.yaml"
    rules = load_custom_rules(example)
    assert rules is not None and [p.name for p in rules.patterns] == ["hospital-mrn"]
    assert not rules.enabled("AGE") and rules.enabled("PERSON")
    empty = parse_custom_rules("version: 1\ndeny:\nallow:\npatterns:\nentities:\n")
    assert empty.spans("Dr. Who, MRN HOS-123456") == [] and empty.enabled("AGE")


def test_the_rules_are_cached_per_file_version_and_never_show_a_value(tmp_path: Path):
    path = write(tmp_path, RULES)
    first = load_custom_rules(path)
    assert load_custom_rules(path) is first
    assert load_custom_rules(None) is None
    path.write_text(RULES.replace('"Ziggy"', '"Ziggy", "Stardust"'), encoding="utf-8")
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    second = load_custom_rules(path)
    assert second is not first and second is not None
    assert "Ziggy" not in repr(second) and "Who" not in repr(second)
    assert "3 deny values" in repr(second) and "off: AGE" in repr(second)


# --- behaviour through the Detector ----------------------------------------------------------------------------

def test_deny_values_are_persons_in_any_case_as_whole_words(detector: Detector, rules: CustomRules,
                                                            monkeypatch: pytest.MonkeyPatch):
    text = "Seen by Dr. Who today; DR.\nWHO signed. Took the ziggyville bus; ask ziggy."
    before, _ = run(detector, monkeypatch, None, text)
    assert not any("Who" in t or "WHO" in t for _, t, _ in before)  # nothing built in finds him
    spans, rendered = run(detector, monkeypatch, rules, text)
    assert ("PERSON", "Dr. Who", "name-rule:custom-deny") in spans
    assert ("PERSON", "DR.\nWHO", "name-rule:custom-deny") in spans
    assert ("PERSON", "ziggy", "name-rule:custom-deny") in spans
    assert "ziggyville" in rendered  # not inside a longer word
    assert rendered.count(pseudonym("Dr. Who")) == 2 and pseudonym("Ziggy") in rendered
    assert "Who" not in rendered and "WHO" not in rendered and "ask ziggy" not in rendered


def test_a_denied_first_name_never_cuts_a_longer_name_in_two(detector: Detector, rules: CustomRules,
                                                             monkeypatch: pytest.MonkeyPatch):
    spans, rendered = run(detector, monkeypatch, rules, "Patient Ziggy Stardust arrived with his sister.")
    assert ("PERSON", "Ziggy Stardust") in [(e, t) for e, t, _ in spans]
    assert rendered == f"Patient {pseudonym('Ziggy Stardust')} arrived with his sister."


def test_allow_keeps_a_hospital_the_name_rules_take_for_a_person_and_product_codes(
        detector: Detector, rules: CustomRules, monkeypatch: pytest.MonkeyPatch):
    text = "Referred to Johns Hopkins for surgery; ordered SKU-48213 for the ward."
    before, plain = run(detector, monkeypatch, None, text)
    assert ("PERSON", "Johns Hopkins") in [(e, t) for e, t, _ in before]
    assert ("ID", "SKU-48213") in [(e, t) for e, t, _ in before]
    assert "Johns Hopkins" not in plain and "SKU-48213" not in plain
    spans, rendered = run(detector, monkeypatch, rules, text)
    assert spans == [] and rendered == text
    # an allowed phrase covers only what lies inside it: a longer span around it is still PII
    _, rendered = run(detector, monkeypatch, rules, "Ordered SKU-48213X7 and SKU-9.")
    assert "SKU-48213X7" not in rendered and "SKU-9." in rendered


def test_allow_never_drops_the_records_own_identifiers(detector: Detector, rules: CustomRules,
                                                       monkeypatch: pytest.MonkeyPatch):
    known = KnownPII(names=["Johns Hopkins"], values={"555-867-5309": "[PHONE]"})
    spans, rendered = run(detector, monkeypatch, rules, "Johns Hopkins called from 555-867-5309.", known)
    assert [s for _, _, s in spans] == ["known-name", "known"]
    assert rendered == f"{pseudonym('Johns Hopkins')} called from [PHONE]."


@pytest.mark.parametrize(("text", "fires"), [
    ("Patient MRN: HOS-123456, seen today.", True),
    ("patient record HOS-123456", True),  # any case, any context word of the list
    ("Order HOS-123456 was shipped.", False),  # no context word before it
    ("MRN on file. " + "x" * 40 + " HOS-123456", False),  # the context word is further than `window` before it
    ("HOS-123456 for the patient", False),  # after it does not count
    ("MRN HOS-1234567", False),  # \b: not part of a longer number
])
def test_a_pattern_with_context_fires_only_after_a_context_word_within_the_window(
        detector: Detector, rules: CustomRules, monkeypatch: pytest.MonkeyPatch, text: str, fires: bool):
    custom = [(e, t) for e, t, s in run(detector, monkeypatch, rules, text)[0] if s == "pattern:custom:hospital-mrn"]
    assert custom == ([("ID", "HOS-123456")] if fires else [])
    if fires:
        assert "[ID]" in run(detector, monkeypatch, rules, text)[1]


def test_a_pattern_without_context_fires_anywhere_with_its_score_and_entity(detector: Detector,
                                                                            monkeypatch: pytest.MonkeyPatch):
    rules = parse_custom_rules('version: 1\npatterns:\n  - {name: ward-bed, entity: MRN, regex: "(?i)\\\\bbed '
                               '\\\\d{2}[a-z]\\\\b", score: 0.7}\n')
    text = "Moved to BED 14b overnight, then bed 15C."
    monkeypatch.setattr(detector, "custom", rules)
    found = [(s.entity, text[s.start:s.end], s.score, s.source) for s in detector.detect(text)]
    assert ("MRN", "BED 14b", 0.7, "pattern:custom:ward-bed") in found
    assert ("MRN", "bed 15C", 0.7, "pattern:custom:ward-bed") in found
    assert Anonymizer(Pseudonymizer(KEY), detector).anonymize_text(text) == "Moved to [MRN] overnight, then [MRN]."


def test_a_switched_off_entity_is_no_longer_detected_by_the_built_in_recognizers(
        detector: Detector, rules: CustomRules, monkeypatch: pytest.MonkeyPatch):
    text = "Age 45. She is 45 years old, seen on 2024-03-05."
    _, plain = run(detector, monkeypatch, None, text)
    assert "45" not in plain
    spans, rendered = run(detector, monkeypatch, rules, text)  # AGE: false
    assert "AGE" not in [e for e, _, _ in spans] and "DATE" in [e for e, _, _ in spans]
    assert rendered == "Age 45. She is 45 years old, seen on [DATE]."


def test_a_switch_never_drops_own_identifiers_or_the_deployments_rules_and_shadows_nothing(
        detector: Detector, monkeypatch: pytest.MonkeyPatch):
    rules = parse_custom_rules('version: 1\nentities: {ID: false, PHONE: false, PERSON: false}\n'
                               'deny:\n  - {entity: PERSON, values: ["Dr. Who"]}\n'
                               'patterns:\n  - {name: mrn, entity: ID, regex: "\\\\bHOS-\\\\d{6}\\\\b", '
                               'context: [mrn]}\n')
    text = "Dr. Who and Dr. Jane Roe; MRN HOS-123456-A; call 555-867-5309 or 555-123-4567; SKU-48213."
    known = KnownPII(values={"555-867-5309": "[PHONE]"})
    spans, rendered = run(detector, monkeypatch, rules, text, known)
    # the built-in ID recognizer took "HOS-123456-A" whole; switched off, it no longer hides the shorter pattern
    assert ("ID", "HOS-123456", "pattern:custom:mrn") in spans
    assert rendered == (f"{pseudonym('Dr. Who')} and Dr. Jane Roe; MRN [ID]-A; call [PHONE] or 555-123-4567; "
                        "SKU-48213.")


def test_the_constructor_takes_the_rules(rules: CustomRules):
    detector = Detector(ner=False, custom=rules)
    assert detector.custom is rules
    text = "MRN HOS-123456 for Ziggy, 45 years old."
    assert [(s.entity, text[s.start:s.end]) for s in detector.detect(text)] == [("ID", "HOS-123456"),
                                                                                ("PERSON", "Ziggy")]


# --- configuration: DATAVAULT_RECOGNIZERS ----------------------------------------------------------------------

def test_settings_check_the_file_and_the_shared_detector_follows_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from datavault_dagster.services.settings import Settings

    monkeypatch.delenv("DATAVAULT_RECOGNIZERS", raising=False)
    assert Settings.from_env().recognizers_path is None
    assert detect.shared_detector().custom is None
    path = write(tmp_path, RULES)
    monkeypatch.setenv("DATAVAULT_RECOGNIZERS", str(path))
    assert Settings.from_env().recognizers_path == path.resolve()
    shared = detect.shared_detector()
    assert shared.custom is load_custom_rules(path.resolve()) and not shared.custom.enabled("AGE")
    path.write_text(RULES.replace("AGE: false", "AGE: true"), encoding="utf-8")
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    assert detect.shared_detector() is shared and shared.custom.enabled("AGE")  # same models, the new rules
    monkeypatch.setenv("DATAVAULT_RECOGNIZERS", str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match=r"^DATAVAULT_RECOGNIZERS: .*missing\.yaml: cannot read it"):
        Settings.from_env()
    write(tmp_path, _deny().replace("PERSON", "PEOPLE"), "bad.yaml")
    monkeypatch.setenv("DATAVAULT_RECOGNIZERS", str(tmp_path / "bad.yaml"))
    with pytest.raises(ConfigError, match=r"^DATAVAULT_RECOGNIZERS: .*bad\.yaml: deny item 1: entity: must be one"):
        Settings.from_env()
    monkeypatch.delenv("DATAVAULT_RECOGNIZERS")
    assert detect.shared_detector().custom is None
