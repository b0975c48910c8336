"""Visible text: main-content extraction, element text, whitespace and
boilerplate clean-up, and the page's declared language."""

from __future__ import annotations

import copy
import logging
import re

import trafilatura
from lxml import etree
from parsel import Selector

from complaintwatch.language import language_scores

log = logging.getLogger(__name__)

_BLOCK = frozenset(
    "address article aside blockquote dd details div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table tbody td th thead tr ul".split()
)
_JUNK = "script style noscript template svg button select textarea iframe".split()

# Lines that are navigation or widget chrome, not anything the author wrote.
# Compared after lower-casing and stripping arrows/brackets/punctuation.
_BOILERPLATE = frozenset(
    (
        "previous post|next post|previous post next post|previous|next|older post|newer post|newer post older post|"
        "home|up|top|back to top|nach oben|наверх|spoiler|spoiler click to open|click to expand|"
        "zum vergrößern anklicken|klicken zum erweitern|развернуть|свернуть|показать полностью|читать дальше|"
        "read more|continue reading|weiterlesen|share|share this|tweet|like|like this|reply|antworten|ответить|"
        "report|permalink|loading|related|leave a reply|leave a comment|kommentar hinzufügen|email this|blogthis|"
        "share to twitter|share to facebook|share to pinterest|cancel reply|skip to content|post navigation"
    ).split("|")
)
_STRIP_CHARS = "«»‹›←→↑↓<>[](){}|·•:;.,!?…–—-*#★☆  \t"
# Mobile-app signatures forums append to posts.
_SIGNATURE = re.compile(
    r"^(?:sent from my|sent using|gesendet von meinem|gesendet mit|отправлено с моего|отправлено через)\b"
    r"|^mit der .{0,60}\bapp\b.{0,80}\bgeschrieben\W*$",
    re.I,
)
# An attachment chip's file size left on its own line ("( 10.01 МБ )", "(12.3 KiB)").
# In parentheses only: "512 MB" alone is someone's RAM in a hardware thread.
_SIZE_LINE = re.compile(r"^\(\s*\d+(?:[.,]\d+)?\s*(?:[kmgt]i?b|bytes?|[кмгт]б|байт\w*)\s*\)$", re.I)
_COUNT_LINE = re.compile(r"^\d+\s+(comments?|kommentare?|комментари\w*|antworten)$", re.I)

_SPACES = re.compile(r"[ \t\r\n\f]+")
_CYRILLIC = re.compile("[\u0400-\u04ff]")
_LETTER = re.compile(r"[^\W\d_]")
_CYRILLIC_LANGS = frozenset({"ru", "uk", "be", "bg", "sr", "mk", "kk", "ky", "tg", "mn"})
_LANG_TAG = re.compile(r"^([a-z]{2,3})(?:[-_][a-z0-9]+)*$", re.I)


def normalize_ws(text: str) -> str:
    """Collapse runs of spaces inside lines, strip lines, keep at most one blank
    line between paragraphs; NBSP and zero-width spaces become plain spaces."""
    text = text.replace("\xa0", " ").replace("\u200b", "").replace("\ufeff", "").replace("\r", "\n")
    out: list[str] = []
    for line in text.split("\n"):
        line = " ".join(line.split())
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def css_text(sel: Selector, query: str) -> str:
    """All text a CSS query selects, joined and whitespace-normalised ("" when none)."""
    return " ".join(" ".join(sel.css(query).getall()).split())


# Thread prefixes and labels forums put inside the title heading (XenForo 2
# ".label"/".labelLink", XenForo 1 ".prefix", vBulletin "#thread_prefix_…",
# Discourse/Flarum/NodeBB tag and badge spans).
TITLE_LABELS = ", ".join(
    (".label", ".labelLink", ".label-append", ".prefix", "[id^='thread_prefix']", ".topic-prefix", ".badge", ".tag")
)


def title_and_labels(heading: Selector) -> tuple[str, list[str]]:
    """A title heading's own text, and the prefix/label texts inside it kept
    apart ("[Gelöst] Title" -> ("Title", ["Gelöst"]))."""
    root = copy.deepcopy(heading.root)
    labels: list[str] = []
    for node in Selector(root=root).css(TITLE_LABELS):
        el = node.root
        if el is root or el.getparent() is None:
            continue
        text = " ".join(" ".join(node.css("::text").getall()).split())
        if text and not any(text == known for known in labels):
            labels.append(text)
        _remove_keep_tail(el)
    title = " ".join(" ".join(Selector(root=root).css("::text").getall()).split())
    return title, labels


