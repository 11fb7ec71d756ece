from camscan.cli import main

raise SystemExit(main())
