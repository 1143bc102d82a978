"""One module per rule family; each exposes ``RULES``: functions ``(facts, ctx) -> list[Suggestion]``."""
