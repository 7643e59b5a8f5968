"""Widgets of the terminal app; each hot widget draws itself with the Line API."""
