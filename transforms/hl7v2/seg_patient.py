"""PID, PD1, NK1 and MRG to Patient / RelatedPerson (IG PID[Patient], NK1[RelatedPerson], MRG)."""

from __future__ import annotations

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.fhir.profiles import FHIR_EXT, US_CORE, absent, profiled
from hl7bridge.transforms.hl7v2.codes import lookup
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import (Comps, cwe, cx, date_of, dtm, table_concept, validity_period, xad,
                                                   xpn, xtn)
from hl7bridge.transforms.hl7v2.message import Segment

__all__ = ["patient", "pd1", "merge", "telecom", "bcp47_language", "disability", "insurance_ids", "add_identifier",
           "death"]

CDCREC = "urn:oid:2.16.840.1.113883.6.238"
_MERGE_EVENTS = frozenset(("A18", "A30", "A34", "A36", "A39", "A40", "A41", "A42"))
_OMB_RACE = {"1002-5", "2028-9", "2054-5", "2076-8", "2106-3"}
_OLD_RACE = {"W": "2106-3", "B": "2054-5", "A": "2028-9", "I": "1002-5", "P": "2076-8"}
_ETHNICITY = {"H": "2135-2", "N": "2186-5", "2135-2": "2135-2", "2186-5": "2186-5"}
_DISPLAY = {"1002-5": "American Indian or Alaska Native", "2028-9": "Asian", "2054-5": "Black or African American",
            "2076-8": "Native Hawaiian or Other Pacific Islander", "2106-3": "White",
            "2135-2": "Hispanic or Latino", "2186-5": "Not Hispanic or Latino"}


def patient(ctx: Ctx, seg: Segment) -> str:
    """PID -> Patient (US Core); sets ``ctx.patient``."""
    idents = _identifiers(ctx, seg)
    if not idents:
        raise ParseError("required field PID-3 (patient identifier list) is empty", location="PID-3", hl7_code=101)
    res = profiled({"resourceType": "Patient"}, "us-core-patient")
    res["identifier"] = idents
    res["name"] = [n for n in (xpn(r, ctx.enc) for r in ctx.reps(seg, 5) + ctx.reps(seg, 9)) if n] or [absent()]
    _demographics(ctx, seg, res)
    _extensions(ctx, seg, res)
    key_ident = next((i for i in idents if _type(i) == "MR"), idents[0])
    ctx.patient_key = f"Patient|{key_ident.get('system', '')}|{key_ident['value']}"
    ctx.patient = ctx.bundle.add(res, ctx.patient_key, key_ident)
    ctx.patient_res = res
    ctx.last = res
    account(ctx, seg)
    return ctx.patient


def _type(ident: dict) -> str:
    return ident.get("type", {}).get("coding", [{}])[0].get("code", "")


