"""Hardened XML parsing for documents that come from outside (C-CDA intake).

The parser never loads a DTD, never expands an entity, never opens a file or a network
connection, and refuses any document that carries a DOCTYPE at all: C-CDA has no use for one,
and every classic XML attack (billion laughs, XXE through ``file://`` or ``http://``, external
DTD fetches) needs it.  Size is checked before a byte is parsed; nesting depth is checked after,
on a tree that libxml2 has already capped (no ``huge_tree``).

Errors are :class:`~hl7bridge.engine.errors.ParseError` whose text names a location
(``DOCTYPE``, ``line 3, column 7``, ``/ClinicalDocument``) and a libxml2 error type, never
document content (invariant 5).
"""

from __future__ import annotations

from lxml import etree

from hl7bridge.engine.errors import ParseError

# Byte patterns that announce a DTD or an entity declaration, in the encodings an XML document
# may legally use without a declaration; checked before parsing so an attack never reaches libxml2.
_DTD_MARKERS: tuple[bytes, ...] = tuple(
    marker.encode(encoding)
    for marker in ("<!DOCTYPE", "<!ENTITY")
    for encoding in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
)


class _RefuseResolver(etree.Resolver):
    """Answers every external lookup (DTD, entity, XInclude) with an error, never a fetch."""

    def resolve(self, system_url: str, public_id: str, context: object) -> None:  # noqa: ARG002
        raise ParseError("external resource refused", location="DOCTYPE")


def _parser(*, recover: bool = False) -> etree.XMLParser:
    parser = etree.XMLParser(
        recover=recover,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
        collect_ids=False,
    )
    parser.resolvers.add(_RefuseResolver())
    return parser


def _check_size(data: bytes, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise ParseError(f"document is {len(data)} bytes, over the {max_bytes}-byte limit", location="/")
    if not data.strip():
        raise ParseError("document is empty", location="/")


def _check_no_dtd(data: bytes) -> None:
    if any(marker in data for marker in _DTD_MARKERS):
        raise ParseError("DOCTYPE and ENTITY declarations are not accepted", location="DOCTYPE")


def _check_depth(root: etree._Element, max_depth: int) -> None:
    """Walks the tree with an explicit stack (no recursion limit to hit)."""
    stack: list[tuple[etree._Element, int]] = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > max_depth:
            raise ParseError(f"nesting deeper than {max_depth} elements", location=f"/{_local(root)}")
        stack.extend((child, depth + 1) for child in element)


def _local(element: etree._Element) -> str:
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else "node"


_ERROR_NAMES: dict[int, str] = {
    value: name for name, value in vars(etree.ErrorTypes).items() if isinstance(value, int) and name.isupper()
}


def _syntax_error(exc: etree.XMLSyntaxError) -> ParseError:
    # libxml2's message may quote document text; only its error type name and position are kept.
    kind = _ERROR_NAMES.get(exc.code, "XML_ERR")
    line, column = (exc.position if exc.position else (0, 0))
    return ParseError(f"XML is not well-formed ({kind})", location=f"line {line}, column {column}")


def _parse_tolerating_namespace_slips(data: bytes) -> etree._Element:
    """Strict parse; a document whose only faults are undeclared prefixes (senders often forget
    ``xmlns:xsi``) is read again in recovery mode, which keeps such attributes under their
    literal names.  Any other fault stays fatal."""
    parser = _parser()
    try:
        return etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError:
        # The parser's own log, not the exception's (which can carry earlier errors of the thread).
        entries = list(parser.error_log)
        if not entries or any(e.domain_name != "NAMESPACE" for e in entries):
            raise
    return etree.fromstring(data, parser=_parser(recover=True))


def parse_xml(data: bytes, *, max_bytes: int = 20_000_000, max_depth: int = 256) -> etree._Element:
    """Parses untrusted XML bytes into an element tree, refusing anything dangerous.

    Raises ParseError (location ``DOCTYPE`` for DTD/entity attacks, ``line L, column C`` for
    syntax errors, ``/root`` for depth) -- never an lxml exception.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    _check_size(data, max_bytes)
    _check_no_dtd(data)
    try:
        root = _parse_tolerating_namespace_slips(data)
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc) from exc
    except ValueError as exc:  # e.g. a str with an encoding declaration
        raise ParseError("XML could not be decoded", location="/") from exc
    if root is None:
        raise ParseError("XML has no root element", location="/")
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise ParseError("DOCTYPE is not accepted", location="DOCTYPE")
    _check_depth(root, max_depth)
    return root
