"""Reports (JSON, HTML, CSV, JUnit, Prometheus) and the audit history."""