def _identifiers(ctx: Ctx, seg: Segment) -> list[dict]:
    out = [_assigned(ctx, r) for r in ctx.reps(seg, 3) + ctx.reps(seg, 2) + ctx.reps(seg, 4)]
    out = [i for i in out if i]
    ssn = ctx.leaf(seg, 19)
    if ssn:
        out.append({"system": "http://hl7.org/fhir/sid/us-ssn", "value": ssn,
                    "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "SS"}]}})
    dl = Comps(ctx.first(seg, 20), ctx.enc)
    if dl.c(1):
        system = "urn:hl7bridge:id:drivers-license" + (f":{dl.c(2)}" if dl.c(2) else "")
        licence = {"system": system, "value": dl.c(1),
                   "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "DL"}]}}
        expires = validity_period("", dl.c(3), ctx.tz)
        if expires:
            licence["period"] = expires
        out.append(licence)
    seen: set[tuple[str, str]] = set()
    unique = []
    for ident in out:
        pair = (ident.get("system", ""), ident["value"])
        if pair not in seen:
            seen.add(pair)
            unique.append(ident)
    return unique


def _assigned(ctx: Ctx, text: str) -> dict | None:
    return ctx.identifier(text)


def account(ctx: Ctx, seg: Segment) -> None:
    """PID-18 patient account number -> Account (IG PID[Account])."""
    ident = ctx.identifier(ctx.first(seg, 18))
    if ident and ctx.patient:
        res = {"resourceType": "Account", "identifier": [ident], "status": "active",
               "subject": [{"reference": ctx.patient}]}
        ctx.account = ctx.bundle.add(res, f"Account|{ident.get('system', '')}|{ident['value']}", ident)


def _demographics(ctx: Ctx, seg: Segment, res: dict) -> None:
    gender = lookup("AdministrativeSex", ctx.leaf(seg, 8))
    res["gender"] = gender[0] if gender else "unknown"  # US Core: gender 1..1
    born = dtm(ctx.leaf(seg, 7), ctx.tz, "PID-7")
    if born:
        res["birthDate"] = date_of(born)
        if len(born) > 10:
            res["_birthDate"] = {"extension": [{"url": FHIR_EXT + "patient-birthTime", "valueDateTime": born}]}
    addresses = [a for a in (xad(r, ctx.enc) for r in ctx.reps(seg, 11)) if a]
    county = ctx.leaf(seg, 12)
    if county and addresses and "district" not in addresses[0]:
        addresses[0]["district"] = county
    if addresses:
        res["address"] = addresses
    points = telecom(ctx, seg, 13, "home") + telecom(ctx, seg, 14, "work") + telecom(ctx, seg, 40, "")
    if points:
        res["telecom"] = points
    language = cwe(ctx.first(seg, 15), ctx.enc)
    if language:
        bcp47_language(language)
        res["communication"] = [{"language": language}]
    marital = ctx.leaf(seg, 16)
    if marital:
        res["maritalStatus"] = table_concept(marital, "MaritalStatus", "0002")
    deceased = dtm(ctx.leaf(seg, 29), ctx.tz, "PID-29")
    if deceased:
        res["deceasedDateTime"] = deceased
    elif ctx.leaf(seg, 30) in ("Y", "N"):
        res["deceasedBoolean"] = ctx.leaf(seg, 30) == "Y"
    order = ctx.leaf(seg, 25)
    if order.isdigit():
        res["multipleBirthInteger"] = int(order)
    elif ctx.leaf(seg, 24) in ("Y", "N"):
        res["multipleBirthBoolean"] = ctx.leaf(seg, 24) == "Y"


def telecom(ctx: Ctx, seg: Segment, n: int, default_use: str) -> list[dict]:
    """Field n's XTN repetitions as ContactPoints, ``default_use`` when XTN-2 gives none."""
    out = []
    for rep in ctx.reps(seg, n):
        point = xtn(rep, ctx.enc)
        if point:
            if default_use and "use" not in point:
                point["use"] = default_use
            out.append(point)
    return out


# ISO 639-2 codes whose BCP 47 tag is the ISO 639-1 code (BCP 47 prefers the two-letter form).
_ISO639_1 = {"eng": "en", "spa": "es", "fra": "fr", "fre": "fr", "deu": "de", "ger": "de", "ara": "ar", "zho": "zh",
             "chi": "zh", "vie": "vi", "kor": "ko", "rus": "ru", "por": "pt", "ita": "it", "jpn": "ja", "hin": "hi",
             "ben": "bn", "pol": "pl", "tgl": "tl", "hat": "ht", "fas": "fa", "per": "fa", "urd": "ur", "nld": "nl",
             "dut": "nl", "ces": "cs", "cze": "cs", "dan": "da", "ell": "el", "gre": "el", "fin": "fi", "heb": "he",
             "hun": "hu", "nor": "no", "swe": "sv", "tur": "tr", "ukr": "uk", "som": "so", "amh": "am", "pan": "pa",
             "guj": "gu", "tam": "ta", "tel": "te", "tha": "th", "ron": "ro", "rum": "ro", "hye": "hy", "arm": "hy"}


def bcp47_language(concept: dict) -> None:
    # PID-15 / NK1-20 codes are usually ISO 639 / BCP 47 tags; US Core binds language to urn:ietf:bcp:47.
    for coding in concept.get("coding", []):
        code = coding.get("code", "")
        if coding.get("system", "").endswith(("v2-0296", "ISO639")) or "system" not in coding:
            if 2 <= len(code.split("-")[0]) <= 3 and code.replace("-", "").isalpha():
                coding["system"] = "urn:ietf:bcp:47"
                coding["code"] = _ISO639_1.get(code.lower(), code)


def _extensions(ctx: Ctx, seg: Segment, res: dict) -> None:
    ext = []
    race = _category_extension(ctx, seg, 10, "us-core-race")
    if race:
        ext.append(race)
    ethnicity = _category_extension(ctx, seg, 22, "us-core-ethnicity")
    if ethnicity:
        ext.append(ethnicity)
    maiden = xpn(ctx.first(seg, 6), ctx.enc)
    if maiden and maiden.get("family"):
        ext.append({"url": FHIR_EXT + "patient-mothersMaidenName", "valueString": maiden["family"]})
    religion_code = ctx.leaf(seg, 17)
    mapped = lookup("Religion", religion_code) if religion_code else None
    religion = ({"coding": [{"system": mapped[2], "code": mapped[0], "display": mapped[1]}]} if mapped
                else cwe(ctx.first(seg, 17), ctx.enc))
    if religion:
        ext.append({"url": FHIR_EXT + "patient-religion", "valueCodeableConcept": religion})
    birthplace = ctx.leaf(seg, 23)
    if birthplace:
        ext.append({"url": FHIR_EXT + "patient-birthPlace", "valueAddress": {"text": birthplace}})
    ext += _coded_extensions(ctx, seg)
    if ext:
        res["extension"] = ext


def _coded_extensions(ctx: Ctx, seg: Segment) -> list[dict]:
    """IG PID-26 / PID-39 citizenship, PID-28 nationality, PID-35 / PID-36 animal species and breed."""
    out = []
    for n, name in ((26, "patient-citizenship"), (28, "patient-nationality"), (39, "patient-citizenship")):
        for rep in ctx.reps(seg, n):
            concept = cwe(rep, ctx.enc)
            if concept:
                out.append({"url": FHIR_EXT + name, "extension": [{"url": "code", "valueCodeableConcept": concept}]})
    animal = [{"url": part, "valueCodeableConcept": concept}
              for n, part in ((35, "species"), (36, "breed")) if (concept := cwe(ctx.first(seg, n), ctx.enc))]
    if animal and animal[0]["url"] == "species":  # the extension requires the species
        out.append({"url": FHIR_EXT + "patient-animal", "extension": animal})
    return out


def _category_extension(ctx: Ctx, seg: Segment, n: int, name: str) -> dict | None:
    """PID-10 / PID-22 -> US Core race / ethnicity (OMB categories, CDC detailed codes, text)."""
    parts: list[dict] = []
    texts: list[str] = []
    for rep in ctx.reps(seg, n):
        f = Comps(rep, ctx.enc)
        code, display = f.c(1), f.c(2)
        omb = (_OLD_RACE.get(code) or (code if code in _OMB_RACE else None)) if n == 10 else _ETHNICITY.get(code)
        if omb:
            parts.append({"url": "ombCategory", "valueCoding": {"system": CDCREC, "code": omb, "display": _DISPLAY[omb]}})
        elif code and (f.c(3) == "CDCREC" or "-" in code and code.replace("-", "").isdigit()):
            parts.append({"url": "detailed", "valueCoding": {"system": CDCREC, "code": code}})
        elif code in ("U", "UNK", "ASKU"):
            parts.append({"url": "ombCategory", "valueCoding": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "code": "ASKU" if code == "ASKU" else "UNK"}})
        label = display or (_DISPLAY.get(omb, "") if omb else "") or code
        if label:
            texts.append(label)
    if not texts:
        return None
    parts.append({"url": "text", "valueString": ", ".join(dict.fromkeys(texts))})
    return {"url": US_CORE + name, "extension": parts}


def pd1(ctx: Ctx, seg: Segment) -> None:
    """PD1-3 / PD1-4 -> Patient.generalPractitioner; PD1-6 disability, PD1-14 congregation extensions."""
    res = ctx.patient_res
    if res is None:
        return
    refs = [r for r in (ctx.organization(x) for x in ctx.reps(seg, 3)) if r]
    refs += [r for r in (ctx.practitioner(x) for x in ctx.reps(seg, 4)) if r]
    if refs:
        res["generalPractitioner"] = [{"reference": r} for r in refs]
    ext = []
    handicap = cwe(ctx.first(seg, 6), ctx.enc)
    if handicap:
        ext.append({"url": FHIR_EXT + "patient-disability", "valueCodeableConcept": handicap})
    worship = Comps(ctx.first(seg, 14), ctx.enc).c(1)  # IG XON[string]: the organisation name
    if worship:
        ext.append({"url": FHIR_EXT + "patient-congregation", "valueString": worship})
    if ext:
        res.setdefault("extension", []).extend(ext)


def merge(ctx: Ctx, seg: Segment) -> None:
    """MRG (A40 and kin) -> the merged-away Patient, inactive and linked to the survivor."""
    if not ctx.patient:
        return
    olds = [i for r in ctx.reps(seg, 1) if (i := cx(r, ctx.enc, ctx.sender_system))]
    if not olds and ctx.first(seg, 3) and ctx.event in _MERGE_EVENTS:
        _merge_account(ctx, seg)  # A41 and kin: only the prior account number (MRG-3)
        return
    if not olds and ctx.event not in _MERGE_EVENTS:
        return  # e.g. A06 / A07: MRG names a prior account or visit, not a patient to merge
    if not olds:
        raise ParseError("required field MRG-1 (prior patient identifier list) is empty", location="MRG-1", hl7_code=101)
    survivor = ctx.patient_res or {}
    old = {k: v for k, v in survivor.items() if k not in ("identifier", "id", "link")}
    old.update(identifier=olds, active=False, link=[{"other": {"reference": ctx.patient}, "type": "replaced-by"}])
    prior_name = xpn(ctx.first(seg, 7), ctx.enc)
    if prior_name:
        old["name"] = [prior_name]
    old_key = f"Patient|{olds[0].get('system', '')}|{olds[0]['value']}"
    ref = ctx.bundle.add(old, old_key, olds[0])
    survivor.setdefault("link", []).append({"other": {"reference": ref}, "type": "replaces"})
    # A Linkage records the merge itself, naming both patients by business identifier.
    current = next((i for i in survivor.get("identifier", []) if ctx.patient_key.endswith(f"|{i['value']}")), None)
    items = [{"type": "source", "resource": {"reference": ctx.patient, "type": "Patient", "identifier": current}},
             {"type": "historical", "resource": {"reference": ref, "type": "Patient", "identifier": olds[0]}}]
    for item in items:
        if item["resource"]["identifier"] is None:
            del item["resource"]["identifier"]
    ctx.bundle.add({"resourceType": "Linkage", "item": items}, f"Linkage|{ctx.patient_key}|{old_key}")


def _merge_account(ctx: Ctx, seg: Segment) -> None:
    """IG MRG[Account]: MRG-3 is the prior Account (status unknown); a Linkage names it beside PID-18's."""
    prior = ctx.identifier(ctx.first(seg, 3))
    if prior is None:
        return
    old = {"resourceType": "Account", "status": "unknown", "identifier": [prior],
           "subject": [{"reference": ctx.patient}]}
    ref = ctx.bundle.add(old, f"Account|{prior.get('system', '')}|{prior['value']}", prior)
    current = ctx.bundle.resource_of(ctx.account)
    if current is None:
        return
    items = [{"type": "source", "resource": {"reference": ctx.account, "type": "Account",
                                             "identifier": current["identifier"][0]}},
             {"type": "historical", "resource": {"reference": ref, "type": "Account", "identifier": prior}}]
    ctx.bundle.add({"resourceType": "Linkage", "item": items}, f"Linkage|{ctx.bundle.key_of(ctx.account)}|{prior['value']}")


def add_identifier(res: dict, ident: dict | None) -> None:
    """Append ``ident`` to ``res.identifier`` unless the same system and value are already there."""
    if not ident:
        return
    idents = res.setdefault("identifier", [])
    pair = (ident.get("system", ""), ident.get("value"))
    if all((i.get("system", ""), i.get("value")) != pair for i in idents):
        idents.append(ident)


def disability(ctx: Ctx, seg: Segment) -> None:
    """DB1 with DB1-2 ``PT`` (the patient is the disabled person): DB1-3 identifiers onto the Patient."""
    if ctx.patient_res is None or ctx.leaf(seg, 2) != "PT":
        return  # a guarantor's or insured's disability (table 0334) is not the patient's
    for rep in ctx.reps(seg, 3):
        add_identifier(ctx.patient_res, ctx.identifier(rep))


V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
# IN2 numbers a payer programme assigns to the patient: field, identifier type, system.
_PROGRAMME_IDS = ((6, "MC", "http://hl7.org/fhir/sid/us-medicare"), (8, "MA", "urn:hl7bridge:id:us-medicaid"),
                  (10, "MI", "urn:hl7bridge:id:us-military"))


def insurance_ids(ctx: Ctx, seg: Segment) -> None:
    """IN2-6 Medicare, IN2-8 Medicaid, IN2-10 military id and IN2-61 patient member number onto the Patient.

    The IG has no IN2 map; these are the patient's numbers with the payer programmes.
    """
    res = ctx.patient_res
    if res is None:
        return
    for n, code, system in _PROGRAMME_IDS:
        value = ctx.leaf(seg, n)
        if value:
            add_identifier(res, {"system": system, "value": value, "type": {"coding": [{"system": V2_0203, "code": code}]}})
    for rep in ctx.reps(seg, 61):
        member = ctx.identifier(rep)
        if member and "type" not in member:
            member["type"] = {"coding": [{"system": V2_0203, "code": "MB"}]}
        add_identifier(res, member)


_LOCAL = "urn:hl7bridge:codesystem:"
_YES_NO = {"Y": "Yes", "N": "No"}


def death(ctx: Ctx, seg: Segment) -> None:
    """PDA (no IG map): PDA-1 causes of death as Conditions, PDA-2 the place of death on the Encounter,
    PDA-3..5 death certification and PDA-6..8 autopsy as yes/no Observations and Procedures."""
    if not ctx.patient:
        return
    for rep in ctx.reps(seg, 1):
        cause = cwe(rep, ctx.enc)
        if cause:
            res = {"resourceType": "Condition", "code": cause, "subject": {"reference": ctx.patient}}
            ctx.bundle.add(res, f"Condition|{ctx.patient_key}|cause-of-death|{rep}")
    place = ctx.location(ctx.first(seg, 2)) if ctx.first(seg, 2) else None
    if place and ctx.encounter_res is not None:
        ctx.encounter_res.setdefault("location", []).append({"location": {"reference": place}, "status": "completed"})
    signed = dtm(ctx.leaf(seg, 4), ctx.tz, "PDA-4")
    _death_step(ctx, seg, (3, "death-certificate", "Death certificate"),
                (5, "death-certification", "Death certification", "Death certified by"),
                {"performedDateTime": signed} if signed else {})
    span = Comps(ctx.first(seg, 7), ctx.enc)
    start, end = dtm(span.c(1), ctx.tz, "PDA-7"), dtm(span.c(2), ctx.tz, "PDA-7")
    period = {k: v for k, v in (("start", start), ("end", end)) if v}
    _death_step(ctx, seg, (6, "autopsy", "Autopsy"), (8, "autopsy-performed", "Autopsy performed", "Autopsy performed by"),
                {"performedPeriod": period} if period else {})
    _death_flag(ctx, seg, 9, "coroner", "Coroner indicator")


def _death_flag(ctx: Ctx, seg: Segment, n: int, code: str, label: str) -> str:
    """A PDA yes/no indicator as an Observation; returns the answer."""
    answer = ctx.leaf(seg, n)
    if answer in _YES_NO:
        obs = {"resourceType": "Observation", "status": "final",
               "code": {"coding": [{"system": _LOCAL + "observation-code", "code": code, "display": label}]},
               "subject": {"reference": ctx.patient},
               "valueCodeableConcept": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0136",
                                                    "code": answer, "display": _YES_NO[answer]}]}}
        ctx.bundle.add(obs, f"Observation|{ctx.patient_key}|{code}")
    return answer


def _death_step(ctx: Ctx, seg: Segment, flag: tuple[int, str, str], act: tuple[int, str, str, str],
                timing: dict) -> None:
    """A yes/no PDA indicator as an Observation, and (when done or timed) the act as a Procedure."""
    answer = _death_flag(ctx, seg, *flag)
    n, code, label, role = act
    who = ctx.practitioner(ctx.first(seg, n)) if ctx.first(seg, n) else None
    if answer != "Y" and not who and not timing:
        return
    proc: dict = {"resourceType": "Procedure", "status": "completed",
                  "code": {"coding": [{"system": _LOCAL + "procedure-code", "code": code, "display": label}]},
                  "subject": {"reference": ctx.patient}, **timing}
    if who:
        proc["performer"] = [{"function": {"text": role}, "actor": {"reference": who}}]
    ctx.bundle.add(proc, f"Procedure|{ctx.patient_key}|{code}")
