"""The built-in step ``fhir_to_hl7v2``: a FHIR R4 resource or Bundle becomes one HL7 v2 message.

    Patient (+ Encounter)              -> ADT^A04 (A01 when the encounter class is IMP; A08 without one)
    ServiceRequest(s)                  -> ORM^O01 (or OML^O21 when asked)
    DiagnosticReport(s) + Observations -> ORU^R01 (Observations without a report get an order group of their own)

The HL7 v2-to-FHIR IG spreadsheets are followed in reverse, segment by segment (see
docs/fhir-to-hl7v2.md); the segment writers live in transforms/fhir/v2out_*.py.  Errors are
TransformError naming the FHIR element (``Bundle.entry[2].resource.subject``), never a value.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from hl7bridge.engine.errors import HL7BridgeError, TransformError
from hl7bridge.transforms.fhir.v2out_bundle import Found, ResourceIndex
from hl7bridge.transforms.fhir.v2out_er7 import SegmentOut, Version, comps, esc
from hl7bridge.transforms.fhir.v2out_orders import order_segments
from hl7bridge.transforms.fhir.v2out_patient import encounter_class, pid, pv1, pv2
from hl7bridge.transforms.fhir.v2out_results import observation_segments
from hl7bridge.transforms.hl7v2.message import Message

__all__ = ["fhir_to_hl7v2", "SUPPORTED_TYPES"]

# message type -> (message structure for MSH-9.3, lowest version that defines it)
SUPPORTED_TYPES = {
    "ADT^A01": ("ADT_A01", "2.3"), "ADT^A04": ("ADT_A01", "2.3"), "ADT^A08": ("ADT_A01", "2.3"),
    "ORM^O01": ("ORM_O01", "2.3"), "OML^O21": ("OML_O21", "2.4"), "ORU^R01": ("ORU_R01", "2.3"),
}
_MAX_CONTROL_ID = 20
# Clinical content with its own v2 messages (VXU, RDE/RAS, SIU, MDM) that this step does not write.
_NOT_WRITTEN = ("Immunization", "MedicationRequest", "MedicationAdministration", "MedicationDispense",
                "Appointment", "DocumentReference")


def fhir_to_hl7v2(bundle: dict, *, message_type: str | None = None, version: str = "2.5.1",
                  sending_application: str = "HL7BRIDGE", sending_facility: str = "",
                  receiving_application: str = "", receiving_facility: str = "",
                  control_id: str | None = None) -> Message:
    """Convert a FHIR R4 resource or Bundle (a plain dict) into an HL7 v2 message.

    ``message_type`` (``ADT^A04``, ``ORM^O01``, ``OML^O21``, ``ORU^R01`` ...) forces the type;
    otherwise it follows from the resources.  ``version`` is 2.3, 2.3.1, 2.4, 2.5 or 2.5.1.
    The application and facility options fill MSH-3 to MSH-6 (``App^1.2.3^ISO`` gives an HD
    with its components).  ``control_id`` (MSH-10, at most 20 characters) is generated when not
    given.  Raises TransformError, with the FHIR element path as its location, when the input
    cannot be mapped.
    """
    ver = Version(str(version))
    try:
        index = ResourceIndex(bundle)
        kind = _message_type(index, message_type, ver)
        body = _body(kind, index, ver)
    except HL7BridgeError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # Input of an unexpected shape deep inside a resource: still a typed error, located at the input.
        where = bundle.get("resourceType") if isinstance(bundle, dict) else None
        raise TransformError(f"{type(exc).__name__} while mapping the input to HL7 v2",
                             location=where if isinstance(where, str) else "resourceType") from exc
    msh = _msh(kind, ver, _control_id(control_id), sending_application, sending_facility,
               receiving_application, receiving_facility, body)
    return Message.parse("\r".join(seg.er7() for seg in [msh, *body]))


def _message_type(index: ResourceIndex, forced: str | None, version: Version) -> str:
    if forced:
        kind = "^".join(forced.strip().split("^")[:2])
        if kind not in SUPPORTED_TYPES:
            raise TransformError(f"message type must be one of {', '.join(SUPPORTED_TYPES)}",
                                 location="fhir_to_hl7v2.message_type")
    else:
        kind = _chosen_type(index)
    if not version.at_least(SUPPORTED_TYPES[kind][1]):
        raise TransformError(f"{kind} does not exist in HL7 v{version.text}", location="fhir_to_hl7v2.version")
    return kind


# Observation categories an ADT message carries in its own OBX segments (height, weight, ...):
# only these, with no DiagnosticReport, leave a Patient bundle an ADT rather than an ORU.
_ADT_CATEGORIES = frozenset(("vital-signs", "exam", "social-history", "survey"))


def _is_result(observation: dict) -> bool:
    codes = {c.get("code") for cat in observation.get("category") or [] if isinstance(cat, dict)
             for c in cat.get("coding") or [] if isinstance(c, dict)}
    return not codes & _ADT_CATEGORIES


def _chosen_type(index: ResourceIndex) -> str:
    """The message type the resources call for (see the module docstring)."""
    not_written = index.of_type(*_NOT_WRITTEN)
    if index.of_type("DiagnosticReport"):
        return "ORU^R01"
    if not_written:
        # A VXU, RDE, SIU or MDM sent as an ORU, ORM or ADT would silently leave its main content behind.
        raise TransformError(f"no HL7 v2 message is written for {not_written[0].rtype}; set message_type "
                             "(e.g. ADT^A08) to send what can be sent", location=not_written[0].loc + ".resourceType")
    if any(_is_result(o.res) for o in index.of_type("Observation")):
        return "ORU^R01"
    if index.of_type("ServiceRequest"):
        return "ORM^O01"
    if index.of_type("Patient"):
        encounters = index.of_type("Encounter")
        if not encounters:
            return "ADT^A08"
        return "ADT^A01" if encounter_class(encounters[0].res) == "I" else "ADT^A04"
    raise TransformError("the input has no Patient, ServiceRequest, DiagnosticReport or Observation",
                         location="Bundle.entry")


def _body(kind: str, index: ResourceIndex, version: Version) -> list[SegmentOut]:
    if kind.startswith("ADT"):
        return _adt(kind, index, version)
    if kind == "ORU^R01":
        return _results(index, version)
    return _orders(kind, index, version)


def _adt(kind: str, index: ResourceIndex, version: Version) -> list[SegmentOut]:
    patient = _single_patient(index)
    encounters = index.of_type("Encounter")
    evn = SegmentOut("EVN")
    evn[1], evn[2] = esc(kind[4:]), _now()
    out = [evn, *_patient_group(patient, encounters[0] if encounters else None, index, version)]
    counter = [0]
    for obs in index.of_type("Observation"):
        if not _is_member(obs, index):
            out += observation_segments(obs, index, version, counter)
    return out


def _patient_of(owner: Found, index: ResourceIndex) -> Found:
    return index.resolve(owner, "subject", required=True, rtypes=("Patient",))  # type: ignore[return-value]


def _single_patient(index: ResourceIndex) -> Found:
    """The one patient of an ADT: merged-away records (link replaced-by) do not count, and with
    several left the first Encounter's subject decides."""
    patients = index.of_type("Patient")
    if not patients:
        raise TransformError("an ADT message needs a Patient", location="Bundle.entry")
    current = [p for p in patients if not any(isinstance(link, dict) and link.get("type") == "replaced-by"
                                              for link in p.res.get("link") or [])] or patients
    if len(current) > 1:
        encounters = index.of_type("Encounter")
        subject = index.resolve(encounters[0], "subject", rtypes=("Patient",)) if encounters else None
        if subject is None:
            raise TransformError("one HL7 v2 message carries one patient; the input has several",
                                 location=current[1].loc)
        return subject
    return current[0]


