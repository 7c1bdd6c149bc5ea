"""US Core invariants: the error-severity ``constraint`` entries of a profile, evaluated with fhirpathpy.

Each constraint of a profile's differential (and of its US Core base profiles) is evaluated at
the element it sits on: once per node that element path selects, where a sliced step
(``Practitioner.identifier:NPI``) keeps only the members the slice's discriminator claims.  A
constraint holds when its expression gives ``true``; ``false`` *and an empty result* are
violations (as in the FHIR validator: an NPI without a value, or one whose digits do not convert,
fails us-core-16/17).  Warning-severity constraints (us-core-4, us-core-5) are not reported.

Where fhirpathpy cannot evaluate a US Core expression as written, this module says so here and
handles it explicitly, each entry pinned to the exact expression text so that a changed
StructureDefinition is evaluated as written (and fails loudly) instead of silently passing:

- pd-1 ``telecom or endpoint`` and us-core-13 ``practitioner or organization or ...``: FHIRPath
  converts a one-item collection to true in a Boolean operator; fhirpathpy raises instead.  They
  are evaluated as the same names with ``.exists()``.
- us-core-1 ``$this is DateTime``: fhirpathpy types a FHIR ``dateTime`` as ``FHIR.dateTime`` only,
  so the test is always false and the invariant could never fail; evaluated as ``is dateTime``.
- us-core-3 on ``Observation.value[x]`` (clinical-result, smokingstatus): the expression starts at
  ``value``, which from the value[x] element is the Quantity's decimal, so as written it can never
  fail; it is evaluated from the Observation, where it means what its text says (the
  screening-assessment profile already places it there).
- ``resolve()`` (provenance-1) is not implemented by fhirpathpy.  We supply it: a reference
  resolves to the Bundle entry whose fullUrl (or ``Type/id``) it names; outside a Bundle, or when
  the target is not in it, a literal ``Type/id`` (or URL ending so) resolves to a resource of
  that type.  Any other reference (a ``urn:`` not in the Bundle, an identifier only) raises, and
  the invariant is reported as not evaluable.

Any other evaluation error is reported as an issue naming the profile, the key and the element,
never passed.  Issue texts carry no values (the exception's text, which may quote data, is
dropped; only its type is kept).  fhirpathpy is imported on first use, so the engine does not need
it; only the tests (the ``test`` extra) do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Invariant", "invariants_of", "Resolver", "evaluate_invariant", "EXPRESSION_FIXES"]

# (key, expression as published) -> (expression evaluated, evaluate from the resource root)
EXPRESSION_FIXES: dict[tuple[str, str], tuple[str, bool]] = {
    ("pd-1", "telecom or endpoint"): ("telecom.exists() or endpoint.exists()", False),
    ("us-core-13", "practitioner or organization or healthcareService or location"):
        ("practitioner.exists() or organization.exists() or healthcareService.exists() or location.exists()", False),
    ("us-core-1", "$this is DateTime implies $this.toString().length() >= 10"):
        ("$this is dateTime implies $this.toString().length() >= 10", False),
    ("us-core-3", "value.ofType(Quantity).system.empty() or value.ofType(Quantity).system = "
                  "'http://unitsofmeasure.org'"): ("", True),
}

_LITERAL = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(?:/_history/[^/]+)?$")


@dataclass(frozen=True)
class Invariant:
    """One error-severity constraint: ``element_id`` is its context, e.g. ``Organization.identifier:NPI``."""

    key: str
    element_id: str
    expression: str
    human: str


def invariants_of(differential: list[dict]) -> list[Invariant]:
    """The error-severity constraints in a (chained) differential, each key once per element."""
    found: dict[tuple[str, str], Invariant] = {}
    for el in differential:
        for c in el.get("constraint", []):
            if c.get("severity") == "error" and c.get("expression"):
                found[(c["key"], el["id"])] = Invariant(c["key"], el["id"], c["expression"], c.get("human", ""))
    return list(found.values())


class UnresolvableReference(Exception):
    """resolve() met a reference it cannot follow; the invariant is then reported, not passed."""


class Resolver:
    """resolve() for fhirpathpy: Bundle entries by fullUrl or ``Type/id``, else the literal's type."""

    def __init__(self, bundle: dict | None = None) -> None:
        self.entries: dict[str, dict] = {}
        for entry in (bundle or {}).get("entry", []):
            resource = entry.get("resource") or {}
            if entry.get("fullUrl"):
                self.entries[entry["fullUrl"]] = resource
            if resource.get("id"):
                self.entries[f"{resource.get('resourceType')}/{resource['id']}"] = resource

    def __call__(self, inputs: list) -> list:
        from fhirpathpy.engine.nodes import ResourceNode

        out = []
        for ref in inputs:
            target = self._target(ref.get("reference", "") if isinstance(ref, dict) else str(ref))
            out.append(ResourceNode.create_node(target, target.get("resourceType")))
        return out

    def _target(self, reference: str) -> dict:
        if reference in self.entries:
            return self.entries[reference]
        literal = _LITERAL.search(reference)
        if literal is None:
            raise UnresolvableReference("reference is neither in the Bundle nor a literal Type/id")
        return self.entries.get(literal.group(0).lstrip("/"), {"resourceType": literal.group(1)})


