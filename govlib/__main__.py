from govlib.cli import main

raise SystemExit(main())
