#!/usr/bin/env bash
# Install the comparison brokers the local targets start (see docs/brokers.md), as root on
# Debian 12. Idempotent: each step checks first and skips what is already there; any failure
# stops the script with a message (set -e), and a final check proves every broker landed.
#
#   - aedes 1.2.0 (npm) into .brokers/node_modules (gitignored); needs node >= 20
#   - RabbitMQ 3.10 + its MQTT plugin (Debian rabbitmq-server; the plugin ships with it)
#   - ActiveMQ Classic 5.17 (Debian activemq) + libmqtt-client-java, which Debian's activemq
#     does not pull in but its MQTT transport needs (org.fusesource.mqtt.codec)
#   - ejabberd 23.01 with mod_mqtt (Debian ejabberd)
#
# No system service is left running: Debian's postinst scripts would start rabbitmq-server,
# ejabberd, activemq and epmd; a policy-rc.d that forbids starts is in place during apt-get
# (an existing one, as in Docker images, is kept as it is). The tests start private instances.
# Environment: BROKERS="aedes rabbitmq activemq ejabberd" (default: all) chooses which.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BROKERS="${BROKERS:-aedes rabbitmq activemq ejabberd}"
AEDES_SPEC="aedes@1.2.0"
NODE_DIR=".brokers"

say() { printf 'install-brokers: %s\n' "$*"; }
die() { printf 'install-brokers: ERROR: %s\n' "$*" >&2; exit 1; }
wants() { [[ " $BROKERS " == *" $1 "* ]]; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

[ "$(id -u)" -eq 0 ] || die "run as root (apt-get install)"

# 1. Debian packages, only those missing.
packages=()
wants rabbitmq && packages+=(rabbitmq-server)
wants activemq && packages+=(activemq libmqtt-client-java)
wants ejabberd && packages+=(ejabberd)
missing=()
for pkg in "${packages[@]}"; do installed "$pkg" || missing+=("$pkg"); done

if ((${#missing[@]})); then
    policy=/usr/sbin/policy-rc.d
    own_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# temporary, from mqttsec scripts/install-brokers.sh\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        own_policy=1
        trap '[ "$own_policy" -eq 1 ] && rm -f "$policy"' EXIT
    fi
    say "installing ${missing[*]} from Debian (service starts disabled by $policy)"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    if [ "$own_policy" -eq 1 ]; then rm -f "$policy"; own_policy=0; fi
    # A service that started anyway (policy-rc.d not honoured) runs as its own system user:
    # stop it with the service's own stop command.
    for pair in rabbitmq-server:rabbitmq ejabberd:ejabberd activemq:activemq; do
        svc="${pair%%:*}" user="${pair##*:}"
        if id "$user" >/dev/null 2>&1 && pgrep -u "$user" >/dev/null 2>&1; then
            say "stopping $svc, started by its package"
            /etc/init.d/"$svc" stop || die "could not stop $svc"
        fi
    done
else
    [ ${#packages[@]} -eq 0 ] || say "Debian packages already installed: ${packages[*]}"
fi

# 2. aedes from npm into the project-local folder.
if wants aedes; then
    command -v node >/dev/null || die "node not found (aedes 1.x needs node >= 20)"
    node_major="$(node -p 'process.versions.node.split(".")[0]')"
    [ "$node_major" -ge 20 ] || die "node $(node --version) is too old: aedes 1.x needs node >= 20"
    have="$(node -p "try { require('./$NODE_DIR/node_modules/aedes/package.json').version } catch { '' }")"
    if [ "$have" = "${AEDES_SPEC#aedes@}" ]; then
        say "$AEDES_SPEC already installed in $NODE_DIR/node_modules"
    else
        command -v npm >/dev/null || die "npm not found"
        say "installing $AEDES_SPEC into $NODE_DIR/node_modules"
        mkdir -p "$NODE_DIR"
        [ -f "$NODE_DIR/package.json" ] || printf '{"private": true}\n' > "$NODE_DIR/package.json"
        npm install --prefix "$NODE_DIR" --no-audit --no-fund --save-exact "$AEDES_SPEC"
    fi
fi

# 3. Prove every chosen broker is there (same checks as the probe() of fixtures/targets/<broker>.py).
check() { [ -e "$2" ] || die "$1: $2 missing after install"; say "$1: $2"; }
if wants aedes; then
    check aedes "$NODE_DIR/node_modules/aedes/aedes.js"
    say "aedes: version $(node -p "require('./$NODE_DIR/node_modules/aedes/package.json').version")"
fi
if wants rabbitmq; then
    check rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server
    compgen -G "/usr/lib/rabbitmq/lib/rabbitmq_server-*/plugins/rabbitmq_mqtt-*" >/dev/null \
        || die "rabbitmq: rabbitmq_mqtt plugin missing"
    say "rabbitmq: version $(dpkg-query -W -f='${Version}' rabbitmq-server)"
fi
if wants activemq; then
    check activemq /usr/share/activemq/bin/activemq.jar
    check activemq /usr/share/activemq/lib/activemq-mqtt.jar
    check activemq /usr/share/java/mqtt-client.jar
    command -v java >/dev/null || die "activemq: java missing"
    say "activemq: version $(dpkg-query -W -f='${Version}' activemq)"
fi
if wants ejabberd; then
    compgen -G "/usr/lib/x86_64-linux-gnu/ejabberd-*/ebin/mod_mqtt.beam" >/dev/null \
        || compgen -G "/usr/lib/*/ejabberd-*/ebin/mod_mqtt.beam" >/dev/null \
        || die "ejabberd: mod_mqtt.beam missing"
    command -v erl >/dev/null || die "ejabberd: erl missing"
    say "ejabberd: version $(dpkg-query -W -f='${Version}' ejabberd)"
fi
say "done"
