"""python -m worker (start.sh with MODE=serverless runs it from /opt/steadydancer)."""
import sys

from .handler import main

sys.exit(main())
