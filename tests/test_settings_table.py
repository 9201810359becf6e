"""The README's table of environment variables is the one the settings models give, every
variable is described, and every service's settings are in it."""

from __future__ import annotations

import re
from importlib.metadata import entry_points
from pathlib import Path

from lts_events.settings_table import markdown, readme_block, rows, with_table

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_the_readme_table_is_the_generated_one() -> None:
    readme = README.read_text()

    expected = with_table(readme, markdown(rows()))

    assert readme_block(readme) == readme_block(expected), (
        "README.md's settings table drifted from the settings models: run "
        "`uv run lts settings table --readme README.md`"
    )


def test_every_variable_says_what_it_sets() -> None:
    undescribed = [row.variables for row in rows() if not row.description]

    assert undescribed == []


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[parts.index("src") + 1 :])


def test_every_settings_model_of_a_service_is_registered() -> None:
    """Wherever in a service a settings model is declared (comms' delivery settings live in
    `delivery/config.py`), its variables are in the table only if it is an entry point."""
    declared = {
        f"{_module(path)}:{name}"
        for path in ROOT.glob("services/*/src/**/*.py")
        for name in re.findall(r"^class (\w+)\(BaseSettings\):", path.read_text(), re.M)
    }

    registered = {ep.value for ep in entry_points(group="lts.settings")}

    assert declared
    assert declared <= registered


def test_the_shared_variables_are_read_through_settings_only() -> None:
    # os.environ[...], os.environ.get(...), os.getenv(...)
    read_directly = re.compile(
        r"(get\(|getenv\(|\[)\s*[\"']LTS_(AUTH_TOKENS|ENVIRONMENT|LOG_LEVEL)[\"']"
    )
    sources = [*ROOT.glob("libs/*/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py")]

    offenders = [str(p.relative_to(ROOT)) for p in sources if read_directly.search(p.read_text())]

    assert offenders == []
