"""HL7v2 datatypes to FHIR datatypes, per the IG datatype maps (CX, XPN, XAD, XTN, CWE, DTM, SN, NM, ED).

Functions take one repetition's ER7 text and return plain dicts (or None when nothing is
valued).  ``loc`` is the HL7 position used in error texts (never the value).
"""

from __future__ import annotations

import re

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.fhir.npi import US_NPI, is_npi
from hl7bridge.transforms.hl7v2.codes import LOCAL_BASE, V2, identifier_type, lookup, system_uri
from hl7bridge.transforms.hl7v2.comps import Comps
from hl7bridge.transforms.hl7v2.encoding import Encoding

__all__ = ["Comps", "ei", "authority_system", "dtm", "date_of", "instant", "cwe", "cx", "xpn", "xad", "xtn", "hd_system",
           "number", "sn_value", "ed_attachment"]

# Value datatypes (NM, SN, ED) live in values.py; re-exported at the end for one import path.


_DTM = re.compile(r"^(\d{4})(\d\d)?(\d\d)?(\d\d)?(\d\d)?(\d\d)?(\.\d{1,6})?(?:([+-])(\d\d)(\d\d))?$")


def dtm(text: str, tz: str, loc: str) -> str | None:
    """HL7 DTM/TS -> FHIR dateTime at the same precision; ``tz`` applies when no offset is given."""
    text = text.strip()
    if not text or text == '""':
        return None
    m = _DTM.match(text)
    if m is None:
        raise ParseError("not a valid HL7 timestamp (expected YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ])",
                         location=loc, hl7_code=102)
    y, mo, d, h, mi, s, frac, sign, oh, om = m.groups()
    if (mo and not 1 <= int(mo) <= 12) or (d and not 1 <= int(d) <= 31) or (h and int(h) > 23) \
            or (mi and int(mi) > 59) or (s and int(s) > 60):
        raise ParseError("timestamp has an out-of-range part", location=loc, hl7_code=102)
    if h is None or d is None:
        return "-".join(p for p in (y, mo, d) if p)
    offset = f"{sign}{oh}:{om}" if sign else tz
    return f"{y}-{mo}-{d}T{h}:{mi or '00'}:{s or '00'}{frac or ''}{offset}"


def put_time(target: dict, name: str, start: str | None, end: str | None) -> None:
    """A time choice element ``name[x]``: ``namePeriod`` when both ends are known, else ``nameDateTime``."""
    if start and end:
        target[name + "Period"] = {"start": start, "end": end}
    elif start:
        target[name + "DateTime"] = start


def date_of(value: str | None) -> str | None:
    """The date part of a FHIR dateTime."""
    return value[:10] if value else None


def instant(value: str | None) -> str | None:
    """A FHIR dateTime usable as an instant (full seconds and offset), else None."""
    return value if value and len(value) >= 20 and "T" in value else None


def coding(code: str, display: str, system_name: str, version: str = "") -> dict | None:
    if not code and not display:
        return None
    out: dict = {}
    system = system_uri(system_name) if system_name else None
    if system:
        out["system"] = system
    if version:
        out["version"] = version
    if code:
        out["code"] = code
    if display:
        out["display"] = display
    return out if code else None


def cwe(text: str, enc: Encoding) -> dict | None:
    """CWE/CE/CNE -> CodeableConcept (coding triplets 1-3, 4-6, 10-12; text from .9, else .2)."""
    if not text or text == '""':
        return None
    f = Comps(text, enc)
    codings = [cd for cd in (coding(f.c(1), f.c(2), f.c(3), f.c(7)), coding(f.c(4), f.c(5), f.c(6), f.c(8)),
                             coding(f.c(10), f.c(11), f.c(12), f.c(13))) if cd]
    out: dict = {}
    if codings:
        out["coding"] = codings
    label = f.c(9) or (f.c(2) if not f.c(1) else "")
    if label:
        out["text"] = label
    return out or None


