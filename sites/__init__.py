"""Many sites, one audit: site workers on Celery, judged centrally.

- `broker`: the Celery app both sides build (JSON only, broker URL from a file or the environment).
- `worker_config` / `job`: a site worker's own configuration (its allow-list and scan limits) and
  the sweep it runs for one request (observations and failures, never a verdict).
- `site_config`: the central side's `[[sites]]` and `[dispatch]` tables.
- `central`: send each site's shards to its queue, wait with a bound, gather what came back.
"""
