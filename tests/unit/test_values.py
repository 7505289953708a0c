"""Names and locales: the value rules every command shares."""

import pytest

from cqrs_contracts.values import canonical_locale, canonical_name


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("en", "en"),
        ("EN", "en"),
        ("en-us", "en-US"),
        ("pt-br", "pt-BR"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("sr-LATN-rs", "sr-Latn-RS"),
        ("es-419", "es-419"),
        ("de-CH-1996", "de-CH-1996"),
        ("en-US-x-twain", "en-US-x-twain"),
        ("en-a-bbb-x-a-ccc", "en-a-bbb-x-a-ccc"),
        (" fr-ca ", "fr-CA"),
    ],
)
def test_locale_is_stored_in_canonical_case(given: str, canonical: str) -> None:
    assert canonical_locale(given) == canonical


@pytest.mark.parametrize("bad", ["", "e", "en_US", "languagetoolong", "en-", "-en", "en--us", "x", "12"])
def test_malformed_locale_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="BCP 47"):
        canonical_locale(bad)


def test_name_is_trimmed() -> None:
    assert canonical_name("  Ada Lovelace\t") == "Ada Lovelace"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 201, "at most 200"),
        ("Ada\x00", "control"),
        ("A\nB", "control"),
    ],
)
def test_bad_name_is_rejected_with_a_reason(bad: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        canonical_name(bad)


def test_name_of_200_characters_is_allowed() -> None:
    assert len(canonical_name("é" * 200)) == 200
