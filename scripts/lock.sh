#!/usr/bin/env bash
# Regenerate requirements.lock (the runtime dependencies the container image
# installs: the dependencies and the `graphs` extra, so Slack messages carry
# graphs) from pyproject.toml, with hashes, for the image's Python (3.11).
# Only PyPI: a machine's own pip config (extra indexes, local wheels) must not
# leak into the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
python -c 'import sys; assert sys.version_info[:2] == (3, 11), "run with Python 3.11, the image'"'"'s"'
command -v pip-compile >/dev/null || pip install -q 'pip-tools>=7.4'
PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= PIP_EXTRA_INDEX_URL= pip-compile --quiet --upgrade \
  --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
  --extra graphs --output-file requirements.lock pyproject.toml
python scripts/check_lock.py
