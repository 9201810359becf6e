"""Canonical JSON, the form the hash chain covers: RFC 8785 (JCS), byte for byte what the
reference `lts_events.jcs.jcs` (the `rfc8785` library) writes. orjson writes it about ten times
faster; it is used wherever its bytes are provably the same, and the library everywhere else.

orjson and JCS write strings alike (the same escapes: `"`, `\\`, \\b \\f \\n \\r \\t, other
controls as \\u00xx, everything else as UTF-8), literals and integers alike, and leave no spaces.
They differ in three places, each detected in orjson's output (`_may_differ_from_jcs`):
- key order: JCS sorts keys by UTF-16 code units, orjson by code points; the two orders differ
  only between a character beyond U+FFFF and one of U+E000-U+FFFF, so output holding no
  character beyond U+FFFF (no UTF-8 lead byte F0-F4) is ordered alike;
- floats: JCS writes a double as ECMAScript does (3.0 as `3`, 1e-6 as `0.000001`, 1e16 as
  `10000000000000000`); orjson writes `repr`'s shortest digits, positionally for
  1e-4 <= |x| < 1e16, where the two agree unless the float is integral (`3.0`);
- integers beyond ±(2**53 - 1), which JCS writes as doubles or refuses (`jcs.NotIJson`).

- `canonical_json(value)`, any value: orjson, unless it refuses the value, its output may differ
  (above) or does not read back equal; then the library.
- `canonical_dump(model_class, dumped)`, a model's `model_dump(mode="json")`: when the model's
  schema shows where floats can be in it (`schema_floats.float_fields`: nowhere, or only as the
  value of some top-level keys) and those floats are ones both write alike, orjson (the rest of a
  JSON-mode dump is dicts, lists, str, int, bool and None), checked for the key order and the
  integers; the library otherwise.
- `canonical_metadata(metadata)` / `MetadataWriter`, the `Metadata` of every event: written
  field by field (its keys are fixed and ASCII), each string through the encoder json.dumps uses,
  whose escapes are JCS's."""

from __future__ import annotations

from json.encoder import encode_basestring
from typing import Any

import orjson
from pydantic import BaseModel

from lts_events.actors import Actor
from lts_events.envelope import Metadata
from lts_events.jcs import jcs
from lts_events.store.schema_floats import float_fields

# Subclasses of str/int/dict/list, dataclasses and datetimes are not encoded by orjson but
# handed to `default` (there is none, so it raises and the library decides).
_ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)


def canonical_json(value: Any) -> str:
    """`jcs(value)`, made by orjson unless the bytes could differ: orjson refuses the value (ints
    beyond 64 bits, non-str keys, lone surrogates, subclasses, nesting deeper than 255, objects
    that are not JSON), its output may differ (`_may_differ_from_jcs`), or the value does not
    read back equal from the output (NaN and infinities, which orjson writes as null; UUIDs and
    enums, which the library refuses)."""
    try:
        out = orjson.dumps(value, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        return jcs(value)
    if _may_differ_from_jcs(out) or orjson.loads(out) != value:
        return jcs(value)
    return out.decode()


def canonical_dump(model_class: type[BaseModel], dumped: Any) -> str:
    """`jcs(dumped)` for `dumped = instance.model_dump(mode="json")` of `model_class`."""
    keys = float_fields(model_class)
    if keys is None:
        return canonical_json(dumped)
    if keys and not all(_written_alike(dumped.get(key)) for key in keys):
        return jcs(dumped)
    return float_free_json(dumped)


def _written_alike(value: Any) -> bool:
    """Not a float, or a float that orjson and JCS write alike: not integral and
    1e-4 <= |x| < 1e16 (NaN and infinities are not), positional in both with `repr`'s shortest
    digits (a property test holds them equal)."""
    return type(value) is not float or (1e-4 <= abs(value) < 1e16 and not value.is_integer())


def float_free_json(value: Any) -> str:
    """`jcs(value)` for JSON without floats (dicts, lists, str, int, bool, None)."""
    try:
        out = orjson.dumps(value, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        return jcs(value)
    if _order_or_integers_may_differ(out):
        return jcs(value)
    return out.decode()


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


# -- where orjson's output may differ from JCS ----------------------------------------------

_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_SIXTEEN_DIGITS = b"0" * 16  # 2**53 has 16 digits: such an integer (or float) may differ
_EXPONENT_SHAPE = bytes.maketrans(b".[:]},+E", b"::::::-e")  # a number's start or end -> ":"
_DIGITS = b"0123456789"
_EXPONENT_SHAPES = (b":e:", b":e-:", b"-e:", b"-e-:")
_INTEGRAL_FLOATS = (b".0,", b".0]", b".0}")
_BEYOND_BMP = bytes(range(0xF0, 0xF5))  # UTF-8 lead bytes of characters beyond U+FFFF


def _order_or_integers_may_differ(out: bytes) -> bool:
    """Whether orjson's output may hold a character beyond U+FFFF (the key order may differ) or
    a run of 16 digits (an integer JCS writes as a double, or refuses). Inside strings the same
    shapes merely cost a call of the library."""
    return _beyond_bmp(out) or _SIXTEEN_DIGITS in out.translate(_AS_ZERO)


def _beyond_bmp(out: bytes) -> bool:
    return not out.isascii() and any(lead in out for lead in _BEYOND_BMP)


def _may_differ_from_jcs(out: bytes) -> bool:
    """Whether orjson's output may differ from JCS: `_order_or_integers_may_differ`, a bare
    number (not an object or array), or a float that may be written otherwise: integral
    (`3.0`), with an exponent, or written 0.0000... (outside 1e-4 <= |x| < 1e16, where orjson
    writes `repr`'s form and JCS ECMAScript's).

    Each float shape is looked for only where the output can hold it at all (a `.0`; a digit
    right before an `e`): one search instead of three or four for most events' data (py-spy:
    the searches were most of `canonical_json`, which chains every metrics audit copy)."""
    if out[:1] not in b"{[" or _beyond_bmp(out):
        return True
    zeroed = out.translate(_AS_ZERO)
    if _SIXTEEN_DIGITS in zeroed:
        return True
    if b".0" in out and (b"0.0000" in out or any(f in out for f in _INTEGRAL_FLOATS)):
        return True
    if b"0e" not in zeroed:  # orjson writes an exponent as `e` right after a digit
        return False
    # Without its digits, a number with an exponent is an `e` right after where the number
    # starts (`:` `,` `[`), its minus sign or its `.`, then its sign or not, then where it
    # ends (`,` `]` `}`). An id or a word with an e among digits goes on with a letter, a `-`
    # or a quote; `true`/`false` have a letter before the e.
    shape = out.translate(_EXPONENT_SHAPE, _DIGITS)
    return any(exponent in shape for exponent in _EXPONENT_SHAPES)
