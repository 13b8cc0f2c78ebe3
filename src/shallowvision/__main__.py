import sys

from shallowvision.cli import main

sys.exit(main())
