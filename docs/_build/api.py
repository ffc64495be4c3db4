"""The API reference, generated from the docstrings of the public modules.

One page per module of :data:`MODULES`: its docstring, then every name of its ``__all__``:
classes with their signature, docstring, fields and public methods; functions; constants.
Google-style sections (``Args:``, ``Returns:``, ``Raises:``, ``Attributes:``) become lists,
reST markup (````code````, ``:class:`~omniq.X``` , ``::`` blocks) becomes Markdown.
"""

from __future__ import annotations

import enum
import importlib
import inspect
import re
from pathlib import Path
from typing import Any

#: The public modules, in the order of the reference, with one line on what each is for.
MODULES = {
    "omniq": "The API: `OmniQ`, `AsyncOmniQ`, models, exceptions, `current_task`.",
    "omniq.sync": "Blocking twins of the async components, and the bases plugins use for theirs.",
    "omniq.models": "Tasks, schedules, results, events and configuration structs.",
    "omniq.contract": "The storage interface a backend implements.",
    "omniq.testing": "The conformance kit: the contracts as a pytest suite.",
    "omniq.exceptions": "The error tree, rooted at `OmniQError`.",
    "omniq.config": "Settings, environment variables, configuration files and logging.",
    "omniq.clock": "Time helpers for engines that keep times as numbers.",
    "omniq.etas": "Future etas per key, for engines that wait for delayed tasks.",
}

_SECTIONS = ("Args", "Arguments", "Parameters", "Returns", "Yields", "Raises", "Attributes",
             "Example", "Examples", "Note", "Notes")
