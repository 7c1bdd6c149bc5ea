"""The one exception tree of hl7bridge.

    HL7BridgeError
     +-- ConfigError        a channel file is wrong; carries file, line, column, code, hint
     +-- MessageError       permanent for this message: parse, transform, rejected -> ERRORED / dead letter
     |    +-- ParseError        the HL7v2 / XML / JSON cannot be read; names the position, never a value
     |    +-- TransformError    a step could not map the message
     |    +-- RejectedError     a destination refused it for good (4xx, AR/CR)
     +-- DeliveryError      transient: connect, timeout, 5xx, AE/CE; retried with backoff
     +-- StoreError         the store could not commit; intake answers AE/CE 207 or HTTP 503

Texts of these exceptions go to logs, ACKs and HTTP replies, so they never hold message content
(invariant 5): only ids, types, segment names and field positions.  Third-party exceptions are
translated at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations


class HL7BridgeError(Exception):
    """Base of every error hl7bridge raises on purpose."""


class ConfigError(HL7BridgeError):
    """A problem in a channel file, reported as ``file:line:col error [code] message``."""

    def __init__(
        self,
        message: str,
        *,
        file: str = "<config>",
        line: int = 0,
        column: int = 0,
        code: str = "config",
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.code = code
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        text = f"{self.file}:{self.line}:{self.column} error [{self.code}] {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class ConfigErrors(HL7BridgeError):
    """Every problem found in one config, in file order."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        super().__init__("\n".join(e.render() for e in errors))


class MessageError(HL7BridgeError):
    """Permanent failure of one message.

    ``location`` is an HL7 position such as ``PID-7`` or ``MSH-9.2`` (or a JSON/XML path);
    ``hl7_code`` is the HL7 table 0357 error code that a NAK's ERR segment carries.
    """

    hl7_code: int = 207

    def __init__(self, reason: str, *, location: str | None = None, hl7_code: int | None = None) -> None:
        self.reason = reason
        self.location = location
        if hl7_code is not None:
            self.hl7_code = hl7_code
        super().__init__(f"{location}: {reason}" if location else reason)


class ParseError(MessageError):
    """The message cannot be read (HL7 table 0357: 100 segment sequence, 101 required, 102 data type)."""

    hl7_code = 102


class TransformError(MessageError):
    """A transform step could not map the message."""


class RejectedError(MessageError):
    """A destination rejected the message for good (HTTP 4xx other than 408/429, ACK AR/CR)."""

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        self.code = code
        super().__init__(reason)


class DeliveryError(HL7BridgeError):
    """A transient delivery failure; retried. ``retry_after_secs`` honours a server's Retry-After."""

    def __init__(self, reason: str, *, code: str | None = None, retry_after_secs: float | None = None) -> None:
        self.reason = reason
        self.code = code
        self.retry_after_secs = retry_after_secs
        super().__init__(reason)


class StoreError(HL7BridgeError):
    """The store could not commit or answer."""
