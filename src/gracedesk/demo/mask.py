"""Masking for the demo conversations: no handle, address, link, phone or account number survives.

``train/make_demo.py`` (which builds the packaged ``conversations.jsonl`` from real public
tweets) and the tests share these definitions. ``mask_text`` applies them in an order that
matters: e-mail addresses before links (an address holds a domain), links before handles,
phone numbers before account numbers, and brand names last.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

BRAND = "Acme"
BRAND_HANDLE = "@AcmeSupport"
OTHER_BRAND = "Globex"
USER = "[user]"
LINK = "[link]"
EMAIL = "[email]"
PHONE = "[phone]"
CODE = "[code]"
CARD = "[card]"
AGENT_STAND_IN = "team"

# Every company in the source data (and a few its customers name), by the stems their handles
# are spelt with. In a conversation its own company's handles become ``@AcmeSupport``, any
# other company's ``Globex``.
HANDLE_STEMS: dict[str, tuple[str, ...]] = {
    "adobe": ("adobe", "photoshop", "lightroom"),
    "apple": ("apple", "itunes"),
    "rockstar": ("rockstar",),
    "mojang": ("mojang", "minecraft"),
    "youtube": ("youtube",),
    "google": ("google", "gmail"),
    "zoom": ("zoom",),
    "ebay": ("ebay",),
    "dropbox": ("dropbox",),
    "hulu": ("hulu",),
    "yahoo": ("yahoo",),
    "playstation": ("playstation",),
    "spotify": ("spotify",),
    "wellsfargo": ("wellsfargo",),
    "godaddy": ("godaddy",),
    "tmobile": ("tmobile", "sprint"),
    "chase": ("chase",),
    "southwest": ("southwest",),
    "amazon": ("amazon", "primevideo"),
    "microsoft": ("microsoft", "windows"),
    "delta": ("delta",),
    "xbox": ("xbox",),
    "spectrum": ("spectrum",),
    "uber": ("uber",),
    "netflix": ("netflix",),
    "paypal": ("paypal",),
    "att": ("att",),
    "roku": ("roku",),
}

# The same companies as words in running text. A pattern that spells capitals is matched
# case-sensitively, so ``Chase`` goes and the verb ``chase`` stays.
COMPANY_WORDS: dict[str, str] = {
    "adobe": r"adobe",
    "apple": r"[Aa]pple|APPLE",
    "rockstar": r"rockstar(?:\s+games)?",
    "mojang": r"mojang|minecraft",
    "youtube": r"youtube|yt",
    "google": r"google|gmail",
    "zoom": r"Zoom|ZOOM",
    "ebay": r"ebay",
    "dropbox": r"dropbox",
    "hulu": r"hulu",
    "yahoo": r"yahoo(?:\s+mail)?",
    "playstation": r"playstation|psn|sony",
    "spotify": r"spotify",
    "wellsfargo": r"wells\s*fargo",
    "godaddy": r"go\s*daddy",
    "tmobile": r"[Tt]-?[Mm]obile|T-?MOBILE|Sprint|SPRINT",
    "chase": r"Chase|CHASE",
    "southwest": r"southwest(?:\s+airlines)?",
    "amazon": r"amazon",
    "microsoft": r"microsoft",
    "delta": r"Delta(?:\s+Air\s*[Ll]ines)?|DELTA",
    "xbox": r"xbox\s*live",
    "spectrum": r"Spectrum|SPECTRUM",
    "uber": r"Uber|UBER",
    "netflix": r"netflix",
    "paypal": r"paypal",
    "att": r"AT&T|AT&amp;T",
}

# Product names: (company, pattern, its name in that company's own conversations, its name
# elsewhere; None keeps a platform name such as ``Windows 10`` as written).
PRODUCTS: tuple[tuple[str, str, str, str | None], ...] = (
    (
        "adobe",
        r"(?:adobe\s*)?(?:premiere?(?:\s*pro)?|photoshop(?:\s+20\d\d)?|lightroom(?:\s*cc)?"
        r"|acrobat(?:\s+dc)?(?:\s+pro)?)",
        "Acme Studio",
        "a photo app",
    ),
    ("adobe", r"(?:adobe\s+)?creative\s+cloud", "Acme Cloud", "a cloud app"),
    (
        "rockstar",
        r"grand\s+theft\s+auto(?:\s+(?:v|5|online))?|gta(?:\s*(?:v|5))?(?:\s+online)?"
        r"|rdr\s?2|red\s+(?:dead\s+)?redemption(?:\s+2)?",
        "Acme Online",
        "the game",
    ),
    ("apple", r"apple\s+music|itunes", "Acme Music", "a music app"),
    ("apple", r"apple\s+tv", "Acme TV box", "TV box"),
    ("apple", r"airpods?(?:\s+pro)?", "Acme Buds", "earbuds"),
    ("apple", r"iphone", "Acme Phone", "phone"),
    ("apple", r"ipad(?:\s+(?:mini|air|pro))?", "Acme Tablet", "tablet"),
    ("apple", r"ipod", "Acme Player", "music player"),
    ("apple", r"macbook(?:\s+pro|\s+air)?", "Acme Laptop", None),
    ("apple", r"face\s?id", "Face Unlock", "face unlock"),
    ("youtube", r"youtube\s?tv|yttv|tytv", "Acme TV", "a TV app"),
    ("spotify", r"spotify\s+premium", "Acme Premium", "a music app"),
    ("playstation", r"ps[345]|playstation\s*[345]", "Acme Console", "console"),
    ("xbox", r"xbox(?:\s+one)?", "Acme Console", "console"),
    ("microsoft", r"windows(?:\s*10)?|win\s?10", "Acme OS", None),
    ("amazon", r"(?:[Aa]mazon\s+)?Prime(?:\s+[Vv]ideo)?", "Acme Prime", "a streaming app"),
    ("roku", r"roku", "Acme Stick", "TV stick"),
)

_EMAIL_RE = re.compile(r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_URL_RE = re.compile(
    r"https?\s*:\s*//\S*|\bwww\.\S+"  # a scheme wherever it starts, even bare
    r"|\b[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:com|net|org|io|co|us|uk|ly|gl|tv|me|be|gg|to|in)"
    r"(?:/\S*)?(?![\w.])",
    re.I,
)
_HANDLE_RE = re.compile(r"(?<![\w@])@(\w+)")
# a run of handles: "@a @b, @c" (".@a" is Twitter's way to make a reply public)
_RUN_RE = re.compile(r"(?<![\w@])\.?@\w+(?:[\s,]+@\w+)*")
_PHONE_RE = re.compile(
    r"(?<![\w+])(?:\+?\d{1,3}[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?!\w)"
)
# international numbers: "+44 7700 900123", "+33 (0)1 23 45 67 89", "+1-800-555-0199"
_INTL_PHONE_RE = re.compile(r"(?<![\w+])\+\d[\d\s().-]{6,}\d(?!\w)")
_CARD_RE = re.compile(r"(?<![\w-])\d{4}(?:[ -]\d{4}){2,3}(?![\w-])")
# account, order and ticket numbers: a run of 5+ digits standing on its own (an error code such
# as ``ce-34224-5`` is kept); any 7+ digit run left inside a token is caught by ``_LONG_RE``
_NUMBER_RE = re.compile(r"(?<![\w$£€.,-])#?\d{5,}(?![\w-]|[.,]\d)")
_LONG_RE = re.compile(r"[\w#/-]*\d{7,}[\w#/-]*")
# sign-offs at the very end: "^AB", "*MS", "~Sam", " -JS", "- JS", and, for agents, "_Rjay"
# and " -Shie" too; a "2/3" page count after one goes with it
_SIGNOFF = r"(?:\s*[\^*~]\s?([A-Z][A-Za-z]{0,14})|\s+[-–—]\s?([A-Z]{1,3}))"
_AGENT_SIGNOFF = r"(?:\s*[\^*~_]\s?([A-Z][A-Za-z]{0,14})|\s+[-–—]\s?([A-Z][A-Za-z]{0,14}))"
_PAGE = r"(?:\s+\d/\d)?\.?\s*$"
_SIGNOFF_RE = re.compile(_SIGNOFF + _PAGE)
_AGENT_SIGNOFF_RE = re.compile(_AGENT_SIGNOFF + _PAGE)
_GREETING_RE = re.compile(
    r"\b(?:[Hh]i|[Hh]ello|[Hh]ey|[Hh]iya|[Dd]ear|[Tt]hanks|[Tt]hank you|[Ss]orry)"
    r"(?: so much| again)?,?\s+([A-Z][a-z]{2,14})\b(?!\s+[A-Z])"
)
_NOT_NAMES = frozenset(
    "There Again Team Everyone All Both Guys Folks Friend Friends Sir Madam Twitter Support "
    "Please Thanks Thank Sorry Hello For The That This You Your And Happy".split()
)
_AFFIXES_RE = re.compile(
    r"^(?:ask_?|team_?|the_?)|_?(?:support|helps?|cares?|uk|us|in|india|tv|news)$", re.I
)


def _word(pattern: str) -> re.Pattern[str]:
    flags = 0 if pattern != pattern.lower() else re.I
    return re.compile(r"(?<![\w@])(?:" + pattern + r")(?![A-Za-z0-9])", flags)


_COMPANY_RES = {key: _word(pat) for key, pat in COMPANY_WORDS.items()}
_PRODUCT_RES = tuple((key, _word(pat), own, other) for key, pat, own, other in PRODUCTS)


def company_of(handle: str) -> str | None:
    """The company key a handle (``@`` or not) belongs to, else None. A stem of five letters or
    more may appear anywhere in it (``@AdobePremiere``); a shorter one must be all of it once
    ``Ask``/``Team`` and ``Support``/``Help``/``_UK`` ... are taken off (``@AskeBay``)."""
    h = handle.lstrip("@").lower()
    bare = _AFFIXES_RE.sub("", _AFFIXES_RE.sub("", h))
    for key, stems in HANDLE_STEMS.items():
        for s in stems:
            if (len(s) <= 4 and s in (h, bare)) or (len(s) > 4 and s in h):
                return key
    return None


def mask_emails(text: str) -> str:
    return _EMAIL_RE.sub(EMAIL, text)


def mask_urls(text: str) -> str:
    """Links (``https://...``, ``https: //...``, ``www...``, bare ``site.com/path``) to [link]."""
    return _URL_RE.sub(LINK, text)


def mask_phones(text: str) -> str:
    """Phone numbers to [phone], and card numbers (``4111 1111 1111 1111``) to [card]."""
    return _CARD_RE.sub(CARD, _PHONE_RE.sub(PHONE, _INTL_PHONE_RE.sub(_intl_phone, text)))


def _intl_phone(m: re.Match[str]) -> str:
    """A "+" number of 8 to 15 digits (E.164) is a phone number; anything else stays."""
    digits = sum(c.isdigit() for c in m.group())
    return PHONE if 8 <= digits <= 15 else m.group()


@dataclass
class NumberMasker:
    """Replaces account/order/ticket numbers with ``#10001``, ``#10002``, ... in order of first
    sight, one stand-in per number; a 7+ digit run inside a longer token makes it [code].
    Deterministic for a fixed input order; share one across a file so stand-ins never repeat."""

    start: int = 10001
    seen: dict[str, str] = field(default_factory=dict)

    def stand_in(self, number: str) -> str:
        key = number.lstrip("#")
        if key not in self.seen:
            self.seen[key] = f"#{self.start + len(self.seen)}"
        return self.seen[key]

    def __call__(self, text: str) -> str:
        text = _NUMBER_RE.sub(lambda m: self.stand_in(m.group(0)), text)
        return _LONG_RE.sub(CODE, text)


def signoff_of(text: str, *, agent: bool = False) -> str | None:
    """The name or initials a message signs off with (``... ^Sahil`` -> "Sahil"), else None."""
    m = (_AGENT_SIGNOFF_RE if agent else _SIGNOFF_RE).search(text)
    return (m.group(1) or m.group(2)) if m else None


def strip_signoff(text: str, *, agent: bool = False) -> str:
    """Drop the sign-off at the end (``^AB``, ``*MS``, ``-JS``; agents' ``-Sam`` too)."""
    return (_AGENT_SIGNOFF_RE if agent else _SIGNOFF_RE).sub("", text)


def greeted_names(text: str) -> set[str]:
    """First names an agent greets or thanks the customer by: ``Hi Justin,`` -> {"Justin"}."""
    return {m.group(1) for m in _GREETING_RE.finditer(text)} - _NOT_NAMES


def replace_names(text: str, names: Iterable[str], new: str) -> str:
    """Every whole-word, case-exact occurrence of each name becomes ``new``."""
    for name in sorted(names, key=lambda n: (-len(n), n)):
        text = re.sub(rf"\b{re.escape(name)}\b", new, text)
    return text


def mask_handles(
    text: str,
    *,
    own_company: str | None,
    customer_handle: str = "",
    customer_name: str = "",
    agent: bool = False,
) -> str:
    """Handles, a run (``@a @b @c``) at a time. The run a message opens with (whom it replies
    to) goes, except that in a customer's message it becomes ``@AcmeSupport`` when it names the
    company. Elsewhere a run naming the company becomes one ``@AcmeSupport``; otherwise each
    handle becomes ``Globex`` (another company), the customer's name (their own handle) or
    ``[user]``, repeats dropped."""
    own = customer_handle.lower()

    def kind(handle: str) -> str:
        if own and handle.lower() == own:
            return customer_name or USER
        company = company_of(handle)
        if company is None:
            return USER
        return BRAND_HANDLE if company == own_company else OTHER_BRAND

    def run(m: re.Match[str]) -> str:
        kinds = [kind(h) for h in _HANDLE_RE.findall(m.group(0))]
        if m.start() == 0:
            return BRAND_HANDLE if not agent and BRAND_HANDLE in kinds else ""
        if BRAND_HANDLE in kinds:
            return BRAND_HANDLE
        return " ".join(dict.fromkeys(kinds))

    return _RUN_RE.sub(run, text.lstrip()).lstrip()


def mask_brands(text: str, *, own_company: str | None) -> str:
    """Product names to the demo brand's (own company) or plain nouns; the conversation's own
    company to ``Acme``, any other to ``Globex``. In a hashtag a stand-in loses its spaces."""

    def sub(rx: re.Pattern[str], repl: str, text: str) -> str:
        def one(m: re.Match[str]) -> str:
            hashtag = m.start() > 0 and text[m.start() - 1] == "#"
            return repl.replace(" ", "") if hashtag else repl

        return rx.sub(one, text)

    for key, rx, own, other in _PRODUCT_RES:
        repl = own if key == own_company else other
        if repl is not None:
            text = sub(rx, repl, text)
    for key, rx in _COMPANY_RES.items():
        text = sub(rx, BRAND if key == own_company else OTHER_BRAND, text)
    return text


def mask_text(
    text: str,
    *,
    agent: bool = False,
    own_company: str | None = None,
    customer_handle: str = "",
    customer_name: str = "",
    names: Iterable[str] = (),
    agent_names: Iterable[str] = (),
    numbers: NumberMasker | None = None,
) -> str:
    """Every mask, in order, on one message.

    ``names`` (the customer's real first names, as agents greet them) become ``customer_name``;
    ``agent_names`` (as agents sign) become "team"; ``numbers`` keeps stand-ins consistent.
    """
    numbers = numbers if numbers is not None else NumberMasker()
    text = html.unescape(text).replace("\u200b", "").replace("\xa0", " ")
    text = mask_emails(text)
    text = mask_urls(text)
    text = strip_signoff(text, agent=agent)
    text = mask_handles(
        text,
        own_company=own_company,
        customer_handle=customer_handle,
        customer_name=customer_name,
        agent=agent,
    )
    if customer_handle:
        # the customer's handle written without the @ reads as their name too
        text = re.sub(rf"\b{re.escape(customer_handle)}\b", customer_name or USER, text, flags=re.I)
    text = replace_names(text, names, customer_name or "there")
    text = replace_names(text, agent_names, AGENT_STAND_IN)
    text = mask_phones(text)
    text = numbers(text)
    text = mask_brands(text, own_company=own_company)
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


@dataclass
class Masker:
    """``mask_text`` bound to one conversation."""

    own_company: str | None
    customer_handle: str
    customer_name: str
    names: set[str] = field(default_factory=set)
    agent_names: set[str] = field(default_factory=set)
    numbers: NumberMasker = field(default_factory=NumberMasker)

    def __call__(self, text: str, *, agent: bool = False) -> str:
        return mask_text(
            text,
            agent=agent,
            own_company=self.own_company,
            customer_handle=self.customer_handle,
            customer_name=self.customer_name,
            names=self.names,
            agent_names=self.agent_names,
            numbers=self.numbers,
        )
