"""One module per CLI command: `configure(parser)` adds its options, `run(args)` returns an exit code."""
