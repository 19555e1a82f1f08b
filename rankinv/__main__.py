from rankinv.cli import main

raise SystemExit(main())
