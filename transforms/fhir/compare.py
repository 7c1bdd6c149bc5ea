"""Agreement between two FHIR Bundles from different converters, after normalising both.

Following ../shared/corpora/README.md: ids, fullUrls, meta, narrative, Provenance (and the
MessageHeader of message Bundles) are dropped; references are resolved to the resource they
point at; extensions outside hl7.org are dropped; then each resource is reduced to "facts":
identifiers, names, codes (system and code), values and units, dates (instants compared in
UTC, dates at their precision), status, and references.  A fact of the expected Bundle that the
actual one lacks is a miss; extra facts are only counted.  Placeholder systems
(``http://example.com/...``) match any system.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Agreement", "Pair", "compare_bundles", "facts_of", "pair_up"]

SKIP_TYPES = frozenset(("Provenance", "MessageHeader"))
_DATE = re.compile(r"^\d{4}(-\d\d(-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?)?)?)?$")
_SKIP_KEYS = frozenset(("id", "fullUrl", "meta", "text", "display", "div", "request", "resourceType"))
_PLACEHOLDER = "http://example.com/"


@dataclass
class Agreement:
    """Expected facts found / expected, per resource type; ``excused``: expected facts we miss
    because we follow the IG spreadsheets where Microsoft does not (transforms/fhir/ig_differences.py)."""

    found: Counter = field(default_factory=Counter)
    expected: Counter = field(default_factory=Counter)
    excused: Counter = field(default_factory=Counter)
    extra: int = 0

    def add(self, other: "Agreement") -> None:
        self.found.update(other.found)
        self.expected.update(other.expected)
        self.excused.update(other.excused)
        self.extra += other.extra

    @property
    def share(self) -> float:
        """Share of Microsoft's expected facts we reproduce."""
        total = sum(self.expected.values())
        return sum(self.found.values()) / total if total else 1.0

    @property
    def ig_share(self) -> float:
        """The same, leaving out the facts where the IG says otherwise (the issue's measure)."""
        total = sum(self.expected.values()) - sum(self.excused.values())
        return sum(self.found.values()) / total if total else 1.0


def _index(bundle: dict) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for entry in bundle.get("entry", []):
        res = entry.get("resource", {})
        if entry.get("fullUrl"):
            out[entry["fullUrl"]] = res
        if res.get("id"):
            out[f"{res.get('resourceType')}/{res['id']}"] = res
    return out


def _identity(res: dict) -> str:
    idents = res.get("identifier")
    if isinstance(idents, list) and idents and isinstance(idents[0], dict) and idents[0].get("value"):
        return str(idents[0]["value"])
    names = res.get("name")
    if isinstance(names, list) and names and isinstance(names[0], dict):
        return str(names[0].get("family", ""))
    if isinstance(names, str):
        return names
    return ""


def _date(text: str) -> str:
    if "T" not in text or len(text) < 20:
        return text
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp().__repr__()
    except ValueError:
        return text


def facts_of(res: dict, index: dict[str, dict]) -> Counter:
    """The comparable facts of one resource (path without list indexes, normalised value)."""
    facts: Counter = Counter()
    _walk(res, "", index, facts)
    return facts


def _walk(node: object, path: str, index: dict[str, dict], facts: Counter) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, path, index, facts)
        return
    if not isinstance(node, dict):
        return
    if "code" in node and isinstance(node.get("code"), str) and ("system" in node or path.endswith("coding")):
        system = node.get("system", "")
        facts[(path.replace(".coding", ""), "code", "" if system.startswith(_PLACEHOLDER) else system, node["code"])] += 1
        if "value" not in node:
            return
        # A Quantity carries a coded unit beside its value: its value and unit are facts too.
        node = {k: v for k, v in node.items() if k not in ("code", "system")}
    for key, value in node.items():
        if key in _SKIP_KEYS or key.startswith("_"):
            continue
        if key == "extension":
            _walk([e for e in value if isinstance(e, dict) and "hl7.org" in e.get("url", "")], f"{path}.extension",
                  index, facts)
            continue
        here = f"{path}.{key}" if path else key
        if key == "reference" and isinstance(value, str):
            target = index.get(value)
            kind = target.get("resourceType", "") if target else value.split("/")[0]
            # Targets are compared by type: each side's ids and identifier choice differ by design.
            facts[(here, "ref", kind)] += 1
        elif isinstance(value, (dict, list)):
            _walk(value, here, index, facts)
        elif key == "system" and isinstance(value, str) and value.startswith(_PLACEHOLDER):
            continue
        elif key == "url":
            continue
        elif isinstance(value, str):
            if _DATE.match(value):
                facts[(here, "date", _date(value))] += 1
            elif _compared(here, key):
                facts[(here, "str", value.strip())] += 1
        elif isinstance(value, bool):
            if _compared(here, key):
                facts[(here, "bool", value)] += 1
        elif isinstance(value, (int, float)):
            facts[(here, "num", float(value))] += 1


