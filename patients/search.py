"""Patient search without case or accents: a patient's MRN and names are stored folded (Patient.search_text) and a
search's words are folded the same way, so "muller", "MÜLLER" and "Müller" all find "Müller" and "Muller"."""

import re
import unicodedata

# Letters whose mark is part of the letter, so no decomposition takes it off; a plain keyboard types them so
PLAIN_LETTERS = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ŧ": "t", "ı": "i", "æ": "ae", "œ": "oe"})

# "Meyer, Anna" as the pages write names; a NUL (which PostgreSQL refuses in a string) separates too
WORD_SEPARATORS = re.compile(r"[\s,;\x00]+")


def fold(text: str) -> str:
    """``text`` without case or accents: Unicode's compatibility caseless form (NFKD of the case-folded NFKD of the
    case-folded NFD: "Straße" is "strasse", a full-width "Ａ" is "a"), its combining marks dropped ("José" is
    "jose"), then the letters of PLAIN_LETTERS made plain ("Sørensen" is "sorensen")."""
    text = unicodedata.normalize("NFD", text).casefold()
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return "".join(ch for ch in text if not unicodedata.combining(ch)).translate(PLAIN_LETTERS)


def search_text(*, mrn: str, family_name: str, given_name: str) -> str:
    """What a patient's search matches: its MRN and names folded, one a line. A search word holds no line break,
    so it matches within one of them, as it did column by column."""
    return "\n".join(fold(value) for value in (mrn, family_name, given_name))


def search_words(search: str) -> list[str]:
    """The folded words of a search, each to be found in a patient's search_text."""
    return [word for word in WORD_SEPARATORS.split(fold(search)) if word]
