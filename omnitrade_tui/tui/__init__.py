"""The Textual app: screens, widgets, command palette, keymap, themes. The only user of Textual."""
