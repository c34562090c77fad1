#!/bin/bash
# Apache Kafka for docker-compose.yml: one KRaft node whose only client listener requires SASL/SCRAM-SHA-512
# and whose authorizer denies whatever acls.sh did not allow. The super user `admin` is created when the
# storage is first formatted (KRaft cannot create the first SCRAM user any other way). The controller
# listener is PLAINTEXT on the container's loopback only: nothing outside this container can reach it.
# Compose's network is internal, so the client listener is SASL_PLAINTEXT; in production use SASL_SSL.
set -euo pipefail
: "${KAFKA_ADMIN_PASSWORD:?set KAFKA_ADMIN_PASSWORD, the password of the Kafka super user admin}"
case "$KAFKA_ADMIN_PASSWORD" in *[]\"\\,=[]*)
    echo "start.sh: KAFKA_ADMIN_PASSWORD must not contain '\"', '\\', ',', '[', ']' or '='" >&2
    exit 2
esac
bin=/opt/kafka/bin
config=/tmp/server.properties
jaas="org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"$KAFKA_ADMIN_PASSWORD\";"
cat > "$config" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:9093
listeners=SASL_PLAINTEXT://:9092,CONTROLLER://localhost:9093
advertised.listeners=SASL_PLAINTEXT://kafka:9092
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=$jaas
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:ANONYMOUS
log.dirs=/var/lib/kafka/data
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
auto.create.topics.enable=false
PROPERTIES
# For the health check (kafka-broker-api-versions.sh --command-config /tmp/admin.properties).
printf 'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=%s\n' "$jaas" > /tmp/admin.properties
"$bin/kafka-storage.sh" format --ignore-formatted -c "$config" -t "$("$bin/kafka-storage.sh" random-uuid)" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=$KAFKA_ADMIN_PASSWORD]"
exec "$bin/kafka-server-start.sh" "$config"
