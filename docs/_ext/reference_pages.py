"""Reference pages generated from the code at every build, so that they cannot drift from it.

* ``reference/cli.md``: every command of the command line, from the typer application;
* ``reference/scenario-keys.md``: every key of a scenario file, from the JSON Schema of the
  scenario model (meaning, unit, type, default, bounds);
* ``reference/outputs.md``: every column of every table a run writes, from
  :mod:`trustsim.columns`;
* ``reference/api.md``: the Python API, from the docstrings.

A public name of the API without a docstring is a warning, which fails ``make docs``.
"""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path
from typing import Any

import click
import typer
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

API_MODULES = ("trustsim", "trustsim.experiments", "trustsim.report.figures", "trustsim.disparity")
"""Modules whose public names the API page documents."""


def cli_page() -> str:
    """Every command: what it does, its usage, and each argument and option with its default."""
    from trustsim.cli import app

    group = typer.main.get_command(app)
    lines = ["# The command line", "",
             "`trustsim COMMAND --help` prints the same. Every bad input is one line on stderr and exit code 2.", ""]
    for name, command in group.commands.items():
        context = click.Context(command, info_name=f"trustsim {name}")
        lines += [f"## `trustsim {name}`", "", inspect.cleandoc(command.help or ""), "", "```text",
                  command.get_usage(context).removeprefix("Usage: "), "```", "",
                  "| argument or option | meaning | default |", "| --- | --- | --- |"]
        for parameter in command.params:
            names = ", ".join(f"`{opt}`" for opt in [*parameter.opts, *parameter.secondary_opts])
            default = "required" if parameter.required else _default(parameter.default)
            help_text = _cell(getattr(parameter, "help", "") or "")
            lines.append(f"| {names} | {help_text} | {default} |")
        lines.append("")
    return "\n".join(lines)


def _default(value: Any) -> str:
    if value is None or value in ((), [], {}):
        return "–"
    return f"`{json.dumps(value) if isinstance(value, str) else value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def scenario_keys_page() -> str:
    """Every key of a scenario file, section by section, from the JSON Schema."""
    from trustsim.scenario import json_schema

    schema = json.loads(json_schema())
    definitions = schema["$defs"]
    lines = ["# Scenario keys", "",
             "Every key a scenario file may set, generated from the scenario model (`trustsim schema` prints the "
             "same as a JSON Schema). Every key without a default must be set, or inherited with "
             "`extends = \"SCENARIO\"`; a key not listed here is refused. [The model](../model.md) says what "
             "each does and when in the day.", ""]
    lines += _section_table("the top level", schema, definitions)
    seen: set[tuple[str, str]] = set()
    for key, spec in schema["properties"].items():
        for reference in _references(spec):
            name = reference.rsplit("/", 1)[-1]
            lines += _nested(f"{key}", name, definitions, seen)
    return "\n".join(lines)


def _nested(path: str, name: str, definitions: dict[str, Any], seen: set[tuple[str, str]]) -> list[str]:
    if (path, name) in seen:
        return []
    seen.add((path, name))
    model = definitions[name]
    lines = _section_table(f"`{path}`" + (f" ({name})" if name.lower() != path.split(".")[-1] else ""),
                           model, definitions)  # fmt: skip
    for key, spec in model.get("properties", {}).items():
        for reference in _references(spec):
            lines += _nested(f"{path}.{key}", reference.rsplit("/", 1)[-1], definitions, seen)
    return lines


def _references(spec: dict[str, Any]) -> list[str]:
    found = [spec["$ref"]] if "$ref" in spec else []
    for part in (*spec.get("anyOf", ()), *spec.get("oneOf", ())):
        found += _references(part)
    for inner in ("items", "additionalProperties"):
        if isinstance(spec.get(inner), dict):
            found += _references(spec[inner])
    if isinstance(spec.get("discriminator"), dict):
        found += list(spec["discriminator"].get("mapping", {}).values())
    return list(dict.fromkeys(found))


def _section_table(title: str, model: dict[str, Any], definitions: dict[str, Any]) -> list[str]:
    lines = [f"## {title}", ""]
    if model.get("description"):
        lines += [inspect.cleandoc(model["description"]).split("\n\n")[0].replace("\n", " "), ""]
    lines += ["| key | meaning | unit | type | default | bounds |", "| --- | --- | --- | --- | --- | --- |"]
    required = set(model.get("required", ()))
    for key, spec in model.get("properties", {}).items():
        default = "required" if key in required else _default(spec.get("default"))
        meaning = _cell(spec.get("description", ""))
        lines.append(f"| `{key}` | {meaning} | {spec.get('unit', '')} | {_type(spec)} | {default} | "
                     f"{_bounds(spec)} |")  # fmt: skip
    return [*lines, ""]


