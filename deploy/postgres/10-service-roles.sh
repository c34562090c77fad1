#!/bin/sh
# postgres image init step (/docker-entrypoint-initdb.d): a login role and a schema per service.
# Passwords come from <SERVICE>_DB_PASSWORD (compose passes them; defaults are for local use only).
set -eu
here=$(dirname "$0")
for service in applications pairing feedback notifications; do
    var=$(echo "${service}_DB_PASSWORD" | tr '[:lower:]' '[:upper:]')
    password=$(printenv "$var" || echo "$service")
    psql --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
        -v role="$service" -v password="$password" -f "$here/roles.psql"
done
