"""Result messages beyond OBX: the report's ORC-4 identifiers and OBR-34/35 performers, the OBR's own
Specimen (IG OBR[Specimen]), the SPM an OUL order sits in, and INV container inventory as Substance."""

from __future__ import annotations

from hl7bridge.transforms.fhir.profiles import absent, profiled
from hl7bridge.transforms.hl7v2.codes import THO, lookup, system_uri
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, cwe, dtm, ei, ndl_person, number, put_time
from hl7bridge.transforms.hl7v2.message import Segment

__all__ = ["report_details", "specimen_encloses_orders", "enclosing_specimen", "inventory", "obr_specimen"]

_PERFORMER_FUNCTION = "http://hl7.org/fhir/StructureDefinition/event-performerFunction"
_SPECIMEN_FIELDS = (7, 8, 9, 10, 14, 15, 39)


def specimen_encloses_orders(ctx: Ctx) -> bool:
    """True in OUL^R22 / OUL^R23, whose SPECIMEN group (SPM, OBX, SAC) encloses its ORDER groups."""
    return ctx.msg.message_type == "OUL" and ctx.event in ("R22", "R23")


def enclosing_specimen(ctx: Ctx) -> str | None:
    """Before an OBR of OUL^R22 / OUL^R23, whose SPECIMEN group encloses the ORDER: the SPM's Specimen."""
    if not specimen_encloses_orders(ctx):
        return None
    found = ctx.group.get("specimen_ref")
    return found if isinstance(found, str) else None


def report_details(ctx: Ctx, seg: Segment, enclosing: str | None = None) -> None:
    """After seg_orders built the report for an OBR (ORU / OUL): ORC-4 identifiers (IG
    ORC[DiagnosticReport]), OBR-34 / OBR-35 performers (IG OBR[DiagnosticReport]) and the OBR's
    own Specimen (IG ORU_R01 OBR[Specimen]), which the report and its Observations reference;
    ``enclosing`` is the SPM specimen an OUL order sits in (the report's and the results' specimen)."""
    report = ctx.group.get("dr")
    if not isinstance(report, dict):
        return
    if enclosing:
        for holder in (ctx.group.get("sr"), report):  # the order is for that specimen too
            if isinstance(holder, dict) and {"reference": enclosing} not in holder.get("specimen", []):
                holder.setdefault("specimen", []).append({"reference": enclosing})
        ctx.group["specimen_ref"] = enclosing
    orc_seg = ctx.group.get("orc")
    if isinstance(orc_seg, Segment):
        report.setdefault("identifier", []).extend(_group_numbers(ctx, ctx.first(orc_seg, 4)))
        if not report["identifier"]:
            del report["identifier"]
    interpreter = _ndl_practitioner_role(ctx, ctx.first(seg, 32), "OBR-32") if ctx.first(seg, 32) else None
    if interpreter:  # IG OBR[DiagnosticReport] row 40: resultsInterpreter(PractitionerRole), NDL[PractitionerRole]
        report["resultsInterpreter"] = [{"reference": interpreter}]
    performers = [r for n, code in ((34, "SPRF"), (35, "TRANS"))
                  for r in (_ndl_role(ctx, text, code, f"OBR-{n}") for text in ctx.reps(seg, n)) if r]
    if performers:
        report["performer"] = performers
    specimen = obr_specimen(ctx, seg, f"obr|{ctx.group.get('dr_key', '')}")
    if specimen:
        report.setdefault("specimen", []).append({"reference": specimen})
        ctx.group["obr_specimen_ref"] = specimen


def _group_numbers(ctx: Ctx, text: str) -> list[dict]:
    """ORC-4: as EIP (v2.7+, subcomponents) EIP.1 placer-assigned (PGN) and EIP.2 filler-assigned (FGN)
    group numbers; as EI (before v2.7) one PGN."""
    if not text:
        return []
    f = Comps(text, ctx.enc)
    if len(f.subs(1)) < 2 and len(f.subs(2)) < 2:
        ident = ei(text, ctx.enc, ctx.sender_system)
        if ident:
            ident["type"] = {"coding": [{"system": THO + "v2-0203", "code": "PGN"}]}
        return [ident] if ident else []
    out = []
    for i, code in ((1, "PGN"), (2, "FGN")):
        subs = f.subs(i)
        ident = ei(ctx.enc.component.join(subs[:4]), ctx.enc, ctx.sender_system) if subs and subs[0] else None
        if ident:
            ident["type"] = {"coding": [{"system": THO + "v2-0203", "code": code}]}
            out.append(ident)
    return out


