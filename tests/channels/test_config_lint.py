"""Checks beyond the schema: cross-references, step names, HL7 paths, message types, listen clashes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hl7bridge.channels import Config, load_config, load_config_text
from hl7bridge.channels.lint import builtin_steps, format_errors, lint
from hl7bridge.engine.errors import ConfigError, ConfigErrors

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "config"


def errors_of(text: str) -> list[ConfigError]:
    with pytest.raises(ConfigErrors) as caught:
        load_config_text(text, file="c.yaml", env={})
    return caught.value.errors


def channel(name: str, source: str, *, steps: str = "", filter_: str = "", dests: str = "{o: {type: file, directory: o}}") -> str:
    text = f"  {name}:\n    source: {source}\n"
    text += f"    steps: {steps}\n" if steps else ""
    text += f"    filter: {filter_}\n" if filter_ else ""
    return text + f"    destinations: {dests}\n"


FILE_SRC = "{type: file, directory: in}"


def test_every_lint_error_in_a_file_is_reported_with_position_code_and_hint() -> None:
    with pytest.raises(ConfigErrors) as caught:
        load_config(FIXTURES / "bad_lint.yaml", env={})
    found = [(e.line, e.column, e.code, e.hint) for e in caught.value.errors]
    assert found == [
        (6, 23, "invalid-value", "did you mean 'ADT^A01'?"),
        (8, 18, "invalid-value", "did you mean 'PID-3'?"),
        (10, 9, "unknown-step", "did you mean 'hl7v2_to_fhir'?"),
        (11, 17, "invalid-value", "e.g. python: transforms.site:add_mrn_system"),
        (12, 14, "missing-key", "add value: ..."),
        (12, 28, "unknown-key", "did you mean 'value'?"),
        (14, 38, "unknown-channel", "did you mean 'orders'?"),
        (16, 34, "duplicate-listen", "that address is taken at line 4; give each listener its own port"),
    ]


@pytest.mark.parametrize(("listen_a", "listen_b", "clash"), [
    ("0.0.0.0:2575", "127.0.0.1:2575", True),    # the wildcard already holds every address
    ("10.0.0.1:2575", "10.0.0.2:2575", False),
    ("'[::]:2575'", "127.0.0.1:2575", True),
    ("127.0.0.1:2575", "127.0.0.1:2576", False),
])
def test_listen_addresses_clash_on_same_port_and_overlapping_host(listen_a: str, listen_b: str, clash: bool) -> None:
    text = "channels:\n" + channel("a", f"{{type: mllp, listen: {listen_a}}}") + channel("b", f"{{type: mllp, listen: {listen_b}}}")
    if not clash:
        assert load_config_text(text, env={}).channel("b")
        return
    (error,) = errors_of(text)
    assert (error.line, error.code) == (6, "duplicate-listen")


def test_engine_http_listen_clashes_with_an_mllp_source() -> None:
    text = "engine: {http: {listen: '0.0.0.0:8080'}}\nchannels:\n" + channel("a", "{type: mllp, listen: 'h:8080'}")
    (error,) = errors_of(text)
    assert (error.line, error.column, error.code) == (4, 34, "duplicate-listen")


def test_two_http_sources_on_one_path_clash() -> None:
    text = "channels:\n" + channel("a", "{type: http, path: /fhir}") + channel("b", "{type: http, path: /fhir}")
    (error,) = errors_of(text)
    assert (error.line, error.code, error.hint) == (6, "duplicate-path", "first used at line 3; give each HTTP source its own path")


@pytest.mark.parametrize("steps", [
    "[python: pkg.mod:func]", "[python: pkg.mod.func]", "[python: transforms.site.add_mrn_system]",
    "[{set: {path: 'PID-3[2].4', value: x}}]", "[{copy: {from: 'OBX[3]-5.1.2', to: ZZZ-1}}]",
    "[{map: {path: PV1-3, csv: rooms.csv, default: X}}]", "[fhir_to_ccda]",
])
def test_well_formed_steps_pass(steps: str) -> None:
    assert load_config_text("channels:\n" + channel("a", FILE_SRC, steps=steps), env={}).channel("a").steps


@pytest.mark.parametrize(("steps", "column", "code", "hint"), [
    ("[python: func]", 21, "invalid-value", "e.g. python: transforms.site:add_mrn_system"),
    ("[python: 'pkg.1mod:f']", 21, "invalid-value", "e.g. python: transforms.site:add_mrn_system"),
    ("[{python: {}}]", 22, "missing-key", "write python: package.module:function"),
    ("[{copy: {from: PID-3, to: PID-0}}]", 38, "invalid-value", "write SEG-FIELD[rep].COMPONENT.SUB, e.g. PID-3[1].4"),
    ("[{map: {path: PV1-3, table: {a: b}, csv: x.csv}}]", 19, "missing-key", "table: {from: to, ...} or csv: file.csv"),
    ("[{map: {path: PV1-3, table: [a, b]}}]", 40, "bad-type", None),
    ("[{copy: {from: PID-3, too: PID-2}}]", 34, "unknown-key", "did you mean 'to'?"),
    ("[ccda_to_fir]", 13, "unknown-step", "did you mean 'ccda_to_fhir'?"),
    ("[xyzzy]", 13, "unknown-step", None),
])
def test_bad_steps_are_reported_at_the_step(steps: str, column: int, code: str, hint: str | None) -> None:
    errors = errors_of("channels:\n" + channel("a", FILE_SRC, steps=steps))
    found = next((e for e in errors if e.code == code), errors[0])
    assert (found.line, found.column, found.code) == (4, column, code), format_errors(errors)
    if hint is not None:
        assert found.hint == hint


def test_unknown_step_without_a_close_name_lists_the_built_in_steps() -> None:
    (error,) = errors_of("channels:\n" + channel("a", FILE_SRC, steps="[xyzzy]"))
    assert error.hint is not None and "hl7v2_to_fhir" in error.hint and "python" in error.hint


@pytest.mark.parametrize(("types", "ok"), [("[ADT^A01, 'ADT^*', ADT, ORU^R01]", True), ("[adt^a01]", False),
                                            ("['ADT^A01^ADT_A01']", False), ("['ADT^']", False)])
def test_filter_message_types_must_be_type_event_or_type(types: str, ok: bool) -> None:
    text = "channels:\n" + channel("a", FILE_SRC, filter_=f"{{message_types: {types}}}")
    if ok:
        assert load_config_text(text, env={}).channel("a").filter is not None
    else:
        assert [e.code for e in errors_of(text)] == ["invalid-value"]


def test_channel_destination_loops_are_reported_once_per_ring() -> None:
    text = ("channels:\n" + channel("a", FILE_SRC, dests="{to_b: {type: channel, channel: b}}")
            + channel("b", "{type: file, directory: in2}", dests="{to_a: {type: channel, channel: a}}")
            + channel("c", "{type: file, directory: in3}", dests="{me: {type: channel, channel: c}}"))
    errors = errors_of(text)
    assert [e.code for e in errors] == ["channel-loop", "channel-loop"]
    assert "a -> b -> a" in errors[0].message and "c -> c" in errors[1].message


def test_lint_without_marks_reports_the_source_file_at_line_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hl7bridge.transforms.registry", None)  # the documented fallback set
    config = Config.model_validate({"channels": {"a": {"source": {"type": "file", "directory": "x"}, "steps": ["nope"],
                                                       "destinations": {"b": {"type": "channel", "channel": "zz"}}}}})
    assert format_errors(lint(config, None)).splitlines() == [
        "<config>:1:1 error [unknown-step] unknown step 'nope' (built-in steps: ccda_to_fhir, copy, fhir_to_ccda, "
        "fhir_to_hl7v2, hl7v2_to_fhir, map, python, set)",
        "<config>:1:1 error [unknown-channel] no channel named 'zz' (channels: a)",
    ]


def test_built_in_steps_come_from_the_transform_registry_when_it_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = type(sys)("hl7bridge.transforms.registry")
    fake.BUILTIN_STEPS = {"only_this": object()}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "hl7bridge.transforms.registry", fake)
    assert builtin_steps() == {"only_this", "python"}


def test_built_in_steps_fall_back_to_the_documented_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hl7bridge.transforms.registry", None)  # import raises ImportError
    assert builtin_steps() == {"hl7v2_to_fhir", "ccda_to_fhir", "fhir_to_hl7v2", "fhir_to_ccda", "set", "copy", "map", "python"}


def test_destination_names_that_clash_with_queue_names_are_reserved() -> None:
    import pytest

    from hl7bridge.channels.load import load_config_text
    from hl7bridge.engine.errors import ConfigErrors

    text = """channels:
  adt:
    source: {type: mllp, listen: "127.0.0.1:2575"}
    destinations:
      dlq: {type: file, directory: out}
"""
    with pytest.raises(ConfigErrors) as caught:
        load_config_text(text, file="c.yaml")
    assert [(e.code, e.line) for e in caught.value.errors] == [("reserved-name", 5)]
