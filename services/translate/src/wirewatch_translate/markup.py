"""HTML as a translator sees it: the text nodes to translate, and the markup kept exactly as written.

Tags, attributes, comments and declarations come back as they were; `script`/`style` content and
elements marked `translate="no"` or class `notranslate` are left alone; whitespace runs collapse
outside `pre` and `textarea`. Translated text is always escaped when put back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser


class UnreadableMarkup(ValueError):
    """The HTML holds a declaration the parser cannot read."""


# fmt: off
_VOID = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr",
})
# fmt: on
_RAW = frozenset({"script", "style"})
_PREFORMATTED = frozenset({"pre", "textarea"})


@dataclass(frozen=True)
class Markup:
    """An HTML text as markup kept as written around the text nodes to translate."""

    parts: tuple[str | int, ...]
    """Markup (or escaped text) emitted as is, or the index of a text in `texts`."""
    texts: tuple[str, ...]
    """Text nodes to translate, unescaped (`&amp;` read as `&`), without their outer whitespace."""

    def render(self, translations: Sequence[str]) -> str:
        """The markup with each text replaced by its translation, escaped (`<`, `>`, `&`)."""
        return "".join(p if isinstance(p, str) else escape(translations[p], quote=False) for p in self.parts)


class _MarkupReader(HTMLParser):
    """Collect text nodes with the stdlib parser; tags, comments and declarations pass through as written.

    Not translated: script and style (passed through raw), and elements marked `translate="no"` or
    class `notranslate` (their text is kept, escaped). Outside pre and textarea, runs of whitespace
    in a text are read as one space, as a browser shows them.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str | int] = []
        self.texts: list[str] = []
        self.open: list[tuple[str, bool]] = []  # (tag, text inside is kept as it is)
        self.pending: list[str] = []  # the parser may hand one text node over in several pieces

    def markup(self, text: str) -> None:
        """Emit markup as written, after the text before it."""
        self.flush()
        self.parts.append(text)

    def flush(self) -> None:
        """Emit the text read since the last markup: raw, escaped, or as a text to translate."""
        data = "".join(self.pending)
        self.pending.clear()
        if not data:
            return
        if self.open and self.open[-1][0] in _RAW:
            self.parts.append(data)  # script or style: the parser gives it raw; escaping would break it
            return
        core = data.strip()
        if (self.open and self.open[-1][1]) or not core:
            self.parts.append(escape(data, quote=False))
            return
        if not any(tag in _PREFORMATTED for tag, _ in self.open):
            core = " ".join(core.split())
        start = len(data) - len(data.lstrip())
        end = len(data.rstrip())
        self.parts += [data[:start], len(self.texts), data[end:]]
        self.texts.append(core)

    def handle_data(self, data: str) -> None:
        self.pending.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.markup(self.get_starttag_text() or f"<{tag}>")
        if tag in _VOID:
            return
        marks = dict(attrs)
        keep = (
            (bool(self.open) and self.open[-1][1])
            or tag in _RAW
            or (marks.get("translate") or "").strip().lower() == "no"
            or "notranslate" in (marks.get("class") or "").split()
        )
        self.open.append((tag, keep))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.markup(self.get_starttag_text() or f"<{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        self.markup(f"</{tag}>")
        for depth in range(len(self.open) - 1, -1, -1):
            if self.open[depth][0] == tag:
                del self.open[depth:]
                break

    def handle_comment(self, data: str) -> None:
        self.markup(f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self.markup(f"<!{decl}>")

    def handle_pi(self, data: str) -> None:
        self.markup(f"<?{data}>")

    def unknown_decl(self, data: str) -> None:
        # a conditional comment (<![if IE]>) ends in ]>, a CDATA or other marked section in ]]>
        conditional = data.strip().lower().startswith(("if", "else", "endif"))
        self.markup(f"<![{data}]>" if conditional else f"<![{data}]]>")


def read_markup(html: str) -> Markup:
    """Split HTML into markup and the text nodes to translate (see `_MarkupReader`)."""
    reader = _MarkupReader()
    try:
        reader.feed(html)
        reader.close()
    except AssertionError as exc:  # the stdlib parser's answer to a declaration it cannot read
        text = str(exc)
        msg = text if len(text) <= 120 else text[:119] + "…"
        raise UnreadableMarkup(msg) from exc
    reader.pending.append(reader.rawdata)  # an unclosed script or style at the end is held back
    reader.flush()
    return Markup(tuple(p for p in reader.parts if p != ""), tuple(reader.texts))
