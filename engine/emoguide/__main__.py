import sys

from emoguide.cli.main import entry

sys.exit(entry())
