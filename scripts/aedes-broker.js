// A generic aedes broker for mqttsec: everything (listeners, TLS/mTLS, users, ACL) comes from
// one JSON config, so a test target renders a file instead of code.
//
//   node scripts/aedes-broker.js CONFIG.json      (NODE_PATH or a node_modules with aedes 1.x)
//
// Config (all keys optional except listeners):
// {
//   "listeners": [
//     {"name": "plain", "host": "127.0.0.1", "port": 1883},
//     {"name": "tls", "host": "127.0.0.1", "port": 8883,
//      "tls": {"cert": "server.crt", "key": "server.key", "ca": "ca-bundle.pem",
//              "requireClientCert": false, "minVersion": "TLSv1.2", "maxVersion": "TLSv1.3",
//              "crl": "crl.pem", "useIdentityAsUsername": false}}
//   ],
//   "allowAnonymous": false,
//   "users": {"alice": {"password": "secret"}},
//   "acl": [ {"user": "alice", "topic": "alice/#", "access": "readwrite"},
//            {"user": null, "topic": "users/%u/#", "access": "read"},      // any user, %u/%c
//            {"user": "*anonymous*", "topic": "public/#", "access": "read"} ],
//   "aclDefault": "deny"            // no "acl" key at all = everything allowed
// }
// access: read | write | readwrite | deny ("deny" beats any allow that matches).
// Patterns ("user": null) substitute %u and %c in one pass; a client whose username or id holds
// + # / or NUL gets nothing from patterns, nor does a pattern whose result starts with '$'.
// Subscribe is checked on the filter (mosquitto-like: a rule matches the filter when the rule's
// pattern covers it); delivery is checked again per message (authorizeForward), so a wildcard
// subscription never leaks topics the user may not read. A denied SUBSCRIBE gets SUBACK 0x80;
// a denied PUBLISH closes the connection (aedes' behaviour for an authorizePublish error).
// With requireClientCert the TLS handshake fails without a certificate from "ca";
// useIdentityAsUsername takes the certificate's CN as username (the password is not checked).
//
// Prints "aedes-broker ready <name>=<port> ..." on stdout once every listener listens;
// SIGTERM/SIGINT close the broker and exit 0.
'use strict'
// CommonJS on purpose (runs as a plain .js without a package.json); aedes 1.x is ESM, so it is
// loaded with a dynamic import() from NODE_PATH or ./node_modules.
const fs = require('node:fs')
const net = require('node:net')
const tls = require('node:tls')
const path = require('node:path')
const { pathToFileURL } = require('node:url')

const configPath = process.argv[2]
if (!configPath) {
  console.error('usage: node aedes-broker.js CONFIG.json')
  process.exit(2)
}
const config = JSON.parse(fs.readFileSync(configPath, 'utf8'))

async function loadAedes () {
  // ESM import of aedes from NODE_PATH-like dirs is not automatic: resolve it explicitly.
  const dirs = (process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean)
  for (const dir of [...dirs, path.join(process.cwd(), 'node_modules')]) {
    const candidate = path.join(dir, 'aedes', 'aedes.js')
    if (fs.existsSync(candidate)) return (await import(pathToFileURL(candidate).href)).Aedes
  }
  throw new Error('aedes not found: set NODE_PATH to the node_modules holding aedes 1.x')
}

function topicMatches (filter, topic) {
  // MQTT filter matching: does filter (may have + and #) match topic (may itself be a filter)?
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return !(i === 0 && (t[0] || '').startsWith('$'))
    if (i >= t.length) return false
    if (f[i] === '+') {
      if (t[i] === '#') return false
      if (i === 0 && t[i].startsWith('$')) return false
      continue
    }
    if (f[i] !== t[i]) return false
  }
  return f.length === t.length
}

