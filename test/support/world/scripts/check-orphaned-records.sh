#!/usr/bin/env bash
# The world's ./scripts/check-orphaned-records.sh: no release_deployments row may point at a release
# that does not exist (what a half-applied migration leaves). No such tables: nothing to check.
set -euo pipefail
export PGOPTIONS="-c client_min_messages=warning"
q() { psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -tAqc "$1"; }
if [ "$(q "select count(*) from information_schema.tables where table_name in ('releases', 'release_deployments')")" -lt 2 ]; then
  echo "OK: no releases/release_deployments tables, nothing to check"; exit 0
fi
orphans=$(q "select string_agg(d.id::text, ',' order by d.id) from release_deployments d where not exists (select 1 from releases r where r.id = d.release_id)")
[ -z "$orphans" ] || { echo "FAILED: release_deployments rows with no release: $orphans"; exit 1; }
echo "OK: every release_deployments row has its release"
