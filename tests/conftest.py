"""Shared pytest configuration. Fixtures specific to an area live in that area's test modules."""
