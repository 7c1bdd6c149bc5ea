"""Reading the FHIR input of fhir_to_hl7v2: one resource or a Bundle, with references resolved.

Every resource is kept with its location (``Bundle.entry[2].resource``) so that errors can name
the element that could not be mapped, never its value.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from hl7bridge.engine.errors import TransformError

__all__ = ["Found", "ResourceIndex"]

_BUNDLE_TYPES = frozenset(("batch", "transaction", "collection", "message", "searchset", "batch-response",
                           "transaction-response", "document", "history"))


@dataclass(frozen=True)
class Found:
    """A resource and where it sits in the input."""

    loc: str
    res: dict

    @property
    def rtype(self) -> str:
        return self.res["resourceType"]


class ResourceIndex:
    """The resources of the input in order, findable by type and by reference."""

    def __init__(self, data: object) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
            raise TransformError("input is not a FHIR resource (a JSON object with resourceType)",
                                 location="resourceType")
        self.items: list[Found] = []
        self._refs: dict[str, Found] = {}
        if data["resourceType"] == "Bundle":
            self._read_bundle(data)
        else:
            self._add(Found(data["resourceType"], data), None)

    def _read_bundle(self, bundle: dict) -> None:
        if bundle.get("type") not in _BUNDLE_TYPES:
            raise TransformError("Bundle.type is missing or not a known bundle type", location="Bundle.type")
        entries = bundle.get("entry") or []
        if not isinstance(entries, list):
            raise TransformError("Bundle.entry must be an array", location="Bundle.entry")
        for i, entry in enumerate(entries):
            loc = f"Bundle.entry[{i}]"
            if not isinstance(entry, dict):
                raise TransformError("a Bundle entry must be an object", location=loc)
            method = (entry.get("request") or {}).get("method") if isinstance(entry.get("request"), dict) else None
            if method == "DELETE":
                continue  # a delete carries no data to send
            resource = entry.get("resource")
            if resource is None and isinstance(entry.get("resourceType"), str):
                # Tolerated: a resource written straight into entry (seen in real samples).
                resource, res_loc = entry, loc
            else:
                res_loc = loc + ".resource"
            if resource is None:
                continue
            if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
                raise TransformError("entry resource has no resourceType", location=res_loc + ".resourceType")
            self._add(Found(res_loc, resource), entry.get("fullUrl"))

    def _add(self, found: Found, full_url: object) -> None:
        self.items.append(found)
        rtype, rid = found.rtype, found.res.get("id")
        if isinstance(full_url, str) and full_url:
            self._refs[full_url] = found
        if isinstance(rid, str) and rid:
            self._refs.setdefault(f"{rtype}/{rid}", found)
        for i, inner in enumerate(found.res.get("contained") or []):
            if isinstance(inner, dict) and isinstance(inner.get("id"), str) and inner.get("resourceType"):
                self._refs.setdefault(f"#{inner['id']}@{id(found.res)}",
                                      Found(f"{found.loc}.contained[{i}]", inner))

    def of_type(self, *rtypes: str) -> list[Found]:
        """Resources of these types, in input order."""
        return [f for f in self.items if f.rtype in rtypes]

    def resolve(self, owner: Found, element: str, *, required: bool = False,
                rtypes: tuple[str, ...] = ()) -> Found | None:
        """The resource that ``owner.<element>`` (a Reference, path like ``subject`` or ``result[2]``) points at."""
        ref = _walk(owner.res, element)
        loc = f"{owner.loc}.{element}"
        if not isinstance(ref, dict) or not isinstance(ref.get("reference"), str):
            if required:
                raise TransformError("reference is missing", location=loc)
            return None
        found = self._lookup(owner, ref["reference"])
        if found is None:
            if required:
                raise TransformError("reference does not resolve to a resource in the input", location=loc)
            return None
        if rtypes and found.rtype not in rtypes:
            raise TransformError(f"reference points at a {found.rtype}, expected {' or '.join(rtypes)}",
                                 location=loc)
        return found

    def _lookup(self, owner: Found, ref: str) -> Found | None:
        if ref.startswith("#"):
            return self._refs.get(f"{ref}@{id(owner.res)}")
        if "?identifier=" in ref:
            return self._by_identifier(ref)
        found = self._refs.get(ref)
        if found is None and "/" in ref and not ref.startswith("urn:"):
            # An absolute URL whose last two segments are Type/id, or a versioned reference.
            parts = ref.split("/_history/")[0].rstrip("/").split("/")
            found = self._refs.get("/".join(parts[-2:]))
        return found


    def _by_identifier(self, ref: str) -> Found | None:
        """A conditional reference (``Patient?identifier=system|value``, as in transaction Bundles)."""
        rtype, _, token = ref.partition("?identifier=")
        system, bar, value = unquote(token).rpartition("|")
        matches = [f for f in self.of_type(rtype)
                   if any(isinstance(i, dict) and i.get("value") == value and (not bar or i.get("system") == system)
                          for i in f.res.get("identifier") or [])]
        return matches[0] if len(matches) == 1 else None


def _walk(res: dict, element: str) -> object:
    """``subject`` / ``result[2]`` / ``participant[0].individual`` inside ``res``."""
    node: object = res
    for step in element.split("."):
        name, _, index = step.partition("[")
        node = node.get(name) if isinstance(node, dict) else None
        if index:
            i = int(index.rstrip("]"))
            node = node[i] if isinstance(node, list) and i < len(node) else None
    return node