_NAME_KEYS = frozenset(("family", "given", "name"))


def _compared(path: str, key: str) -> bool:
    """The README's categories: identifiers, names, status, values and units."""
    if key == "status" or key in _NAME_KEYS:
        return True
    if "identifier" in path.lower() and key in ("value", "system"):
        return True
    return key == "unit" or any(part.startswith("value") for part in path.split("."))


def _loose(fact: tuple) -> tuple:
    # A code whose expected system is a placeholder matches the code under any system.
    return fact[:2] + fact[3:] if fact[1] == "code" else fact


def _score(expected: Counter, actual: Counter) -> int:
    found = sum(min(n, actual.get(f, 0)) for f, n in expected.items() if f[1] != "code" or f[2])
    loose_actual = Counter()
    for f, n in actual.items():
        if f[1] == "code":
            loose_actual[_loose(f)] += n
    found += sum(min(n, loose_actual.get(_loose(f), 0)) for f, n in expected.items() if f[1] == "code" and not f[2])
    return found


@dataclass
class Pair:
    """One expected resource's facts and the facts of ours it was paired with (None: unpaired)."""

    rtype: str
    expected: Counter
    actual: Counter | None

    def missed(self) -> Counter:
        """Expected facts the paired resource lacks (a placeholder system matches any system)."""
        ours = self.actual or Counter()
        loose: Counter = Counter()
        for f, n in ours.items():
            if f[1] == "code":
                loose[_loose(f)] += n
        out: Counter = Counter()
        for fact, n in self.expected.items():
            have = loose.get(_loose(fact), 0) if fact[1] == "code" and not fact[2] else ours.get(fact, 0)
            if n > have:
                out[fact] = n - have
        return out


def pair_up(expected: dict, actual: dict | None) -> tuple[list[Pair], int]:
    """Pair each expected resource with its best match of ours (see compare_bundles); also returns
    how many of ours were left over (extra output, only counted)."""
    exp_index = _index(expected)
    act_index = _index(actual) if actual else {}
    pool: dict[str, list[Counter]] = {}
    for entry in (actual or {}).get("entry", []):
        res = entry["resource"]
        pool.setdefault(res["resourceType"], []).append(facts_of(res, act_index))
    only_skipped = _only_referenced_by_skipped(expected, exp_index)
    wanted: dict[str, list[Counter]] = {}
    for entry in expected.get("entry", []):
        res = entry.get("resource", {})
        rtype = res.get("resourceType", "")
        if rtype not in SKIP_TYPES and id(res) not in only_skipped:
            wanted.setdefault(rtype, []).append(facts_of(res, exp_index))
    pairs: list[Pair] = []
    extra = sum(len(v) for k, v in pool.items() if k not in wanted)
    for rtype, facts_list in wanted.items():
        candidates = pool.get(rtype, [])
        # The pairing that reproduces the most facts overall (an optimal assignment); among equal
        # totals, pairs naming the same thing (name / identifier) win, so a bed is not a ward's match.
        weights = [[_score(e, a) * 1000 + _same_entity(e, a) for a in candidates] for e in facts_list]
        paired = _assign(weights)
        extra += len(candidates) - len(set(paired.values()))
        for i, facts in enumerate(facts_list):
            # Microsoft builds a new resource each time a field names the same place, organisation or
            # specimen; we build it once.  An exact repeat (equal fact sets) of a paired expected
            # resource shares its match; a near-repeat stays unpaired, so real misses are not hidden.
            twin = i if i in paired else next((k for k in paired if facts_list[k] == facts), None)
            pairs.append(Pair(rtype, facts, candidates[paired[twin]] if twin is not None else None))
    return pairs, extra


