"""Conversion state for one message, and the shared builders for referenced resources.

Practitioners (XCN), organizations (XON / HD) and locations (PL) are referenced from many
segments; each is added once under a key built from its identifier (or its content), so
PV1-7 and OBR-16 naming the same doctor give one Practitioner.
"""

from __future__ import annotations

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.fhir.bundle import BundleBuilder
from hl7bridge.transforms.fhir.profiles import US_CORE
from hl7bridge.transforms.fhir.npi import US_NPI, is_npi
from hl7bridge.transforms.hl7v2.codes import identifier_type, lookup, system_uri
from hl7bridge.transforms.hl7v2.comps import leaf_text
from hl7bridge.transforms.hl7v2.datatypes import Comps, cx, hd_system, validity_period
from hl7bridge.transforms.hl7v2.encoding import Encoding
from hl7bridge.transforms.hl7v2.message import Message, Segment

__all__ = ["Ctx", "practitioner_key"]



def practitioner_key(ident: dict | None, name: dict) -> str:
    """The bundle key of a Practitioner: its identifier, else its name (family and given), so the same
    person named by an XCN, a PRD or an IAM-14 reporter is one resource."""
    if ident:
        return f"Practitioner|{ident['system']}|{ident['value']}"
    return f"Practitioner|name|{name.get('family', '')}|{'|'.join(name.get('given', []))}"

