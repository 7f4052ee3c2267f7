"""Twilio's Smart Encoding (``SmartEncoded=true``): Unicode characters that have a GSM-7 lookalike
are replaced before the message is segmented and sent, so curly quotes or a long dash no longer
force UCS-2 (``“hello”`` plus 100 ``a`` is one segment, not two). The simulator replaces the
common part of Twilio's published character list (quotes, apostrophes, dashes, the ellipsis,
special spaces); see https://www.twilio.com/docs/messaging/services/smart-encoding-char-list.
Characters outside this table are left alone, as Twilio leaves the ones outside its list.
"""

from __future__ import annotations

from typing import Final

REPLACEMENTS: Final[dict[str, str]] = {
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033\uff02", '"'),  # “ ” „ ‟ « » ″ ＂
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u00b4\u02bc\uff07", "'"),  # ‘ ’ ‚ ‛ ′ ´ ʼ ＇
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),  # hyphens, – — ― and minus
    **dict.fromkeys("\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000", " "),
    "\u2026": "...",  # …
    "\u200b": "",  # zero-width space
    "\ufeff": "",  # zero-width no-break space
}
_TABLE: Final = str.maketrans(REPLACEMENTS)


def smart_encode(body: str) -> str:
    """``body`` with every character of ``REPLACEMENTS`` replaced, as Twilio sends it."""
    return body.translate(_TABLE)
