"""A small US Core 6.1 checker driven by the US Core StructureDefinitions (differentials).

It checks what a profile's differential states, for the profiles a resource declares in
``meta.profile`` and for US Core extensions it carries:

- cardinality: ``min`` (and a numeric ``max``) of elements and of slices;
- fixed[x] / pattern[x] values (a pattern matches when the instance contains it);
- required bindings: the code (or one coding) must come from the bound value set, resolved from
  the ValueSets next to the profiles or, for core FHIR value sets, from a short built-in list.

- invariants: each error-severity ``constraint`` (FHIRPath), evaluated with fhirpathpy at its
  element, sliced elements only on the slice's members; see ``uscore_invariants`` for how, and
  for what fhirpathpy cannot evaluate as written and how each such case is handled.

It is not a FHIR validator (no terminology server, base FHIR invariants not evaluated); it exists
so tests can show that every output meets the parts of US Core an HL7v2 conversion can get
wrong.  Issue texts name profiles, invariant keys and element paths only, never values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from hl7bridge.transforms.fhir.uscore_invariants import Invariant, Resolver, evaluate_invariant, invariants_of
from hl7bridge.transforms.fhir.uscore_terms import CORE_VALUE_SETS, ValueSet, load_value_sets

__all__ = ["USCoreChecker", "Rule", "checker_for"]

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"


@dataclass
class Rule:
    """What one differential element requires; ``slice_path`` set for elements inside a slice."""

    path: list[str]
    min: int = 0
    max: int | None = None
    pattern: object = None
    binding: str | None = None
    slice_of: list[str] | None = None
    slice_name: str | None = None
    children: list["Rule"] = field(default_factory=list)
    element_id: str = ""
    extension_url: str | None = None  # extension slices are matched on url = their type profile
    discriminators: list[str] = field(default_factory=list)


@dataclass
class Profile:
    url: str
    rules: list[Rule]
    invariants: list[Invariant] = field(default_factory=list)


def _pattern(element: dict) -> object:
    for key, value in element.items():
        if key.startswith(("fixed", "pattern")):
            return value
    return None


def _split(element_id: str) -> tuple[list[str], str | None, list[str]]:
    """'A.b:s.c' -> (['b'], 's', ['c']); without a slice -> (['b','c'], None, [])."""
    parts = element_id.split(".")[1:]
    for i, part in enumerate(parts):
        if ":" in part:
            name, slice_name = part.split(":", 1)
            return parts[:i] + [name], slice_name, parts[i + 1:]
    return parts, None, []


def _rules(differential: list[dict]) -> list[Rule]:
    plain: list[Rule] = []
    slices: dict[str, Rule] = {}
    sliced: dict[str, list[str]] = {}
    for el in differential:
        path, slice_name, rest = _split(el["id"])
        if not path:
            continue
        if "slicing" in el and slice_name is None:
            sliced[".".join(path)] = [d.get("path", "$this") for d in el["slicing"].get("discriminator", [])]
        binding = el.get("binding", {})
        required = binding.get("valueSet", "").split("|")[0] if binding.get("strength") == "required" else None
        rule = Rule(path=rest if slice_name else path, min=el.get("min") or 0,
                    max=int(el["max"]) if el.get("max", "*").isdigit() else None,
                    pattern=_pattern(el), binding=required, element_id=el["id"])
        if slice_name is None:
            plain.append(rule)
            continue
        key = ".".join(path) + ":" + slice_name
        if not rest:
            rule.slice_of, rule.slice_name = path, slice_name
            rule.discriminators = sliced.get(".".join(path), [])
            profiles = [p for t in el.get("type", []) for p in t.get("profile", [])]
            if path[-1] in ("extension", "modifierExtension") and profiles:
                rule.extension_url = profiles[0]
            slices[key] = rule
        elif key in slices:
            slices[key].children.append(rule)
    return plain + list(slices.values())


def _values(node: object, parts: list[str]) -> list:
    nodes = [node]
    for part in parts:
        found = []
        for item in nodes:
            if not isinstance(item, dict):
                continue
            if part.endswith("[x]"):
                stem = part[:-3]
                keys = [k for k in item if k.startswith(stem) and k[len(stem):][:1].isupper()]
            else:
                keys = [part] if part in item else []
            for key in keys:
                value = item[key]
                found.extend(value if isinstance(value, list) else [value])
        nodes = found
    return nodes


def _matches(value: object, pattern: object) -> bool:
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            any(_matches(v, p) for v in (value.get(k) if isinstance(value.get(k), list) else [value.get(k)]))
            if not isinstance(p, list) else all(any(_matches(v, q) for v in (value.get(k) or [])) for q in p)
            for k, p in pattern.items())
    return value == pattern


class USCoreChecker:
    """Checks resources against the US Core profiles and extensions they use."""

    def __init__(self, profiles: dict[str, Profile], value_sets: dict[str, ValueSet]) -> None:
        self.profiles = profiles
        self.value_sets = {**CORE_VALUE_SETS, **value_sets}

    @classmethod
    def from_folder(cls, resources: Path) -> "USCoreChecker":
        """Load ``StructureDefinition-*.json`` and ``ValueSet-*.json`` from US Core's input/resources."""
        raw: dict[str, dict] = {}
        for path in resources.glob("*.json"):
            if path.name.lower().startswith("structuredefinition-"):
                sd = json.loads(path.read_text(encoding="utf-8"))
                raw[sd["url"]] = sd
        profiles = {url: Profile(url, _rules(_chain(raw, url)), invariants_of(_chain(raw, url))) for url in raw}
        return cls(profiles, load_value_sets(resources))

    def check(self, resource: dict, resolver: Resolver | None = None) -> list[str]:
        """Issues for one resource (empty when it meets every declared US Core profile).

        ``resolver`` serves resolve() in invariants (a Bundle's, from ``check_bundle``).
        """
        resolver = resolver or Resolver()
        issues: list[str] = []
        for url in resource.get("meta", {}).get("profile", []):
            profile = self.profiles.get(url)
            if profile is None:
                if url.startswith(US_CORE):
                    issues.append(f"{url.rsplit('/', 1)[-1]}: unknown US Core profile")
                continue
            issues += self._check(profile, resource, resolver)
        for ext in _values(resource, ["extension"]):
            profile = self.profiles.get(ext.get("url", "")) if isinstance(ext, dict) else None
            if profile is not None:
                issues += self._check(profile, ext, resolver)
        return issues

    def check_bundle(self, bundle: dict) -> list[str]:
        """Issues of every entry, prefixed with the entry index."""
        resolver = Resolver(bundle)
        return [f"entry[{i}] {issue}" for i, e in enumerate(bundle.get("entry", []))
                for issue in self.check(e.get("resource", {}), resolver)]

    def _check(self, profile: Profile, root: dict, resolver: Resolver) -> list[str]:
        name = profile.url.rsplit("/", 1)[-1]
        issues: list[str] = []
        for rule in profile.rules:
            issues += [f"{name}: {text}" for text in self._rule(rule, root)]
        slices = {rule.element_id: rule for rule in profile.rules if rule.slice_of is not None}

        def in_slice(element_id: str, value: object) -> bool | None:
            rule = slices.get(element_id)
            return None if rule is None else self._in_slice(rule, value)

        for invariant in profile.invariants:
            text = evaluate_invariant(invariant, root, in_slice, resolver)
            issues += [f"{name}: {text}"] if text else []
        return issues

    def _rule(self, rule: Rule, root: dict) -> list[str]:
        if rule.slice_of is not None:
            return self._slice(rule, root)
        issues = []
        for parent in [root] if len(rule.path) == 1 else _values(root, rule.path[:-1]):
            found = _values(parent, rule.path[-1:])
            issues += self._cardinality(rule, len(found))
            for value in found:
                if rule.pattern is not None and not _matches(value, rule.pattern):
                    issues.append(f"{rule.element_id} does not match its fixed/pattern value")
                if rule.binding and not self._in_value_set(value, rule.binding):
                    issues.append(f"{rule.element_id} is outside required value set {rule.binding.rsplit('/', 1)[-1]}")
        return issues

    def _cardinality(self, rule: Rule, count: int) -> list[str]:
        if count < rule.min:
            return [f"{rule.element_id} has {count} values, min is {rule.min}"]
        if rule.max is not None and count > rule.max:
            return [f"{rule.element_id} has {count} values, max is {rule.max}"]
        return []

    def _slice(self, rule: Rule, root: dict) -> list[str]:
        assert rule.slice_of is not None
        members = [v for v in _values(root, rule.slice_of) if self._in_slice(rule, v)]
        issues = self._cardinality(rule, len(members))
        for child in rule.children:
            for member in members:
                issues += self._rule(child, member) if len(child.path) else []
        return issues

    def _in_slice(self, rule: Rule, value: object) -> bool:
        if rule.extension_url is not None:
            return isinstance(value, dict) and value.get("url") == rule.extension_url
        if rule.pattern is not None:
            return _matches(value, rule.pattern)
        fixed = [c for c in rule.children if c.pattern is not None
                 and (not rule.discriminators or ".".join(c.path) in rule.discriminators)]
        if fixed:
            return all(any(_matches(v, c.pattern) for v in _values(value, c.path)) for c in fixed)
        if rule.binding:
            return self._in_value_set(value, rule.binding)
        return True

    def _in_value_set(self, value: object, url: str) -> bool:
        vs = self.value_sets.get(url)
        if vs is None:
            return True  # not resolvable here: not checked
        if isinstance(value, str):
            return vs.has_code(value)
        if isinstance(value, dict):
            codings = value.get("coding", [value] if "system" in value or "code" in value else [])
            if not codings:
                return "extension" in value  # data-absent-reason only
            return any(vs.has_coding(c.get("system", ""), c.get("code", "")) for c in codings)
        return False


def _chain(raw: dict[str, dict], url: str) -> list[dict]:
    """Differential elements of ``url`` and of its US Core base profiles."""
    elements: list[dict] = []
    seen: set[str] = set()
    while url in raw and url not in seen:
        seen.add(url)
        elements = raw[url]["differential"]["element"] + elements
        url = raw[url].get("baseDefinition", "")
    return elements


_LOADED: dict[Path, USCoreChecker] = {}


def checker_for(corpora: Path) -> USCoreChecker | None:
    """The checker for ``corpora``/us-core-6.1.0 (cached), or None when that folder is absent."""
    folder = corpora / "us-core-6.1.0" / "input" / "resources"
    if not folder.is_dir():
        return None
    if folder not in _LOADED:
        _LOADED[folder] = USCoreChecker.from_folder(folder)
    return _LOADED[folder]
