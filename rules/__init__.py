"""The rules: one per module, an explicit registry, pure functions over observations."""
