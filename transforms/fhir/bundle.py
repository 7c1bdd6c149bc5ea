"""A FHIR R4 transaction Bundle whose entries upsert idempotently.

Each entry is a PUT:
- a resource with a business identifier is a conditional update on it
  (``PUT Patient?identifier=system|value``), so a replay updates instead of duplicating;
- a resource without one gets an id derived from its content key (uuid5), so a replay of the
  same facts lands on the same id (``PUT Observation/<uuid>``).

``fullUrl`` is ``urn:uuid:`` + uuid5(message scope + key): the same message always gives the
same Bundle, and references inside the Bundle point at these fullUrls.
"""

from __future__ import annotations

import hashlib
import uuid
from urllib.parse import quote

__all__ = ["BundleBuilder", "NAMESPACE"]

NAMESPACE = uuid.UUID("7c4f0f5e-2a7e-5d51-9a43-6b8e2f1d3c90")  # fixed: ids must not change across releases


_NS_BYTES = NAMESPACE.bytes


def uuid5_str(name: str) -> str:
    """str(uuid.uuid5(NAMESPACE, name)), without building UUID objects (it is on the hot path)."""
    digest = bytearray(hashlib.sha1(_NS_BYTES + name.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _token(text: str) -> str:
    # FHIR search escaping: '|' ',' '$' and '\' inside a token value are escaped with '\'.
    for ch in ("\\", "|", ",", "$"):
        if ch in text:
            text = text.replace(ch, "\\" + ch)
    return quote(text, safe=":/.-_~@")


class BundleBuilder:
    """Collects resources under stable keys; one entry per key."""

    __slots__ = ("scope", "_entries", "_refs", "_keys", "_by_url")

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self._entries: list[dict] = []
        self._refs: dict[str, str] = {}
        self._keys: dict[str, str] = {}
        self._by_url: dict[str, dict] = {}

    def ref(self, key: str) -> str | None:
        """The fullUrl of the entry added under ``key``, or None."""
        return self._refs.get(key)

    def add(self, resource: dict, key: str, identifier: dict | None = None, *, create_only: bool = False) -> str:
        """Add ``resource`` under ``key`` (first one wins) and return its fullUrl.

        ``identifier`` (with ``system`` and ``value``) makes the request a conditional update, or
        with ``create_only`` a conditional create (``POST`` + ``ifNoneExist``): used for resources
        only referenced by the message (a doctor in PV1-7), so a master record is never overwritten
        by the few fields an HL7 message carries about it.
        """
        found = self._refs.get(key)
        if found is not None:
            return found
        full_url = "urn:uuid:" + uuid5_str(f"{self.scope}|{key}")
        rtype = resource["resourceType"]
        if identifier and identifier.get("value"):
            search = _token(identifier["value"])
            if identifier.get("system"):
                search = _token(identifier["system"]) + "|" + search
            if create_only:
                request = {"method": "POST", "url": rtype, "ifNoneExist": f"identifier={search}"}
                return self._append(key, full_url, resource, request)
            url = f"{rtype}?identifier={search}"
        else:
            rid = uuid5_str(key)
            resource["id"] = rid
            url = f"{rtype}/{rid}"
        return self._append(key, full_url, resource, {"method": "PUT", "url": url})

    def _append(self, key: str, full_url: str, resource: dict, request: dict) -> str:
        self._entries.append({"fullUrl": full_url, "resource": resource, "request": request})
        self._refs[key] = full_url
        self._keys[full_url] = key
        self._by_url[full_url] = resource
        return full_url

    def resource_of(self, full_url: str | None) -> dict | None:
        """The resource added under ``full_url`` (None for None or a reference outside the Bundle)."""
        return self._by_url.get(full_url) if full_url else None

    def key_of(self, full_url: str) -> str:
        """The key an entry was added under (stable across messages, unlike its fullUrl)."""
        return self._keys.get(full_url, full_url)

    @property
    def entries(self) -> list[dict]:
        """The entries added so far (fullUrl, resource, request)."""
        return self._entries

    def resources(self, resource_type: str | None = None) -> list[dict]:
        """Resources added so far (of one type when given)."""
        return [e["resource"] for e in self._entries
                if resource_type is None or e["resource"]["resourceType"] == resource_type]

    def to_bundle(self, bundle_id: str | None = None, timestamp: str | None = None) -> dict:
        """The transaction Bundle as a plain dict."""
        bundle: dict = {"resourceType": "Bundle", "type": "transaction"}
        if bundle_id:
            bundle["id"] = bundle_id
        if timestamp:
            bundle["timestamp"] = timestamp
        bundle["entry"] = self._entries
        return bundle
