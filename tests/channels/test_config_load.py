"""load_config turns channel YAML into typed, frozen specs with defaults filled in."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hl7bridge.channels import Config, load_config, load_config_text
from hl7bridge.channels.spec import (
    AmqpDestinationSpec, ChannelDestinationSpec, FileDestinationSpec, FileSourceSpec, HttpDestinationSpec, HttpSourceSpec,
    MllpDestinationSpec, MllpSourceSpec, StepSpec, parse_host_port,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "config"
MINIMAL = "channels:\n  a:\n    source: {type: file, directory: in}\n    destinations:\n      b: {type: file, directory: out}\n"


def test_design_sample_loads_with_its_values_and_defaults() -> None:
    config = load_config(FIXTURES / "design_sample.yaml", env={})
    channel = config.channel("adt_to_patient_service")
    assert isinstance(channel.source, MllpSourceSpec)
    assert channel.source.listen == "0.0.0.0:2575"
    assert channel.source.tls is not None and channel.source.tls.client_ca == "certs/ca.pem"
    assert channel.filter is not None and channel.filter.message_types == ["ADT^A01", "ADT^A04", "ADT^A08", "ADT^A03"]
    assert channel.steps == [StepSpec(name="hl7v2_to_fhir"),
                             StepSpec(name="python", options={"target": "transforms.site.add_mrn_system"})]
    dest = channel.destinations["patient_service"]
    assert isinstance(dest, HttpDestinationSpec)
    assert (dest.timeout_secs, dest.ordering, dest.retry.max_attempts) == (5.0, "per_patient", 8)
    assert channel.destinations["archive"].retry.jitter == 0.2
    assert config.engine.http is not None and config.engine.http.listen == "127.0.0.1:8080"
    assert config.source_file == str(FIXTURES / "design_sample.yaml")


def test_full_sample_loads_every_source_and_destination_type() -> None:
    config = load_config(FIXTURES / "full_good.yaml", env={"AMQP_PASSWORD": "s3cret"})
    assert config.engine.broker == "amqps://hl7bridge:s3cret@mq.example.org:5671/"
    assert (config.engine.queue_type, config.engine.group_commit_max, config.engine.log_level) == ("classic", 512, "debug")
    adt = config.channel("adt_in")
    kinds = {name: type(d) for name, d in adt.destinations.items()}
    assert kinds == {"patient_service": HttpDestinationSpec, "lab": MllpDestinationSpec, "bus": AmqpDestinationSpec,
                     "archive": FileDestinationSpec, "to_orders": ChannelDestinationSpec}
    assert adt.destinations["patient_service"].retry.max_attempts == 5  # from the x-retry anchor
    assert adt.destinations["lab"].ack_rules["AE"] == "retry"
    assert adt.filter is not None and adt.filter.conditions[2].in_ == ["I", "O", "E"]
    assert isinstance(config.channel("orders").source, HttpSourceSpec)
    assert isinstance(config.channel("cda_drop").source, FileSourceSpec)
    assert adt.retention.content_days == 30


def test_step_forms_become_name_and_options() -> None:
    text = MINIMAL.replace("    destinations:", "    steps:\n      - ccda_to_fhir\n      - fhir_to_hl7v2: {message_type: ORM^O01}\n"
                           "      - python: pkg.mod:func\n      - name: set\n        options: {path: MSH-5, value: X}\n"
                           "    destinations:")
    steps = load_config_text(text, env={}).channel("a").steps
    assert [(s.name, s.options) for s in steps] == [
        ("ccda_to_fhir", {}), ("fhir_to_hl7v2", {"message_type": "ORM^O01"}),
        ("python", {"target": "pkg.mod:func"}), ("set", {"path": "MSH-5", "value": "X"})]


def test_defaults_fill_every_optional_key() -> None:
    config = load_config_text(MINIMAL, file="x.yaml", env={})
    assert config.source_file == "x.yaml"
    assert (config.engine.store, config.engine.broker, config.engine.http) == ("sqlite:///var/hl7bridge.db", "embedded", None)
    channel = config.channel("a")
    assert (channel.enabled, channel.replayable, channel.steps, channel.filter) == (True, True, [], None)
    source = channel.source
    assert isinstance(source, FileSourceSpec) and (source.format, source.pattern, source.poll_interval_secs) == ("hl7v2", "*", 1.0)
    assert channel.destinations["b"].filename == "{message_id}-{destination}.{ext}"


def test_specs_are_frozen_and_source_file_is_not_dumped() -> None:
    config = load_config_text(MINIMAL, env={})
    with pytest.raises(ValidationError):
        config.channel("a").enabled = False  # type: ignore[misc]
    assert "source_file" not in config.model_dump()


def test_channel_lookup_names_the_known_channels() -> None:
    with pytest.raises(KeyError, match="known: a"):
        load_config_text(MINIMAL, env={}).channel("nope")


def test_merge_keys_take_defaults_from_an_anchor() -> None:
    text = ("x-file: &file {type: file, directory: shared}\nchannels:\n  a:\n    source: {type: file, directory: in}\n"
            "    destinations:\n      b:\n        <<: *file\n        directory: own\n      c: *file\n")
    dests = load_config_text(text, env={}).channel("a").destinations
    assert (dests["b"].directory, dests["c"].directory) == ("own", "shared")


@pytest.mark.parametrize(("text", "expected"), [
    ("0.0.0.0:2575", ("0.0.0.0", 2575)), ("[::1]:6661", ("::1", 6661)), ("lis.example.org:1", ("lis.example.org", 1)),
])
def test_parse_host_port_accepts_hosts_and_bracketed_ipv6(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text) == expected


@pytest.mark.parametrize("text", ["2575", "host:", "::1:2575", "host:70000", "host:0", "a b:1"])
def test_parse_host_port_rejects_malformed_text(text: str) -> None:
    with pytest.raises(ValueError):
        parse_host_port(text)


def test_config_can_be_built_in_code() -> None:
    config = Config.model_validate({"channels": {"a": {"source": {"type": "mllp", "listen": "h:1"},
                                                       "destinations": {"b": {"type": "channel", "channel": "a"}}}}})
    assert config.source_file is None and config.channel("a").destinations["b"].type == "channel"
