"""Bytes to text the way a careful reader would, recording every departure from what the source declared.

Order of evidence for XML: a byte-order mark, then the HTTP charset (RFC 7303), then the XML
declaration, then XML's default (UTF-8), each checked against the bytes:

- declared 8-bit (iso-8859-1, windows-1252, us-ascii, ...) but the bytes are valid UTF-8 with
  multi-byte sequences: UTF-8. That is a property of the bytes, not a guess: real 8-bit text is
  practically never valid UTF-8 once it holds a non-ASCII letter;
- bytes invalid in the encoding expected: UTF-8 with replacement characters when most of them are
  UTF-8, otherwise the legacy code page that charset-normalizer finds closest;
- text that went through UTF-8 -> Windows-1252 -> UTF-8 (double encoding) is undone by ftfy, which
  was built for exactly that and leaves text alone unless the evidence is strong.

Pure functions: no I/O.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from functools import lru_cache

import charset_normalizer
from charset_normalizer.models import CharsetMatch
from ftfy import TextFixerConfig, fix_and_explain

from wirewatch_common.story import Repair, RepairKind

_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32LE"),  # before UTF-16 LE: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32BE"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16LE"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16BE"),
)
_DECLARATION = re.compile(r"""^\s*<\?xml\s[^>]{0,300}?\bencoding\s*=\s*(["'])([^"'<>]{0,60})\1""")
_DECLARED_ENCODING = re.compile(r"""^(\s*<\?xml\s[^>]{0,300}?\bencoding\s*=\s*)(["'])[^"'<>]{0,60}\2""")
# Decoders that turn ASCII into something else (UTF-7, escape codecs) or are not charsets at all.
_REFUSED = frozenset(
    ("utf-7", "unicode-escape", "raw-unicode-escape", "punycode", "idna", "undefined", "charmap")
)
# Labels read as their superset, as browsers do (WHATWG Encoding): real "latin-1" is Windows-1252.
_SUPERSET = {
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}
# Legacy code pages an agency system plausibly wrote, for charset-normalizer to choose among.
_LEGACY = ["cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "koi8_r"]
_SAMPLE_BYTES = 256 * 1024
# Where each language charset-normalizer names was written before Unicode (Windows code pages, KOI8).
_HOME: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        (
            "English",
            "German",
            "French",
            "Dutch",
            "Italian",
            "Spanish",
            "Portuguese",
            "Danish",
            "Norwegian",
            "Swedish",
            "Finnish",
            "Catalan",
            "Indonesian",
            "Malay",
            "Icelandic",
        ),
        frozenset(("cp1252",)),
    ),
    **dict.fromkeys(
        ("Polish", "Czech", "Slovak", "Hungarian", "Croatian", "Slovene", "Romanian"), frozenset(("cp1250",))
    ),
    **dict.fromkeys(
        ("Russian", "Ukrainian", "Bulgarian", "Serbian", "Macedonian", "Belarusian", "Kazakh"),
        frozenset(("cp1251", "koi8_r")),
    ),
    "Greek": frozenset(("cp1253",)),
    "Turkish": frozenset(("cp1254",)),
    "Hebrew": frozenset(("cp1255",)),
    "Arabic": frozenset(("cp1256",)),
    "Farsi": frozenset(("cp1256",)),
    **dict.fromkeys(("Lithuanian", "Latvian", "Estonian"), frozenset(("cp1257",))),
}
_READABLE = {"utf-8": "UTF-8", "cp1252": "windows-1252", "gb18030": "GB18030"}

_FTFY = TextFixerConfig(
    unescape_html=False,
    remove_terminal_escapes=False,
    fix_encoding=True,
    restore_byte_a0=True,
    replace_lossy_sequences=True,
    decode_inconsistent_utf8=True,
    fix_c1_controls=True,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    fix_surrogates=False,
    remove_control_chars=False,
    normalization=None,
    explain=True,
)
"""Only ftfy's encoding repairs: quotes, widths, ligatures and normalisation stay as the source wrote them."""

_CP1252_HIGH = bytes(range(0x80, 0xA0)).decode("cp1252", "ignore")
# Every UTF-8 sequence read as Latin-1 or Windows-1252 starts with one of Â..ô followed by a
# continuation byte's reading; C1 controls are Windows-1252 punctuation read as Latin-1. A fast
# gate only: ftfy, which is slow on long text, decides on the lines it lets through.
_SUSPECT = re.compile("[\u00c2-\u00f4][\u0080-\u00bf" + re.escape(_CP1252_HIGH) + "]|[\u0080-\u009f]")


@dataclass(frozen=True)
class Decoded:
    """A document's text, the codec it was read with, and what was done that its source did not declare."""

    text: str
    encoding: str
    repairs: list[Repair] = field(default_factory=list)


@dataclass(frozen=True)
class Mended:
    """Text after mojibake repair: how many lines changed, a sample as sent, and what ftfy did."""

    text: str
    lines: int = 0
    sample: str | None = None
    steps: tuple[str, ...] = ()

    def repair(self, where: str) -> Repair | None:
        """Describe the change for `Story.repairs`, or None when nothing changed."""
        if not self.lines:
            return None
        if "decode utf-8" in self.steps:
            what = "UTF-8 that had been read as Latin-1/Windows-1252 and encoded again (double encoding)"
        else:
            what = "Windows-1252 punctuation sent as C1 control codes"
        detail = f"{what}, repaired in {self.lines} line(s) by ftfy ({'; '.join(self.steps)})"
        return Repair(kind=RepairKind.ENCODING, field=where, original=self.sample, detail=detail[:500])


def _repair(original: str | None, detail: str) -> Repair:
    return Repair(
        kind=RepairKind.ENCODING,
        field="document",
        original=original[:2000] if original else None,
        detail=detail,
    )


@lru_cache(maxsize=256)
def codec_of(label: str | None) -> str | None:
    """Python's codec for a charset label, or None when unknown or refused (UTF-7, escape codecs)."""
    if not label or not label.strip():
        return None
    try:
        info = codecs.lookup(label.strip())
    except LookupError:
        return None
    name = info.name.replace("_", "-")
    if name in _REFUSED or not getattr(info, "_is_text_encoding", True):
        return None
    return name


@lru_cache(maxsize=256)
def _single_byte(codec: str) -> bool:
    return len(bytes(range(256)).decode(codec, "replace")) == 256


def _readable(codec: str) -> str:
    return _READABLE.get(codec, codec)


def _bom(data: bytes) -> tuple[int, str, str] | None:
    for mark, codec, name in _BOMS:
        if data.startswith(mark):
            return len(mark), codec, name
    return None


def _sniffed_utf16(data: bytes) -> str | None:
    """XML without a mark still opens with `<`: in UTF-16 a `<` next to a zero byte (XML 1.0, appendix F)."""
    if data[:4] in (b"<\x00?\x00", b"<\x00!\x00") or (data[:2] == b"<\x00" and data[2:3].isalpha()):
        return "utf-16-le"
    if data[:4] in (b"\x00<\x00?", b"\x00<\x00!") or (data[:2] == b"\x00<" and data[3:4].isalpha()):
        return "utf-16-be"
    return None


def declared_encoding(data: bytes, codec: str | None = None) -> str | None:
    """The label in the XML declaration, read in `codec` (Latin-1 for ASCII-compatible bytes)."""
    head = data[:600].decode(codec or "latin-1", "ignore")
    match = _DECLARATION.match(head)
    return match.group(2).strip() if match else None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _replaced(data: bytes, codec: str) -> tuple[str, int]:
    """Decode with U+FFFD for what is invalid; count the replacements the bytes did not hold already."""
    text = data.decode(codec, "replace")
    held = data.count("\ufffd".encode(codec)) if codec.startswith("utf") else 0
    return text, max(0, text.count("\ufffd") - held)


def _at_home(match: CharsetMatch) -> bool:
    return bool(_HOME.get(match.language, frozenset()) & set(match.could_be_from_charset))


def _legacy_guess(data: bytes) -> str | None:
    """The legacy code page charset-normalizer finds most plausible; Windows-1252 unless the language says otherwise.

    On short text its scores differ by noise (French scores as Baltic by a few hundredths). So
    among the readings with the least mess, another page wins over Windows-1252 (the commonest
    on Western wires) only where it reads as a different language that was written in it, as
    Turkish is in Windows-1254; with no Windows-1252 reading, the page its language calls home.
    """
    # The lines with 8-bit bytes are the evidence; a bounded sample of them keeps a large document fast.
    sample = b"\n".join(line for line in data.splitlines() if not line.isascii())[:_SAMPLE_BYTES]
    matches = list(charset_normalizer.from_bytes(sample, cp_isolation=_LEGACY, preemptive_behaviour=False))
    if not matches:
        return None
    least_chaos = min(m.chaos for m in matches)
    calm = sorted((m for m in matches if m.chaos <= least_chaos + 0.01), key=lambda m: -m.coherence)
    usual = next((m for m in calm if "cp1252" in m.could_be_from_charset), None)
    others = [m for m in calm if m is not usual and _at_home(m)]
    if usual is not None:
        others = [
            m
            for m in others
            if m.coherence > usual.coherence
            or (m.coherence == usual.coherence and m.language != usual.language)
        ]
    if others:
        chosen = others[0]
    elif usual is not None:
        return "cp1252"
    else:
        chosen = calm[0]
    return "cp1252" if "cp1252" in chosen.could_be_from_charset else str(chosen.encoding).replace("_", "-")


def _not_as_expected(data: bytes, expected: str, declared: str | None) -> Decoded:
    """Read bytes that are invalid in the encoding expected (UTF-8 by default or as declared)."""
    said = f"declared {declared}" if declared else "undeclared, so UTF-8 by XML's default"
    if expected == "utf-8":
        text, bad = _replaced(data, "utf-8")
        non_ascii = len(text) - len(text.encode("ascii", "ignore"))
        good = non_ascii - text.count("\ufffd")
        if good < bad and (guess := _legacy_guess(data)) is not None:
            reading = _readable(guess)
            detail = (
                f"{said}, but the bytes are not UTF-8; read as {reading}, charset-normalizer's best guess"
            )
            return Decoded(data.decode(guess, "replace"), guess, [_repair(declared, detail[:500])])
    else:
        text, bad = _replaced(data, expected)
    detail = f"{said}: {bad} invalid byte sequence(s) replaced with U+FFFD"
    return Decoded(text, expected, [_repair(declared, detail)])


def _undeclared(data: bytes) -> Decoded:
    """Read bytes that declare nothing usable: UTF-8, XML's default, unless the bytes say otherwise."""
    if data.isascii() or _is_utf8(data):
        return Decoded(data.decode("utf-8"), "utf-8")
    return _not_as_expected(data, "utf-8", None)


def _as_declared(data: bytes, label: str, codec: str) -> Decoded:
    """Read bytes in their declared encoding unless the bytes show it is not theirs."""
    if codec.startswith(("utf-16", "utf-32")):
        detail = f"declared {label} without a byte-order mark, but the bytes are 8-bit; read as UTF-8"
        found = _undeclared(data)
        return Decoded(found.text, found.encoding, [_repair(label, detail), *found.repairs])
    if codec == "utf-8":
        if _is_utf8(data):
            return Decoded(data.decode("utf-8"), "utf-8")
        return _not_as_expected(data, "utf-8", label)
    lie = f"declared {label}, but the bytes are UTF-8 (multi-byte sequences, all valid); read as UTF-8"
    if _single_byte(codec) and not data.isascii() and _is_utf8(data):
        return Decoded(data.decode("utf-8"), "utf-8", [_repair(label, lie)])
    reading = _SUPERSET.get(codec, codec)
    repairs = []
    if codec == "ascii" and not data.isascii():
        repairs.append(_repair(label, f"declared {label}, but 8-bit bytes present; read as windows-1252"))
    try:
        return Decoded(data.decode(reading), reading, repairs)
    except UnicodeDecodeError:
        if reading == "cp1252":  # the five bytes Windows-1252 leaves undefined: C1 controls, as in Latin-1
            return Decoded(data.decode("latin-1"), "latin-1", repairs)
        if _is_utf8(data):  # a multi-byte code page that the bytes break: they are UTF-8
            return Decoded(data.decode("utf-8"), "utf-8", [_repair(label, lie)])
        found = _not_as_expected(data, reading, label)
        return Decoded(found.text, found.encoding, repairs + found.repairs)


def decode_xml(data: bytes, *, charset: str | None = None) -> Decoded:
    """Decode an XML document; `charset` is the HTTP content type's charset parameter, if any."""
    bom = _bom(data)
    if bom is not None:
        size, codec, name = bom
        label = charset or declared_encoding(data[size:], codec)
        repairs: list[Repair] = []
        if label and codec_of(label) not in (codec, codec[:6], "utf-8-sig"):
            detail = f"the byte-order mark says {name}, the declaration {label}; the mark wins"
            repairs.append(_repair(label, detail))
        text, bad = _replaced(data[size:], codec)
        if bad:
            repairs.append(_repair(label, f"{name}: {bad} invalid byte sequence(s) replaced with U+FFFD"))
        return Decoded(text, codec, repairs)
    if (wide := _sniffed_utf16(data)) is not None:
        text, bad = _replaced(data, wide)
        note = [_repair(None, f"{wide}: {bad} invalid sequence(s) replaced with U+FFFD")] if bad else []
        return Decoded(text, wide, note)
    notes: list[Repair] = []
    for given in (charset, declared_encoding(data)):
        if not given:
            continue
        if (usable := codec_of(given)) is not None:
            found = _as_declared(data, given, usable)
            return Decoded(found.text, found.encoding, notes + found.repairs)
        notes.append(_repair(given, f"encoding {given!r} is unknown or not accepted; read by the bytes"))
    found = _undeclared(data)
    return Decoded(found.text, found.encoding, notes + found.repairs)


def mend(text: str) -> Mended:
    """Undo mojibake line by line with ftfy; lines that cannot hold any are not shown to it."""
    if text.isascii() or not _SUSPECT.search(text):
        return Mended(text)
    out: list[str] = []
    changed = 0
    sample: str | None = None
    steps: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.isascii() or not _SUSPECT.search(line):
            out.append(line)
            continue
        fixed = fix_and_explain(line, _FTFY)
        if fixed.text != line:
            changed += 1
            sample = sample or line.strip()[:300]
            for action, parameter in fixed.explanation or []:
                step = f"{action} {parameter}"
                if step not in steps:
                    steps.append(step)
        out.append(fixed.text)
    if not changed:
        return Mended(text)
    return Mended("".join(out), changed, sample, tuple(steps))


def xml_as_utf8(data: bytes, *, charset: str | None = None) -> tuple[bytes, list[Repair]]:
    """Return the document as UTF-8 declaring UTF-8 (for the XML parser), with the repairs made on the way."""
    decoded = decode_xml(data, charset=charset)
    mended = mend(decoded.text)
    repairs = list(decoded.repairs)
    if (repair := mended.repair("document")) is not None:
        repairs.append(repair)
    if decoded.encoding == "utf-8" and not repairs and not data.startswith(codecs.BOM_UTF8):
        return data, []  # already what the parser needs: no copy of a large document
    text = _DECLARED_ENCODING.sub(r'\g<1>"UTF-8"', mended.text, count=1)
    return text.encode("utf-8"), repairs


def text_as_utf8(data: bytes, *, charset: str | None = None) -> tuple[bytes, list[Repair]]:
    """Return a plain-text or JSON document as UTF-8 with mojibake mended, and the repairs made.

    A `charset` other than UTF-8 is honoured (checked against the bytes like a declaration).
    Without one, bytes that are not UTF-8 are returned as they are, for the parser to judge: agency
    text and JSON must be UTF-8, IPTC 7901 falls back to Windows-1252.
    """
    codec = codec_of(charset)
    if codec is not None and codec not in ("utf-8", "utf-8-sig"):
        decoded = _as_declared(data, charset or codec, codec)
        text, repairs = decoded.text, list(decoded.repairs)
    else:
        try:
            text, repairs = data.decode("utf-8-sig"), []
        except UnicodeDecodeError:
            return data, []
        if text.isascii():
            return data, []
    mended = mend(text)
    if (repair := mended.repair("document")) is not None:
        repairs.append(repair)
    elif codec in (None, "utf-8", "utf-8-sig"):
        return data, repairs  # unchanged: no copy of a large document
    return mended.text.encode("utf-8"), repairs


def charset_param(content_type: str | None) -> str | None:
    """The `charset` parameter of a content type, unquoted (`charset= "us-ascii"` is seen in the wild)."""
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("'\"").strip() or None
    return None


def utf8_type(content_type: str | None) -> str | None:
    """The content type of a document once re-encoded as UTF-8: its media type with `charset=utf-8`."""
    media = (content_type or "").split(";", 1)[0].strip()
    return f"{media}; charset=utf-8" if media else None
