"""Text from outside the project (a results archive's manifest, its members' names, a results file)
made safe to print on a terminal or to put in XML: every character that could act instead of show
is written as its Python escape, so the text stays on one line and shows what it holds.

    printable("\\x1b[31mred\\nfake line") == "\\\\x1b[31mred\\\\nfake line"
"""

from __future__ import annotations

import re

# C0 and C1 controls and DEL (ESC starts a terminal's escape sequences, CR and LF fake new lines);
# the bidirectional embeddings, overrides and isolates, which reorder the text around them
# (Unicode Standard Annex #9, "Unicode Bidirectional Algorithm", 2.1-2.4); the line and paragraph
# separators; lone surrogates, which cannot be encoded as UTF-8; and U+FFFE and U+FFFF, which
# XML 1.0 does not allow (W3C XML 1.0, 2.2 "Characters").
UNPRINTABLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)
SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}  # as Python writes them


def printable(text: object) -> str:
    """str(text) with each unprintable character escaped as \\t, \\n, \\r, \\xNN or \\uNNNN."""
    return UNPRINTABLE.sub(_escape, str(text))


def _escape(match: re.Match) -> str:
    char = match.group()
    if char in SHORT:
        return SHORT[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
