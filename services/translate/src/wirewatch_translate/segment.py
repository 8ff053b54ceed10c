"""Offline sentence segmentation for news copy in English, Arabic and Turkish, with rules per language.

argostranslate's own splitters need a model fetched on first use (minisbd's ONNX files, stanza or
spaCy), and pysbd, the usual rule-based choice, has no Turkish rules and is not a dependency, so
wirewatch splits sentences itself. A wrong split garbles the translation of both halves while a
missed one only makes a longer input, so a period ends a sentence only when the evidence says so:

- A boundary is `.`, `!`, `?`, `؟`, `…` or `۔` (runs such as `?!` or `...` count as one), optional
  closing quotes or brackets, whitespace, and a next word that is not lower case. Arabic has no
  case, so there the words around the period decide. Commas, colons and semicolons, Latin or
  Arabic (`،` `؛`), never end a sentence; nothing inside a quotation that closes in the paragraph does.
- After a period the word before it is read against the language's `Rules`: titles (`Dr.`, `Doç.`,
  `د.`) never end a sentence; numbering words (`No.`, `Jan.`, `ص.`) do not before a number;
  abbreviations that usually close a phrase (`etc.`, `a.m.`, `vb.`) end one unless a continuation
  follows (`8 p.m. Eastern`); ambiguous ones (`U.S.`, `Inc.`, `Jr.`, initials, `A.Ş.`) end one only
  when the next word is a closed-class sentence opener (`The`, `Bu`, `وقال`), words that begin
  sentences but never continue a name.
- Turkish writes ordinals as digits and a period (`2. Dünya Savaşı`, `1. Lig`, `19. yüzyıl`), so
  there `2.` is an ordinal unless the number is a quantity (after `yüzde`, `sayısı`...), cannot be
  an ordinal (`3,5`, `1.250.000`, a year, a date) or a sentence opener follows.
- In Arabic, a question or exclamation closing a quotation ends the sentence unless an attribution
  (`قال`, `تساءلت`) or a preposition follows: `«لماذا نخسر؟» في صحيفة الأهرام` is one sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

_BOUNDARY = re.compile(r"([.!?؟…۔]+)([\"'”’»›)\]]*)(\s+)")
_QUOTE_PAIRS = {"“": "”", "«": "»", "‹": "›", '"': '"'}
_CLOSING_QUOTES = "\"'”’»›"
_OPENERS = "\"'“‘«‹(["
"""What may stand before the first word of a sentence."""
_WORD = re.compile(r"[^\W_]+")
_DOTTED = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]?")
"""Letters each followed by a period: U.S, J.R.R, A.Ş, T.C, أ.د (the final period is the boundary's)."""
_TURKISH_ORDINAL = re.compile(r"\d{1,3}|(?=[IVXLC])(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})")
"""An ordinal before a period in Turkish: up to three digits, or a Roman numeral up to XCIX (IV. Murat)."""
_NUMBER = re.compile(r"\d[\d.,٫٬]*")
_ARABIC_MARKS = re.compile(r"[\u064B-\u0652\u0670\u0640]")


_CONTEXT = 120
"""Characters read on each side of a candidate boundary: a word, the word before it, the next word."""


def _fold(word: str) -> str:
    """Lower-case a word for lookups (Turkish İ → i, not i + a combining dot) and drop Arabic vowel marks."""
    return _ARABIC_MARKS.sub("", word.replace("İ", "i").lower())


class WordList:
    """Words compared as abbreviations are written: lower-case entries in any case, others as listed or in capitals.

    `Dr` matches `Dr` and `DR` but not `dr`; `vb` matches `vb`, `Vb` and `VB`. The case matters:
    Turkish `sen.` (you) ends a sentence where English `Sen.` (senator) does not.
    """

    def __init__(self, *texts: str) -> None:
        words = [w for text in texts for w in text.split()]
        self._exact = frozenset(words) | frozenset(w.upper() for w in words)
        self._any_case = frozenset(w for w in words if w == _fold(w))

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str) or not word:
            return False
        return word in self._exact or _fold(word) in self._any_case

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._exact))


