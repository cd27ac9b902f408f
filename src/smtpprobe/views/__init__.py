"""Views: pure functions from results to a `Doc` (human) or plain dicts (JSON)."""
