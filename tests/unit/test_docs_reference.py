"""docs/configuration.md's settings and docs/cli.md's reference are what tools/docs_reference.py
writes from the code: a setting or a verb changed without `make reference` fails here."""

import pytest

from cqrs_shared.cli import main as cli
from cqrs_shared.runtime.secret_files import variable_of
from tools import docs_reference
from tools.docs_reference import GENERATED, PARTICIPANTS, Generated, MarkersMissing


@pytest.mark.parametrize("generated", GENERATED, ids=[each.page.name for each in GENERATED])
def test_the_committed_page_is_what_the_generator_writes(generated: Generated) -> None:
    committed = generated.page.read_text(encoding="utf-8")
    assert committed == docs_reference.expected(generated), (
        f"{generated.page.name} differs from the code: run `make reference`"
    )


def test_the_check_passes_on_the_committed_pages() -> None:
    assert docs_reference.main(["check"]) == 0


def test_every_setting_of_every_settings_class_is_on_the_configuration_page() -> None:
    page = (docs_reference.ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for kind, _ in PARTICIPANTS:
        for field in kind.model_fields:
            assert f"`{variable_of(kind, field)}`" in page, field


def test_every_verb_of_cqrs_has_its_section_on_the_cli_page() -> None:
    page = (docs_reference.ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    progs = [verb.parser.prog for verb in docs_reference._verbs(cli.parser(), "")]
    assert "cqrs customer create" in progs
    assert "cqrs dlq replay" in progs
    for prog in progs:
        assert f"### `{prog}`" in page, prog


def test_a_generated_part_that_differs_from_the_code_is_replaced_and_the_prose_kept() -> None:
    begin, end = docs_reference._begin("settings"), docs_reference._end("settings")
    page = f"prose before\n\n{begin}\nstale\n{end}\n\nprose after\n"
    fresh = docs_reference.spliced(page, "settings", "fresh")
    assert fresh == f"prose before\n\n{begin}\n\nfresh\n\n{end}\n\nprose after\n"
    assert docs_reference.spliced(fresh, "settings", "fresh") == fresh


@pytest.mark.parametrize(
    "page",
    ["no markers at all", f"{docs_reference._begin('settings')}\nno end", "<!-- END GENERATED settings -->"],
)
def test_a_page_that_lost_its_markers_is_refused(page: str) -> None:
    with pytest.raises(MarkersMissing, match="expected the markers once each"):
        docs_reference.spliced(page, "settings", "body")
