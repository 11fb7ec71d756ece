"""Test support shared across areas: real TLS servers on loopback, certificate fixtures."""
