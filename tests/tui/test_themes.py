"""Theme files: the shipped ones load, register and stay legible in 256 colours; bad user files
are reported by name without stopping the rest."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from rich.color import Color as RichColor
from rich.color import ColorSystem
from textual.app import App, ComposeResult
from textual.color import Color
from textual.theme import BUILTIN_THEMES
from textual.theme import Theme as TextualTheme
from textual.widgets import Static

from omnitrade_tui.tui.themes import (
    COLOUR_FIELDS,
    DEFAULT_THEME,
    REQUIRED_FIELDS,
    REQUIRED_VARIABLES,
    ThemeError,
    builtin_theme_dir,
    default_variables,
    load_theme_file,
    load_themes,
    parse_theme_colour,
    user_theme_dir,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_NAMES = {"omnitrade-dark", "omnitrade-light", "omnitrade-amber"}
SHIPPED_FILES = sorted(builtin_theme_dir().glob("*.toml"))

# Pairs that must not merge into one palette entry on a 256-colour terminal.
DISTINCT_PAIRS = [
    ("bid", "ask"),
    ("up", "down"),
    ("bid-muted", "ask-muted"),
    ("bid-muted", "background"),
    ("ask-muted", "background"),
    ("flash", "background"),
    ("flash", "bid-muted"),
    ("flash", "ask-muted"),
    ("live-badge", "background"),
    ("stale", "foreground"),
    ("stale", "bid"),
    ("stale", "ask"),
    ("foreground", "background"),
]

# (text, what it is drawn on): these must stay readable after the 256-colour reduction.
TEXT_ON_BACKGROUND = [
    *(
        (text, ground)
        for text in ("bid", "ask", "up", "down", "stale", "foreground")
        for ground in ("background", "surface", "panel")
    ),
    ("bid", "bid-muted"),
    ("ask", "ask-muted"),
    ("bid", "flash"),
    ("ask", "flash"),
    ("stale", "bid-muted"),
    ("stale", "ask-muted"),
    ("stale", "flash"),
]
MIN_CONTRAST = 3.0


def theme_colours(theme: TextualTheme) -> dict[str, str]:
    """The theme's base colours and variables under one set of names."""
    colours = {field: getattr(theme, field) for field in COLOUR_FIELDS}
    colours.update(theme.variables)
    return colours


def in_256_colours(value: str, background: str) -> RichColor:
    """``value`` as a 256-colour terminal shows it (translucent colours over the background)."""
    colour = parse_theme_colour(value)
    if colour.a < 1:
        colour = Color.parse(background) + colour
    return colour.rich_color.downgrade(ColorSystem.EIGHT_BIT)