@dataclass(frozen=True)
class Rules:
    """How one language's words decide whether a period ends a sentence (see the module docstring)."""

    titles: WordList
    """Stand before a name or a noun, so never end a sentence: Dr, Gen, Doç, Av, د."""
    numbering: WordList
    """Stand before a number: no boundary when one follows (No. 5, Jan. 12, ص. 5)."""
    closing: WordList
    """Usually close a phrase (etc., a.m., vb.): a boundary unless a `continuations` word follows."""
    ambiguous: WordList
    """May end a sentence (U.S., Inc., Jr.): a boundary only before a sentence opener."""
    openers: WordList
    """Closed-class words that begin sentences and never continue a name: The, But, Bu, Ancak, وقال."""
    continuations: WordList = field(default_factory=WordList)
    """Words that carry on after a `closing` abbreviation: time zones after a.m./p.m."""
    ordinal_periods: bool = False
    """Digits and a period make an ordinal (Turkish, as the spelling rules write it)."""
    quantity_words: WordList = field(default_factory=WordList)
    """Words after which a number is a quantity, never an ordinal: yüzde 47., sayısı 25."""
    after_number: WordList = field(default_factory=WordList)
    """Markers that close a date or time when a number precedes them (Arabic م. era, ص. morning)."""
    quote_continuations: WordList = field(default_factory=WordList)
    """Words that carry a sentence on past a quotation's own ?, ! or . where case cannot tell (Arabic)."""


# --- English ------------------------------------------------------------------------------------
_EN_TITLES = """Mr Mrs Ms Messrs Mmes Dr Drs Prof Gen Gens Lt Col Maj Brig Sgt Cpl Pvt Capt Cmdr Cdr Adm
Gov Sen Sens Rep Reps Rev Hon Rt Fr Pres Supt Insp Det Atty Amb Sec Mt Ft e.g i.e cf viz vs"""
_EN_NUMBERING = """No Nos Nr Vol Vols Art Arts Fig Figs p pp ch sec para Apt Rte
Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec approx ca est"""
_EN_CLOSING = "etc a.m p.m"
_EN_AMBIGUOUS = """Inc Ltd Corp Co Cos Bros Jr Sr St Ave Blvd Rd Univ Dept Assn Ph.D al Plc plc
Ala Ariz Ark Calif Colo Conn Del Fla Ga Ill Ind Kan Ky La Md Mass Mich Minn Miss Mo Mont Neb Nev
Okla Ore Pa Tenn Tex Va Vt Wash Wis Wyo"""
_EN_CONTINUATIONS = """GMT UTC ET EST EDT CT CST CDT MT MST MDT PT PST PDT BST CET CEST EET EEST AST
Eastern Central Mountain Pacific Atlantic Greenwich Monday Tuesday Wednesday Thursday Friday Saturday
Sunday"""
"""What carries on after a time (`8 p.m. Eastern`, `2 p.m. Thursday`): time zones and weekdays."""
_EN_OPENERS = """the a an this that these those there here he she it we they i you his her its our their
my your but and or nor so yet however meanwhile also still then now thus hence instead moreover
in on at for from with by after before during when while if as although though since because
despite under over among about according some many most several few no none all both each every
neither either such what who whom whose why how where which"""

# --- Turkish ------------------------------------------------------------------------------------
_TR_TITLES = """Dr Prof Doç Yrd Yard Av Sn Hz Alb Org Orgeneral Korg Tümg Tuğg Tuğa Tüma Kur Yzb Ütğm Tğm
Bnb Asb Uzm Op Öğr Gör Ar Gen Müd Bşk Cad Sok Mah Blv Bul Apt Tic San Ltd Ecz Dt Mim Müh Vet
Mr Mrs Ms bkz bk krş örn ör"""
_TR_NUMBERING = "No Nu md mad s sf syf Tel Oca Şub Mar Nis Haz Tem Ağu Eyl Eki Kas Ara"
_TR_CLOSING = "vb vs vd"
_TR_AMBIGUOUS = "Şti yy Inc Corp Co Jr"
_TR_OPENERS = """bu şu o bunlar şunlar onlar bunu şunu onu buna şuna ona bunun şunun onun bundan şundan
ondan bunda şurada burada orada ben biz sen siz kendisi kendileri ancak ama fakat lakin ve veya ya
yahut yani ayrıca üstelik hatta çünkü zira oysa halbuki öte diğer bununla böylece böyle dolayısıyla
sonra ardından daha henüz şimdi artık bugün dün yarın bir hiç her hiçbir bazı birçok birkaç tüm
bütün kimse herkes hepsi ne neden niçin nasıl kim hangi nerede belki elbette işte evet hayır peki"""
_TR_QUANTITIES = """yüzde binde toplam toplamda yaklaşık sayı sayısı oran oranı tutar tutarı miktar miktarı
rakam rakamı skor skoru puan puanı fiyat fiyatı değer değeri bedel bedeli adet nüfus nüfusu yaş yaşı
kapasite kapasitesi seviye seviyesi endeks endeksi sıcaklık sıcaklığı hız hızı süre süresi
mesafe mesafesi numara numarası no"""