def table_concept(code: str, table: str, v2_table: str) -> dict | None:
    """A code through an IG concept map, else the v2 table itself."""
    if not code:
        return None
    mapped = lookup(table, code) if table else None
    if mapped:
        cd = {"system": mapped[2], "code": mapped[0]}
        if mapped[1]:
            cd["display"] = mapped[1]
        return {"coding": [cd]}
    return {"coding": [{"system": V2 + v2_table, "code": code}]}


def hd_system(f: Comps, first: int, default: str = "") -> str:
    """System URI from an HD (namespace&universal id&type) held in component ``first``."""
    subs = f.subs(first)
    subs += [""] * (3 - len(subs))
    return authority_system(subs[0], subs[1], subs[2]) or default


def authority_system(namespace: str, universal: str, kind: str) -> str:
    """System URI for an assigning authority: OID / UUID / URI when given, else a local URN."""
    if universal:
        # CLIP (table 0301) names the authority's own id type; a dotted-decimal id there is still an OID
        if kind == "ISO" or (kind in ("", "CLIP") and universal.replace(".", "").isdigit() and "." in universal):
            return "urn:oid:" + universal
        if kind in ("UUID", "GUID"):  # HL7 table 0301 has both for an RFC 4122 id
            return "urn:uuid:" + universal
        if universal.startswith(("http://", "https://", "urn:")):
            return universal
    name = namespace or universal
    return LOCAL_BASE + "id:" + name.replace(" ", "_") if name else ""


def ei(text: str, enc: Encoding, default_system: str = "") -> dict | None:
    """EI (entity id, namespace, universal id, type) -> Identifier."""
    if not text:
        return None
    f = Comps(text, enc)
    value = f.c(1)
    if not value:
        return None
    system = authority_system(f.c(2), f.c(3), f.c(4)) or default_system
    return {"system": system, "value": value} if system else {"value": value}


def cx(text: str, enc: Encoding, default_system: str = "") -> dict | None:
    """CX -> Identifier; without an assigning authority the sender's system is used."""
    f = Comps(text, enc)
    value = f.c(1)
    if not value:
        return None
    id_type = f.c(5)
    system = hd_system(f, 4) or (hd_system(f, 9) if len(f.parts) > 8 else "") or default_system
    if id_type == "SS":
        system = "http://hl7.org/fhir/sid/us-ssn"
    elif id_type == "NPI" and not system.startswith("urn:oid:") and is_npi(value):
        system = US_NPI  # a malformed NPI keeps the sender's system: the US Core NPI slice must not claim it
    out: dict = {"value": value}
    if system:
        out["system"] = system
    if id_type:
        out["type"] = identifier_type(id_type)
    period = _period(f.c(7), f.c(8), enc, "CX")
    if period:
        out["period"] = period
    return out


def validity_period(start: str, end: str, tz: str = "Z") -> dict | None:
    """The validity range of a name, address, phone or identifier.

    These are secondary to the value they qualify, so a malformed date here is left out
    instead of failing the whole message (documented in docs/hl7v2-to-fhir.md).
    """
    out: dict = {}
    for key, text in (("start", start), ("end", end)):
        if text:
            try:
                value = dtm(text, tz, "")
            except ParseError:
                continue
            if value:
                out[key] = value
    return out or None


def _period(start: str, end: str, enc: Encoding, loc: str, tz: str = "Z") -> dict | None:
    return validity_period(start, end, tz)