def _type(spec: dict[str, Any]) -> str:
    if "$ref" in spec:
        return "table"
    if "const" in spec:
        return f"`{json.dumps(spec['const'])}`"
    if "enum" in spec:
        return " or ".join(f"`{json.dumps(value)}`" for value in spec["enum"])
    if "anyOf" in spec or "oneOf" in spec:
        kinds = [_type(part) for part in (*spec.get("anyOf", ()), *spec.get("oneOf", ())) if part.get("type") != "null"]
        return " or ".join(dict.fromkeys(kinds))
    kind = spec.get("type", "")
    if kind == "array":
        return f"list of {_type(spec.get('items', {})) or 'values'}"
    if kind == "object":
        return "table of named entries" if "additionalProperties" in spec else "table"
    return kind


def _bounds(spec: dict[str, Any]) -> str:
    parts = [spec] + [p for p in (*spec.get("anyOf", ()), *spec.get("oneOf", ())) if p.get("type") != "null"]
    words = []
    for part in parts:
        for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<"),
                          ("minLength", "length ≥"), ("maxLength", "length ≤"), ("minItems", "items ≥"),
                          ("maxItems", "items ≤")):  # fmt: skip
            if key in part:
                words.append(f"{sign} {part[key]:g}" if isinstance(part[key], float) else f"{sign} {part[key]}")
        if "pattern" in part:
            words.append(f"matches `{part['pattern']}`")
    return ", ".join(dict.fromkeys(words))


def outputs_page() -> str:
    """Every column of every table a run writes, with its meaning and unit."""
    from trustsim.columns import TABLES

    lines = ["# What a run writes", "",
             "A run directory holds `manifest.json` (the resolved scenario, the seed, the version, timings and "
             "memory) and the tables below, in Parquet. A name with `<b>` stands for a column per behaviour, "
             "`<s>` per sanction, `<tier>` per tier of the scenario.", ""]
    for table in TABLES:
        lines += [f"## `{table.file}`", "", table.about, "", "| column | meaning | unit |", "| --- | --- | --- |"]
        lines += [f"| `{column.name}` | {_cell(column.meaning)} | {column.unit} |" for column in table.columns]
        lines.append("")
    return "\n".join(lines)


def api_page() -> str:
    """The public names of the Python API, each documented from its docstring."""
    lines = ["# Python API", "",
             "Everything here is importable as written; the command line is built on the same functions.", ""]
    for module_name in API_MODULES:
        module = importlib.import_module(module_name)
        lines += [f"## `{module_name}`", "", "```{eval-rst}", f".. automodule:: {module_name}", "   :no-members:",
                  "```", ""]
        for name in _public(module):
            kind = "autoclass" if inspect.isclass(getattr(module, name)) else (
                "autofunction" if callable(getattr(module, name)) else "autodata")  # fmt: skip
            lines += ["```{eval-rst}", f".. {kind}:: {module_name}.{name}"]
            if kind == "autoclass":
                lines += ["   :members:", "   :exclude-members: model_config, model_fields, model_computed_fields"]
            lines += ["```", ""]
    return "\n".join(lines)


def _public(module: Any) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items() if not n.startswith("_") and getattr(v, "__module__", None)
                 == module.__name__ and (inspect.isclass(v) or inspect.isfunction(v))]  # fmt: skip
    return sorted(names)


def check_docstrings() -> list[str]:
    """Public names of the API without a docstring of their own (each a warning: ``make docs`` fails)."""
    missing = []
    for module_name in API_MODULES:
        module = importlib.import_module(module_name)
        for name in _public(module):
            value = getattr(module, name)
            if (inspect.isclass(value) or callable(value)) and not (value.__doc__ or "").strip():
                missing.append(f"{module_name}.{name}")
            if inspect.isclass(value):
                for member, attribute in vars(value).items():
                    if not member.startswith("_") and inspect.isfunction(attribute) and not attribute.__doc__:
                        missing.append(f"{module_name}.{name}.{member}")
    return missing


def _generate(app: Sphinx) -> None:
    target = Path(app.srcdir) / "reference"
    target.mkdir(exist_ok=True)
    for name, page in (("cli", cli_page), ("scenario-keys", scenario_keys_page), ("outputs", outputs_page),
                       ("api", api_page)):  # fmt: skip
        text = page()
        path = target / f"{name}.md"
        if not path.exists() or path.read_text() != text:  # unchanged pages keep their time: no rebuild
            path.write_text(text)
    for name in check_docstrings():
        logger.warning(f"{name} is public and has no docstring: write one (it is the API reference)")


def setup(app: Sphinx) -> dict[str, Any]:
    """Write the reference pages before Sphinx reads the sources."""
    app.connect("builder-inited", _generate)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
