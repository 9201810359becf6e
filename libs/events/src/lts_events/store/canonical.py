"""Canonical JSON, the form the hash chain covers: `json.dumps(value, sort_keys=True,
separators=(",", ":"), ensure_ascii=False)`, byte for byte (`lts store verify` recomputes it with
json.dumps). orjson writes it about ten times faster; it is used wherever its bytes are the same:

- `canonical_json(value)`, any value: orjson, unless it refuses the value, its output may write a
  float differently or the value does not read back equal; then json.dumps.
- `canonical_dump(model_class, dumped)`, a model's `model_dump(mode="json")`: when the model's
  schema shows where floats can be in it (`schema_floats.float_fields`: nowhere, or only as the
  value of some top-level keys) and those floats are ones both write alike, orjson alone (the
  rest of a JSON-mode dump is dicts, lists, str, int, bool and None, which both write alike);
  json.dumps only if orjson refuses (ints beyond 64 bits, lone surrogates).
- `canonical_metadata(metadata)` / `MetadataWriter`, the `Metadata` of every event: written
  field by field (its keys are fixed), each string through the encoder json.dumps itself uses."""

from __future__ import annotations

import json
from json.encoder import encode_basestring
from typing import Any

import orjson
from pydantic import BaseModel

from lts_events.actors import Actor
from lts_events.envelope import Metadata
from lts_events.store.schema_floats import float_fields

# Subclasses of str/int/dict/list, dataclasses and datetimes are not encoded by orjson but
# handed to `default` (there is none, so it raises and json.dumps decides, as before).
_ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)


