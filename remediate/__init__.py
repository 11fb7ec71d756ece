"""Remediation: plan fixes for what a scan found, issue certificates from a local CA, and (with
consent) install them through the device's own API, then rescan to prove the fix."""
