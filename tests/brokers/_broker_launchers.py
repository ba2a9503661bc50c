"""Minimal, verified launchers for aedes, RabbitMQ, ActiveMQ and ejabberd (users + plain port).

Each ``start_<broker>(workdir, users, allow_anonymous)`` renders the broker's native config into
``workdir``, starts ONE private instance as the current user on free 127.0.0.1 ports, waits for
a CONNACK and returns a :class:`BrokerProcess` (stop it with ``.stop()``). These are the
recipes of docs/brokers.md reduced to what tests/brokers needs; fixtures/targets/<broker>.py
grows them to full profiles (TLS, mTLS, ACL).
"""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

from _broker_harness import BrokerProcess, free_port, start_process, wait_ready

from mqttsec.external import repo_root

__all__ = ["LAUNCHERS", "missing"]

NODE_MODULES = repo_root() / ".brokers" / "node_modules"
AEDES_SCRIPT = repo_root() / "scripts" / "aedes-broker.js"
RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
ACTIVEMQ_HOME = Path("/usr/share/activemq")
MQTT_CLIENT_JARS = ("mqtt-client.jar", "hawtdispatch.jar", "hawtdispatch-transport.jar")


def missing(broker: str) -> str | None:
    """Why ``broker`` cannot start here (None when it is installed)."""
    hint = "install with: make brokers (scripts/install-brokers.sh)"
    if broker == "aedes":
        if shutil.which("node") is None:
            return f"node not found; {hint}"
        if not (NODE_MODULES / "aedes" / "aedes.js").is_file():
            return f"aedes not in {NODE_MODULES}; {hint}"
    elif broker == "rabbitmq":
        if not RABBITMQ_SERVER.is_file() or shutil.which("epmd") is None:
            return f"rabbitmq-server not installed; {hint}"
    elif broker == "activemq":
        if not (ACTIVEMQ_HOME / "bin" / "activemq.jar").is_file() or shutil.which("java") is None:
            return f"activemq not installed; {hint}"
        if not Path("/usr/share/java/mqtt-client.jar").is_file():
            return f"libmqtt-client-java not installed (ActiveMQ's MQTT codec); {hint}"
    elif broker == "ejabberd":
        if not glob.glob("/usr/lib/*/ejabberd-*/ebin/mod_mqtt.beam") or shutil.which("erl") is None:
            return f"ejabberd not installed; {hint}"
    else:
        raise ValueError(f"unknown broker {broker!r}")
    return None


def start_aedes(workdir: Path, users: dict[str, str], allow_anonymous: bool) -> BrokerProcess:
    """aedes via scripts/aedes-broker.js and a JSON config (start ~0.3 s)."""
    port = free_port()
    config = {
        "listeners": [{"name": "plain", "host": "127.0.0.1", "port": port}],
        "allowAnonymous": allow_anonymous,
        "users": {name: {"password": pw} for name, pw in users.items()},
    }
    path = workdir / "aedes.json"
    path.write_text(json.dumps(config, indent=1))
    path.chmod(0o600)
    broker = start_process(
        "aedes",
        ["node", str(AEDES_SCRIPT), str(path)],
        workdir=workdir,
        ports={"plain": port},
        env={"NODE_PATH": str(NODE_MODULES)},
    )
    wait_ready(broker, port, timeout=30)
    return broker


