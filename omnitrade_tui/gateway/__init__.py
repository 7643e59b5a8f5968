"""Gateway mode: one headless engine serving attached terminals, with users, roles and tokens."""
