"""Developer and CI scripts (run them as `python scripts/NAME.py`); tests import them."""
