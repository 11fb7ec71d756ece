"""The camera lab: simulated camera firmware on loopback, for the demo, tests and benchmarks."""
