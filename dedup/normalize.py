"""Text normalisation before shingling: Unicode, HTML, case, and universal junk lines.

The output of :func:`article_text` is one string per article: the headline on the first line, then
the body lines. Everything here runs per article in C-level string operations (``unicodedata``,
``re``, ``str.casefold``); tokenising and hashing happen later in compiled code (``dedup.shingle``).
Outlet-specific boilerplate is learned from the corpus in ``dedup.boilerplate``; this module only
knows the junk that looks the same at every outlet.
"""

from __future__ import annotations

import html
import re
import unicodedata

import numpy as np

__all__ = [
    "clean_text",
    "normalize_text",
    "strip_junk",
    "article_text",
    "shingle_text",
    "encode_batch",
    "encode_texts",
    "JUNK_LINE_PATTERNS",
]

_TAG_RE = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]{0,500})?/?>")
# block-level tags end a line, so junk lines and boilerplate stay lines in HTML bodies
_BLOCK_TAG_RE = re.compile(
    r"</?(?:p|br|div|li|ul|ol|h[1-6]|tr|table|blockquote|section|article|aside|figure|figcaption|header|footer"
    r"|nav|pre|hr|dd|dt|dl)(?:\s[^<>]{0,500})?/?>",
    re.IGNORECASE,
)
_INVISIBLE_RE = re.compile(
    r"<(script|style|noscript|template)\b[^>]{0,500}>.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
_OTHER_NEWLINES = ("\u2028", "\u2029", "\x85")

#: Lines (after case folding) that are junk wherever they appear. Each pattern must match a whole
#: line; keep them anchored on words a real news sentence would not end a line with.
JUNK_LINE_PATTERNS: tuple[str, ...] = (
    r"advert(?:isement)?s?",
    r"sponsored(?: content)?",
    r"(?:share|tweet|email|print|save|comment on) (?:this|the) (?:article|story|page|post)",
    r"share(?: this)?(?: on)?(?: (?:facebook|twitter|x|whatsapp|linkedin|email|reddit)[ ,|/]*)*",
    r"(?:facebook|twitter|x|whatsapp|linkedin|email|reddit|pinterest|telegram|copy link)"
    r"(?:[ ,|/·•]+(?:facebook|twitter|x|whatsapp|linkedin|email|reddit|pinterest|telegram|copy link))*",
    r"copy(?: link)? to clipboard|link copied(?: to clipboard)?|copy link",
    r"(?:click|tap) (?:here|to) [^.]{0,60}",
    r"(?:sign up|subscribe) (?:for|to) (?:our|the) [^.]{0,60}newsletters?[^.]{0,60}",
    r"(?:photo|image|picture|video|graphic|file photo|illustration)s? ?(?:credit|caption|source)?s? ?[:|].{0,120}",
    r"\(?(?:ap|afp|reuters|getty|epa|pa|aap|dpa|ansa|xinhua|efe) ?(?:photo|images?|video)[^)\n]{0,80}\)?",
    r"(?:image|photo|picture) (?:copyright|source|caption)[^\n]{0,120}",
    r"(?:©|\(c\)) ?[^\n]{0,300}",
    r"copyright (?:©|\(c\) )?\d{4}[^\n]{0,100}(?<![.!?])",
    r"[^\n]{0,150}all rights reserved\.?[^\n]{0,150}",
    r"this (?:material|article|story) (?:may not|must not) be (?:published|broadcast|rewritten|redistributed)"
    r"[^\n]{0,120}",
    # "Updated 10:45 EST", "Published: 3 March 2024", "Posted on Mon, Mar 3": a date must follow
    r"(?:updated|published|posted|last updated|first published)(?: on| at)?:? ?"
    r"(?:\d|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun|today|yesterday)"
    r"[^\n]{0,50}(?<![.!?])",
    # bylines: "By Jane Doe", "By Jane Doe and Li Wei, Reuters" -- a few name words, no sentence
    r"(?:by|words by|reporting by|written by|reported by) [\w'’.-]+(?: [\w'’.-]+){0,3}"
    r"(?:,? (?:and|&) [\w'’.-]+(?: [\w'’.-]+){0,3})?(?: ?[,;|/•·-] ?[^\n]{1,60})?(?<![.!?])",
    r"(?:\d+|one|two|three|four|five) min(?:ute)?s? read",
    r"read (?:more|next|also|full story)[^\n]{0,100}",
    r"(?:listen to|watch|play) (?:this|the) (?:article|story|video)[^\n]{0,60}",
    r"(?:continue|keep) reading[^\n]{0,40}",
    r"(?:follow|like) us on [^\n]{0,80}",
    r"loading(?: \.\.\.|…)?",
)

# Headings that introduce a block of related links: the heading and the short, unpunctuated lines
# that follow it (headlines of other articles) are dropped together.
_LINK_BLOCK_HEADINGS = (
    r"you (?:may|might) (?:also )?(?:like|be interested in|have missed)",
    r"related(?: articles| stories| coverage| content| news| topics| links)?",
    r"read more(?: on this| about this)?(?: story| topic)?",
    r"more (?:on|about) this (?:story|topic)",
    r"(?:more|top|latest) (?:stories|news|headlines)(?: from [^\n]{1,40})?",
    r"recommended(?: for you| stories| reading)?",
    r"(?:trending|popular)(?: now| stories)?",
    r"most (?:read|popular|viewed|shared)",
    r"see also",
    r"further reading",
    r"what to read next",
)

_JUNK_RE = re.compile("(?:" + "|".join(JUNK_LINE_PATTERNS) + ")")
_LINK_HEADING_RE = re.compile("(?:" + "|".join(_LINK_BLOCK_HEADINGS) + ") ?:?")
_BULLET_RE = re.compile(r"[-•*·▪►>]+ ?")
_SENTENCE_END = (".", "!", "?", '"', "”", ":", ";")
_MAX_JUNK_LINE = 320  # no junk pattern matches a longer line
_MAX_LINK_LINE = 160
_MAX_LINK_LINES = 15


def clean_text(text: str) -> str:
    """Unicode NFKC, HTML entities and tags, one kind of newline; case kept (for people and models).

    Fast paths matter here (this runs once per article in Python): plain-ASCII text skips the
    Unicode work, and each substitution runs only when its trigger character is present.
    """
    if not text:
        return ""
    if "<" in text:
        text = _INVISIBLE_RE.sub(" ", text)
        text = _BLOCK_TAG_RE.sub("\n", text)
        text = _TAG_RE.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
    for sep in _OTHER_NEWLINES:
        if sep in text:
            text = text.replace(sep, "\n")
    return text


def normalize_text(text: str) -> str:
    """:func:`clean_text`, case-folded: what the shingler compares."""
    text = clean_text(text)
    return text.lower() if text.isascii() else text.casefold()


_KEEP, _JUNK, _LINK_HEADING = 0, 1, 2
_LINE_KINDS: dict[str, int] = {}
_LINE_KINDS_MAX = 200_000


def _line_kind(bare: str) -> int:
    """Junk, link-block heading, or keep. Memoised: junk lines repeat across a corpus by nature."""
    kind = _LINE_KINDS.get(bare)
    if kind is None:
        folded = bare.casefold()
        if _LINK_HEADING_RE.fullmatch(folded):
            kind = _LINK_HEADING
        elif _JUNK_RE.fullmatch(folded):
            kind = _JUNK
        else:
            kind = _KEEP
        if len(_LINE_KINDS) >= _LINE_KINDS_MAX:
            _LINE_KINDS.clear()
        _LINE_KINDS[bare] = kind
    return kind


def strip_junk(text: str) -> str:
    """Drop universal junk lines and related-link blocks (text of any case, cleaned by :func:`clean_text`).

    Works line by line and only looks at short lines: every junk pattern is bounded in length, so
    the long paragraphs that make up most of an article cost one ``len`` each.
    """
    lines = text.split("\n")
    if len(lines) == 1 and len(text) > _MAX_JUNK_LINE:
        return text
    kept: list[str] = []
    in_links = 0  # > 0 while inside a related-links block: how many more link lines may follow
    dropped = False
    for line in lines:
        if not line:  # paragraph breaks: nearly half the lines of a typical article
            kept.append(line)
            continue
        if len(line) > _MAX_JUNK_LINE:
            kept.append(line)
            in_links = 0
            continue
        bare = line.strip()
        if "  " in bare or "\t" in bare:
            bare = " ".join(bare.split())
        if not bare:
            kept.append(line)
            continue
        if in_links:
            link = _BULLET_RE.sub("", bare, count=1)
            if len(link) <= _MAX_LINK_LINE and not link.endswith(_SENTENCE_END):
                in_links -= 1
                dropped = True
                continue
            in_links = 0
        kind = _line_kind(bare)
        if kind == _KEEP:
            kept.append(line)
            continue
        if kind == _LINK_HEADING:
            in_links = _MAX_LINK_LINES
        dropped = True
    return "\n".join(kept) if dropped else text


def shingle_text(article, record=None) -> str:
    """:func:`article_text` of an :class:`~dedup.records.Article` (a picklable worker task)."""
    return article_text(article.title, article.text)


def article_text(title: str, text: str) -> str:
    """The string the shingler sees: the cleaned headline, a newline, the cleaned body.

    Case is left as it is: the tokeniser folds it (``dedup.shingle.tokenize``), in compiled code,
    which is where ``str.casefold`` used to spend a fifth of the per-article Python time.
    """
    head = clean_text(title).replace("\n", " ") if title else ""
    return head + "\n" + strip_junk(clean_text(text))


def encode_batch(texts: list[str] | list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate texts as UTF-8 into one byte buffer, with the start offset of each text (and
    the end of the last): what the compiled tokeniser (``dedup.shingle``) reads. Texts given as
    bytes are taken as UTF-8 already (a quarter of the cost of encoding them here)."""
    encoded = [t if isinstance(t, bytes) else t.encode("utf-8", "surrogatepass") for t in texts]
    lengths = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    buf = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return buf, offsets


def encode_texts(texts: list[str]) -> tuple[tuple[np.ndarray, np.ndarray], list[None]]:
    """Worker-side packing (see :func:`dedup.runner.scan_articles`) that needs no compiled code:
    a range's cleaned texts become one UTF-8 buffer (:func:`encode_batch`), sent as one block
    instead of a string per article, and the articles go on without their text."""
    return encode_batch(texts), [None] * len(texts)