_COMPILED: dict[str, Any] = {}


def _model() -> dict:
    try:
        from fhirpathpy.models import models
    except ImportError as exc:  # the engine does not ship it; the tests do
        raise ImportError("US Core invariants need fhirpathpy: pip install 'hl7bridge[test]'") from exc
    return models["r4"]


def evaluate_invariant(inv: Invariant, resource: dict, in_slice: Callable[[str, object], bool | None],
                       resolver: Resolver) -> str | None:
    """None when ``inv`` holds on every node of ``resource`` it applies to, else the issue text.

    ``in_slice(slice_element_id, value)`` tells whether a value belongs to a named slice (None when
    the slice is unknown, which is reported).  The text names the key and the element only.
    """
    model = _model()
    import fhirpathpy
    expression, from_root = EXPRESSION_FIXES.get((inv.key, inv.expression), (inv.expression, False))
    expression = expression or inv.expression
    options = {"userInvocationTable": {"resolve": {"fn": resolver, "arity": {0: []}}}}
    try:
        nodes = [resource] if from_root else _nodes(inv.element_id, resource, in_slice, model)
        for node in nodes:
            result = fhirpathpy.evaluate(node, expression, {}, model, options)
            if result != [True]:
                if result in ([False], []):
                    return f"{inv.key} fails at {inv.element_id}"
                return f"{inv.key} at {inv.element_id} gives a non-Boolean result"
    except UnresolvableReference:
        return f"{inv.key} at {inv.element_id} could not be evaluated: resolve() met an unresolvable reference"
    except _UnknownSlice:
        return f"{inv.key} at {inv.element_id} could not be evaluated: unknown slice"
    except Exception as exc:  # noqa: BLE001 - fhirpathpy raises bare Exceptions; report, never pass
        return f"{inv.key} at {inv.element_id} could not be evaluated ({type(exc).__name__})"
    return None


class _UnknownSlice(Exception):
    pass


def _nodes(element_id: str, resource: dict, in_slice: Callable[[str, object], bool | None], model: dict) -> list:
    """The typed nodes ``element_id`` selects, slices filtered by ``in_slice``."""
    import fhirpathpy
    from fhirpathpy.engine.nodes import ResourceNode

    steps = element_id.split(".")
    nodes: list = [ResourceNode.create_node(resource, steps[0])]
    prefix = steps[0]
    for step in steps[1:]:
        name, _, slice_name = step.partition(":")
        prefix += "." + step
        raw = {"returnRawData": True}
        nodes = [child for node in nodes
                 for child in fhirpathpy.evaluate(node, name.removesuffix("[x]"), {}, model, raw)]
        if slice_name:
            kept = []
            for node in nodes:
                member = in_slice(prefix, getattr(node, "data", node))
                if member is None:
                    raise _UnknownSlice(prefix)
                if member:
                    kept.append(node)
            nodes = kept
    return nodes
