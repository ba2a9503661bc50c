"""Allow ``python -m mqttsec``."""

from mqttsec.cli import main

raise SystemExit(main())