def _remove_keep_tail(el) -> None:
    parent, tail = el.getparent(), el.tail or ""
    if parent is None:
        return
    prev = el.getprevious()
    if prev is not None:
        prev.tail = (prev.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(el)


def _is_boilerplate(line: str) -> bool:
    key = " ".join(line.lower().strip(_STRIP_CHARS).replace("(", " ").replace(")", " ").split())
    return (
        not key
        or key in _BOILERPLATE
        or bool(_COUNT_LINE.match(key) or _SIGNATURE.match(line.strip()) or _SIZE_LINE.match(line.strip()))
    )


def clean_lines(text: str) -> str:
    """Drop whole lines of blog/forum chrome ("Previous post Next post", "Up",
    "[Spoiler (click to open)]", "Reply") and normalise whitespace."""
    kept = [ln for ln in normalize_ws(text).split("\n") if not ln.strip() or not _is_boilerplate(ln)]
    return normalize_ws("\n".join(kept))


def without_title(text: str, title: str | None) -> str:
    """The article text without its title repeated as the first line (main-text
    extraction keeps the headline when the page has no article container)."""
    if not title or not text:
        return text
    first, _, rest = text.partition("\n")
    if _WORDS.findall(first.casefold()) == _WORDS.findall(title.casefold()) and rest.strip():
        return rest.strip()
    return text


_WORDS = re.compile(r"\w+")


def _remove(el: etree._Element) -> None:
    """Remove an element but keep its tail text (lxml's remove() drops it)."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _walk(el: etree._Element, out: list[str], top: bool = False, pre: bool = False) -> None:
    """Collect text the way a browser lays it out: whitespace inside text runs
    collapses (except in <pre>), block elements and <br> break lines."""
    tag = el.tag.lower() if isinstance(el.tag, str) else ""
    pre = pre or tag in ("pre", "textarea")

    def add(text: str | None) -> None:
        if text:
            out.append(text if pre else _SPACES.sub(" ", text))

    if tag == "br":
        out.append("\n")
    elif tag in _BLOCK:
        out.append("\n")
    if tag:
        add(el.text)
    for child in el:
        _walk(child, out, pre=pre)
    if tag in _BLOCK:
        out.append("\n")
    if not top:
        add(el.tail)


def node_text(sel: Selector | None, drop: str | None = None) -> str:
    """Readable text of one element: block elements and <br> become line
    breaks; scripts/styles and anything matching the `drop` CSS selector (quotes,
    signatures, buttons) are left out."""
    if sel is None or not isinstance(sel.root, etree._Element):
        return normalize_ws(str(sel.root)) if sel is not None and isinstance(sel.root, str) else ""
    root = copy.deepcopy(sel.root)
    work = Selector(root=root, type="html")
    junk = [n.root for n in work.xpath(".//comment() | .//processing-instruction()")]
    junk += [n.root for n in work.css(", ".join(_JUNK))]
    if drop:
        junk += [n.root for n in work.css(drop)]
    for node in junk:
        if node is not root:
            _remove(node)
    out: list[str] = []
    _walk(root, out, top=True)
    return normalize_ws("".join(out))


_XML_BLOCKS = frozenset({"p", "head", "div", "quote", "code", "list", "table", "main"})


def _content(text: str | None) -> str:
    """Drop the pretty-printing indentation trafilatura puts between elements."""
    return "" if not text or (not text.strip() and "\n" in text) else text


def _render(el: etree._Element) -> str:
    """Text of trafilatura's XML: a blank line around blocks, a line break per
    <lb/>, list item and table row (cells joined by " | ")."""
    if el.tag == "row":
        return "\n" + " | ".join(" ".join(_render(c).split()) for c in el.iter("cell"))
    out = [_content(el.text)]
    for child in el:
        out.append("\n" if child.tag == "lb" else _render(child))
        out.append(_content(child.tail))
    inner = "".join(out)
    if el.tag in _XML_BLOCKS:
        return f"\n\n{inner}\n\n"
    return f"\n{inner}" if el.tag == "item" else inner


def _xml_text(xml: str) -> str:
    """trafilatura's plain-text output runs paragraphs together with single
    newlines; its XML keeps the structure, rendered here with blank lines."""
    main = etree.fromstring(xml.encode("utf-8")).find("main")
    return normalize_ws(_render(main)) if main is not None else ""


def main_text(html: str, container: Selector | None = None, url: str | None = None) -> str:
    """Main text via trafilatura. With a known content `container` trafilatura
    runs on that fragment only (on whole pages it sometimes drops an opening
    paragraph), and the container's plain text wins when trafilatura returns
    much less of it. Without a container the whole page is used."""
    plain = clean_lines(node_text(container)) if container is not None else ""
    source = container.get() if container is not None else html
    try:
        xml = trafilatura.extract(
            source,
            url=url,
            output_format="xml",
            include_comments=False,
            include_tables=True,
            deduplicate=False,
        )
        extracted = _xml_text(xml) if xml else ""
    except Exception as exc:  # trafilatura can choke on odd trees; fall back quietly
        log.debug("trafilatura failed on %s: %s", url, exc)
        extracted = ""
    text = clean_lines(extracted)
    if plain and len(text) < 0.6 * len(plain):
        return plain
    return text or plain


def declared_language(sel: Selector, text: str = "") -> str | None:
    """ISO 639-1 code the page declares (html@lang, Content-Language, og:locale),
    or None when absent or contradicted by the script of `text` (LiveJournal
    declares its UI language "en-us" on Russian posts)."""
    candidates = [
        sel.xpath("/html/@lang").get(),
        sel.xpath("/html/@xml:lang").get(),
        sel.css('meta[http-equiv="content-language" i]::attr(content)').get(),
        sel.css('meta[property="og:locale"]::attr(content)').get(),
    ]
    for raw in candidates:
        if raw and (m := _LANG_TAG.match(raw.strip().split(",")[0].strip())):
            return _script_plausible(m[1].lower(), text)
    return None


def _script_plausible(lang: str | None, text: str) -> str | None:
    """`lang` normalised to its primary subtag, or None when absent or when the
    script of `text` contradicts it (Cyrillic text under a Latin-script language
    or the reverse)."""
    if not lang:
        return None
    lang = lang.lower().split("-")[0].split("_")[0]
    letters = _LETTER.findall(text[:5000])
    if len(letters) >= 40:
        share = len(_CYRILLIC.findall(text[:5000])) / len(letters)
        cyrillic_lang = lang in _CYRILLIC_LANGS
        if (share > 0.5 and not cyrillic_lang) or (share < 0.1 and cyrillic_lang):
            return None
    return lang


# Language from a post's own text: identified once it has this many letters, and
# taken over the declared one when the model is this sure of it and gives the
# declared language almost nothing (short or mixed texts keep the declared one).
_DETECT_MIN_LETTERS = 25
_DETECT_CONFIDENT = 0.5
_DECLARED_STILL_LIKELY = 0.05
_PARAGRAPH_MIN_LETTERS = 15


def language_if_plausible(lang: str | None, text: str) -> str | None:
    """The language of a post's `text`, with the page's declared `lang` only as
    the tie-breaker: a page declaring en-US around a German post gives "de".
    The declared language stands when the text is too short or ambiguous to
    say (the model still gives it a fair chance), and is dropped when the
    text's script contradicts it. None when nothing is declared (or it is
    dropped): the item pipeline then identifies the language from the title
    and text."""
    declared = _script_plausible(lang, text)
    if not declared or len(_LETTER.findall(text[:3000])) < _DETECT_MIN_LETTERS:
        return declared  # None: the pipeline identifies it from the title and text
    scores = language_scores(text)
    best = max(scores, key=scores.__getitem__)
    if declared and (declared == best or scores.get(declared, 0.0) >= _DECLARED_STILL_LIKELY):
        return declared
    if scores[best] >= _DETECT_CONFIDENT and not _written_partly_in(declared, text):
        return best
    return declared


def _written_partly_in(lang: str, text: str) -> bool:
    """Whether a paragraph of `text` reads as `lang`: a post that is mostly a
    pasted quote or manual in another language keeps the author's own one."""
    for para in re.split(r"\n\s*\n", text[:5000]):
        if len(_LETTER.findall(para)) >= _PARAGRAPH_MIN_LETTERS:
            scores = language_scores(para)
            if max(scores, key=scores.__getitem__) == lang and scores[lang] >= _DETECT_CONFIDENT:
                return True
    return False