def _rabbit_hash(password: str) -> str:
    """rabbit_password_hashing_sha256: base64(salt4 + sha256(salt4 + utf8 password))."""
    salt = os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def start_rabbitmq(workdir: Path, users: dict[str, str], allow_anonymous: bool) -> BrokerProcess:
    """RabbitMQ 3.10 + rabbitmq_mqtt, a private epmd, definitions loaded at boot (~10-15 s)."""
    mqtt, amqp, dist, epmd_port = free_port(), free_port(), free_port(), free_port()
    for sub in ("home", "mnesia", "log"):
        (workdir / sub).mkdir()
    defs = {
        "users": [
            {
                "name": name,
                "password_hash": _rabbit_hash(pw),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": [],
            }
            for name, pw in users.items()
        ],
        "vhosts": [{"name": "/"}],
        "permissions": [
            {"user": name, "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}
            for name in users
        ],
    }
    (workdir / "definitions.json").write_text(json.dumps(defs, indent=1))
    conf = [
        f"listeners.tcp.default = 127.0.0.1:{amqp}",
        "loopback_users = none",
        f"load_definitions = {workdir / 'definitions.json'}",
        f"mqtt.listeners.tcp.default = 127.0.0.1:{mqtt}",
        f"mqtt.allow_anonymous = {'true' if allow_anonymous else 'false'}",
        "mqtt.vhost = /",
        "mqtt.exchange = amq.topic",
    ]
    if allow_anonymous:  # anonymous MQTT clients log in as this (existing) user
        name, pw = next(iter(users.items()))
        conf += [f"mqtt.default_user = {name}", f"mqtt.default_pass = {pw}"]
    (workdir / "rabbitmq.conf").write_text("\n".join(conf) + "\n")
    (workdir / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")
    epmd = start_process(
        "epmd",
        ["epmd", "-address", "127.0.0.1", "-port", str(epmd_port)],
        workdir=workdir,
        ports={"epmd": epmd_port},
    )
    env = {
        "HOME": str(workdir / "home"),  # private .erlang.cookie
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "ERL_EPMD_PORT": str(epmd_port),
        "RABBITMQ_CONFIG_FILE": str(workdir / "rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(workdir / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"),
        "RABBITMQ_LOG_BASE": str(workdir / "log"),
        "RABBITMQ_NODENAME": f"mqttsec{mqtt}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_DIST_PORT": str(dist),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }
    broker = start_process(
        "rabbitmq",
        [str(RABBITMQ_SERVER)],
        workdir=workdir,
        ports={"mqtt": mqtt, "amqp": amqp, "dist": dist, "epmd": epmd_port},
        env=env,
        logs=[workdir / "log" / f"mqttsec{mqtt}@localhost.log"],
    )
    broker.companions.append(epmd)  # stopped after the broker by broker.stop()
    # Users exist only once the definitions are loaded, after the MQTT listener opens.
    login = next(iter(users.items()))
    wait_ready(broker, mqtt, timeout=90, login=login)  # stops broker+epmd if start-up fails
    return broker


def _activemq_xml(workdir: Path, port: int, users: dict[str, str], anonymous: bool) -> str:
    from xml.sax.saxutils import quoteattr

    entries = "\n".join(
        f"          <authenticationUser username={quoteattr(n)} password={quoteattr(p)}"
        ' groups="users"/>'
        for n, p in users.items()
    )
    return f"""<beans xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans
    http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
    http://activemq.apache.org/schema/core
    http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="mqttsec" useJmx="false"
          persistent="false" advisorySupport="false" schedulerSupport="false"
          dataDirectory="{workdir / "data"}">
    <plugins>
      <simpleAuthenticationPlugin anonymousAccessAllowed="{str(anonymous).lower()}">
        <users>
{entries}
        </users>
      </simpleAuthenticationPlugin>
    </plugins>
    <transportConnectors>
      <transportConnector name="mqtt" uri="mqtt://127.0.0.1:{port}"/>
    </transportConnectors>
  </broker>
</beans>
"""


def start_activemq(workdir: Path, users: dict[str, str], allow_anonymous: bool) -> BrokerProcess:
    """ActiveMQ 5.17 (Debian) from an xbean XML; MQTT codec jars linked into its lib (~3 s)."""
    port = free_port()
    (workdir / "data").mkdir()
    lib = workdir / "lib"
    lib.mkdir()
    for jar in MQTT_CLIENT_JARS:
        (lib / jar).symlink_to(Path("/usr/share/java") / jar)
    (workdir / "activemq.xml").write_text(_activemq_xml(workdir, port, users, allow_anonymous))
    (workdir / "log4j.properties").write_text(
        "log4j.rootLogger=INFO, logfile\n"
        "log4j.logger.org.springframework=WARN\n"
        "log4j.logger.org.apache.xbean=WARN\n"
        "log4j.appender.logfile=org.apache.log4j.FileAppender\n"
        f"log4j.appender.logfile.file={workdir / 'data' / 'activemq.log'}\n"
        "log4j.appender.logfile.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.logfile.layout.ConversionPattern=%d | %-5p | %m | %c | %t%n\n"
    )
    argv = [
        "java",
        "-Xms64m",
        "-Xmx256m",
        f"-Dactivemq.home={ACTIVEMQ_HOME}",
        f"-Dactivemq.base={workdir}",
        f"-Dactivemq.conf={workdir}",
        f"-Dactivemq.data={workdir / 'data'}",
        f"-Dlog4j.configuration=file:{workdir / 'log4j.properties'}",
        "-jar",
        str(ACTIVEMQ_HOME / "bin" / "activemq.jar"),
        "start",
        f"xbean:file:{workdir / 'activemq.xml'}",
    ]
    broker = start_process(
        "activemq",
        argv,
        workdir=workdir,
        ports={"mqtt": port},
        logs=[workdir / "data" / "activemq.log"],
    )
    wait_ready(broker, port, timeout=60)
    return broker


EXTAUTH = '''\
"""ejabberd extauth program: users from a JSON file {"name": "password"} (rendered per test)."""
import hmac, json, struct, sys
users = json.load(open(sys.argv[1]))
inp, out = sys.stdin.buffer, sys.stdout.buffer
while True:
    head = inp.read(2)
    if len(head) < 2:
        break
    parts = inp.read(struct.unpack(">H", head)[0]).decode("utf-8", "replace").split(":", 3)
    ok = False
    if parts[0] == "auth" and len(parts) == 4 and parts[1] in users:
        ok = hmac.compare_digest(users[parts[1]].encode(), parts[3].encode())
    elif parts[0] == "isuser" and len(parts) >= 2:
        ok = parts[1] in users
    out.write(struct.pack(">HH", 2, int(ok)))
    out.flush()
'''


def start_ejabberd(workdir: Path, users: dict[str, str], allow_anonymous: bool) -> BrokerProcess:
    """ejabberd 23.01 mod_mqtt, no Erlang distribution at all, extauth users (~2 s)."""
    port = free_port()
    for sub in ("spool", "log"):
        (workdir / sub).mkdir()
    (workdir / "extauth.py").write_text(EXTAUTH)
    (workdir / "users.json").write_text(json.dumps(users))
    (workdir / "users.json").chmod(0o600)
    auth = (
        "[external, anonymous]\nanonymous_protocol: login_anon"
        if allow_anonymous
        else ("[external]")
    )
    (workdir / "ejabberd.yml").write_text(
        f"""hosts:
  - localhost
loglevel: info
log_rotate_count: 0
auth_method: {auth}
extauth_program: "{sys.executable} {workdir / "extauth.py"} {workdir / "users.json"}"
auth_use_cache: false
listen:
  -
    port: {port}
    ip: "127.0.0.1"
    module: mod_mqtt
modules:
  mod_mqtt: {{}}
"""
    )
    libdirs = sorted({str(Path(p).parents[1]) for p in glob.glob("/usr/lib/*/ejabberd-*/ebin")})
    env = {
        "ERL_LIBS": ":".join(libdirs),
        "EJABBERD_CONFIG_PATH": str(workdir / "ejabberd.yml"),
        "EJABBERD_LOG_PATH": str(workdir / "log" / "ejabberd.log"),
        "HOME": str(workdir),
    }
    argv = ["erl", "-noinput", "-noshell", "+K", "true", "-mnesia", "dir", f'"{workdir / "spool"}"']
    broker = start_process(
        "ejabberd",
        [*argv, "-s", "ejabberd"],
        workdir=workdir,
        ports={"mqtt": port},
        env=env,
        logs=[workdir / "log" / "ejabberd.log"],
    )
    wait_ready(broker, port, timeout=60)
    return broker


LAUNCHERS = {
    "aedes": start_aedes,
    "rabbitmq": start_rabbitmq,
    "activemq": start_activemq,
    "ejabberd": start_ejabberd,
}
