"""The document templates: Jinja2 with `StrictUndefined`, seed templates shipped in the package,
each replaceable by a file of the same name in a configured directory. Every template is checked
when it is loaded, not when a release needs it: a variable its kind's context does not declare
(`contexts.CONTEXTS`) fails with the template's name and line, as does a dry render against an
example context (which also catches an unknown attribute of a declared variable)."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta, nodes
from lts_events.contracts.comms.documents import DocumentKind
from pydantic import BaseModel

from lts_comms.contexts import CONTEXTS
from lts_comms.examples import example_context

SEED_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAMES: dict[DocumentKind, str] = {kind: f"{kind.value}.md.j2" for kind in DocumentKind}


class TemplateError(ValueError):
    """A template that does not fit its declared context: names the template and the line."""

    def __init__(self, template: str, line: int | None, problem: str) -> None:
        where = f"{template}, line {line}" if line else template
        super().__init__(f"template {where}: {problem}")
        self.template = template
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class Templates:
    """The loaded, checked templates, one per document kind."""

    environment: jinja2.Environment
    by_kind: dict[DocumentKind, jinja2.Template]
    origins: dict[DocumentKind, str]  # "seed" or the override file's path

    def render(self, kind: DocumentKind, context: BaseModel) -> str:
        return self.by_kind[kind].render(**dict(context)).strip() + "\n"

    def name(self, kind: DocumentKind) -> str:
        return TEMPLATE_NAMES[kind]


def environment(override_dir: Path | None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if override_dir is not None:
        loaders.append(jinja2.FileSystemLoader(override_dir))
    loaders.append(jinja2.FileSystemLoader(SEED_DIR))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Markdown source; the HTML rendering escapes through markdown-it
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def load_templates(override_dir: Path | None = None) -> Templates:
    env = environment(override_dir)
    by_kind: dict[DocumentKind, jinja2.Template] = {}
    origins: dict[DocumentKind, str] = {}
    for kind, name in TEMPLATE_NAMES.items():
        by_kind[kind] = check_template(env, name, CONTEXTS[kind], example_context(kind))
        override = override_dir / name if override_dir is not None else None
        origins[kind] = str(override) if override is not None and override.is_file() else "seed"
    return Templates(env, by_kind, origins)


def check_template(
    env: jinja2.Environment, name: str, declared: type[BaseModel], example: BaseModel
) -> jinja2.Template:
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, name)
    try:
        tree = env.parse(source, name=name)
    except jinja2.TemplateSyntaxError as error:
        raise TemplateError(name, error.lineno, error.message or "syntax error") from error
    unknown = meta.find_undeclared_variables(tree) - set(declared.model_fields)
    if unknown:
        first = sorted(unknown, key=lambda v: (_first_line(tree, v), v))[0]
        raise TemplateError(
            name,
            _first_line(tree, first),
            f"unknown variable {first!r} (declared: {', '.join(sorted(declared.model_fields))})",
        )
    template = env.get_template(name)
    try:
        template.render(**dict(example))
    except jinja2.UndefinedError as error:
        raise TemplateError(name, _line_in_traceback(error, name), str(error)) from error
    return template


def _first_line(tree: nodes.Template, variable: str) -> int:
    lines = [n.lineno for n in tree.find_all(nodes.Name) if n.name == variable]
    return min(lines) if lines else 0


def _line_in_traceback(error: BaseException, name: str) -> int | None:
    """Jinja2 rewrites tracebacks so that frames of the template carry its name and line."""
    frames: list[Any] = traceback.extract_tb(error.__traceback__)
    lines = [f.lineno for f in frames if f.filename.endswith(name)]
    return lines[-1] if lines else None
