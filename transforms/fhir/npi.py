"""The National Provider Identifier: its FHIR system, its OID, and the check both US Core NPI
invariants make (us-core-16: ten digits, us-core-17: the Luhn check digit).

HL7v2 and C-CDA transforms share it: an identifier goes under the us-npi system only when its
value is a valid NPI, so US Core's NPI slices never claim a malformed one.
"""

from __future__ import annotations

__all__ = ["US_NPI", "NPI_OID", "is_npi"]

US_NPI = "http://hl7.org/fhir/sid/us-npi"
NPI_OID = "2.16.840.1.113883.4.6"


def is_npi(value: str) -> bool:
    """A well-formed NPI: ten digits whose last is the Luhn check digit over ``80840`` + the first nine
    (US Core us-core-16 / us-core-17).  Only such a value goes under the us-npi system."""
    if len(value) != 10 or not value.isascii() or not value.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed("80840" + value)):
        digit = int(ch) * (2 if i % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0