def contrast(first: RichColor, second: RichColor) -> float:
    """WCAG contrast ratio of two colours."""

    def luminance(colour: RichColor) -> float:
        def channel(value: int) -> float:
            v = value / 255
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        red, green, blue = colour.get_truecolor()
        return 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def write_theme(
    path: Path, theme_name: str, theme_variables: dict[str, str] | None = None, /, **fields: object
) -> Path:
    """A theme file with every required field; ``fields`` override them, ``None`` drops one."""
    table: dict[str, object] = {
        "name": theme_name,
        "dark": True,
        **dict.fromkeys(COLOUR_FIELDS, "#336699"),
        "background": "#000000",
    }
    table.update(fields)
    lines = [f"{key} = {_toml_value(value)}" for key, value in table.items() if value is not None]
    if theme_variables is not None:
        lines.append("[variables]")
        lines += [
            f"{json.dumps(key)} = {json.dumps(value)}" for key, value in theme_variables.items()
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


# --- the shipped themes ----------------------------------------------------------------------


def test_the_three_shipped_themes_are_found() -> None:
    assert {path.stem for path in SHIPPED_FILES} >= SHIPPED_NAMES
    themes, errors = load_themes(None)
    assert errors == []
    names = [theme.name for theme in themes]
    assert set(names) >= SHIPPED_NAMES
    assert names[0] == DEFAULT_THEME
    assert len(names) == len(set(names))


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda path: path.stem)
def test_a_shipped_file_sets_every_field_and_variable_itself(path: Path) -> None:
    with path.open("rb") as stream:
        table = tomllib.load(stream)
    # Not merely filled in from the default: each shipped theme is complete on its own.
    assert set(REQUIRED_FIELDS) <= set(table)
    assert set(REQUIRED_VARIABLES) <= set(table["variables"])
    theme = load_theme_file(path)
    assert theme.name == path.stem
    for name in REQUIRED_VARIABLES:
        parse_theme_colour(theme.variables[name])


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda path: path.stem)
def test_shipped_colours_stay_distinct_in_256_colours(path: Path) -> None:
    theme = load_theme_file(path)
    colours = theme_colours(theme)
    assert theme.background is not None
    reduced = {
        name: in_256_colours(colours[name], theme.background)
        for pair in DISTINCT_PAIRS
        for name in pair
    }
    merged = [
        f"{first}/{second} -> {reduced[first].number}"
        for first, second in DISTINCT_PAIRS
        if reduced[first].number == reduced[second].number
    ]
    assert merged == [], f"{theme.name}: these become one colour in 256 colours: {merged}"


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda path: path.stem)
def test_shipped_text_stays_readable_in_256_colours(path: Path) -> None:
    theme = load_theme_file(path)
    colours = theme_colours(theme)
    assert theme.background is not None
    low = []
    for text, ground in TEXT_ON_BACKGROUND:
        ratio = contrast(
            in_256_colours(colours[text], theme.background),
            in_256_colours(colours[ground], theme.background),
        )
        if ratio < MIN_CONTRAST:
            low.append(f"{text} on {ground}: {ratio:.2f}")
    assert low == [], f"{theme.name}: too little contrast in 256 colours: {low}"


def test_the_live_badge_is_red() -> None:
    for path in SHIPPED_FILES:
        red, green, blue = parse_theme_colour(load_theme_file(path).variables["live-badge"]).rgb
        assert red > 150 and red > 2 * green and red > 2 * blue, path.stem


class ThemedApp(App[None]):
    """Uses the app's variables in its CSS, as the real widgets do."""

    CSS = """
    #bid { color: $bid; background: $bid-muted; }
    #ask { color: $ask; background: $ask-muted; }
    #flash { color: $stale; background: $flash; }
    #badge { background: $live-badge; color: $up; border: solid $down; }
    """

    def compose(self) -> ComposeResult:
        yield Static("100.5", id="bid")
        yield Static("100.6", id="ask")
        yield Static("stale", id="flash")
        yield Static("LIVE", id="badge")

    def get_theme_variable_defaults(self) -> dict[str, str]:
        # As the real app does: the CSS parses before any of our themes is switched to.
        return default_variables()


async def test_every_shipped_theme_registers_and_applies() -> None:
    themes, errors = load_themes(None)
    assert errors == []
    app = ThemedApp()
    for theme in themes:
        app.register_theme(theme)
    async with app.run_test() as pilot:
        for theme in themes:
            app.theme = theme.name
            await pilot.pause()
            assert app.current_theme.name == theme.name
            for name in REQUIRED_VARIABLES:
                assert app.theme_variables[name] == theme.variables[name]
            bid = app.query_one("#bid", Static)
            assert bid.styles.color == parse_theme_colour(theme.variables["bid"])
            assert bid.styles.background == parse_theme_colour(theme.variables["bid-muted"])
            badge = app.query_one("#badge", Static)
            assert badge.styles.background == parse_theme_colour(theme.variables["live-badge"])


def test_default_variables_come_from_the_default_theme() -> None:
    dark = load_theme_file(builtin_theme_dir() / f"{DEFAULT_THEME}.toml")
    assert default_variables() == {name: dark.variables[name] for name in REQUIRED_VARIABLES}


# --- user themes -----------------------------------------------------------------------------


