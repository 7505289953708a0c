"""Value rules shared by every contract that carries a customer name or a locale."""

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

from cqrs_contracts.currencies import canonical_currency

MAX_NAME_LENGTH = 200
MAX_REFERENCE_LENGTH = 140

# RFC 5646 language tag (no grandfathered tags), matched on the lower-cased input.
_LANGTAG = re.compile(
    r"""^(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4,8})   # language and extlangs
    (?:-[a-z]{4})?                                      # script
    (?:-(?:[a-z]{2}|[0-9]{3}))?                         # region
    (?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*            # variants
    (?:-[0-9a-wy-z](?:-[a-z0-9]{2,8})+)*                # extensions
    (?:-x(?:-[a-z0-9]{1,8})+)?$                         # private use
    """,
    re.VERBOSE,
)


def _text(value: str, longest: int) -> str:
    """Trimmed and NFC-normalised; at most ``longest`` characters and no control characters."""
    text = unicodedata.normalize("NFC", value).strip()
    if len(text) > longest:
        raise ValueError(f"must be at most {longest} characters, got {len(text)}")
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise ValueError("must not contain control characters")
    return text


def canonical_name(value: str) -> str:
    """Trim, NFC-normalise and check a customer name: 1-200 characters, no control characters."""
    name = _text(value, MAX_NAME_LENGTH)
    if not name:
        raise ValueError("must not be empty")
    return name


def canonical_locale(value: str) -> str:
    """Check a BCP 47 tag and return it in canonical case: ``EN-us`` -> ``en-US``.

    >>> canonical_locale("zh-hant-tw")
    'zh-Hant-TW'
    """
    tag = value.strip().lower()
    if len(tag) > 35 or not _LANGTAG.match(tag):
        raise ValueError(f"must be a BCP 47 language tag such as en, en-US or zh-Hant-TW, got {value!r}")
    subtags = tag.split("-")
    out = [subtags[0]]
    in_extension = False
    for subtag in subtags[1:]:
        in_extension = in_extension or len(subtag) == 1
        if not in_extension and len(subtag) == 4 and subtag.isalpha():
            out.append(subtag.title())
        elif not in_extension and len(subtag) == 2 and subtag.isalpha():
            out.append(subtag.upper())
        else:
            out.append(subtag)
    return "-".join(out)


CustomerName = Annotated[str, AfterValidator(canonical_name)]
Locale = Annotated[str, AfterValidator(canonical_locale)]
Currency = Annotated[str, AfterValidator(canonical_currency)]


def canonical_reference(value: str) -> str:
    """Trim, NFC-normalise and check a payment reference: at most 140 characters, no control ones."""
    return _text(value, MAX_REFERENCE_LENGTH)


Reference = Annotated[str, AfterValidator(canonical_reference)]
