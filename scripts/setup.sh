#!/usr/bin/env bash
# Set up this checkout on a fresh Debian machine (as root), or refresh an existing setup.
#
# Idempotent: every step checks first and does nothing when already done. Installs
#   - mosquitto and mosquitto-clients from Debian (the comparison broker and CLI clients),
#   - chromium from Debian (the headless browser that checks the HTML report, tests marked browser),
#   - mqttsec itself, editable, with its dev/test extras ('.[dev]'),
#   - amqtt into its own virtual environment .venv-amqtt/ (amqtt pins dependencies, e.g.
#     websockets==15.0.1, that must not constrain ours); its executables are then
#     .venv-amqtt/bin/{amqtt,amqtt_pub,amqtt_sub}, which mqttsec.external finds
#     (override with MQTTSEC_AMQTT_BIN=/some/dir).
# Environment: PYTHON (default python3) is the interpreter to install into.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
AMQTT_SPEC="amqtt==0.12.1"
AMQTT_VENV=".venv-amqtt"

say() { printf 'setup: %s\n' "$*"; }

# 1. Debian packages, only those missing.
missing=()
for pkg in mosquitto mosquitto-clients chromium; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
        SUDO="sudo"
    fi
    say "installing ${missing[*]} from Debian"
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
else
    say "mosquitto, mosquitto-clients and chromium already installed"
fi

# 2. mqttsec, editable, with the test and dev tools.
say "installing mqttsec (editable) with its dev extras into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
"$PYTHON" -m pip install --disable-pip-version-check -q -e '.[dev]'

# 3. amqtt in its own venv.
if "$AMQTT_VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('amqtt') != '${AMQTT_SPEC#amqtt==}')" 2>/dev/null \
    && [ -x "$AMQTT_VENV/bin/amqtt_pub" ]; then
    say "$AMQTT_SPEC already installed in $AMQTT_VENV"
else
    say "installing $AMQTT_SPEC into $AMQTT_VENV"
    "$PYTHON" -m venv "$AMQTT_VENV"
    "$AMQTT_VENV/bin/python" -m pip install --disable-pip-version-check -q "$AMQTT_SPEC"
fi

# 4. Show what is there (fails loudly if something did not land).
"$PYTHON" -m mqttsec version
for tool in mosquitto mosquitto_pub mosquitto_sub; do
    "$PYTHON" -c "from mqttsec.external import find_mosquitto as f; import sys; p = f('$tool'); print('setup:', '$tool', '->', p); sys.exit(p is None)"
done
for tool in amqtt amqtt_pub amqtt_sub; do
    "$PYTHON" -c "from mqttsec.external import find_amqtt as f; import sys; p = f('$tool'); print('setup:', '$tool', '->', p); sys.exit(p is None)"
done
say "done"