def test_a_corrupt_user_file_is_named_and_the_others_still_load(tmp_path: Path) -> None:
    write_theme(tmp_path / "a-good.toml", "a-good", {"bid": "#00ff00"})
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "broken"\nprimary = \n', encoding="utf-8")
    write_theme(tmp_path / "z-good.toml", "z-good")

    themes, errors = load_themes(tmp_path)

    names = [theme.name for theme in themes]
    assert names[0] == DEFAULT_THEME
    assert names[-2:] == ["a-good", "z-good"]
    assert "broken" not in names
    assert len(errors) == 1
    assert str(broken) in errors[0]
    assert "not valid TOML" in errors[0]
    assert "line 2" in errors[0]

    with pytest.raises(ThemeError) as caught:
        load_theme_file(broken)
    assert caught.value.path == broken
    assert str(broken) in str(caught.value)


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    path = write_theme(tmp_path / "t.toml", "t", panel=None, dark=None)
    with pytest.raises(ThemeError) as caught:
        load_theme_file(path)
    message = str(caught.value)
    assert str(path) in message
    assert "missing the fields 'panel', 'dark'" in message
    assert message.endswith(".")


@pytest.mark.parametrize(
    ("fields", "variables", "expected"),
    [
        ({"primary": "gren"}, None, "'primary' is not usable: 'gren' is not a colour"),
        ({"panel": "#262626 50%"}, None, "'panel' is not usable: '#262626 50%' is not a colour"),
        ({"surface": 12}, None, "'surface' is 12, but it must be a colour"),
        ({}, {"bid": "#12345"}, "variable 'bid' is not usable: '#12345' is not a colour"),
        ({}, {"flash": "auto 80%"}, "variable 'flash' is not usable"),
        ({}, {"ask": "#ff0000 150%"}, "opacity above 100%"),
        ({"dark": "yes"}, None, "'dark' is 'yes', but it must be true or false"),
        ({"name": "my theme"}, None, "a theme name must be letters, digits"),
        ({"backgroud": "#000000"}, None, "unknown field 'backgroud'"),
        ({"variables": "bid"}, None, "'variables' must be a table"),
    ],
)
def test_a_bad_value_is_named(
    tmp_path: Path, fields: dict[str, object], variables: dict[str, str] | None, expected: str
) -> None:
    path = write_theme(tmp_path / "t.toml", "t", variables, **fields)
    with pytest.raises(ThemeError) as caught:
        load_theme_file(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    path = write_theme(tmp_path / "t.toml", "t", {"up": "nope"}, accent="nope", panel=None)
    with pytest.raises(ThemeError) as caught:
        load_theme_file(path)
    message = str(caught.value)
    assert "'panel'" in message
    assert "'accent'" in message
    assert "'up'" in message


def test_an_unreadable_or_non_utf8_file_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    with pytest.raises(ThemeError, match="unreadable") as caught:
        load_theme_file(folder)
    assert str(folder) in str(caught.value)
    latin = tmp_path / "latin.toml"
    latin.write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ThemeError, match="not UTF-8"):
        load_theme_file(latin)


def test_a_missing_variable_is_filled_from_the_default_theme(tmp_path: Path) -> None:
    write_theme(
        tmp_path / "partial.toml", "partial", {"bid": "#00ff00", "up": "#00ff00", "x": "#111 20%"}
    )
    write_theme(tmp_path / "bare.toml", "bare")  # no [variables] table at all

    themes, errors = load_themes(tmp_path)

    assert errors == []
    by_name = {theme.name: theme for theme in themes}
    defaults = default_variables()
    partial = by_name["partial"]
    assert partial.variables["bid"] == "#00ff00"
    assert partial.variables["up"] == "#00ff00"
    assert partial.variables["ask"] == defaults["ask"]
    assert partial.variables["flash"] == defaults["flash"]
    assert partial.variables["x"] == "#111 20%"
    assert set(REQUIRED_VARIABLES) <= set(by_name["bare"].variables)
    # The file itself is loaded as written; filling in is load_themes' job.
    assert "ask" not in load_theme_file(tmp_path / "partial.toml").variables


