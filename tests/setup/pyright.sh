#!/bin/sh
# Type-check the shipped code with pyright (basic mode, settings in pyproject.toml).
# pyproject maps the folders engine/, client/ and installer/ to packages with other names,
# which only the import hook of an editable install knows: give pyright the same names
# through a link tree in the git-ignored .cache/.
set -eu
cd "$(dirname "$0")/../.."
if ! command -v pyright >/dev/null 2>&1; then
    npm install -g --silent pyright@1.1.414
fi
mkdir -p .cache/pyright
for pair in chromahint:engine chromahint_client:client chromahint_installer:installer; do
    ln -sfn "../../${pair#*:}" ".cache/pyright/${pair%%:*}"
done
exec pyright "$@"