def _patient_group(patient: Found, encounter: Found | None, index: ResourceIndex,
                   version: Version) -> list[SegmentOut]:
    segments = [pid(patient, version), pv1(encounter, index, version)]
    extra = pv2(encounter)
    return segments + ([extra] if extra else [])


def _encounter_of(owners: list[Found], index: ResourceIndex) -> Found | None:
    for owner in owners:
        found = index.resolve(owner, "encounter", rtypes=("Encounter",))
        if found is not None:
            return found
    encounters = index.of_type("Encounter")
    return encounters[0] if encounters else None


def _same_patient(owners: list[Found], index: ResourceIndex) -> Found:
    """The one Patient every owner's subject points at."""
    patient = _patient_of(owners[0], index)
    for owner in owners[1:]:
        other = _patient_of(owner, index)
        if other.res is not patient.res:
            raise TransformError("one HL7 v2 message carries one patient; this subject is another",
                                 location=owner.loc + ".subject")
    return patient


def _orders(kind: str, index: ResourceIndex, version: Version) -> list[SegmentOut]:
    requests = index.of_type("ServiceRequest")
    if not requests:
        raise TransformError("an order message needs a ServiceRequest", location="Bundle.entry")
    patient = _same_patient(requests, index)
    out = _patient_group(patient, _encounter_of(requests, index), index, version)
    for i, sr in enumerate(requests, start=1):
        out += order_segments(sr, None, i, kind, index, version)
    return out


