"""HTTP source: FHIR R4 JSON, C-CDA XML or HL7v2 posted to a channel's ``path``.

Checks run cheapest first and before any full parse: content type (415), size (413), JSON
nesting depth (400), then parsing (400), bearer token and scopes (401/403), FHIR validation
against the R4B models (422 with an OperationOutcome naming the element path).  A positive
answer (201 for FHIR, 202 for documents, 200 + ACK for HL7v2) is sent only after the store
commit, with the message id and a Location whose GET gives per-destination status.  Replies
never echo content: element paths and types only.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web

from hl7bridge.connectors.http_auth import AuthFailure, JwtAuth
from hl7bridge.engine.errors import ParseError, StoreError
from hl7bridge.engine.intake import Document, DocumentIntake, HL7Intake
from hl7bridge.engine.store import Store

ACCEPTED_TYPES = {
    "fhir": ("application/fhir+json", "application/json"),
    "ccda": ("application/xml", "text/xml", "application/cda+xml"),
    "hl7v2": ("x-application/hl7-v2+er7", "application/hl7-v2", "text/plain"),
}
MAX_JSON_DEPTH = 64
CLAIMS = web.RequestKey("claims", dict)
_JSON_TOKENS = re.compile(rb'[\[\]{}"\\]')


def outcome(status: int, code: str, diagnostics: str, expression: list[str] | None = None) -> web.Response:
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = expression
    body = orjson.dumps({"resourceType": "OperationOutcome", "issue": [issue]})
    return web.Response(status=status, body=body, content_type="application/fhir+json")


def json_depth(data: bytes, limit: int = MAX_JSON_DEPTH) -> int:
    """Deepest nesting of arrays and objects (strings skipped), stopping once past ``limit``:
    cheap enough to run before parsing, so a hostile body never reaches the parser."""
    depth = deepest = 0
    in_string, skip = False, -1
    for match in _JSON_TOKENS.finditer(data):
        position, token = match.start(), match.group()
        if position == skip:
            continue
        if in_string:
            if token == b"\\":
                skip = position + 1  # the escaped character, whatever it is
            elif token == b'"':
                in_string = False
        elif token == b'"':
            in_string = True
        elif token in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


class HttpSource:
    def __init__(self, store: Store, channel: str, spec: Any) -> None:
        self.channel, self.spec = channel, spec
        self.auth = JwtAuth(spec.auth) if spec.auth else None
        self.documents = DocumentIntake(store, channel, source="http")
        self.hl7 = HL7Intake(store, channel, source="http")
        self.in_flight: set[str] = set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        media = request.content_type.lower()
        if media not in ACCEPTED_TYPES[self.spec.format]:
            return outcome(415, "not-supported", f"Content-Type must be one of {', '.join(ACCEPTED_TYPES[self.spec.format])}")
        if request.content_length is not None and request.content_length > self.spec.max_body_bytes:
            return outcome(413, "too-costly", f"body larger than {self.spec.max_body_bytes} bytes")
        body = await _read_body(request, self.spec.max_body_bytes)
        if body is None:
            return outcome(413, "too-costly", f"body larger than {self.spec.max_body_bytes} bytes")
        try:
            claims = self.auth.authenticate(request.headers.get("Authorization")) if self.auth else {}
        except AuthFailure as failure:
            return _unauthorized(failure)
        request[CLAIMS] = claims
        handler = {"fhir": self._fhir, "ccda": self._ccda, "hl7v2": self._hl7v2}[self.spec.format]
        return await handler(request, body)

    async def _fhir(self, request: web.Request, body: bytes) -> web.StreamResponse:
        from hl7bridge.connectors.fhir_checks import describe, validate_resource

        if json_depth(body) > MAX_JSON_DEPTH:
            return outcome(400, "structure", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        try:
            resource = orjson.loads(body)
        except orjson.JSONDecodeError:
            return outcome(400, "structure", "body is not valid JSON")
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            return outcome(400, "structure", "body is not a FHIR resource (no resourceType)", ["resourceType"])
        info = describe(resource)
        if self.auth is not None:
            try:
                self.auth.authorize(request[CLAIMS], info.resource_types)
            except AuthFailure as failure:
                return _unauthorized(failure)
        problems = validate_resource(resource)
        if problems:
            return outcome(422, "invalid", "; ".join(f"{p}: {t}" for p, t in problems[:10]), [p for p, _ in problems[:10]])
        doc = Document(body, "application/fhir+json", message_type=resource["resourceType"],
                       trigger_event=info.bundle_type, control_id=str(resource.get("id", ""))[:64],
                       patient_id=info.patient_id, correlation_id=request.headers.get("X-Correlation-ID"))
        return await self._store(request, doc, 201)

    async def _ccda(self, request: web.Request, body: bytes) -> web.StreamResponse:
        from hl7bridge.connectors.fhir_checks import describe_ccda
        from hl7bridge.transforms.xml_safety import parse_xml

        try:
            root = parse_xml(body, max_bytes=self.spec.max_body_bytes)
        except ParseError as exc:
            return outcome(400, "structure", f"XML refused: {exc.reason}", [exc.location] if exc.location else None)
        if self.auth is not None:
            try:
                self.auth.authorize(request[CLAIMS], {"DocumentReference"})
            except AuthFailure as failure:
                return _unauthorized(failure)
        doc = describe_ccda(root, body, request.headers.get("X-Correlation-ID"))
        if doc is None:
            return outcome(400, "structure", "not a CDA document (root element is not ClinicalDocument)", ["/"])
        return await self._store(request, doc, 202)

    async def _hl7v2(self, request: web.Request, body: bytes) -> web.StreamResponse:
        ack = await self.hl7.receive(body, request.remote or "")
        if ack is None:
            return web.Response(status=204)
        code = ack.split(b"MSA", 1)[-1][1:3] if b"MSA" in ack else b"AE"
        status = 200 if code in (b"AA", b"CA") else 400 if code in (b"AR", b"CR") else 503
        headers = {"Retry-After": "5"} if status == 503 else None
        return web.Response(status=status, body=ack, content_type="x-application/hl7-v2+er7", headers=headers)

    async def _store(self, request: web.Request, doc: Document, status: int) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        if key and key in self.in_flight:
            return outcome(409, "conflict", "a request with this Idempotency-Key is still being processed")
        base = f"{request.scheme}://{request.host}"

        def answer(message_id: str) -> tuple[int, bytes]:
            return status, orjson.dumps({"id": message_id, "status": "RECEIVED", "channel": self.channel,
                                         "location": f"{base}/messages/{message_id}"})

        if key:
            self.in_flight.add(key)
        try:
            result = await self.documents.receive(doc, key=key, answer=answer)
        except StoreError:
            return web.Response(status=503, headers={"Retry-After": "5"}, body=orjson.dumps(
                {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "transient",
                                                                "diagnostics": "the store is unavailable; retry"}]}),
                content_type="application/fhir+json")
        finally:
            self.in_flight.discard(key or "")
        if result.status == 422:
            return outcome(422, "conflict", "this Idempotency-Key was used with a different body")
        return web.Response(status=result.status, body=result.body, content_type="application/json",
                            headers={"Location": f"/messages/{result.message_id}"})


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The whole body, read chunk by chunk (a single read returns only what has arrived so far);
    None as soon as it passes ``limit``, without reading the rest."""
    chunks, total = [], 0
    while chunk := await request.content.read(65_536):
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _unauthorized(failure: AuthFailure) -> web.Response:
    response = outcome(failure.status, "security" if failure.status == 401 else "forbidden", failure.reason)
    if failure.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response
