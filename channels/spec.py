"""What a channel is: the typed, validated form of ``config/channels.yaml``.

Every model is frozen and forbids unknown keys, so a typo is an error with a position (the
loader maps pydantic's error locations back to YAML line:col).  Checks that need more than one
field's value at a time (cross-references, step names) live in ``channels/lint.py``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "AmqpDestinationSpec", "ChannelDestinationSpec", "ChannelSpec", "Config", "DestinationSpec",
    "EngineSpec", "FieldCondition", "FileDestinationSpec", "FileSourceSpec", "FilterSpec",
    "HttpDestinationSpec", "HttpListenSpec", "HttpSourceSpec", "MllpDestinationSpec", "MllpSourceSpec",
    "NAME_PATTERN", "RetentionSpec", "RetrySpec", "SourceSpec", "StepSpec", "TlsSpec", "parse_host_port",
]

# Channel and destination names become RabbitMQ queue names, hence the tight alphabet.
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
HL7_VERSIONS = ["2.1", "2.2", "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2"]
_HOST_PORT = re.compile(r"^(?:\[(?P<ip6>[0-9A-Fa-f:.%\w]+)\]|(?P<host>[A-Za-z0-9_.\-]+)):(?P<port>\d{1,5})$")


def parse_host_port(text: str) -> tuple[str, int]:
    """Split ``host:port`` (``[::1]:2575`` for IPv6); raise ValueError when malformed or port out of range."""
    match = _HOST_PORT.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"expected host:port (e.g. 0.0.0.0:2575 or [::1]:2575), got {text!r}")
    port = int(match["port"])
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is out of range 1..65535")
    return match["ip6"] or match["host"], port


def _invalid(message: str, hint: str | None = None) -> PydanticCustomError:
    """A validation error whose hint the loader shows beside the message."""
    return PydanticCustomError("invalid_value", message, {"hint": hint or ""})


def _host_port(value: str) -> str:
    try:
        parse_host_port(value)
    except ValueError as exc:
        raise _invalid(str(exc), "write host:port, e.g. 0.0.0.0:2575") from exc
    return value


def _url(value: str, schemes: tuple[str, ...]) -> str:
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in schemes or not rest:
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise _invalid(f"expected a URL starting with {wanted}", f"e.g. {schemes[0]}://host:port/path")
    return value


def _http_url(value: str) -> str:
    return _url(value, ("http", "https"))


def _amqp_url(value: str) -> str:
    return _url(value, ("amqp", "amqps"))


HostPort = Annotated[str, AfterValidator(_host_port)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
AmqpUrl = Annotated[str, AfterValidator(_amqp_url)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsSpec(_Spec):
    """Server side: cert/key to present, client_ca to require client certs. Client side: cert/key
    for mutual TLS, client_ca as the CA bundle that verifies the server."""

    cert: str
    key: str | None = None
    client_ca: str | None = None
    verify: bool = True


class HttpListenSpec(_Spec):
    listen: HostPort = "127.0.0.1:8080"
    tls: TlsSpec | None = None


class EngineSpec(_Spec):
    store: str = "sqlite:///var/hl7bridge.db"
    broker: str = "embedded"
    http: HttpListenSpec | None = None
    queue_type: Literal["quorum", "classic"] = "quorum"
    group_commit_max: int = Field(256, ge=1, le=10000)
    transform_workers: Literal["auto"] | Annotated[int, Field(ge=0, le=64)] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("store")
    @classmethod
    def _check_store(cls, value: str) -> str:
        if "://" not in value:
            raise _invalid("expected a database URL", "e.g. sqlite:///var/hl7bridge.db or postgresql+psycopg://user@host/db")
        return value

    @field_validator("broker")
    @classmethod
    def _check_broker(cls, value: str) -> str:
        if value == "embedded" or value.partition("://")[0].lower() in ("amqp", "amqps"):
            return value
        raise _invalid("broker must be 'embedded' or an amqp:// / amqps:// URL",
                       "e.g. embedded or amqp://guest:guest@localhost:5672/")


class MllpSourceSpec(_Spec):
    type: Literal["mllp"]
    listen: HostPort
    tls: TlsSpec | None = None
    max_frame_bytes: int = Field(8_388_608, ge=1)
    idle_timeout_secs: float = Field(300.0, gt=0)
    receive_timeout_secs: float = Field(30.0, gt=0)
    allowed_versions: list[str] = Field(default_factory=lambda: list(HL7_VERSIONS))


class HttpSourceSpec(_Spec):
    type: Literal["http"]
    path: str
    format: Literal["fhir", "hl7v2", "ccda"] = "fhir"
    max_body_bytes: int = Field(10_485_760, ge=1)
    auth: dict[str, Any] | None = None

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise _invalid("an HTTP source path must start with '/'", f"write /{value}")
        return value


class FileSourceSpec(_Spec):
    type: Literal["file"]
    directory: str
    format: Literal["hl7v2", "ccda", "fhir"] = "hl7v2"
    pattern: str = "*"
    poll_interval_secs: float = Field(1.0, gt=0)


SourceSpec = Annotated[Union[MllpSourceSpec, HttpSourceSpec, FileSourceSpec], Field(discriminator="type")]
_OPERATORS = ("equals", "not_equals", "in", "matches", "exists")


class FieldCondition(_Spec):
    """One test on an HL7 field: ``path`` plus exactly one operator."""

    path: str
    equals: str | None = None
    not_equals: str | None = None
    in_: list[str] | None = Field(None, alias="in")
    matches: str | None = None
    exists: bool | None = None

    @field_validator("matches")
    @classmethod
    def _check_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise _invalid(f"regular expression does not compile: {exc.msg} at position {exc.pos}") from exc
        return value

    @model_validator(mode="after")
    def _one_operator(self) -> FieldCondition:
        given = [op for op, v in zip(_OPERATORS, self._values()) if v is not None]
        if len(given) != 1:
            found = ", ".join(given) or "none"
            raise _invalid(f"a condition needs exactly one of {', '.join(_OPERATORS)} (found: {found})")
        return self

    def _values(self) -> tuple[Any, ...]:
        return (self.equals, self.not_equals, self.in_, self.matches, self.exists)


class FilterSpec(_Spec):
    message_types: list[str] | None = None
    conditions: list[FieldCondition] = Field(default_factory=list)


class StepSpec(_Spec):
    """One pipeline step. YAML writes it as ``name``, ``{name: {options}}`` or ``{python: target}``."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"name": data}
        if not isinstance(data, dict) or ("name" in data and set(data) <= {"name", "options"}):
            return data
        if len(data) != 1:
            raise _invalid("a step is a name or a mapping with one key (the step name)",
                           "write each step as its own list item: - set: {...}")
        (name, options), = data.items()
        if name == "python" and isinstance(options, str):
            options = {"target": options}
        if options is None:
            options = {}
        if not isinstance(options, dict):
            raise _invalid(f"options of step {name!r} must be a mapping", f"e.g. {name}: {{key: value}}")
        return {"name": name, "options": options}