class Ctx:
    """Everything segment mappers share while converting one message."""

    def __init__(self, message: Message, bundle: BundleBuilder, tz: str, sender_system: str) -> None:
        self.msg = message
        self.enc: Encoding = message.encoding
        self.bundle = bundle
        self.tz = tz
        self.sender_system = sender_system
        self.event = message.trigger_event or ""
        self.patient: str | None = None
        self.patient_key = ""
        self.patient_res: dict | None = None
        self.encounter: str | None = None
        self.encounter_res: dict | None = None
        self.encounter_key = ""
        self.account: str | None = None
        self.last: dict | None = None  # the resource an NTE attaches to
        self.group: dict[str, object] = {}  # order / result group state (ORC, OBR, RXA ...)
        self.pending_participants: list[tuple[dict, int, Segment | None]] = []  # PRT after ORC (seg_roles)

    # -- field access -------------------------------------------------------------------------

    def reps(self, seg: Segment, n: int) -> list[str]:
        """Non-empty repetitions of field n as ER7 text."""
        text = seg.field(n)
        if not text or text == '""':
            return []
        if self.enc.repetition not in text:
            return [text]
        return [r for r in text.split(self.enc.repetition) if r and r != '""']

    def first(self, seg: Segment, n: int) -> str:
        """First repetition of field n ('' when empty)."""
        reps = self.reps(seg, n)
        return reps[0] if reps else ""

    def leaf(self, seg: Segment, n: int, comp: int = 1) -> str:
        """Decoded component ``comp`` of the first repetition of field n."""
        text = self.first(seg, n)
        if not text:
            return ""
        if self.enc.component not in text:
            return leaf_text(text, self.enc) if comp == 1 else ""
        return Comps(text, self.enc).c(comp)

    def subject(self, resource: dict, key: str = "subject", required: bool = True) -> None:
        """Point ``key`` at the patient; a resource that needs one fails without a PID."""
        if self.patient:
            resource[key] = {"reference": self.patient}
        elif required:
            raise ParseError(f"required segment PID is missing ({resource['resourceType']}.{key} needs a patient)",
                             location="PID", hl7_code=100)
        else:
            resource.pop("meta", None)  # US Core profiles all need a subject: do not claim one

    # -- shared referenced resources ----------------------------------------------------------

    def identifier(self, text: str) -> dict | None:
        """CX -> Identifier whose assigning authority (CX-4) is an assigner Organization (IG CX)."""
        ident = cx(text, self.enc, self.sender_system)
        if ident:
            subs = Comps(text, self.enc).subs(4)
            kind = ident.get("type", {}).get("coding", [{}])[0].get("code")
            org = self.assigner(subs) if subs and kind != "SS" else None
            if org:
                ident["assigner"] = {"reference": org}
        return ident

    def practitioner(self, xcn: str) -> str | None:
        """XCN -> Practitioner reference (US Core when it has an identifier and a family name)."""
        f = Comps(xcn, self.enc)
        value, family = f.c(1), f.c(2)
        if not value and not family:
            return None
        res: dict = {"resourceType": "Practitioner"}
        ident = None
        if value:
            ident = {"system": hd_system(f, 9, self.sender_system), "value": value}
            if f.c(13):
                ident["type"] = identifier_type(f.c(13))
            if f.c(13) == "NPI" and is_npi(value):  # a malformed NPI keeps the sender's system
                ident["system"] = US_NPI
            res["identifier"] = [ident]
        name: dict = {}
        if family:
            name["family"] = family
        given = [g for g in (f.c(3), f.c(4)) if g]
        if given:
            name["given"] = given
        suffix = [s for s in (f.c(5), f.c(7)) if s]
        if suffix:
            name["suffix"] = suffix
        if f.c(6):
            name["prefix"] = [f.c(6)]
        if name:
            use = lookup("NameType", f.c(10)) if f.c(10) else None
            if use:
                name["use"] = use[0]
            period = self._name_period(f)
            if period:
                name["period"] = period
            res["name"] = [name]
        if ident and f.subs(9):
            org = self.assigner(f.subs(9))
            if org:
                ident["assigner"] = {"reference": org}
        if f.c(7):
            res["qualification"] = [{"code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0360",
                                                          "code": f.c(7)}]}}]
        if ident and family:
            res["meta"] = {"profile": [US_CORE + "us-core-practitioner"]}
        key = practitioner_key(ident, name)
        return self.bundle.add(res, key, ident, create_only=True)

    def practitioner_role(self, xcn: str, system: str, code: str, org: str | None = None) -> str | None:
        """XCN in a given role (e.g. OBX-16 responsible observer) -> PractitionerRole reference; with no XCN
        but an organisation (IG ORC-21 without ORC-12), the role of that organisation alone."""
        person = self.practitioner(xcn) if xcn else None
        if person is None and (xcn or not org):
            return None
        # no US Core claim: an XCN in a role carries no telecom or endpoint, which pd-1 requires
        res: dict = {"resourceType": "PractitionerRole"}
        if person:
            res["practitioner"] = {"reference": person}
        if code:
            res["code"] = [{"coding": [{"system": system, "code": code}]}]
        if org:
            res["organization"] = {"reference": org}
        who = self.bundle.key_of(person) if person else ""
        key = f"PractitionerRole|{who}|{code}|{self.bundle.key_of(org) if org else ''}"
        return self.bundle.add(res, key)

    def device(self, ei_text: str) -> str | None:
        """EI (e.g. OBX-18 equipment instance) -> Device reference."""
        from hl7bridge.transforms.hl7v2.datatypes import ei
        ident = ei(ei_text, self.enc, self.sender_system)
        if ident is None:
            return None
        kind = Comps(ei_text, self.enc).c(4)
        if kind:  # EI.4 universal id type (HL7 table 0301), as EI[Identifier-System] row 4 types it
            ident["type"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0301", "code": kind}]}
        res = {"resourceType": "Device", "identifier": [ident]}
        return self.bundle.add(res, f"Device|{ident.get('system', '')}|{ident['value']}", ident, create_only=True)

    def _name_period(self, f: Comps) -> dict | None:
        """XCN-19/20 (else the XCN-17 range) -> HumanName.period."""
        if len(f.parts) < 17:
            return None
        dr = f.subs(17)
        start = f.c(19) or (dr[0] if dr else "")
        end = f.c(20) or (dr[1] if len(dr) > 1 else "")
        return validity_period(start, end, self.tz)

    def organization(self, xon: str) -> str | None:
        """XON -> Organization reference."""
        f = Comps(xon, self.enc)
        name = f.c(1)
        value = f.c(10) or f.c(3)
        if not name and not value:
            return None
        res: dict = {"resourceType": "Organization", "active": True}
        ident = None
        kind = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": f.c(7)}]} if f.c(7) else None
        if value:
            ident = {"system": hd_system(f, 6, self.sender_system), "value": value}
            res["identifier"] = [dict(ident, type=kind) if kind else ident]
        elif kind:  # IG XON[Organization]: XON-7 types the identifier even when XON-10 / XON-3 are empty
            res["identifier"] = [{"type": kind}]
        if name:
            res["name"] = name
            res["meta"] = {"profile": [US_CORE + "us-core-organization"]}
        key = f"Organization|{ident['system']}|{value}" if ident else f"Organization|name|{name}"
        return self.bundle.add(res, key, ident, create_only=True)

    def organization_cwe(self, cwe_text: str, *, address: dict | None = None,
                         telecom: list[dict] | None = None) -> str | None:
        """IG CWE[Organization] (OBX-15 producer, RXO-/RXE- dispensing pharmacy): .1 identifier in the
        .3 system, .2 / .9 name; ``address`` / ``telecom`` from the segment's own fields."""
        if not cwe_text:
            return None
        f = Comps(cwe_text, self.enc)
        value, name = f.c(1), f.c(2) or f.c(9)
        if not value and not name:
            return None
        res: dict = {"resourceType": "Organization", "active": True}
        ident = None
        if value:
            ident = {"system": system_uri(f.c(3)) or self.sender_system, "value": value}
            res["identifier"] = [ident]
        if name:
            res["name"] = name
            res["meta"] = {"profile": [US_CORE + "us-core-organization"]}
        if address:
            res["address"] = [address]
        if telecom:
            res["telecom"] = telecom
        key = f"Organization|{ident['system']}|{value}" if ident else f"Organization|name|{name}"
        return self.bundle.add(res, key, ident, create_only=True)

    def organization_hd(self, hd: str) -> str | None:
        """HD given as a field (components) -> Organization reference."""
        f = Comps(hd, self.enc)
        return self.authority(f.c(1), f.c(2), f.c(3))

    def assigner(self, subcomponents: list[str]) -> str | None:
        """HD given as subcomponents (CX-4, XCN-9) -> the assigning Organization."""
        parts = subcomponents + ["", "", ""]
        return self.authority(parts[0], parts[1], parts[2])

    def authority(self, namespace: str, universal: str, kind: str) -> str | None:
        """IG HD[Organization]: HD.1 and HD.2 become identifiers (HD.3 types the second)."""
        if not namespace and not universal:
            return None
        res: dict = {"resourceType": "Organization", "active": True, "name": namespace or universal}
        idents = []
        if namespace:
            idents.append({"value": namespace})
        if universal:
            value = f"urn:oid:{universal}" if kind == "ISO" else f"urn:uuid:{universal}" if kind == "UUID" else universal
            ident: dict = {"value": value}
            if kind in ("ISO", "UUID"):
                ident["system"] = "urn:ietf:rfc:3986"
            if kind:
                ident["type"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0301", "code": kind}]}
            idents.append(ident)
        res["identifier"] = idents
        res["meta"] = {"profile": [US_CORE + "us-core-organization"]}
        key_ident = idents[-1]
        return self.bundle.add(res, f"Organization|hd|{namespace}|{universal}", key_ident, create_only=True)

    def location(self, pl: str) -> str | None:
        """PL -> Location hierarchy (IG PL[Location]): bed in room in floor in point of care in building
        in facility, each a Location ``partOf`` the next level named; returns the most specific one."""
        f = Comps(pl, self.enc)
        # general -> specific; the IG leaves point of care's physical type open: a nursing unit is a ward.
        levels = ((4, "si"), (7, "bu"), (1, "wa"), (8, "lvl"), (2, "ro"), (3, "bd"))
        parent: str | None = None
        path = "Location"
        for n, kind in levels:
            subs = f.subs(n)
            name = subs[0].strip() if subs else ""
            universal = subs[1].strip() if len(subs) > 1 else ""
            if not name and not universal:
                continue
            res: dict = {"resourceType": "Location", "name": name or universal, "mode": "instance",
                         "meta": {"profile": [US_CORE + "us-core-location"]}}
            kind_of_id = subs[2].strip() if len(subs) > 2 else ""
            if universal:
                res["identifier"] = [_place_identifier(universal, kind_of_id)]
            if kind:
                res["physicalType"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
                                                   "code": kind}]}
            if parent:
                res["partOf"] = {"reference": parent}
            path += f"|{n}:{name}:{universal}" + (f":{kind_of_id}" if kind_of_id else "")
            parent = self.bundle.add(res, path)
        if parent and f.c(9):
            self._describe(parent, f.c(9))
        return parent

    def _describe(self, full_url: str, text: str) -> None:
        for entry in reversed(self.bundle.entries):
            if entry["fullUrl"] == full_url:
                entry["resource"]["description"] = text
                return


def _place_identifier(universal: str, kind: str) -> dict:
    """HD.2 of a PL component (IG HD[Location]): an OID / UUID as a URI; another type keeps its text."""
    if kind == "ISO" or (not kind and universal[:1].isdigit()):
        return {"system": "urn:ietf:rfc:3986", "value": f"urn:oid:{universal}"}
    if kind in ("UUID", "GUID"):
        return {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{universal}"}
    if kind:  # e.g. a local type: the value as sent (IG PL[Location] -> HD[Identifier])
        return {"value": universal}
    return {"system": "urn:ietf:rfc:3986", "value": universal}
