"""Alerts: the rules the engine evaluates and what fired, managed from the keyboard.

The screen holds nothing of its own: it asks the engine (``ListAlerts``, ``AlertHistory``)
and sends the changes (``AddAlert``, ``UpdateAlert``, ``DeleteAlert``), so a terminal
attached to a gateway manages the same alerts as the trading box.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from omnitrade_tui.bus import Bus
from omnitrade_tui.domain.alerts import AlertFired, AlertKind, AlertRule, AlertRuleError
from omnitrade_tui.domain.commands import (
    AddAlert,
    AlertHistory,
    DeleteAlert,
    ListAlerts,
    UpdateAlert,
)
from omnitrade_tui.tui.cursor import steady_cursors
from omnitrade_tui.tui.numbers import Numbers
from omnitrade_tui.tui.widgets.choice import Choice

#: The form's fields and the kinds that use them.
_FIELDS: dict[str, tuple[str, frozenset[AlertKind]]] = {
    "symbol": ("Symbol", frozenset(AlertKind)),
    "level": ("Level", frozenset({AlertKind.PRICE_CROSS})),
    "threshold": (
        "Threshold",
        frozenset(
            {AlertKind.MOVE_PCT, AlertKind.SPREAD_BPS, AlertKind.IMBALANCE, AlertKind.VOLUME_SPIKE}
        ),
    ),
    "window_s": ("Window s", frozenset({AlertKind.MOVE_PCT, AlertKind.VOLUME_SPIKE})),
    "seconds": ("After s", frozenset({AlertKind.LINK_DOWN, AlertKind.FEED_STALE})),
    "cooldown_s": ("Cooldown s", frozenset(AlertKind)),
    "label": ("Label", frozenset(AlertKind)),
    "delivery": ("Deliver to", frozenset(AlertKind)),
}
_UNITS = {
    AlertKind.MOVE_PCT: "threshold: % move",
    AlertKind.SPREAD_BPS: "threshold: bps of the mid",
    AlertKind.IMBALANCE: "threshold: ratio, e.g. 3 for 3:1",
    AlertKind.VOLUME_SPIKE: "threshold: times the usual volume",
}


class AlertForm(ModalScreen[AlertRule | None]):
    """A new rule, or an existing one to change; dismissed with the rule to send."""

    DEFAULT_CSS = """
    AlertForm { align: center middle; }
    AlertForm > Vertical {
        width: 64; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    AlertForm .row { height: 1; }
    AlertForm .row Label { width: 12; }
    AlertForm .row Input { width: 1fr; height: 1; border: none; padding: 0; }
    AlertForm #problem { color: $error; }
    AlertForm #hint { color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("enter", "save", "Save", priority=True),
    ]

    def __init__(self, rule: AlertRule | None, symbol: str) -> None:
        super().__init__()
        self.rule = rule
        self.symbol = symbol

    def compose(self) -> ComposeResult:
        """Kind, the fields it uses, repeat, and the keys."""
        rule = self.rule
        with Vertical():
            yield Static("Edit alert" if rule else "New alert", id="title")
            yield Choice(
                "Kind", [k.value for k in AlertKind], rule.kind.value if rule else None, id="kind"
            )
            values = {
                "symbol": (rule.symbol or "") if rule else self.symbol,
                "level": _num(rule.level) if rule else "",
                "threshold": _num(rule.threshold) if rule and rule.threshold else "",
                "window_s": _num(rule.window_s) if rule else "60",
                "seconds": _num(rule.seconds) if rule else "5",
                "cooldown_s": _num(rule.cooldown_s) if rule else "60",
                "label": rule.label if rule else "",
                "delivery": ",".join(rule.delivery) if rule else "",
            }
            for name, (label, _) in _FIELDS.items():
                with Vertical(classes="row", id=f"row-{name}"):
                    yield Label(label)
                    yield Input(values[name], id=name)
            yield Choice(
                "Repeat",
                ["once", "repeat"],
                "repeat" if rule and rule.repeat else "once",
                id="repeat",
            )
            yield Static("", id="units")
            yield Static("", id="problem")
            yield Static("Tab next · ←→ choose · Enter save · Esc close", id="hint")

    def on_mount(self) -> None:
        """Show the fields of the chosen kind."""
        steady_cursors(self, self.app)
        self._show_fields()

    def on_choice_changed(self, message: Choice.Changed) -> None:
        """Another kind: other fields."""
        self._show_fields()

    def _kind(self) -> AlertKind:
        return AlertKind(self.query_one("#kind", Choice).value)

    def _show_fields(self) -> None:
        kind = self._kind()
        for name, (_, kinds) in _FIELDS.items():
            self.query_one(f"#row-{name}").display = kind in kinds
        self.query_one("#units", Static).update(_UNITS.get(kind, ""))

    def action_save(self) -> None:
        """Check the rule here (the engine checks again) and close with it."""
        try:
            rule = self._rule()
            rule.check()
        except (AlertRuleError, ValueError) as exc:
            self.query_one("#problem", Static).update(str(exc))
            return
        self.dismiss(rule)

    def _rule(self) -> AlertRule:
        kind = self._kind()
        text = {name: self.query_one(f"#{name}", Input).value.strip() for name in _FIELDS}
        used = {name for name, (_, kinds) in _FIELDS.items() if kind in kinds}

        def number(name: str, default: float) -> float:
            if name not in used or not text[name]:
                return default
            try:
                return float(text[name].replace(",", ""))
            except ValueError:
                raise ValueError(f"{_FIELDS[name][0]}: {text[name]!r} is not a number") from None

        fields: dict[str, Any] = {
            "kind": kind,
            "symbol": text["symbol"].upper() or None,
            "level": number("level", 0.0) or None,
            "threshold": number("threshold", 0.0),
            "window_s": number("window_s", 60.0),
            "seconds": number("seconds", 5.0),
            "cooldown_s": number("cooldown_s", 60.0),
            "label": text["label"],
            "delivery": tuple(d.strip() for d in text["delivery"].split(",") if d.strip()),
            "repeat": self.query_one("#repeat", Choice).value == "repeat",
        }
        if kind is AlertKind.PRICE_CROSS and self.rule is None:
            fields["direction"] = "any"
        if self.rule is not None:
            return msgspec.structs.replace(self.rule, **fields)
        return AlertRule(**fields)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


