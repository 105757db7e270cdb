#!/usr/bin/env bash
# The world's ./scripts/verify-data-integrity.sh, as the release-manager image ships it: the database
# must be at exactly one revision, and one this release knows (ALEMBIC_REVISIONS: the migrations the
# pod's image ships). A release running against a schema it does not know is the inconsistency a
# rollback without its downgrade leaves behind.
set -euo pipefail
export PGOPTIONS="-c client_min_messages=warning"
q() { psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -tAqc "$1"; }
heads=$(q "select version_num from alembic_version" 2>/dev/null || true)
n=$(printf '%s' "$heads" | grep -c . || true)
[ "$n" -eq 1 ] || { echo "FAILED: alembic_version holds $n revisions (expected 1)"; exit 1; }
while read -r rev _; do
  [ "$rev" = "$heads" ] && { echo "OK: the database is at $heads, a revision this release ships"; exit 0; }
done <<< "${ALEMBIC_REVISIONS:-}"
echo "FAILED: the database is at $heads, which this release ($CONTAINER_IMAGE) does not ship"
exit 1