// A name that could act as a wildcard or a level separator inside a pattern (client id '+'
// in devices/%c/#, username 'a/b' in users/%u/#) gets no access from patterns: the
// CVE-2017-7650 class, as the reference broker and (for + and #) mosquitto 2 refuse it.
const UNSAFE_NAME = /[+#/\u0000]/

function expandPattern (topic, username, clientId) {
  // One left-to-right pass, so a substituted name is never substituted again.
  if (/%u/.test(topic) && username === null) return null
  if (UNSAFE_NAME.test(clientId) || (username !== null && UNSAFE_NAME.test(username))) return null
  const expanded = topic.replace(/%[uc]/g, (m) => (m === '%u' ? username : clientId))
  // A name starting with '$' must not reach $SYS and friends through a pattern.
  if (expanded.startsWith('$') && !topic.startsWith('$')) return null
  return expanded
}

function rulesFor (client) {
  const username = client.mqttsecUser ?? null
  const out = []
  for (const rule of config.acl || []) {
    const pattern = rule.user === undefined || rule.user === null
    if (!pattern && !(rule.user === username || (rule.user === '*anonymous*' && username === null))) {
      continue
    }
    const topic = pattern ? expandPattern(rule.topic, username, client.id ?? '') : rule.topic
    if (topic !== null) out.push({ access: rule.access, topic })
  }
  return out
}

function allowed (client, topic, want) {
  if (!config.acl) return true
  const rules = rulesFor(client).filter((rule) => topicMatches(rule.topic, topic))
  if (rules.some((rule) => rule.access === 'deny')) return false
  return rules.some((rule) => rule.access === 'readwrite' || rule.access === want)
}

function certCommonName (client) {
  const socket = client.conn
  if (!socket || typeof socket.getPeerCertificate !== 'function' || !socket.authorized) return null
  const cert = socket.getPeerCertificate()
  return cert && cert.subject ? cert.subject.CN ?? null : null
}

async function main () {
const Aedes = await loadAedes()
const broker = await Aedes.createBroker({ id: 'mqttsec-aedes' })

broker.authenticate = (client, username, password, done) => {
  const listener = client.conn && client.conn.mqttsecListener
  if (listener && listener.tls && listener.tls.useIdentityAsUsername) {
    const cn = certCommonName(client)
    client.mqttsecUser = cn
    return done(null, cn !== null)
  }
  if (username === undefined || username === null) {
    client.mqttsecUser = null
    if (config.allowAnonymous) return done(null, true)
    const error = new Error('anonymous not allowed')
    error.returnCode = 5
    return done(error, false)
  }
  const user = (config.users || {})[username]
  const given = password ? password.toString('utf8') : ''
  if (user && typeof user.password === 'string' && user.password === given) {
    client.mqttsecUser = username
    return done(null, true)
  }
  const error = new Error('bad username or password')
  error.returnCode = 4
  return done(error, false)
}

broker.authorizePublish = (client, packet, done) => {
  if (packet.topic.startsWith('$SYS')) return done(new Error('$SYS is read-only'))
  if (client && !allowed(client, packet.topic, 'write')) {
    return done(new Error(`publish to ${packet.topic} denied`))
  }
  done(null)
}

broker.authorizeSubscribe = (client, sub, done) => {
  done(null, allowed(client, sub.topic, 'read') ? sub : null)
}

broker.authorizeForward = (client, packet) =>
  allowed(client, packet.topic, 'read') ? packet : null

function tlsOptions (spec) {
  const options = {
    cert: fs.readFileSync(spec.cert),
    key: fs.readFileSync(spec.key),
    minVersion: spec.minVersion || 'TLSv1.2',
    maxVersion: spec.maxVersion || 'TLSv1.3'
  }
  if (spec.ca) options.ca = fs.readFileSync(spec.ca)
  // Node checks the CRL of EVERY CA in the chain once any CRL is given (CRL_CHECK_ALL): pass
  // one CRL per CA (an empty one for the root), or every client is refused.
  if (spec.crl) options.crl = [].concat(spec.crl).map((file) => fs.readFileSync(file))
  if (spec.requireClientCert) {
    options.requestCert = true
    options.rejectUnauthorized = true
  }
  return options
}

const servers = []
const ports = []
for (const listener of config.listeners) {
  const host = listener.host || '127.0.0.1'
  const handler = (socket) => {
    socket.mqttsecListener = listener
    broker.handle(socket)
  }
  const server = listener.tls
    ? tls.createServer(tlsOptions(listener.tls), handler)
    : net.createServer(handler)
  if (listener.tls) {
    // The broker's log of refused handshakes (bad, expired, revoked or missing client certs).
    server.on('tlsClientError', (error, socket) => {
      console.error(`aedes-broker: ${listener.name || 'tls'}: TLS refused ${socket.remoteAddress}: ${error.message}`)
    })
  }
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(listener.port, host, resolve)
  })
  servers.push(server)
  ports.push(`${listener.name || 'listener'}=${server.address().port}`)
}
console.log(`aedes-broker ready ${ports.join(' ')}`)

let closing = false
function shutdown () {
  if (closing) return
  closing = true
  for (const server of servers) server.close()
  broker.close(() => process.exit(0))
  setTimeout(() => process.exit(0), 2000).unref()
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
}

main().catch((error) => {
  console.error(`aedes-broker: ${error && error.stack ? error.stack : error}`)
  process.exit(1)
})