class AlertsScreen(ModalScreen[None]):
    """The rules and the latest firings; keys to add, edit, pause and delete."""

    DEFAULT_CSS = """
    AlertsScreen { align: center middle; }
    AlertsScreen > Vertical {
        width: 110; max-width: 100%; height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    AlertsScreen #rules { height: auto; }
    AlertsScreen #keys { color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "dismiss", "Close"),
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("n", "new", "New"),
        Binding("e,enter", "edit", "Edit"),
        Binding("space,p", "pause", "Pause/resume"),
        Binding("x,delete", "delete", "Delete"),
    ]

    def __init__(self, bus: Bus, symbol: str, numbers: Numbers | None = None) -> None:
        super().__init__()
        self.bus = bus
        self.symbol = symbol
        #: How times are written (local or UTC, as the rest of the screen).
        self.numbers = numbers or Numbers({})
        self.rules: list[AlertRule] = []
        self.fired: list[AlertFired] = []
        self.cursor = 0

    def compose(self) -> ComposeResult:
        """Rules, what fired, the keys."""
        with Vertical():
            yield Static(
                "n new · e/Enter edit · space pause/resume · x delete · Esc close", id="keys"
            )
            with VerticalScroll():
                yield Static(id="rules")
                yield Static(id="fired")

    def on_mount(self) -> None:
        """Read the rules and what fired."""
        self.reload()

    @work(exclusive=True, group="alerts")
    async def reload(self) -> None:
        """Ask the engine again."""
        try:
            self.rules = list(await self.bus.request(ListAlerts()))
            self.fired = list(await self.bus.request(AlertHistory(limit=50)))
        except Exception as exc:
            self.query_one("#rules", Static).update(f"alerts unavailable: {exc}")
            return
        self.cursor = max(0, min(self.cursor, len(self.rules) - 1))
        self._draw()

    def _draw(self) -> None:
        rules = Table(
            "",
            "rule",
            "repeat",
            "state",
            "deliver to",
            expand=True,
            title="Alert rules",
            title_justify="left",
        )
        for i, rule in enumerate(self.rules):
            state = "on" if rule.enabled else ("done" if not rule.repeat else "paused")
            mark = "▶" if i == self.cursor else ""
            style = "reverse" if i == self.cursor else ""
            rules.add_row(
                mark,
                Text(rule.describe()),
                _repeat_text(rule),
                state,
                ", ".join(rule.delivery) or "screen",
                style=style,
            )
        if not self.rules:
            rules.add_row("", "no alerts yet: n adds one (A on the ladder: a price alert)")
        self.query_one("#rules", Static).update(rules)
        fired = Table("time", "alert", expand=True, title="Fired", title_justify="left")
        for f in self.fired:
            fired.add_row(self.numbers.clock(f.time_ms), Text(f.message))
        self.query_one("#fired", Static).update(fired)

    def action_move(self, step: int) -> None:
        """Select another rule."""
        if self.rules:
            self.cursor = max(0, min(len(self.rules) - 1, self.cursor + step))
            self._draw()

    def _selected(self) -> AlertRule | None:
        return self.rules[self.cursor] if self.rules else None

    def action_new(self) -> None:
        """A new rule."""
        self.app.push_screen(AlertForm(None, self.symbol), self._saved)

    def action_edit(self) -> None:
        """Change the selected rule."""
        rule = self._selected()
        if rule is not None:
            self.app.push_screen(AlertForm(rule, self.symbol), self._saved)

    def _saved(self, rule: AlertRule | None) -> None:
        if rule is not None:
            self._send(UpdateAlert(rule=rule) if rule.rule_id else AddAlert(rule=rule))

    def action_pause(self) -> None:
        """Pause the selected rule, or resume it."""
        rule = self._selected()
        if rule is not None:
            self._send(UpdateAlert(rule=msgspec.structs.replace(rule, enabled=not rule.enabled)))

    def action_delete(self) -> None:
        """Delete the selected rule."""
        rule = self._selected()
        if rule is not None:
            self._send(DeleteAlert(rule_id=rule.rule_id))

    @work(group="alerts-send")
    async def _send(self, command: AddAlert | UpdateAlert | DeleteAlert) -> None:
        try:
            await self.bus.request(command)
        except Exception as exc:
            self.app.notify(f"Alert not changed: {exc}", severity="error")
            return
        self.reload()


def _repeat_text(rule: AlertRule) -> str:
    if not rule.repeat:
        return "once"
    return f"every {rule.cooldown_s:g}s" if rule.cooldown_s else "every time"