_FUNCTION_ROLE = {"SPRF": "TN", "TRANS": "TR"}  # v3 ParticipationType -> table 0443 role (technician, transcriptionist)


def _ndl_role(ctx: Ctx, text: str, function: str, field: str) -> dict | None:
    """NDL -> performer entry: the PractitionerRole (role code from table 0443) with the
    event-performerFunction extension (v3 ParticipationType ``SPRF`` technician, ``TRANS`` transcriptionist)."""
    ref = _ndl_practitioner_role(ctx, text, field, _FUNCTION_ROLE.get(function, ""))
    if ref is None:
        return None
    function_code = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                 "code": function}]}
    return {"reference": ref, "extension": [{"url": _PERFORMER_FUNCTION, "valueCodeableConcept": function_code}]}


def _ndl_practitioner_role(ctx: Ctx, text: str, field: str, role: str = "") -> str | None:
    """IG NDL[PractitionerRole]: NDL.1 (CNN in subcomponents) the practitioner, NDL.2 / .3 the period,
    NDL.4..11 (point of care, room, bed, facility, status, type, building, floor: PL.1..8) the location
    hierarchy; ``role`` a table 0443 code (the IG leaves PractitionerRole.code open)."""
    f = Comps(text, ctx.enc)
    xcn, is_ndl = ndl_person(text, ctx.enc)
    person = ctx.practitioner(xcn)
    if person is None:
        return None
    # no US Core claim: an NDL carries no telecom or endpoint, which pd-1 requires
    res: dict = {"resourceType": "PractitionerRole", "practitioner": {"reference": person}}
    if role:
        res["code"] = [{"coding": [{"system": THO + "v2-0443", "code": role}]}]
    if not is_ndl:
        return ctx.bundle.add(res, f"PractitionerRole|{ctx.bundle.key_of(person)}|||{role}|")
    start, end = dtm(f.c(2), ctx.tz, field), dtm(f.c(3), ctx.tz, field)
    period = {k: v for k, v in (("start", start), ("end", end)) if v}
    if period:
        res["period"] = period
    place = ctx.location(ctx.enc.component.join(f.parts[3:11])) if any(p for p in f.parts[3:11]) else None
    if place:
        res["location"] = [{"reference": place}]
    place_key = ctx.bundle.key_of(place) if place else ""
    return ctx.bundle.add(res, f"PractitionerRole|{ctx.bundle.key_of(person)}|{start}|{end}|{role}|{place_key}")


def obr_specimen(ctx: Ctx, seg: Segment, key: str) -> str | None:
    """IG OBR[Specimen] (result and order messages): OBR-2 accessionIdentifier, OBR-7/8 collected,
    OBR-9 volume, OBR-10 collector, OBR-14 received, OBR-15 source (SPS), OBR-39 collector's comment;
    ``key`` names the report or order it belongs to."""
    if not any(ctx.first(seg, n) for n in _SPECIMEN_FIELDS):
        return None
    res = profiled({"resourceType": "Specimen"}, "us-core-specimen")
    accession = ei(ctx.first(seg, 2), ctx.enc, ctx.sender_system)
    if accession:
        res["accessionIdentifier"] = accession
    source = Comps(ctx.first(seg, 15), ctx.enc)
    res["type"] = _sps_concept(ctx, source, 1, "SpecimenType") or absent()
    ctx.subject(res, required=False)
    received = dtm(ctx.leaf(seg, 14), ctx.tz, "OBR-14")
    if received:
        res["receivedTime"] = received
    collection = _collection(ctx, seg, source)
    if collection:
        res["collection"] = collection
    additive = _sps_concept(ctx, source, 2)
    if additive:
        res["container"] = [{"additiveCodeableConcept": additive}]
    condition = _sps_concept(ctx, source, 6)
    if condition:
        res["condition"] = [condition]
    notes = [t for t in (source.c(3),) + tuple(_cwe_text(ctx, r) for r in ctx.reps(seg, 39)) if t]
    if notes:
        res["note"] = [{"text": t} for t in notes]
    return ctx.bundle.add(res, f"Specimen|{key}")