def json_dumps(value: Any) -> str:
    """The reference: what `lts_events.hashing.event_hash` hashes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """`json_dumps(value)`, made by orjson unless the bytes could differ: orjson refuses the
    value (ints beyond 64 bits, non-str keys, lone surrogates, subclasses, nesting deeper than
    255, objects that are not JSON), a float may be written differently (see
    `_float_form_may_differ`), or the value does not read back equal from the output (NaN and
    infinities, which orjson writes as null; UUIDs and enums, which json.dumps refuses)."""
    try:
        out = orjson.dumps(value, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        return json_dumps(value)
    if _float_form_may_differ(out) or orjson.loads(out) != value:
        return json_dumps(value)
    return out.decode()


def canonical_dump(model_class: type[BaseModel], dumped: Any) -> str:
    """`json_dumps(dumped)` for `dumped = instance.model_dump(mode="json")` of `model_class`."""
    keys = float_fields(model_class)
    if keys is None:
        return canonical_json(dumped)
    if keys and not all(_written_alike(dumped.get(key)) for key in keys):
        return json_dumps(dumped)
    return float_free_json(dumped)


def _written_alike(value: Any) -> bool:
    """Not a float, or a float that orjson and `repr` write alike: 0 or 1e-4 <= |x| < 1e16
    (NaN and infinities are not), positional in both with the same shortest digits (a
    property test and ~7 million sampled floats of that range agree)."""
    return type(value) is not float or value == 0.0 or 1e-4 <= abs(value) < 1e16


def float_free_json(value: Any) -> str:
    """`json_dumps(value)` for JSON without floats (dicts, lists, str, int, bool, None)."""
    try:
        return orjson.dumps(value, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json_dumps(value)


# The string encoder json.dumps uses with ensure_ascii=False (its C encoder calls this very
# function), so a string is written as json.dumps writes it, lone surrogates included.
_quote: Any = encode_basestring


def canonical_metadata(metadata: Metadata) -> str:
    """`canonical_dump(Metadata, metadata.model_dump(mode="json"))`, written directly (see
    `MetadataWriter`)."""
    return MetadataWriter().text(metadata)


class MetadataWriter:
    """Writes `canonical_dump(Metadata, metadata.model_dump(mode="json"))` directly: a Metadata
    is a fixed set of keys holding strings or None and an Actor {id, role}, so its canonical
    JSON is a template with the strings quoted as json.dumps quotes them (a property test holds
    the two equal). One writer serves the events of one append, which share their actor, their
    causation and correlation, and their trace context: it quotes each of those parts once.
    Anything else (a subclass, a value that is not a string, as a model built without
    validation could hold) takes the general path."""

    __slots__ = ("_actors", "_causes", "_traces")

    def __init__(self) -> None:
        self._actors: dict[int, str] = {}  # by id(): the actors outlive the writer
        self._causes: dict[tuple[str | None, str], str] = {}
        self._traces: dict[tuple[str | None, str | None], str] = {}

    def text(self, metadata: Metadata) -> str:
        if type(metadata) is Metadata:
            try:
                return self._text(metadata.__dict__)
            except (TypeError, KeyError):  # the encoder takes only strings
                pass
        return canonical_dump(type(metadata), metadata.model_dump(mode="json"))

    def _text(self, values: dict[str, Any]) -> str:
        # The keys in sorted order: actor, causation_id, correlation_id, reason, traceparent,
        # tracestate.
        actor = self._actors.get(id(values["actor"])) or self._actor(values["actor"])
        cause = (values["causation_id"], values["correlation_id"])
        causes = self._causes.get(cause) or self._cause(cause)
        trace = (values["traceparent"], values["tracestate"])
        traces = self._traces.get(trace) or self._trace(trace)
        reason = values["reason"]
        return f"{actor}{causes}{'null' if reason is None else _quote(reason)}{traces}"

    def _actor(self, actor: Any) -> str:
        if type(actor) is not Actor:
            raise TypeError("not an Actor")
        values = actor.__dict__
        # A role is a StrEnum: written as the string it is.
        text = f'{{"actor":{{"id":{_quote(values["id"])},"role":{_quote(values["role"])}}}'
        self._actors[id(actor)] = text
        return text

    def _cause(self, cause: tuple[str | None, str]) -> str:
        causation, correlation = cause
        text = (
            f',"causation_id":{_json_text(causation)},"correlation_id":{_quote(correlation)},'
            f'"reason":'
        )
        self._causes[cause] = text
        return text

    def _trace(self, trace: tuple[str | None, str | None]) -> str:
        parent, state = trace
        text = f',"traceparent":{_json_text(parent)},"tracestate":{_json_text(state)}}}'
        self._traces[trace] = text
        return text


def _json_text(value: str | None) -> str:
    return "null" if value is None else _quote(value)


# -- floats in orjson's output ---------------------------------------------------------------

_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_INTEGER_PART = b"0" * 17 + b"."  # 1e16 or more, written positionally
_EXPONENT_SHAPE = bytes.maketrans(b".[:]},+E", b"::::::-e")  # a number's start or end -> ":"
_DIGITS = b"0123456789"
_EXPONENT_SHAPES = (b":e:", b":e-:", b"-e:", b"-e-:")


def _float_form_may_differ(out: bytes) -> bool:
    """Whether orjson's output may hold a float that json.dumps (`float.__repr__`) writes
    otherwise. Both write the shortest digits that read back as the same float, positionally
    for 1e-4 <= |x| < 1e16, where they agree; outside it repr uses an exponent (1e-05, 1e+16)
    and orjson may not, or another one (0.00001, 1e-5). So any number with an exponent,
    written 0.0000... or with 17 digits before its point counts (the same shapes inside a
    string merely cost a json.dumps), and so does a bare number (not an object or array)."""
    if out[:1] not in b"{[" or b"0.0000" in out or _LONG_INTEGER_PART in out.translate(_AS_ZERO):
        return True
    # Without its digits, a number with an exponent is an `e` right after where the number
    # starts (`:` `,` `[`), its minus sign or its `.`, then its sign or not, then where it
    # ends (`,` `]` `}`). An id or a word with an e among digits goes on with a letter, a `-`
    # or a quote; `true`/`false` have a letter before the e.
    shape = out.translate(_EXPONENT_SHAPE, _DIGITS)
    return any(exponent in shape for exponent in _EXPONENT_SHAPES)
