# Sourced by bin/start and bin/test: makes .venv and installs requirements.txt when it changed.
if [ ! -x .venv/bin/python ] || ! cmp -s requirements.txt .venv/.requirements.txt; then
  echo "Installing Python packages into .venv (first run only)…" >&2
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
  cp requirements.txt .venv/.requirements.txt
fi
