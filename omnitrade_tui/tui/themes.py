"""Theme files: Textual themes written as TOML, shipped in ``themes/`` and added by users.

A theme file holds Textual's ``Theme`` fields at the top level and the app's own colours
(``$bid``, ``$ask``, ...) in a ``[variables]`` table::

    name = "my-theme"
    dark = true
    primary = "#2f81f7"
    ...
    [variables]
    bid = "#26d07c"
    ask = "#ff5c5c"

Shipped themes live in the package's ``themes`` folder (a wheel) or in ``themes/`` at the
repository root (an editable install). Users add their own in ``<config dir>/themes/*.toml``.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
from textual.color import Color, ColorParseError
from textual.theme import Theme

DEFAULT_THEME = "omnitrade-dark"
"""The theme used when none is chosen; its variables fill in what user themes leave out."""

REQUIRED_VARIABLES: tuple[str, ...] = (
    "bid",
    "ask",
    "up",
    "down",
    "bid-muted",
    "ask-muted",
    "flash",
    "live-badge",
    "stale",
)
"""The app's own theme variables: every registered theme defines all of them."""


class ThemeFile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A theme file as declared: Textual's ``Theme`` fields at the top level (every string
    but the name is a colour) and the app's own colours in ``[variables]``.

    The checks below read their field lists from this model and collect every problem of a
    file into one sentence (msgspec alone would stop at the first); the checked table is
    then converted into it.
    """

    name: str
    primary: str
    secondary: str
    accent: str
    foreground: str
    background: str
    surface: str
    panel: str
    success: str
    warning: str
    error: str
    dark: bool
    boost: str | None = None
    luminosity_spread: float | None = None
    text_alpha: float | None = None
    variables: dict[str, str] = msgspec.field(default_factory=dict)


_FIELDS = msgspec.structs.fields(ThemeFile)

COLOUR_FIELDS: tuple[str, ...] = tuple(
    f.name for f in _FIELDS if f.required and f.type is str and f.name != "name"
)
"""Textual's base colours, which every theme file must give."""

REQUIRED_FIELDS: tuple[str, ...] = tuple(f.name for f in _FIELDS if f.required)
"""Top-level keys every theme file must have."""

_OPTIONAL_COLOUR_FIELDS = tuple(f.name for f in _FIELDS if f.type == (str | None))
_OPTIONAL_NUMBER_FIELDS = tuple(f.name for f in _FIELDS if f.type == (float | None))
_KNOWN_FIELDS = frozenset(f.name for f in _FIELDS)

# Textual adds the class "-theme-<name>" to the App, and class names must be identifiers:
# a name that is not one only fails later, when the theme is switched to.
_NAME = re.compile(r"[a-zA-Z_\-][a-zA-Z0-9_\-]*")
# Textual's CSS accepts a colour followed by an opacity, e.g. "#81a1c1 35%".
_PERCENT = re.compile(r"(?P<colour>.+?)\s+(?P<percent>\d+(?:\.\d+)?)%")

_PACKAGE_THEMES = Path(__file__).resolve().parent.parent / "themes"
_REPO_THEMES = Path(__file__).resolve().parents[2] / "themes"


class ThemeError(Exception):
    """A theme file (or the shipped themes folder) cannot be used; the message says why."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


def parse_theme_colour(value: str) -> Color:
    """Parse a colour as a theme may write it: a CSS colour, optionally with an opacity.

    ``"#26d07c"`` and ``"#26d07c 25%"`` are both accepted; the opacity becomes the alpha.
    Raises ``ValueError`` naming the value when it is not a colour.
    """
    text = value.strip()
    match = _PERCENT.fullmatch(text)
    try:
        if match is None:
            return Color.parse(text)
        alpha = float(match["percent"]) / 100
        if alpha > 1:
            raise ValueError(f"{value!r} has an opacity above 100%")
        return Color.parse(match["colour"]).multiply_alpha(alpha)
    except ColorParseError:
        raise ValueError(f"{value!r} is not a colour") from None


def builtin_theme_dir() -> Path:
    """The folder of the shipped theme files.

    A wheel carries them inside the package (``omnitrade_tui/themes``); an editable install
    reads them from ``themes/`` at the repository root.
    """
    for folder in (_PACKAGE_THEMES, _REPO_THEMES):
        if folder.is_dir():
            return folder
    raise ThemeError(
        f"The shipped themes were not found in {_PACKAGE_THEMES} or {_REPO_THEMES}; "
        "the installation is incomplete."
    )


def user_theme_dir(config_dir: Path) -> Path:
    """Where a user's own theme files go: ``<config dir>/themes``."""
    return config_dir / "themes"