# --- Arabic (Latin abbreviations inside Arabic copy follow the English lists) -------------------
_AR_TITLES = "د أ أ.د م ش"  # doctor, ustadh, professor doctor, engineer, street
_AR_NUMBERING = "ص ج ح"  # page, volume (juz'), episode
_AR_CLOSING = "ق.م هـ ه"  # before Christ, hijri year
_AR_AFTER_NUMBER = "م ص"  # after a number: AD (miladi) or p.m. (masa'an); a.m. (sabahan)
_AR_OPENERS = "ثم لكن لكنّ كما بينما أما إلا غير هكذا هذا هذه ذلك تلك هل لماذا متى كيف ماذا أين"
_AR_AFTER_CONJUNCTION = """قال قالت قالوا أضاف أضافت أكد أكدت أشار أشارت تابع تابعت أوضح أوضحت
أعلن أعلنت ذكر ذكرت لفت شدد شددت كان كانت يأتي تأتي يقول تقول يذكر يشار تشير يشير يعد تعد بدأ بدأت
لم لن لا ما قد في من على عن إلى مع هو هي هم هذا هذه ذلك تلك بحسب وفق بعد قبل منذ خلال"""
"""Sentence openers when they follow the conjunction و or ف (وقال, وفي, فقد); bare, most also continue one."""
_AR_PREPOSITIONS = (
    "في على عن من إلى مع حسب بحسب وفق أمام خلف بين داخل خارج عند لدى نحو حول ضد عبر دون تحت فوق"
)
"""Prepositions and adverbs of place: they carry a sentence on past a closing element (a quotation, an
era marker) and do not open a news sentence. Those of time (بعد, قبل, منذ) can, so they are not here."""
_AR_QUOTE_CONTINUATIONS = """قال قالت قالوا أضاف أضافت تساءل تساءلت تساءلوا سأل سألت أكد أكدت صرخ صرخت
هتف هتفت هتفوا ردد رددت رددوا كتب كتبت يقول تقول يتساءل تتساءل"""
"""After «...؟» or «...!»: an attribution (قال, تساءلت) or a preposition (في) carries the sentence on."""


def _with_conjunctions(words: str) -> str:
    """Prefix every word with the conjunctions و and ف."""
    return " ".join(f"{c}{w}" for w in words.split() for c in "وف")


RULES: dict[str, Rules] = {
    "en": Rules(
        titles=WordList(_EN_TITLES),
        numbering=WordList(_EN_NUMBERING),
        closing=WordList(_EN_CLOSING),
        ambiguous=WordList(_EN_AMBIGUOUS),
        openers=WordList(_EN_OPENERS),
        continuations=WordList(_EN_CONTINUATIONS),
    ),
    "tr": Rules(
        titles=WordList(_TR_TITLES),
        numbering=WordList(_TR_NUMBERING),
        closing=WordList(_TR_CLOSING),
        ambiguous=WordList(_TR_AMBIGUOUS),
        openers=WordList(_TR_OPENERS),
        ordinal_periods=True,
        quantity_words=WordList(_TR_QUANTITIES),
    ),
    "ar": Rules(
        titles=WordList(_AR_TITLES, _EN_TITLES),
        numbering=WordList(_AR_NUMBERING, _EN_NUMBERING),
        closing=WordList(_AR_CLOSING, _EN_CLOSING),
        ambiguous=WordList(_EN_AMBIGUOUS),
        openers=WordList(_AR_OPENERS, _with_conjunctions(_AR_AFTER_CONJUNCTION), _EN_OPENERS),
        continuations=WordList(_AR_PREPOSITIONS, _EN_CONTINUATIONS),
        after_number=WordList(_AR_AFTER_NUMBER),
        quote_continuations=WordList(_AR_QUOTE_CONTINUATIONS, _AR_PREPOSITIONS),
    ),
}
"""Segmentation rules per language; other languages get the English ones."""

ABBREVIATIONS: dict[str, frozenset[str]] = {
    lang: frozenset(_fold(w) for w in rules.titles) for lang, rules in RULES.items()
}
"""Lower-case titles per language, without their final dot: a period after them never ends a sentence."""


def _rules(lang: str) -> Rules:
    """The rules for a language code such as `tr`, `en-GB` or `ar_EG`; English for languages without their own."""
    return RULES.get(re.split(r"[-_]", lang, maxsplit=1)[0].lower(), RULES["en"])


def _quoted(text: str) -> list[bool]:
    """Mark the characters strictly inside a quotation that closes within the text.

    A quote left open (a quotation that runs on into the next paragraph, as wire copy writes it)
    marks nothing, so its sentences split as if it were absent.
    """
    marks = [0] * (len(text) + 1)
    stack: list[tuple[str, int]] = []
    for i, ch in enumerate(text):
        if stack and ch == stack[-1][0]:
            _, opened = stack.pop()
            marks[opened + 1] += 1
            marks[i] -= 1
        elif ch in _QUOTE_PAIRS:
            stack.append((_QUOTE_PAIRS[ch], i))
    inside = []
    depth = 0
    for mark in marks[:-1]:
        depth += mark
        inside.append(depth > 0)
    return inside


