"""camscan: certificate scanner and compliance auditor for IP cameras and VMS servers."""

__version__ = "0.1.0"