def load_theme_file(path: Path | str) -> Theme:
    """Read one theme file into a Textual ``Theme``.

    Raises ``ThemeError`` with a sentence naming the file and everything wrong with it:
    unreadable file, bad TOML, missing or unknown field, bad colour. Variables the file leaves
    out are not filled in here; ``load_themes`` does that.
    """
    path = Path(path)
    try:
        with path.open("rb") as stream:
            table = tomllib.load(stream)
    except OSError as error:
        raise _file_error(path, [f"unreadable ({error.strerror or error})"]) from error
    except UnicodeDecodeError as error:
        raise _file_error(path, ["not UTF-8 text, which TOML requires"]) from error
    except tomllib.TOMLDecodeError as error:
        raise _file_error(path, [f"not valid TOML ({error})"]) from error
    return _theme_from_table(path, table)


def default_variables() -> dict[str, str]:
    """The app's variables as the default theme sets them.

    Meant for ``App.get_theme_variable_defaults``, so ``$bid`` and the rest are defined under
    any theme, Textual's own included.
    """
    path = builtin_theme_dir() / f"{DEFAULT_THEME}.toml"
    theme = load_theme_file(path)
    missing = [name for name in REQUIRED_VARIABLES if name not in theme.variables]
    if missing:
        raise _file_error(
            path, [_missing("variable", missing) + ", which the default theme must set"]
        )
    return {name: theme.variables[name] for name in REQUIRED_VARIABLES}


def with_default_variables(theme: Theme, defaults: Mapping[str, str]) -> Theme:
    """A copy of ``theme`` whose variables fall back to ``defaults`` where it sets none."""
    return dataclasses.replace(theme, variables={**defaults, **theme.variables})


def load_themes(user_dir: Path | None) -> tuple[list[Theme], list[str]]:
    """The shipped themes, then the user's themes from ``user_dir`` (``<config dir>/themes``).

    Every theme returned defines all of ``REQUIRED_VARIABLES``: what a file leaves out comes
    from the default theme. A broken file is skipped and the others still load; the problems
    come back as sentences, one per file, ready for a single notification. A user theme with
    a shipped theme's name replaces it. ``user_dir`` may be ``None`` or missing (no themes of
    the user's own). Raises ``ThemeError`` only when the default theme itself is unusable,
    which means a broken installation.
    """
    defaults = default_variables()
    themes: dict[str, Theme] = {}
    errors: list[str] = []

    # The default first, so a menu built from this list starts with it.
    builtin_files = sorted(
        _theme_files(builtin_theme_dir()),
        key=lambda file: (file.stem != DEFAULT_THEME, file.name),
    )
    for path in builtin_files:
        try:
            theme = load_theme_file(path)
        except ThemeError as error:
            errors.append(str(error))
            continue
        themes[theme.name] = with_default_variables(theme, defaults)

    if user_dir is None or not user_dir.exists():
        return list(themes.values()), errors
    try:
        user_files = _theme_files(user_dir)
    except OSError as error:
        errors.append(
            f"The user themes folder {user_dir} cannot be read ({error.strerror or error})."
        )
        return list(themes.values()), errors
    user_names: dict[str, Path] = {}
    for path in user_files:
        try:
            theme = load_theme_file(path)
        except ThemeError as error:
            errors.append(str(error))
            continue
        # Replacing a shipped theme is how a user tweaks one; two of their own files with
        # one name is a mistake, and silently keeping either would hide it.
        if theme.name in user_names:
            errors.append(
                f"Theme file {path}: the name {theme.name!r} is already used by "
                f"{user_names[theme.name]}, so this file was skipped."
            )
            continue
        user_names[theme.name] = path
        themes[theme.name] = with_default_variables(theme, defaults)
    return list(themes.values()), errors


def _theme_files(folder: Path) -> list[Path]:
    """The ``*.toml`` files of ``folder`` in name order, leaving out hidden (editor) files.

    Raises ``OSError`` when ``folder`` cannot be listed (not a folder, no permission).
    """
    if not folder.is_dir():
        raise NotADirectoryError(20, "not a folder", str(folder))
    return sorted(
        path for path in folder.glob("*.toml") if not path.name.startswith(".") and path.is_file()
    )


