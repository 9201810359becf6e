"""Templates are checked when loaded: an unknown variable, or an unknown attribute of a known
one, fails with the template's name and line; an override directory replaces a seed."""

from __future__ import annotations

from pathlib import Path

import pytest
from lts_comms.examples import example_context
from lts_comms.templates import TemplateError, load_templates
from lts_events.contracts.comms.documents import DocumentKind


def test_an_unknown_variable_fails_at_load_naming_the_template_and_line(tmp_path: Path) -> None:
    (tmp_path / "release_note.md.j2").write_text(
        "# {{ package }} {{ version }}\n\n{{ summary }}\n\nSee {{ changelog_link }}.\n"
    )

    with pytest.raises(TemplateError) as failure:
        load_templates(tmp_path)

    assert failure.value.template == "release_note.md.j2"
    assert failure.value.line == 5
    assert "changelog_link" in str(failure.value)
    assert "release_note.md.j2, line 5" in str(failure.value)


def test_an_unknown_attribute_in_a_branch_fails_at_load(tmp_path: Path) -> None:
    (tmp_path / "security_advisory.md.j2").write_text(
        "# {{ title }}\n{% if rollback %}\nRolled back at {{ rollback.when }}\n{% endif %}\n"
    )

    with pytest.raises(TemplateError) as failure:
        load_templates(tmp_path)

    assert failure.value.template == "security_advisory.md.j2"
    assert failure.value.line == 3
    assert "when" in failure.value.problem


def test_a_syntax_error_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "internal_status.md.j2").write_text("# {{ version }}\n{% if succeeded %}\nok\n")

    with pytest.raises(TemplateError) as failure:
        load_templates(tmp_path)

    assert failure.value.template == "internal_status.md.j2"


def test_an_override_replaces_the_seed_template(tmp_path: Path) -> None:
    (tmp_path / "release_note.md.j2").write_text("{{ package }} {{ version }} is out.\n")

    templates = load_templates(tmp_path)

    context = example_context(DocumentKind.RELEASE_NOTE)
    assert templates.render(DocumentKind.RELEASE_NOTE, context) == "lts-flow 1.4.3 is out.\n"
    assert templates.origins[DocumentKind.RELEASE_NOTE] == str(tmp_path / "release_note.md.j2")
    assert templates.origins[DocumentKind.INTERNAL_STATUS] == "seed"