def xpn(text: str, enc: Encoding) -> dict | None:
    """XPN -> HumanName (family, given, suffix, prefix, use)."""
    f = Comps(text, enc)
    out: dict = {}
    family = f.c(1)
    if family:
        out["family"] = family
    given = [g for g in (f.c(2), f.c(3)) if g]
    if given:
        out["given"] = given
    prefix = f.c(5)
    if prefix:
        out["prefix"] = [prefix]
    suffix = [s for s in (f.c(4), f.c(6), f.c(14)) if s]
    if suffix:
        out["suffix"] = suffix
    if not out:
        return None
    use = lookup("NameType", f.c(7)) if f.c(7) else None
    if use:
        out["use"] = use[0]
    period = _period(f.c(12), f.c(13), enc, "XPN") if len(f.parts) > 11 else None
    if period is None and len(f.parts) > 9:
        dr = f.subs(10)
        period = _period(dr[0] if dr else "", dr[1] if len(dr) > 1 else "", enc, "XPN")
    if period:
        out["period"] = period
    return out


def xad(text: str, enc: Encoding) -> dict | None:
    """XAD -> Address."""
    f = Comps(text, enc)
    out: dict = {}
    line = [x for x in (f.c(1), f.c(2), f.c(19)) if x]
    if line:
        out["line"] = line
    for i, key in ((3, "city"), (4, "state"), (5, "postalCode"), (6, "country"), (9, "district")):
        value = f.c(i)
        if value:
            out[key] = value
    if not out:
        return None
    kind = f.c(7)
    if kind:
        use = lookup("AddressType[Use]", kind)
        if use:
            out["use"] = use[0]
        typ = lookup("AddressType[Type]", kind)
        if typ:
            out["type"] = typ[0]
    if len(f.parts) > 11:
        dr = f.subs(12)
        period = _period(f.c(13) or (dr[0] if dr else ""), f.c(14) or (dr[1] if len(dr) > 1 else ""), enc, "XAD")
        if period:
            out["period"] = period
    return out


def xtn(text: str, enc: Encoding) -> dict | None:
    """XTN -> ContactPoint (value from .4 for e-mail, else .12, else .5-.8, else .1)."""
    f = Comps(text, enc)
    equipment = f.c(3)
    out: dict = {}
    if equipment in ("Internet", "X.400", "NET") or (not f.c(1) and "@" in f.c(4)):
        value = f.c(4)
        out["system"] = "email"
    else:
        local = f.c(7)
        value = f.c(12) or (" ".join(p for p in (f.c(5) and "+" + f.c(5), f.c(6) and f"({f.c(6)})", local) if p)
                            if local else "") or f.c(1) or f.c(4)
        if equipment:
            mapped = lookup("TelecommunicationEquipmentType", equipment)
            if mapped and mapped[2].endswith("contact-point-use"):
                out["system"] = "phone"
                out["use"] = mapped[0]
            elif mapped:
                out["system"] = mapped[0]
        if "system" not in out:
            out["system"] = "phone"
        if f.c(8):
            value += f" ext. {f.c(8)}"
    if not value:
        return None
    out["value"] = value
    use = lookup("TelecommunicationUseCode", f.c(2)) if f.c(2) else None
    if use and "use" not in out:
        out["use"] = use[0]
    if len(f.parts) > 12:
        period = _period(f.c(13), f.c(14), enc, "XTN")
        if period:
            out["period"] = period
        if f.c(18).isdigit() and int(f.c(18)) > 0:
            out["rank"] = int(f.c(18))
    return out


from hl7bridge.transforms.hl7v2.values import ed_attachment, number, sn_value  # noqa: E402  (re-export)


def ndl_person(text: str, enc: Encoding) -> tuple[str, bool]:
    """The person of an NDL field (OBR-32/33/34/35) as XCN text, and whether the field is a real NDL.

    NDL.1 is a CNN in subcomponents (id&family&given...), rebuilt as an XCN.  Many senders write an
    XCN there instead (id^family^given..., as before v2.3): NDL.2 is then a name, not a start time,
    and the whole field is the person (False: no period or location to read)."""
    comps = Comps(text, enc)
    if enc.subcomponent not in comps.parts[0] and comps.c(2) and not comps.c(2)[:1].isdigit():
        return text, False
    subs = comps.parts[0].split(enc.subcomponent) + [""] * 11
    return enc.component.join(subs[:8] + [enc.subcomponent.join(subs[8:11])]), True
