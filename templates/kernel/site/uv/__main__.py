import sys

from uv import main

sys.exit(main())