@dataclass(frozen=True)
class _Next:
    """What follows a candidate boundary: its first character past opening quotes, and its first word."""

    first: str
    word: str
    is_initial: bool  # "O" in "M. O. Kaya": a letter with its own period, not the pronoun


def _next(following: str) -> _Next:
    rest = following.lstrip(_OPENERS)
    match = _WORD.match(rest)
    word = match.group() if match else ""
    return _Next(rest[:1], word, len(word) == 1 and rest[1:2] == ".")


def _opens_sentence(nxt: _Next, rules: Rules) -> bool:
    """Tell whether the next word is a closed-class sentence opener (capitalised as one, where case exists)."""
    word = nxt.word
    if not word or nxt.is_initial:
        return False
    if word[0].isupper() and len(word) > 1 and not word[1:].islower():
        return False  # "IT", "AB": an acronym, not "It" or "Ab..."
    return word in rules.openers


def _is_quantity(before: list[str], rules: Rules) -> bool:
    """Tell whether the word before a number makes it a quantity (Turkish `yüzde 47`, `sayısı 25`)."""
    return len(before) >= 2 and before[-2].strip(_OPENERS) in rules.quantity_words


def _period_ends_sentence(before: str, nxt: _Next, rules: Rules) -> bool:
    """Decide a single period followed by a word that is not lower case (see the module docstring)."""
    words = before.rsplit(None, 2)
    core = words[-1].lstrip(_OPENERS) if words else ""
    if not core or not core[-1].isalnum():
        return True  # "(AA).", "3.7%.", "nezdinde»."
    digit_next = nxt.first.isdigit()
    if core in rules.after_number and len(words) >= 2 and _NUMBER.fullmatch(words[-2]):
        return nxt.word not in rules.continuations
    if core in rules.titles:
        return False
    if digit_next and core in rules.numbering:
        return False
    if core in rules.closing:
        return nxt.word not in rules.continuations
    if core in rules.ambiguous or _DOTTED.fullmatch(core) or (len(core) == 1 and core.isalpha()):
        return not digit_next and _opens_sentence(nxt, rules)
    if rules.ordinal_periods and _TURKISH_ORDINAL.fullmatch(core) and not digit_next:
        if core.isdigit() and _is_quantity(words, rules):
            return True
        return _opens_sentence(nxt, rules)
    return True


def _ends_sentence(before: str, punctuation: str, closers: str, following: str, rules: Rules) -> bool:
    """Decide one candidate boundary: `before` ends just ahead of the punctuation, `following` after the space."""
    nxt = _next(following)
    if not nxt.first or nxt.first.islower():
        return False
    if any(q in closers for q in _CLOSING_QUOTES) and nxt.word in rules.quote_continuations:
        return False
    if punctuation != ".":
        return True  # ?, !, ؟, an ellipsis, ۔: nothing abbreviates with them
    return _period_ends_sentence(before, nxt, rules)


def split_sentences(paragraph: str, lang: str = "en", *, respect_quotes: bool = True) -> list[str]:
    """Split one paragraph into sentences with the rules of `lang`; joining them with single spaces gives it back.

    `respect_quotes=False` splits inside quotations too.
    """
    text = paragraph.strip()
    if not text:
        return []
    rules = _rules(lang)
    inside = _quoted(text) if respect_quotes else [False] * len(text)
    sentences = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end(2)
        if inside[end - 1]:
            continue  # inside a quotation: keep the quote whole
        before = text[max(start, match.start(1) - _CONTEXT) : match.start(1)]
        following = text[match.end(3) : match.end(3) + _CONTEXT]
        if not _ends_sentence(before, match.group(1), match.group(2), following, rules):
            continue
        sentences.append(text[start:end].strip())
        start = match.end(3)
    sentences.append(text[start:].strip())
    return [s for s in sentences if s]


def split_paragraphs(text: str) -> list[str]:
    """Split free text (the ad-hoc API) into paragraphs at line breaks, dropping empty ones."""
    return [p.strip() for p in re.split(r"\n\s*\n|\n", text) if p.strip()]


_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF]")
_TURKISH = re.compile(r"[ğĞıİşŞ]")


def guess_language(text: str) -> str:
    """Guess ar, tr or en from the script and letters; a crude fallback when a caller names no source."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return "en"
    if sum(1 for ch in letters if _ARABIC.match(ch)) > len(letters) / 3:
        return "ar"
    if _TURKISH.search(text):
        return "tr"
    return "en"
