#!/bin/sh
# postgres image init step (/docker-entrypoint-initdb.d): a login role and a schema per service.
# Passwords come from <SERVICE>_DB_PASSWORD (compose passes them; there are no defaults).
set -eu
here=$(dirname "$0")
for service in applications pairing feedback notifications; do
    var=$(echo "${service}_DB_PASSWORD" | tr '[:lower:]' '[:upper:]')
    password=$(printenv "$var" || true)
    [ -n "$password" ] || { echo "10-service-roles.sh: set $var" >&2; exit 2; }
    psql --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
        -v role="$service" -v password="$password" -f "$here/roles.psql"
done
