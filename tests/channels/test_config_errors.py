"""Schema and YAML problems are reported as file:line:col with a code and a hint, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from hl7bridge.channels import load_config, load_config_text
from hl7bridge.engine.errors import ConfigError, ConfigErrors

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "config"
HEAD = "channels:\n  a:\n"
FILE_SOURCE = "    source: {type: file, directory: in}\n"
FILE_DEST = "    destinations: {d: {type: file, directory: out}}\n"


def errors_of(text: str, env: dict[str, str] | None = None) -> list[ConfigError]:
    with pytest.raises(ConfigErrors) as caught:
        load_config_text(text, file="c.yaml", env=env or {})
    return caught.value.errors


def only_error(text: str) -> ConfigError:
    errors = errors_of(text)
    assert len(errors) == 1, [e.render() for e in errors]
    return errors[0]


def test_every_schema_error_in_a_file_is_reported_in_file_order() -> None:
    path = FIXTURES / "bad_schema.yaml"
    with pytest.raises(ConfigErrors) as caught:
        load_config(path, env={})
    found = [(e.line, e.column, e.code) for e in caught.value.errors]
    assert found == [
        (3, 3, "unknown-key"), (4, 14, "invalid-value"), (9, 7, "unknown-key"),  # lisen: one error, not also "listen missing"
        (12, 15, "invalid-value"), (14, 7, "invalid-value"), (18, 9, "duplicate-key"), (21, 19, "env-var"),
        (22, 25, "invalid-value"),
    ]
    assert all(e.file == str(path) for e in caught.value.errors)
    assert str(caught.value).splitlines()[0] == (
        f"{path}:3:3 error [unknown-key] unknown key 'queue_typ' in engine (did you mean 'queue_type'?)")


@pytest.mark.parametrize(("text", "where", "code", "hint"), [
    # unknown key: at the key itself, hint from the keys of the chosen source type
    (HEAD + "    source:\n      type: mllp\n      listen: h:1\n      idle_timeout: 5\n" + FILE_DEST,
     (6, 7), "unknown-key", "did you mean 'idle_timeout_secs'?"),
    # unknown key in a destination: hint from that destination type's keys only
    (HEAD + FILE_SOURCE + "    destinations:\n      d: {type: amqp, endpoint: 'amqp://h/', exchang: x, exchange: y}\n",
     (5, 46), "unknown-key", "did you mean 'exchange'?"),
    # missing key: at the mapping that lacks it; a near-miss key present names the typo
    (HEAD + "    source:\n      type: mllp\n      listen: h:1\n" + FILE_SOURCE.replace("source", "destination") ,
     (6, 5), "unknown-key", "did you mean 'destinations'?"),
    (HEAD + "    source:\n      type: http\n" + FILE_DEST, (4, 7), "missing-key", "add path: ..."),
    (HEAD + "    source: {listen: 'h:1'}\n" + FILE_DEST, (3, 13), "missing-key", "add type: one of mllp, http, file"),
    (HEAD + FILE_SOURCE, (3, 5), "missing-key", "add destinations: ..."),
    # bad type tag: at the type value, hint from the known types
    (HEAD + "    source: {type: mlp, listen: 'h:1'}\n" + FILE_DEST, (3, 20), "invalid-value", "did you mean 'mllp'?"),
    (HEAD + FILE_SOURCE + "    destinations: {d: {type: channels, channel: a}}\n", (4, 30), "invalid-value",
     "did you mean 'channel'?"),
    # a literal with a near miss
    (HEAD + FILE_SOURCE + "    destinations: {d: {type: file, directory: o, ordering: per-patient}}\n", (4, 60),
     "invalid-value", "did you mean 'per_patient'?"),
    # custom validators keep their own hint
    (HEAD + "    source: {type: http, path: fhir}\n" + FILE_DEST, (3, 32), "invalid-value", "write /fhir"),
    (HEAD + "    source: {type: mllp, listen: '2575'}\n" + FILE_DEST, (3, 34), "invalid-value",
     "write host:port, e.g. 0.0.0.0:2575"),
    (HEAD + FILE_SOURCE + "    destinations: {d: {type: http, endpoint: 'ftp://x/'}}\n", (4, 46), "invalid-value",
     "e.g. http://host:port/path"),
    # wrong types: a number where text is wanted gets a quoting hint
    (HEAD + "    source: {type: mllp, listen: 'h:1', allowed_versions: [2.5]}\n" + FILE_DEST, (3, 60), "bad-type",
     'quote it: "2.5"'),
    (HEAD + FILE_SOURCE + "    enabled: sometimes\n" + FILE_DEST, (4, 14), "bad-type", "write true or false"),
    # names become queue names
    ("channels:\n  ADT-in:\n" + FILE_SOURCE + FILE_DEST, (2, 3), "invalid-value", "try 'adt_in'"),
    # a condition with two operators, and a regex that does not compile
    (HEAD + FILE_SOURCE + "    filter: {conditions: [{path: PID-3, equals: x, exists: true}]}\n" + FILE_DEST, (4, 27),
     "invalid-value", None),
    (HEAD + FILE_SOURCE + "    filter: {conditions: [{path: PID-3, matches: '(' }]}\n" + FILE_DEST, (4, 50),
     "invalid-value", None),
    # YAML itself
    (HEAD + FILE_SOURCE + "    destinations: {d: {type: file, directory: out}}\n    destinations: {}\n", (5, 5),
     "duplicate-key", "first defined at line 4; keep one"),
    (HEAD + "    source: {type: file, directory: in\n" + FILE_DEST, (4, 17), "yaml-syntax", None),
    (HEAD + FILE_SOURCE + "    steps: [{copy: {from: PID-3[1].1, to: PID-2}}]\n" + FILE_DEST, (4, 32), "yaml-syntax",
     'inside {...} or [...], quote values that contain [ ] { } or commas, e.g. "PID-3[1].1"'),
    ("source_file: x\n" + HEAD + FILE_SOURCE + FILE_DEST, (1, 1), "unknown-key", "the loader sets source_file; remove it"),
    ("- a\n", (1, 1), "bad-type", None),
    ("", (1, 1), "missing-key", "add channels: ..."),
])
def test_error_is_reported_at_its_position_with_code_and_hint(
        text: str, where: tuple[int, int], code: str, hint: str | None) -> None:
    error = only_error(text)
    assert ((error.line, error.column), error.code) == (where, code), error.render()
    if hint is not None:
        assert error.hint == hint


@pytest.mark.parametrize(("value", "message"), [
    ("null", "channels.a.destinations.d: should be a mapping"),
    ("[a]", "channels.a.destinations.d: should be a mapping"),
])
def test_wrong_container_types_say_what_is_expected(value: str, message: str) -> None:
    error = only_error(HEAD + FILE_SOURCE + f"    destinations: {{d: {value}}}\n")
    assert (error.code, error.message) == ("bad-type", message)


def test_steps_written_as_text_must_be_a_list() -> None:
    error = only_error(HEAD + FILE_SOURCE + "    steps: hl7v2_to_fhir\n" + FILE_DEST)
    assert (error.line, error.column, error.code, error.message) == (4, 12, "bad-type", "channels.a.steps: should be a list")


def test_tab_indentation_says_to_use_spaces() -> None:
    with pytest.raises(ConfigErrors) as caught:
        load_config(FIXTURES / "bad_tab.yaml", env={})
    (error,) = caught.value.errors
    assert (error.line, error.column, error.code, error.hint) == (4, 1, "yaml-syntax", "indent with spaces, not tabs")


def test_unknown_top_level_key_lists_the_allowed_keys() -> None:
    error = only_error("defaults: {}\n" + HEAD + FILE_SOURCE + FILE_DEST)
    assert error.code == "unknown-key" and error.hint is not None
    assert error.hint.startswith("allowed keys: engine, channels")


def test_a_missing_file_is_an_io_error() -> None:
    with pytest.raises(ConfigErrors) as caught:
        load_config(FIXTURES / "no_such_file.yaml")
    assert caught.value.errors[0].code == "io"


def test_error_texts_render_as_file_line_col() -> None:
    error = only_error(HEAD + "    source: {type: mlp}\n" + FILE_DEST)
    assert error.render() == "c.yaml:3:20 error [invalid-value] unknown type 'mlp' in channels.a.source (did you mean 'mllp'?)"
