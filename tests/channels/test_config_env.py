"""${VAR} and ${VAR:-default} are filled from the environment before validation."""

from __future__ import annotations

import pytest

from hl7bridge.channels import load_config_text
from hl7bridge.engine.errors import ConfigError, ConfigErrors


def config_text(endpoint: str, directory: str = "out") -> str:
    return ("channels:\n  a:\n    source:\n      type: file\n      directory: in\n    destinations:\n"
            f"      h:\n        type: http\n        endpoint: {endpoint}\n"
            f"      f:\n        type: file\n        directory: {directory}\n")


def errors_of(text: str, env: dict[str, str]) -> list[ConfigError]:
    with pytest.raises(ConfigErrors) as caught:
        load_config_text(text, file="c.yaml", env=env)
    return caught.value.errors


@pytest.mark.parametrize(("endpoint", "env", "expected"), [
    ("http://${HOST}:9001/fhir", {"HOST": "svc"}, "http://svc:9001/fhir"),
    ("http://${HOST:-localhost}:${PORT:-80}/", {}, "http://localhost:80/"),
    ("http://${HOST:-localhost}/", {"HOST": "set"}, "http://set/"),
    ("http://${HOST:-localhost}/", {"HOST": ""}, "http://localhost/"),  # empty counts as unset, as in sh
    ("'http://h/$${NOT_A_VAR}'", {}, "http://h/${NOT_A_VAR}"),           # $${ escapes a literal ${
    ("http://h/${EMPTY}", {"EMPTY": ""}, "http://h/"),                    # set but empty, no default: empty
])
def test_variables_are_interpolated(endpoint: str, env: dict[str, str], expected: str) -> None:
    config = load_config_text(config_text(endpoint), env=env)
    assert config.channel("a").destinations["h"].endpoint == expected


def test_interpolated_numbers_are_validated_like_written_numbers() -> None:
    text = config_text("http://h/").replace("        endpoint: http://h/\n", "        endpoint: http://h/\n        timeout_secs: ${T:-2.5}\n")
    assert load_config_text(text, env={}).channel("a").destinations["h"].timeout_secs == 2.5


def test_env_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HL7BRIDGE_TEST_HOST", "from-env")
    config = load_config_text(config_text("http://${HL7BRIDGE_TEST_HOST}/"))
    assert config.channel("a").destinations["h"].endpoint == "http://from-env/"


def test_unset_variable_without_default_is_reported_at_the_reference() -> None:
    (error,) = errors_of(config_text("http://${HOST}:9001/fhir"), {})
    # the endpoint scalar starts at column 19; the reference is 7 characters in
    assert (error.line, error.column, error.code) == (9, 26, "env-var")
    assert error.message == "environment variable HOST is not set"
    assert error.hint == "set HOST or give a default: ${HOST:-value}"


def test_every_unset_variable_is_reported_and_no_follow_on_schema_error() -> None:
    errors = errors_of(config_text("${URL}", directory="${DIR}"), {})
    assert [(e.line, e.code) for e in errors] == [(9, "env-var"), (12, "env-var")]


@pytest.mark.parametrize("reference", ["${1X}", "${X:default}", "'${X'"])
def test_malformed_references_are_env_var_errors(reference: str) -> None:
    errors = errors_of(config_text("http://h/", directory=reference), {"X": "x"})
    assert [(e.line, e.code) for e in errors] == [(12, "env-var")]


def test_variables_in_keys_are_not_interpolated() -> None:
    text = config_text("http://h/").replace("      f:\n", "      ${NAME}:\n")
    assert [e.code for e in errors_of(text, {"NAME": "f"})] == ["invalid-value"]  # a bad destination name