_SECTION_RE = re.compile(rf"^({'|'.join(_SECTIONS)}):\s*$")
_ROLE_RE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj):`~?([^`]+)`")
_ITEM_SECTIONS = ("Args", "Arguments", "Parameters", "Attributes", "Raises")
_ITEM_RE = re.compile(r"^(\*{0,2}[\w.]+)(?:\s*\(([^)]*)\))?:\s*(.*)$")


def page_name(module: str) -> str:
    return module.replace(".", "_") + ".qmd"


def write_pages(folder: Path) -> list[Path]:
    """Write ``index.qmd`` and one page per module into ``folder``; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.qmd"):
        stale.unlink()
    written = []
    index = ["---", 'title: "API reference"', "---", "",
             "Generated from the docstrings of the public modules when the site is built "
             "(`docs/build.py`). Anything not listed here (modules and names starting with "
             "`_`) may change without notice.", "",
             "| module | what it holds |", "|---|---|"]
    for module in MODULES:
        index.append(f"| [`{module}`]({page_name(module)}) | {MODULES[module]} |")
        path = folder / page_name(module)
        path.write_text(module_page(module))
        written.append(path)
    path = folder / "index.qmd"
    path.write_text("\n".join(index) + "\n")
    written.append(path)
    return written


def module_page(name: str) -> str:
    module = importlib.import_module(name)
    lines = ["---", f'title: "{name}"', "---", "", markdown(module.__doc__ or ""), ""]
    exported = list(getattr(module, "__all__", []))
    if not exported:
        raise SystemExit(f"{name} has no __all__: the API reference lists only what it exports")
    objects = [(n, getattr(module, n)) for n in exported if not n.startswith("__")]
    classes = [(n, o) for n, o in objects if inspect.isclass(o)]
    functions = [(n, o) for n, o in objects if callable(o) and not inspect.isclass(o)]
    others = [(n, o) for n, o in objects if (n, o) not in classes and (n, o) not in functions]
    if classes:
        lines += ["## Classes", ""]
        for n, cls in sorted(classes, key=lambda item: item[0].lower()):
            lines += class_section(n, cls)
    if functions:
        lines += ["## Functions", ""]
        for n, func in sorted(functions, key=lambda item: item[0].lower()):
            lines += [f"### `{n}` {{#{anchor(n)}}}", "", signature_block(n, func), "",
                      markdown(inspect.getdoc(func) or ""), ""]
    if others:
        lines += ["## Constants and submodules", ""]
        for n, value in others:
            lines += [f"### `{n}` {{#{anchor(n)}}}", "", constant(value), ""]
    return "\n".join(lines).rstrip() + "\n"


def anchor(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "-", name).strip("-")


def signature_block(name: str, obj: Any) -> str:
    """``name(params) -> returns`` as a code block, a parameter a line when it is long."""
    try:
        try:
            sig = inspect.signature(obj, eval_str=True)
        except Exception:  # an annotation only a type checker can evaluate
            sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return f"```{{.python .signature}}\n{name}(...)\n```"
    params = [p for p in sig.parameters.values() if p.name not in ("self", "cls")]
    shown = [_unquote(str(p)) for p in params]
    returns = "" if sig.return_annotation is sig.empty \
        else " -> " + _unquote(inspect.formatannotation(sig.return_annotation))
    # The bare star before keyword-only parameters, and the slash after positional-only ones.
    parts: list[str] = []
    for p, text in zip(params, shown, strict=True):
        if p.kind is p.KEYWORD_ONLY and not any(x.startswith("*") for x in parts):
            parts.append("*")
        parts.append(text)
        if p.kind is p.POSITIONAL_ONLY and (p is params[-1] or
                                            params[params.index(p) + 1].kind
                                            is not p.POSITIONAL_ONLY):
            parts.append("/")
    one_line = f"{name}({', '.join(parts)}){returns}"
    if len(one_line) <= 90:
        return f"```{{.python .signature}}\n{one_line}\n```"
    inner = "".join(f"    {part},\n" for part in parts)
    return f"```{{.python .signature}}\n{name}(\n{inner}){returns}\n```"


def _unquote(text: str) -> str:
    text = re.sub(r"'([^']*)'", lambda m: m[1] if _looks_like_type(m[1]) else m[0], text)
    # Module paths make signatures long and name private modules: the class name is enough.
    return re.sub(r"\b(?:[a-z_]\w*\.)+([A-Za-z_]\w*)", r"\1", text)


def _looks_like_type(text: str) -> bool:
    return re.fullmatch(r"[\w.\[\], |]+", text) is not None and text not in ("", "default")


def class_section(name: str, cls: type) -> list[str]:
    lines = [f"### `{name}` {{#{anchor(name)}}}", ""]
    bases = [b.__name__ for b in cls.__bases__ if b is not object]
    if issubclass(cls, BaseException):
        lines += [f"Exception; bases: {', '.join(f'`{b}`' for b in bases)}.", ""]
    elif issubclass(cls, enum.Enum):
        members = ", ".join(f"`{m.name}` ({m.value!r})" for m in cls)
        lines += [f"Enum: {members}.", ""]
    else:
        lines += [signature_block(name, cls), ""]
    doc = own_doc(cls)
    if doc:
        lines += [markdown(doc), ""]
    for method_name, method in public_methods(cls):
        lines += [f"#### `{name}.{method_name}` {{#{anchor(name + '-' + method_name)}}}", "",
                  signature_block(method_name, method), ""]
        doc = method_doc(cls, method_name, method)
        if doc:
            lines += [markdown(doc), ""]
    return lines


def own_doc(cls: type) -> str:
    doc = cls.__dict__.get("__doc__")
    return inspect.cleandoc(doc) if isinstance(doc, str) else ""


def public_methods(cls: type) -> list[tuple[str, Any]]:
    """Public methods and properties the class defines or inherits from omniq classes."""
    if issubclass(cls, (BaseException, enum.Enum)):
        return []
    found = {}
    for klass in reversed(cls.__mro__):
        if not klass.__module__.startswith("omniq"):
            continue
        for attr, value in vars(klass).items():
            if attr.startswith("_") or attr in ("kind", "config_class"):
                continue
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if inspect.isfunction(value) or isinstance(value, property):
                found[attr] = value
            elif attr in found:
                del found[attr]
    return sorted(found.items())


def method_doc(cls: type, name: str, method: Any) -> str:
    doc = inspect.getdoc(method.fget if isinstance(method, property) else method)
    if doc:
        return doc
    # A blocking twin's forwarders carry no docstrings: its async class's methods have them.
    twin = getattr(cls, "_async_class", None) or getattr(cls, "twin_of", None)
    source = getattr(twin, name, None) if twin is not None else None
    return (inspect.getdoc(source) or "") if source is not None else ""


def constant(value: Any) -> str:
    if inspect.ismodule(value):
        first = (value.__doc__ or "").strip().split("\n\n")[0]
        return f"Module `{value.__name__}`. {markdown(first)}"
    text = repr(value)
    if len(text) > 300:
        text = text[:300] + " ..."
    return f"```{{.python .value}}\n{text}\n```"


def markdown(doc: str) -> str:
    """A Google-style, reST-flavoured docstring as pandoc Markdown."""
    out: list[str] = []
    lines = inspect.cleandoc(doc).splitlines()
    i, section = 0, None
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not line.startswith(" ") and (heading := _SECTION_RE.match(stripped)):
            section = heading[1]
            out += ["", f"**{section}**", ""]
            i += 1
        elif stripped.endswith("::") and not stripped.startswith(".."):
            # A reST literal block: the indented lines that follow.
            if stripped != "::":
                out.append(inline(stripped[:-1]))
            block, i = _indented(lines, i + 1)
            out += ["", "```{.python .example}", *block, "```", ""]
        elif section in _ITEM_SECTIONS and line.startswith("    ") \
                and not line.startswith("        ") and (item := _ITEM_RE.match(stripped)):
            # "    name: text" and its deeper-indented continuation lines.
            body, i = _continued(lines, i)
            out.append(f"- `{item[1]}`: {inline(' '.join([item[3], *body]).strip())}")
        elif stripped and not line.startswith(" ") and i + 1 < len(lines) \
                and lines[i + 1].startswith("    ") and not section:
            # A reST definition list: the term, then its indented definition.
            body, i = _continued(lines, i)
            out += ["", inline(stripped), f":   {inline(' '.join(body))}", ""]
        else:
            if stripped and not line.startswith(" "):
                section = None  # back to prose after a section's items
            out.append(inline(stripped) if stripped else "")
            i += 1
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def _indented(lines: list[str], i: int) -> tuple[list[str], int]:
    while i < len(lines) and not lines[i].strip():
        i += 1
    block = []
    while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
        block.append(lines[i])
        i += 1
    while block and not block[-1].strip():
        block.pop()
    indent = min((len(b) - len(b.lstrip()) for b in block if b.strip()), default=0)
    return [b[indent:] for b in block], i


def _continued(lines: list[str], i: int) -> tuple[list[str], int]:
    """The lines continuing the item at ``lines[i]`` (deeper indented)."""
    indent = len(lines[i]) - len(lines[i].lstrip())
    body = []
    i += 1
    while i < len(lines) and lines[i].strip() and \
            len(lines[i]) - len(lines[i].lstrip()) > indent:
        body.append(lines[i].strip())
        i += 1
    return body, i


def inline(text: str) -> str:
    """reST inline markup to Markdown; Markdown's special characters escaped outside code."""
    text = _ROLE_RE.sub(lambda m: f"``{m[1].split('.')[-1] if '.' in m[1] else m[1]}``", text)
    parts = re.split(r"(``.+?``|`[^`]+`)", text)
    out = []
    for part in parts:
        if part.startswith("``") and part.endswith("``") and len(part) > 4:
            out.append(f"`{part[2:-2]}`")
        elif part.startswith("`") and part.endswith("`") and len(part) > 2:
            out.append(f"`{part[1:-1]}`")
        else:
            out.append(re.sub(r"([\\_<>\[\]$#|~^])", r"\\\1", part))
    result = "".join(out)
    return re.sub(r"^(\\\*|-|\d+\.) ", lambda m: "- " if m[1] in ("\\*", "-") else m[0],
                  result)