def _collection(ctx: Ctx, seg: Segment, source: Comps) -> dict:
    collection: dict = {}
    start, end = dtm(ctx.leaf(seg, 7), ctx.tz, "OBR-7"), dtm(ctx.leaf(seg, 8), ctx.tz, "OBR-8")
    put_time(collection, "collected", start, end)
    volume = Comps(ctx.first(seg, 9), ctx.enc)
    if volume.c(1):
        quantity: dict = {"value": number(volume.c(1), "OBR-9")}
        units = volume.subs(2)
        unit = next((u for u in units[1:2] + units[:1] if u), "")
        if unit:
            quantity["unit"] = unit
        collection["quantity"] = quantity
    collector = ctx.practitioner(ctx.first(seg, 10)) if ctx.first(seg, 10) else None
    if collector:
        collection["collector"] = {"reference": collector}
    site = _sps_concept(ctx, source, 4)
    if site:
        collection["bodySite"] = site
    return collection


def _sps_concept(ctx: Ctx, source: Comps, n: int, table: str = "") -> dict | None:
    """SPS component n (a CWE in subcomponents) -> CodeableConcept; ``table`` maps an uncoded code."""
    subs = source.subs(n)
    concept = cwe(ctx.enc.component.join(subs), ctx.enc) if subs and any(subs) else None
    if concept and table:
        for i, found in enumerate(concept.get("coding", [])):
            mapped = None if "system" in found else lookup(table, found.get("code", ""))
            if mapped:
                concept["coding"][i] = {"system": mapped[2], "code": mapped[0], "display": mapped[1]}
    return concept


def _cwe_text(ctx: Ctx, text: str) -> str:
    f = Comps(text, ctx.enc)
    return f.c(9) or f.c(2) or f.c(1)


def inventory(ctx: Ctx, seg: Segment) -> None:
    """INV -> Substance (the reagent / additive in the SAC container): INV-1 code, INV-2 status (table 0383:
    an ``..E`` error status inactive, else active), INV-3 category, INV-4 container id, INV-8 current
    (else INV-9 available, INV-7 initial) quantity in INV-11 units, INV-12 expiry; INV-15 test / fluid
    ids, INV-16 lot, INV-17 / 18 manufacturer and supplier ids as identifiers.  The IG has no INV map:
    the fields follow HL7 v2.8."""
    code = cwe(ctx.first(seg, 1), ctx.enc)
    if code is None:
        return
    res: dict = {"resourceType": "Substance"}
    idents = [{"value": v} for v in (*(_cwe_code(ctx, r) for r in ctx.reps(seg, 15)), ctx.leaf(seg, 16),
                                     *(_cwe_code(ctx, r) for n in (17, 18) for r in ctx.reps(seg, n))) if v]
    if idents:
        res["identifier"] = idents
    status = ctx.leaf(seg, 2)
    if status:
        res["status"] = "inactive" if len(status) == 2 and status.endswith("E") else "active"
    category = cwe(ctx.first(seg, 3), ctx.enc)
    if category:
        res["category"] = [category]
    res["code"] = code
    instance = _instance(ctx, seg)
    if instance:
        res["instance"] = [instance]
    parts = (_cwe_code(ctx, ctx.first(seg, 1)), _cwe_code(ctx, ctx.first(seg, 4)), ctx.leaf(seg, 16))
    key = "|".join(("Substance",) + parts)
    ref = ctx.bundle.add(res, key)
    specimen = ctx.group.get("specimen")
    if isinstance(specimen, dict):
        containers = specimen.setdefault("container", [])
        if not containers:
            containers.append({})
        containers[0]["additiveReference"] = {"reference": ref}


def _instance(ctx: Ctx, seg: Segment) -> dict:
    instance: dict = {}
    container = Comps(ctx.first(seg, 4), ctx.enc)
    if container.c(1):
        instance["identifier"] = {"system": system_uri(container.c(3)) or ctx.sender_system, "value": container.c(1)}
    amount = next((t for t in (ctx.leaf(seg, 8), ctx.leaf(seg, 9), ctx.leaf(seg, 7)) if t), "")
    if amount:
        quantity: dict = {"value": number(amount, "INV-8")}
        units = Comps(ctx.first(seg, 11), ctx.enc)
        if units.c(1) or units.c(2):
            quantity["unit"] = units.c(2) or units.c(1)
        if units.c(1) and units.c(3).upper() in ("UCUM", "ANS+", "ISO+"):
            quantity.update(system="http://unitsofmeasure.org", code=units.c(1))
        instance["quantity"] = quantity
    expiry = dtm(ctx.leaf(seg, 12), ctx.tz, "INV-12")
    if expiry:
        instance["expiry"] = expiry
    return instance


def _cwe_code(ctx: Ctx, text: str) -> str:
    return Comps(text, ctx.enc).c(1) if text else ""
