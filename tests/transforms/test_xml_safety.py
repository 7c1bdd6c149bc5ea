"""Hardened XML parsing: the classic attacks are refused fast, offline, and without echoing content."""

from __future__ import annotations

import http.server
import resource
import threading
import time
from collections.abc import Iterator

import pytest
from lxml import etree

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms import xml_safety
from hl7bridge.transforms.xml_safety import parse_xml

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&lol9;</title></ClinicalDocument>"""


class _Canary(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        _Canary.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"<!ENTITY x 'pwned'>")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def canary() -> Iterator[int]:
    """A local HTTP listener on a random port that records every request it gets."""
    _Canary.hits = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Canary)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _refused_quickly(data: bytes) -> ParseError:
    started = time.perf_counter()
    with pytest.raises(ParseError) as caught:
        parse_xml(data)
    assert time.perf_counter() - started < 0.5
    return caught.value


def test_billion_laughs_is_refused_at_the_doctype_in_well_under_a_second_with_flat_memory() -> None:
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    for _ in range(20):
        error = _refused_quickly(BILLION_LAUGHS)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 10_000
    assert error.location == "DOCTYPE"
    assert "lol" not in str(error)


def test_xxe_through_a_file_url_is_refused_and_the_file_is_not_read(tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    doc = f'<!DOCTYPE x [<!ENTITY e SYSTEM "file://{secret}">]><x>&e;</x>'.encode()
    error = _refused_quickly(doc)
    assert error.location == "DOCTYPE"
    assert "TOP-SECRET" not in str(error)


def test_xxe_through_http_is_refused_and_the_canary_listener_sees_no_request(canary: int) -> None:
    doc = f'<!DOCTYPE x [<!ENTITY e SYSTEM "http://127.0.0.1:{canary}/xxe">]><x>&e;</x>'.encode()
    _refused_quickly(doc)
    assert _Canary.hits == []


def test_an_external_dtd_is_not_fetched(canary: int) -> None:
    doc = f'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:{canary}/evil.dtd"><x/>'.encode()
    _refused_quickly(doc)
    assert _Canary.hits == []


def test_the_parser_itself_neither_expands_nor_fetches_even_past_the_doctype_check(canary: int) -> None:
    # Defence in depth: the pre-scan is bypassed; the parser configuration alone must hold.
    doc = f'<!DOCTYPE x [<!ENTITY e SYSTEM "http://127.0.0.1:{canary}/x">]><x>&e;</x>'.encode()
    try:
        root = etree.fromstring(doc, parser=xml_safety._parser())
    except (etree.XMLSyntaxError, ParseError):
        root = None
    assert _Canary.hits == []
    assert root is None or "pwned" not in "".join(root.itertext())


def test_utf16_doctype_is_refused_too() -> None:
    doc = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x SYSTEM "http://example.invalid/x"><x/>'.encode("utf-16")
    assert _refused_quickly(doc).location == "DOCTYPE"


def test_size_is_checked_before_parsing() -> None:
    with pytest.raises(ParseError, match="over the 100-byte limit"):
        parse_xml(b"<x>" + b"a" * 200 + b"</x>", max_bytes=100)


def test_nesting_deeper_than_the_limit_is_refused_with_the_root_as_location() -> None:
    deep = b"<a>" * 40 + b"</a>" * 40
    with pytest.raises(ParseError) as caught:
        parse_xml(deep, max_depth=30)
    assert caught.value.location == "/a"
    assert parse_xml(deep, max_depth=40).tag == "a"


def test_malformed_xml_names_line_and_column_but_not_the_text() -> None:
    with pytest.raises(ParseError) as caught:
        parse_xml(b"<ClinicalDocument>\n  <name>Jane Secretname</nam>\n</ClinicalDocument>")
    assert caught.value.location.startswith("line 2")
    assert "Secretname" not in str(caught.value)


def test_an_undeclared_xsi_prefix_is_tolerated_but_truncation_is_not() -> None:
    root = parse_xml(b'<ClinicalDocument xmlns="urn:hl7-org:v3"><value xsi:type="CD" code="1"/></ClinicalDocument>')
    assert root[0].get("code") == "1"
    with pytest.raises(ParseError):
        parse_xml(b'<ClinicalDocument xmlns="urn:hl7-org:v3"><value xsi:type="CD"')


def test_empty_input_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="empty"):
        parse_xml(b"   ")
