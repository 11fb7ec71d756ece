"""sslyze's certificate scan over a target list (run with a Python that has sslyze installed).

    /path/to/sslyze-venv/bin/python bench/sslyze_client.py --targets FILE --port 8443

Prints `chains N`. certinfo only, 100 servers at once (sslyze's own concurrency limit).
"""

from __future__ import annotations

import argparse

from sslyze import (  # type: ignore[import-not-found]
    ScanCommand,
    Scanner,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanStatusEnum,
)

parser = argparse.ArgumentParser()
parser.add_argument("--targets", required=True)
parser.add_argument("--port", type=int, default=8443)
args = parser.parse_args()
addresses = [line.strip() for line in open(args.targets) if line.strip()]
scanner = Scanner(concurrent_server_scans_limit=100)
scanner.queue_scans(
    [
        ServerScanRequest(
            server_location=ServerNetworkLocation(hostname=a, ip_address=a, port=args.port),
            scan_commands={ScanCommand.CERTIFICATE_INFO},
        )
        for a in addresses
    ]
)
chains = 0
for result in scanner.get_results():
    if result.scan_status == ServerScanStatusEnum.COMPLETED and result.scan_result is not None:
        certinfo = result.scan_result.certificate_info
        if certinfo.result is not None and certinfo.result.certificate_deployments:
            chains += 1
print(f"chains {chains}")