def _results(index: ResourceIndex, version: Version) -> list[SegmentOut]:
    reports = index.of_type("DiagnosticReport")
    groups: list[tuple[Found, list[Found]]] = []
    reported: set[int] = set()
    for dr in reports:
        results = [index.resolve(dr, f"result[{i}]", required=True, rtypes=("Observation",))
                   for i in range(len(dr.res.get("result") or []))]
        groups.append((dr, results))  # type: ignore[arg-type]
        reported.update(id(f.res) for f in results if f is not None)
    loose = [o for o in index.of_type("Observation") if id(o.res) not in reported and not _is_member(o, index)]
    if loose:
        groups.append((_report_for(loose), loose))
    if not groups:
        raise TransformError("a result message needs a DiagnosticReport or an Observation", location="Bundle.entry")
    patient = _same_patient([g[0] for g in groups] + [o for g in groups for o in g[1]], index)
    out = _patient_group(patient, _encounter_of([g[0] for g in groups], index), index, version)
    counter = [0]
    for i, (dr, results) in enumerate(groups, start=1):
        sr = _request_of(dr, index)
        out += order_segments(sr, dr, i, "ORU^R01", index, version)
        counter[0] = 0  # OBX-1 counts within each order group
        for obs in results:
            out += observation_segments(obs, index, version, counter)
    return out


def _request_of(report: Found, index: ResourceIndex) -> Found | None:
    """The first ServiceRequest in basedOn (a CarePlan or other request there is not an order)."""
    for i in range(len(report.res.get("basedOn") or [])):
        found = index.resolve(report, f"basedOn[{i}]")
        if found is not None and found.rtype == "ServiceRequest":
            return found
    return None


def _is_member(obs: Found, index: ResourceIndex) -> bool:
    """True when another Observation lists ``obs`` in hasMember (it is sent inside that panel)."""
    for panel in index.of_type("Observation"):
        for i in range(len(panel.res.get("hasMember") or [])):
            member = index.resolve(panel, f"hasMember[{i}]")
            if member is not None and member.res is obs.res:
                return True
    return False


_OBS_TO_REPORT = {"final": "final", "preliminary": "preliminary", "amended": "amended", "corrected": "corrected",
                  "cancelled": "cancelled", "entered-in-error": "entered-in-error", "registered": "registered"}


def _report_for(observations: list[Found]) -> Found:
    """An order group for Observations that no DiagnosticReport lists: the first one's code, subject
    and identifier (as the filler's number, so a receiver can match the results)."""
    first = observations[0].res
    report: dict = {"resourceType": "DiagnosticReport", "code": first.get("code"),
                    "status": _OBS_TO_REPORT.get(first.get("status") or "", "final")}
    for key in ("subject", "encounter", "effectiveDateTime", "effectivePeriod", "issued", "basedOn"):
        if key in first:
            report[key] = first[key]
    idents = [i for i in first.get("identifier") or [] if isinstance(i, dict) and i.get("value")]
    if idents:
        report["identifier"] = idents[:1]
    return Found(observations[0].loc, report)


def _control_id(given: str | None) -> str:
    if given is None:
        return uuid.uuid4().hex[:_MAX_CONTROL_ID]  # 80 random bits: unique without shared state
    if not isinstance(given, str) or not 1 <= len(given) <= _MAX_CONTROL_ID:
        raise TransformError(f"control_id must be 1 to {_MAX_CONTROL_ID} characters", location="MSH-10")
    return given


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S+0000")


def _hd(option: str) -> str:
    """An application / facility option: plain text is the namespace; ``a^b^c`` gives the HD components."""
    return comps(*option.split("^")[:3]) if option else ""


def _msh(kind: str, version: Version, control_id: str, sending_app: str, sending_fac: str, receiving_app: str,
         receiving_fac: str, body: list[SegmentOut]) -> SegmentOut:
    seg = SegmentOut("MSH")
    seg.fields[1], seg.fields[2] = "|", "^~\\&"
    seg[3], seg[4], seg[5], seg[6] = _hd(sending_app), _hd(sending_fac), _hd(receiving_app), _hd(receiving_fac)
    seg[7] = _now()
    code, event = kind.split("^")
    structure = SUPPORTED_TYPES[kind][0] if version.message_structure else None
    seg[9] = comps(code, event, structure)
    seg[10], seg[11], seg[12] = esc(control_id), "P", version.text
    if any(not seg.er7().isascii() for seg in body):
        seg[18] = version.charset_utf8
    return seg
