"""Network edge: target parsing, the trio sweep, the TLS and HTTP probes."""
