import sys

from emoguide.cli.main import main

sys.exit(main())