async def test_a_partial_user_theme_still_defines_every_variable_in_an_app(
    tmp_path: Path,
) -> None:
    write_theme(tmp_path / "partial.toml", "partial", {"bid": "#00ff00"})
    themes, _ = load_themes(tmp_path)
    app = ThemedApp()
    for theme in themes:
        app.register_theme(theme)
    async with app.run_test() as pilot:
        app.theme = "partial"
        await pilot.pause()
        assert app.query_one("#bid", Static).styles.color == Color.parse("#00ff00")
        ask = app.query_one("#ask", Static).styles.color
        assert ask == Color.parse(default_variables()["ask"])


def test_a_user_theme_replaces_a_shipped_one_of_the_same_name(tmp_path: Path) -> None:
    write_theme(tmp_path / "mine.toml", DEFAULT_THEME, {"bid": "#00ff00"})
    themes, errors = load_themes(tmp_path)
    assert errors == []
    mine = [theme for theme in themes if theme.name == DEFAULT_THEME]
    assert len(mine) == 1
    assert mine[0].variables["bid"] == "#00ff00"
    assert themes[0] is mine[0]


def test_two_user_files_with_one_name_are_reported(tmp_path: Path) -> None:
    first = write_theme(tmp_path / "a.toml", "same", {"bid": "#00ff00"})
    second = write_theme(tmp_path / "b.toml", "same", {"bid": "#0000ff"})
    themes, errors = load_themes(tmp_path)
    assert [theme.variables["bid"] for theme in themes if theme.name == "same"] == ["#00ff00"]
    assert len(errors) == 1
    assert str(second) in errors[0]
    assert str(first) in errors[0]


def test_user_folder_missing_hidden_files_and_a_file_in_its_place(tmp_path: Path) -> None:
    shipped, _ = load_themes(None)
    themes, errors = load_themes(tmp_path / "absent")
    assert errors == []
    assert [theme.name for theme in themes] == [theme.name for theme in shipped]

    (tmp_path / ".#editor-lock.toml").write_text("garbage", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("garbage", encoding="utf-8")
    themes, errors = load_themes(tmp_path)
    assert errors == []

    not_a_folder = tmp_path / "themes"
    not_a_folder.write_text("", encoding="utf-8")
    themes, errors = load_themes(not_a_folder)
    assert len(errors) == 1
    assert str(not_a_folder) in errors[0]
    assert len(themes) == len(shipped)


def test_user_theme_dir_is_inside_the_config_dir(tmp_path: Path) -> None:
    assert user_theme_dir(tmp_path) == tmp_path / "themes"


def test_textual_own_theme_variables_are_accepted(tmp_path: Path) -> None:
    """Users copy variables from Textual's themes; the validator must not reject any."""
    for theme in BUILTIN_THEMES.values():
        if not theme.variables:
            continue
        path = write_theme(tmp_path / f"{theme.name}.toml", theme.name, dict(theme.variables))
        assert load_theme_file(path).variables == theme.variables


def test_opacity_is_parsed_into_alpha() -> None:
    colour = parse_theme_colour("#81a1c1 35%")
    assert colour.rgb == (0x81, 0xA1, 0xC1)
    assert colour.a == pytest.approx(0.35)
    with pytest.raises(ValueError, match="not a colour"):
        parse_theme_colour("greenish")


# --- packaging -------------------------------------------------------------------------------


def test_the_wheel_carries_the_themes_inside_the_package() -> None:
    with (REPO_ROOT / "pyproject.toml").open("rb") as stream:
        wheel = tomllib.load(stream)["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == ["omnitrade_tui"]
    assert wheel["force-include"]["themes"] == "omnitrade_tui/themes"


def test_builtin_dir_is_the_repo_folder_in_a_checkout() -> None:
    folder = builtin_theme_dir()
    assert (folder / f"{DEFAULT_THEME}.toml").is_file()
    if not (REPO_ROOT / "omnitrade_tui" / "themes").is_dir():
        assert folder == REPO_ROOT / "themes"
