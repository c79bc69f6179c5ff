"""Run the package's tests from a Tumen checkout without installing it first (``make test`` does;
an agency's CI may ``pip install`` the package instead, which makes this line unnecessary)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
