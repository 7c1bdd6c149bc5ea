"""Engine configurations the scenarios run (written as YAML to each run's temporary directory)."""

from __future__ import annotations


# Nothing listens here (port 9 is discard; never served on loopback in the bench): with the broker
# away the relay and the workers wait, and intake stores and ACKs alone -- the engine's own mode
# for a broker outage.  That isolates intake's cost from the pipeline's.
UNREACHABLE_BROKER = "amqp://guest:guest@127.0.0.1:9/"


def intake_config(*, store: str, port: int, archive: str, broker: str = "embedded", channel: str = "intake") -> str:
    """One MLLP channel whose filter passes nothing: intake stores, ACKs and queues every message.
    With the embedded broker the channel worker then marks each FILTERED (the lightest pipeline
    work there is); with ``UNREACHABLE_BROKER`` only intake runs."""
    return f"""
engine:
  store: "{store}"
  broker: "{broker}"
channels:
  {channel}:
    source: {{type: mllp, listen: "127.0.0.1:{port}"}}
    filter: {{message_types: [ZZZ]}}
    destinations:
      archive: {{type: file, directory: "{archive}"}}
"""


def e2e_config(*, store: str, broker: str, port: int, url: str, channel: str = "e2e", max_attempts: int = 50,
               initial_backoff_ms: int = 500, max_backoff_secs: float = 5.0) -> str:
    """MLLP in -> store -> broker -> hl7v2_to_fhir -> HTTP POST to the local receiver."""
    return f"""
engine:
  store: "{store}"
  broker: "{broker}"
  queue_type: quorum
channels:
  {channel}:
    source: {{type: mllp, listen: "127.0.0.1:{port}"}}
    steps: [hl7v2_to_fhir]
    destinations:
      fhir:
        type: http
        endpoint: "{url}"
        timeout_secs: 10
        retry: {{max_attempts: {max_attempts}, initial_backoff_ms: {initial_backoff_ms}, max_backoff_secs: {max_backoff_secs}}}
"""
