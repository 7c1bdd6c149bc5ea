"""CDA narrative block (section/text) -> FHIR XHTML ``div``.

Only structure is carried over (tables, lists, paragraphs, line breaks, emphasis spans); styles,
multimedia and anything unknown become plain spans or are dropped, so the result always passes
FHIR's XHTML rules (no scripts, no foreign elements, no event attributes).
"""

from __future__ import annotations

from lxml import etree

from hl7bridge.transforms.ccda.cda import Element

XHTML = "http://www.w3.org/1999/xhtml"
_SAME = {"table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "col", "colgroup", "br", "sub", "sup"}
_RENAME = {"paragraph": "p", "item": "li", "content": "span", "footnote": "span", "footnoteRef": "span",
           "linkHtml": "a", "list": "ul"}
_DROP = {"renderMultiMedia", "reference"}
_CELL_ATTRS = {"colspan", "rowspan"}


def _target_tag(source: Element) -> str | None:
    name = etree.QName(source).localname
    if name in _DROP:
        return None
    if name == "list" and source.get("listType") == "ordered":
        return "ol"
    return name if name in _SAME else _RENAME.get(name, "span")


def _copy(source: Element, target: Element) -> None:
    target.text = source.text
    for child in source:
        if not isinstance(child.tag, str):  # comments and processing instructions
            if child.tail:
                _append_text(target, child.tail)
            continue
        tag = _target_tag(child)
        if tag is None:
            if child.tail:
                _append_text(target, child.tail)
            continue
        node = etree.SubElement(target, f"{{{XHTML}}}{tag}")
        for name in _CELL_ATTRS:
            if child.get(name):
                node.set(name, child.get(name))
        href = child.get("href")
        if tag == "a" and href and href.startswith(("http://", "https://", "#")):
            node.set("href", href)
        _copy(child, node)
        node.tail = child.tail


def _append_text(target: Element, text: str) -> None:
    if len(target):
        target[-1].tail = (target[-1].tail or "") + text
    else:
        target.text = (target.text or "") + text


def to_xhtml(text: Element | None, fallback: str) -> str:
    """A ``<div xmlns="http://www.w3.org/1999/xhtml">`` holding the narrative, or the fallback words."""
    div = etree.Element(f"{{{XHTML}}}div", nsmap={None: XHTML})
    if text is not None and (len(text) or (text.text or "").strip()):
        _copy(text, div)
    else:
        div.text = fallback
    _ensure_content(div, fallback)
    return etree.tostring(div, encoding="unicode")


def _ensure_content(div: Element, fallback: str) -> None:
    """FHIR requires a div with some text or an element in it; an empty table counts as empty."""
    if not "".join(div.itertext()).strip():
        for child in list(div):
            div.remove(child)
        div.text = fallback
