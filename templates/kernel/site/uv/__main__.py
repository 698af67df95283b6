import sys

from uv import main

sys.exit(main(replace=True))
