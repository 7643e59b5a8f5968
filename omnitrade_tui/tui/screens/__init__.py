"""Modal screens of the terminal app: ticket, amend, confirm, help, diagnostics, log."""
