"""Free text people type (names, notes, reasons) and the invisible characters it must not hold."""

import unicodedata

# Bidirectional embeddings, overrides and isolates: invisible, they reorder the text after them ("Zoë" shown as "ëoZ"
# in every list, a spreadsheet cell or another system's screen), so what was typed can be made to read as another.
BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
# The directional marks (left-to-right, right-to-left, Arabic letter mark): invisible too, and enough on their own to
# reorder the numbers and punctuation beside them ("\u200f5 10" reads "10 5" in a left-to-right cell), which a note's
# doses, times and rates cannot afford. Text in Hebrew or Arabic is ordered right without them.
BIDI_MARKS = frozenset({"\u200e", "\u200f", "\u061c"})


def invisible_character(text: str, *, keep: str = "", marks: bool = True) -> str | None:
    """The first character of ``text`` a reader does not see and that changes how it reads: a control character
    (NUL, ESC, a line break...) other than those in ``keep``, a bidirectional control, or (with ``marks``) a
    directional mark. None when there is none."""
    refused = BIDI_CONTROLS | BIDI_MARKS if marks else BIDI_CONTROLS
    return next((c for c in text if c in refused or (unicodedata.category(c) == "Cc" and c not in keep)), None)


def character_said(character: str) -> str:
    """A character named for a message: "U+202E RIGHT-TO-LEFT OVERRIDE", "U+0007"."""
    name = unicodedata.name(character, "")
    return f"U+{ord(character):04X} {name}" if name else f"U+{ord(character):04X}"


def kind_said(character: str) -> str:
    """What the character is, in a message: "a control character" or "an invisible direction character"."""
    return "a control character" if unicodedata.category(character) == "Cc" else "an invisible direction character"