def _theme_from_table(path: Path, table: Mapping[str, Any]) -> Theme:
    """Check a parsed theme file and build the ``Theme``, or raise listing every problem."""
    problems: list[str] = []

    missing = [name for name in REQUIRED_FIELDS if name not in table]
    if missing:
        problems.append(_missing("field", missing))
    unknown = sorted(set(table) - _KNOWN_FIELDS)
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        problems.append(f"unknown field{'s' if len(unknown) > 1 else ''} {names}")

    name = table.get("name")
    if "name" in table and not (isinstance(name, str) and _NAME.fullmatch(name)):
        problems.append(
            f"'name' is {name!r}, but a theme name must be letters, digits, '-' or '_' "
            "and not start with a digit"
        )
    if "dark" in table and not isinstance(table["dark"], bool):
        problems.append(f"'dark' is {table['dark']!r}, but it must be true or false")

    colours: dict[str, str] = {}
    for field in (*COLOUR_FIELDS, *_OPTIONAL_COLOUR_FIELDS):
        if field in table:
            # Textual builds its colour system with Color.parse, which takes no opacity suffix.
            problem = _colour_problem(f"{field!r}", table[field], opacity=False)
            if problem:
                problems.append(problem)
            else:
                colours[field] = table[field]

    numbers: dict[str, float] = {}
    for field in _OPTIONAL_NUMBER_FIELDS:
        if field in table:
            value = table[field]
            if isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"{field!r} is {value!r}, but it must be a number")
            else:
                numbers[field] = float(value)

    variables = _variables(table.get("variables", {}), problems)

    if problems:
        raise _file_error(path, problems)
    declared = msgspec.convert(
        {**table, **colours, **numbers, "variables": variables}, ThemeFile, strict=False
    )
    # Textual's own defaults apply where the optional fields are left out.
    theme = Theme(
        name=declared.name,
        primary=declared.primary,
        secondary=declared.secondary,
        accent=declared.accent,
        foreground=declared.foreground,
        background=declared.background,
        surface=declared.surface,
        panel=declared.panel,
        success=declared.success,
        warning=declared.warning,
        error=declared.error,
        boost=declared.boost,
        dark=declared.dark,
        variables=declared.variables,
    )
    if declared.luminosity_spread is not None:
        theme.luminosity_spread = declared.luminosity_spread
    if declared.text_alpha is not None:
        theme.text_alpha = declared.text_alpha
    return theme


def _variables(raw: object, problems: list[str]) -> dict[str, str]:
    """Check the ``[variables]`` table, appending to ``problems``; the valid entries."""
    if not isinstance(raw, dict):
        problems.append("'variables' must be a table ([variables])")
        return {}
    variables: dict[str, str] = {}
    for name, value in raw.items():
        label = f"variable {name!r}"
        if not isinstance(value, str):
            problems.append(f"{label} is {value!r}, but it must be a string")
        elif name.endswith("text-style"):
            # Textual's *-text-style variables hold styles such as "bold" or "reverse".
            variables[name] = value
        elif name not in REQUIRED_VARIABLES and value.strip().startswith("auto"):
            # Textual's "auto 87%" picks a readable colour; the app's own colours are
            # compared and reduced to 256 colours, so they must be real colours.
            variables[name] = value
        else:
            problem = _colour_problem(label, value)
            if problem:
                problems.append(problem)
            else:
                variables[name] = value
    return variables


def _colour_problem(label: str, value: object, *, opacity: bool = True) -> str | None:
    """Why ``value`` is not a usable colour, or ``None`` when it is one.

    ``opacity`` allows the ``"#26d07c 25%"`` form, which only CSS variables accept.
    """
    if not isinstance(value, str):
        return f'{label} is {value!r}, but it must be a colour in quotes such as "#2f81f7"'
    try:
        if opacity:
            parse_theme_colour(value)
        else:
            Color.parse(value)
    except ValueError as error:
        return f"{label} is not usable: {error}"
    except ColorParseError:
        return f"{label} is not usable: {value!r} is not a colour"
    return None


def _missing(kind: str, names: list[str]) -> str:
    """``missing the field 'a'`` / ``missing the fields 'a', 'b'``."""
    listed = ", ".join(repr(name) for name in names)
    return f"missing the {kind}{'s' if len(names) > 1 else ''} {listed}"


def _file_error(path: Path, problems: list[str]) -> ThemeError:
    """One sentence naming the file and each thing wrong with it."""
    return ThemeError(f"Theme file {path}: {'; '.join(problems)}.", path)
