"""Small helpers to walk a C-CDA tree: namespaces, XPath shortcuts, templates, element paths."""

from __future__ import annotations

from lxml import etree

NS = {"cda": "urn:hl7-org:v3", "sdtc": "urn:hl7-org:sdtc", "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
V3 = "{urn:hl7-org:v3}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

Element = etree._Element


def find(element: Element | None, path: str) -> Element | None:
    """First element at ``path`` (XPath with the ``cda:``/``sdtc:`` prefixes), or None."""
    if element is None:
        return None
    found = element.xpath(path, namespaces=NS)
    return found[0] if found else None


def find_all(element: Element | None, path: str) -> list[Element]:
    """Every element at ``path``; an empty list when ``element`` is None."""
    if element is None:
        return []
    return list(element.xpath(path, namespaces=NS))


def text_of(element: Element | None, path: str = ".") -> str | None:
    """Whitespace-normalised text at ``path``, or None when absent or empty."""
    node = find(element, path) if path != "." else element
    if node is None:
        return None
    text = " ".join("".join(node.itertext()).split())
    return text or None


def attr(element: Element | None, path: str, name: str) -> str | None:
    node = find(element, path) if path != "." else element
    if node is None:
        return None
    value = node.get(name)
    return value.strip() if value and value.strip() else None


def template_roots(element: Element) -> set[str]:
    """Template OIDs the element declares (R1.1 and R2.1 alike: the extension is ignored)."""
    return {t.get("root", "") for t in element.findall(f"{V3}templateId")}


def has_template(element: Element, *roots: str) -> bool:
    return bool(template_roots(element) & set(roots))


def is_null(element: Element | None) -> bool:
    return element is None or element.get("nullFlavor") is not None


def xsi_type(element: Element) -> str:
    """Local xsi:type name (``PQ``, ``CD``...) without a namespace prefix."""
    value = element.get(XSI_TYPE) or element.get("xsi:type") or ""
    return value.split(":")[-1]




def local_path(element: Element) -> str:
    """Element path with namespace prefixes removed (``/ClinicalDocument/recordTarget``)."""
    names: list[str] = []
    node: Element | None = element
    while node is not None and isinstance(node.tag, str):
        parent = node.getparent()
        name = etree.QName(node).localname
        if parent is not None:
            same = [c for c in parent if c.tag == node.tag]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        names.append(name)
        node = parent
    return "/" + "/".join(reversed(names))
