import sys

from streamcolor.cli import main

sys.exit(main())
