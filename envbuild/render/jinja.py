"""The Jinja2 side of render: the environment (``--templates`` before the built-in templates) and rendering."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from envbuild.errors import RenderError
from envbuild.render.context import dockerfile_string, shell_word
from envbuild.render.names import BUILTIN


def environment(templates: Path | None) -> Any:
    """The Jinja2 environment: TEMPLATES (if given) before the built-in templates, which are also reachable as
    ``builtin/NAME`` for ``{% extends %}``; strict about undefined names; no HTML escaping (these are not HTML)."""
    import jinja2

    builtin = jinja2.FileSystemLoader(str(templates_dir()))
    loaders: list[Any] = [jinja2.PrefixLoader({BUILTIN.rstrip("/"): builtin}, delimiter="/")]
    if templates is not None:
        loaders.append(jinja2.FileSystemLoader(str(templates)))
    loaders.append(builtin)
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined,
                             autoescape=False, keep_trailing_newline=True, trim_blocks=True,  # noqa: S701
                             lstrip_blocks=True)
    filters: dict[str, Callable[[str], str]] = {"dq": dockerfile_string, "sh": shell_word}
    env.filters.update(filters)
    return env


def templates_dir() -> Path:
    """The built-in templates: ``envbuild/templates`` in a wheel, ``templates/`` in a source checkout."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / "Dockerfile.j2").is_file():
            return candidate
    raise RenderError(f"the built-in templates are missing (looked in {package / 'templates'}); reinstall envbuild")


def template(env: Any, name: str, context: dict[str, Any]) -> str:
    import jinja2

    try:
        text: str = env.get_template(name).render(**context)
    except jinja2.TemplateNotFound as exc:
        raise RenderError(f"template {exc.name} not found (in --templates or the built-in templates)") from None
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"{exc.filename or exc.name}:{exc.lineno}: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise RenderError(f"template {name}: {exc.message}") from None
    return text