class RetrySpec(_Spec):
    max_attempts: int = Field(8, ge=1)
    initial_backoff_ms: int = Field(500, ge=1)
    max_backoff_secs: float = Field(300.0, gt=0)
    multiplier: float = Field(2.0, ge=1)
    jitter: float = Field(0.2, ge=0, le=1)


class _DestinationBase(_Spec):
    retry: RetrySpec = Field(default_factory=RetrySpec)
    ordering: Literal["none", "strict", "per_patient"] = "none"
    enabled: bool = True


class HttpDestinationSpec(_DestinationBase):
    type: Literal["http"]
    endpoint: HttpUrl
    timeout_secs: float = Field(10.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    tls: TlsSpec | None = None
    content_type: str | None = None


class FileDestinationSpec(_DestinationBase):
    type: Literal["file"]
    directory: str
    filename: str = "{message_id}-{destination}.{ext}"


AckCode = Literal["AA", "AE", "AR", "CA", "CE", "CR", "timeout"]


class MllpDestinationSpec(_DestinationBase):
    type: Literal["mllp"]
    endpoint: HostPort
    timeout_secs: float = Field(30.0, gt=0)
    tls: TlsSpec | None = None
    ack_rules: dict[AckCode, Literal["success", "retry", "dead_letter"]] = Field(default_factory=dict)


class AmqpDestinationSpec(_DestinationBase):
    type: Literal["amqp"]
    endpoint: AmqpUrl
    exchange: str
    routing_key: str = ""


class ChannelDestinationSpec(_DestinationBase):
    type: Literal["channel"]
    channel: str


DestinationSpec = Annotated[
    Union[HttpDestinationSpec, FileDestinationSpec, MllpDestinationSpec, AmqpDestinationSpec, ChannelDestinationSpec],
    Field(discriminator="type"),
]


class RetentionSpec(_Spec):
    content_days: int | None = Field(None, ge=0)
    metadata_days: int | None = Field(None, ge=0)


class ChannelSpec(_Spec):
    description: str = ""
    enabled: bool = True
    replayable: bool = True
    source: SourceSpec
    filter: FilterSpec | None = None
    steps: list[StepSpec] = Field(default_factory=list)
    destinations: dict[Name, DestinationSpec] = Field(min_length=1)
    retention: RetentionSpec = Field(default_factory=RetentionSpec)


class Config(_Spec):
    engine: EngineSpec = Field(default_factory=EngineSpec)
    channels: dict[Name, ChannelSpec] = Field(min_length=1)
    # Set by the loader, never read from YAML (the loader rejects the key); not dumped.
    source_file: str | None = Field(None, exclude=True)

    def channel(self, name: str) -> ChannelSpec:
        """The channel called ``name``; KeyError naming the known channels otherwise."""
        try:
            return self.channels[name]
        except KeyError:
            raise KeyError(f"no channel {name!r}; known: {', '.join(sorted(self.channels))}") from None
