"""load_config turns channel YAML into typed specs."""

from __future__ import annotations

from pathlib import Path

from hl7bridge.channels import Config, load_config, load_config_text
from hl7bridge.channels.spec import HttpDestinationSpec, MllpSourceSpec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "config"


def test_design_sample_loads_with_its_values_and_defaults() -> None:
    config = load_config(FIXTURES / "design_sample.yaml", env={})
    assert isinstance(config, Config)
    channel = config.channel("adt_to_patient_service")
    assert isinstance(channel.source, MllpSourceSpec)
    assert channel.source.listen == "0.0.0.0:2575"
    assert channel.source.tls is not None and channel.source.tls.client_ca == "certs/ca.pem"
    assert [s.name for s in channel.steps] == ["hl7v2_to_fhir", "python"]
    assert channel.steps[1].options == {"target": "transforms.site.add_mrn_system"}
    dest = channel.destinations["patient_service"]
    assert isinstance(dest, HttpDestinationSpec)
    assert (dest.timeout_secs, dest.ordering, dest.retry.max_attempts) == (5.0, "per_patient", 8)
    assert channel.destinations["archive"].retry.jitter == 0.2
    assert config.engine.http is not None and config.engine.http.listen == "127.0.0.1:8080"
    assert config.source_file == str(FIXTURES / "design_sample.yaml")


def test_source_file_of_text_config_is_the_given_name() -> None:
    text = "channels:\n  a:\n    source: {type: file, directory: in}\n    destinations:\n      b: {type: file, directory: out}\n"
    assert load_config_text(text, file="x.yaml").source_file == "x.yaml"