def compare_bundles(expected: dict, actual: dict | None, *, excuse: Any = None) -> Agreement:
    """Agreement of ``actual`` with ``expected``; each expected resource is paired with its best match.

    ``excuse(pair, missed) -> Counter``: of the missed facts, those the IG explains (see
    transforms/fhir/ig_differences.py); they are counted apart and left out of ``ig_share``."""
    result = Agreement()
    pairs, result.extra = pair_up(expected, actual)
    for pair in pairs:
        total = sum(pair.expected.values())
        missed = pair.missed()
        result.expected[pair.rtype] += total
        result.found[pair.rtype] += total - sum(missed.values())
        if excuse is not None and missed:
            result.excused[pair.rtype] += sum(excuse(pair, missed).values())
    return result


def _assign(weights: list[list[int]]) -> dict[int, int]:
    """Row -> column pairing with the largest total weight (Hungarian method, O(n^3)); zero-weight pairs dropped."""
    rows = len(weights)
    cols = len(weights[0]) if rows else 0
    if not rows or not cols:
        return {}
    size = max(rows, cols)
    top = max(max(r) for r in weights)
    cost = [[top - (weights[i][j] if i < rows and j < cols else 0) for j in range(size)] for i in range(size)]
    inf = float("inf")
    u, v, match, way = [0.0] * (size + 1), [0.0] * (size + 1), [0] * (size + 1), [0] * (size + 1)
    for i in range(1, size + 1):
        match[0], j0 = i, 0
        low, used = [inf] * (size + 1), [False] * (size + 1)
        while match[j0]:
            used[j0], i0, delta, j1 = True, match[j0], inf, 0
            for j in range(1, size + 1):
                if not used[j]:
                    here = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if here < low[j]:
                        low[j], way[j] = here, j0
                    if low[j] < delta:
                        delta, j1 = low[j], j
            for j in range(size + 1):
                if used[j]:
                    u[match[j]] += delta
                    v[j] -= delta
                else:
                    low[j] -= delta
            j0 = j1
        while j0:
            j1 = way[j0]
            match[j0], j0 = match[j1], j1
    return {match[j] - 1: j - 1 for j in range(1, size + 1)
            if match[j] - 1 < rows and j - 1 < cols and weights[match[j] - 1][j - 1] > 0}


_IDENTITY_PATHS = frozenset(("name", "name.family", "identifier.value"))


def _same_entity(expected: Counter, actual: Counter) -> int:
    """How many naming facts (name, family name, identifier value) the two resources share."""
    return sum(1 for f in expected if f[0] in _IDENTITY_PATHS and f in actual)


def _refs(node: object, out: list[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                out.append(value)
            else:
                _refs(value, out)
    elif isinstance(node, list):
        for item in node:
            _refs(item, out)


def _only_referenced_by_skipped(bundle: dict, index: dict[str, dict]) -> set[int]:
    """Resources that only the MessageHeader / Provenance reach go with them.

    Reach is followed through chains (the sending facility's ``partOf`` organisation), to a fixed
    point.  An Organization or Device that nothing references is message-header content too: in
    Microsoft's output these are MSH-6 (receiving facility) and SFT (software), which the IG maps
    onto MessageHeader; they carry no fact about the patient, visit or order.
    """
    referrers: dict[int, set[int]] = {}
    resources = [entry.get("resource", {}) for entry in bundle.get("entry", [])]
    for res in resources:
        found: list[str] = []
        _refs(res, found)
        for ref in found:
            if ref in index and index[ref] is not res:
                referrers.setdefault(id(index[ref]), set()).add(id(res))
    dropped = {id(r) for r in resources if r.get("resourceType") in SKIP_TYPES}
    dropped |= {id(r) for r in resources if r.get("resourceType") in _HEADER_ORPHANS and id(r) not in referrers}
    changed = True
    while changed:
        changed = False
        for res in resources:
            key = id(res)
            if key not in dropped and key in referrers and referrers[key] <= dropped:
                dropped.add(key)
                changed = True
    return dropped - {id(r) for r in resources if r.get("resourceType") in SKIP_TYPES}


_HEADER_ORPHANS = frozenset(("Organization", "Device"))
