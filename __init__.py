"""hl7bridge: an HL7v2 / FHIR / C-CDA interface engine."""

__version__ = "0.1.0"
