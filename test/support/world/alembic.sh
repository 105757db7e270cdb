#!/usr/bin/env bash
set -euo pipefail
export PGOPTIONS="-c client_min_messages=warning"
REVS=() DOWNS=() MSGS=()
while read -r rev down msg; do
  [ -n "$rev" ] || continue
  REVS+=("$rev"); DOWNS+=("$([ "$down" = - ] && echo "" || echo "$down")"); MSGS+=("$msg")
done <<< "${ALEMBIC_REVISIONS:-}"

fail() { echo "ERROR [alembic.util.messaging] $1" >&2; echo "FAILED: $1"; exit 255; }
info() { echo "INFO  [alembic.runtime.migration] $1" >&2; }
# Index of a revision in REVS (0 = the image's head); "base" is one past the oldest.
idx() {
  local i
  [ "$1" = base ] && { echo "${#REVS[@]}"; return; }
  for i in "${!REVS[@]}"; do [ "${REVS[$i]}" = "$1" ] && { echo "$i"; return; }; done
  echo -1
}
# Sets TO to the index of a revision argument (not in a subshell, so fail() reaches the caller).
resolve() {
  if [ "$1" = head ]; then [ "${#REVS[@]}" -gt 0 ] || fail "No head revisions"; TO=0; else TO=$(idx "$1"); fi
}
q() { psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -tAqc "$1"; }
connect() {
  q "create table if not exists alembic_version (version_num varchar(32) not null primary key)" >/dev/null
  info "Context impl PostgresqlImpl."
  info "Will assume transactional DDL."
  CUR=$(q "select version_num from alembic_version")
  if [ -n "$CUR" ]; then
    CUR_IDX=$(idx "$CUR")
    [ "$CUR_IDX" -ge 0 ] || [ "${PURGE:-}" = 1 ] || fail "Can't locate revision identified by '$CUR'"
  else
    CUR_IDX=${#REVS[@]}
  fi
}
set_db() {
  if [ "$1" -ge "${#REVS[@]}" ]; then q "delete from alembic_version" >/dev/null
  else q "begin; delete from alembic_version; insert into alembic_version values ('${REVS[$1]}'); commit;" >/dev/null; fi
}

cmd=${1:-}
arg=${2:-}
# `stamp --purge REV` overwrites whatever the table holds, even a revision this image does not know.
if [ "$cmd" = stamp ] && [ "$arg" = --purge ]; then PURGE=1; arg=${3:-}; fi
case "$cmd" in
  history)
    for i in "${!REVS[@]}"; do
      line="${DOWNS[$i]:-<base>} -> ${REVS[$i]}"
      [ "$i" -eq 0 ] && line="$line (head)"
      echo "$line, ${MSGS[$i]}"
    done ;;
  heads)
    [ "${#REVS[@]}" -eq 0 ] || echo "${REVS[0]} (head)" ;;
  current)
    connect
    if [ -n "$CUR" ]; then [ "$CUR_IDX" -eq 0 ] && echo "$CUR (head)" || echo "$CUR"; fi ;;
  upgrade|downgrade|stamp)
    [ -n "$arg" ] || { echo "usage: alembic $cmd [-h] [--sql] [--tag TAG] revision" >&2;
      echo "alembic $cmd: error: the following arguments are required: revision" >&2; exit 2; }
    if [[ "$cmd" = downgrade && "$arg" =~ ^-([0-9]+)$ ]]; then
      connect
      to=$((CUR_IDX + BASH_REMATCH[1]))
      [ "$to" -le "${#REVS[@]}" ] || fail "Relative revision $arg didn't produce ${BASH_REMATCH[1]} migrations"
    else
      resolve "$arg"
      to=$TO
      [ "$to" -ge 0 ] || fail "Can't locate revision identified by '$arg'"
      connect
    fi
    case "$cmd" in
      downgrade)
        [ "$to" -ge "$CUR_IDX" ] || fail "Destination $arg is not a valid downgrade target from current head(s)"
        for ((i = CUR_IDX; i < to; i++)); do info "Running downgrade ${REVS[$i]} -> ${DOWNS[$i]}, ${MSGS[$i]}"; done ;;
      upgrade)
        [ "$to" -le "$CUR_IDX" ] || fail "Destination $arg is not a valid upgrade target from current head(s)"
        for ((i = CUR_IDX - 1; i >= to; i--)); do info "Running upgrade ${DOWNS[$i]} -> ${REVS[$i]}, ${MSGS[$i]}"; done ;;
      stamp)
        info "Running stamp_revision ${CUR:-} -> ${REVS[$to]:-}" ;;
    esac
    set_db "$to" ;;
  *) echo "usage: alembic [-h] {current,downgrade,heads,history,stamp,upgrade} ..." >&2; exit 2 ;;
esac
