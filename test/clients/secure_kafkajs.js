#!/usr/bin/env node
// Secured-listener driver for kafkajs (test/Integration/Security): produce --count records, then
// consume them in a consumer group and commit; prints the same JSON object as secure_client.py.
// --token: the OAUTHBEARER token; --spread SECONDS: produce one record at a time over that long.
'use strict'

const fs = require('fs')
const { Kafka, logLevel } = require('kafkajs')

function parseArgs(argv) {
  const args = { count: '10', protocol: 'PLAINTEXT', timeout: '40' }
  for (let i = 0; i < argv.length; i += 2) args[argv[i].replace(/^--/, '')] = argv[i + 1]
  return args
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const count = Number(args.count)
  const timeoutMs = Number(args.timeout) * 1000
  const config = { clientId: 'kafscale-secure-kafkajs', brokers: [args.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3 } }
  if (args.protocol.endsWith('SSL')) {
    config.ssl = { rejectUnauthorized: true }
    if (args.ca) config.ssl.ca = [fs.readFileSync(args.ca, 'utf8')]
    if (args.cert) { config.ssl.cert = fs.readFileSync(args.cert, 'utf8'); config.ssl.key = fs.readFileSync(args.key, 'utf8') }
  }
  if (args.protocol.startsWith('SASL') && args.mechanism === 'OAUTHBEARER') {
    // The token the test signed; kafkajs re-authenticates in-band when the broker's session lifetime nears its end.
    config.sasl = { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: args.token }) }
  } else if (args.protocol.startsWith('SASL')) {
    config.sasl = { mechanism: args.mechanism.toLowerCase(), username: args.username, password: args.password }
  }
  const kafka = new Kafka(config)
  const producer = kafka.producer()
  await producer.connect()
  const messages = []
  for (let i = 0; i < count; i++) messages.push({ key: `k-${i}`, value: `value-${i}` })
  const spreadMs = Number(args.spread || 0) * 1000
  if (spreadMs > 0) {
    // One record per request, spread over --spread seconds (re-authentication tests).
    for (const m of messages) {
      await producer.send({ topic: args.topic, acks: -1, messages: [m] })
      await new Promise((resolve) => setTimeout(resolve, spreadMs / count))
    }
  } else {
    await producer.send({ topic: args.topic, acks: -1, messages })
  }
  await producer.disconnect()

  const consumer = kafka.consumer({ groupId: args.group, sessionTimeout: 10000, heartbeatInterval: 1000 })
  await consumer.connect()
  await consumer.subscribe({ topic: args.topic, fromBeginning: true })
  const values = []
  let last = {}
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`consume: ${values.length} of ${count} records`)), timeoutMs)
    consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        values.push(message.value.toString())
        last[partition] = (BigInt(message.offset) + 1n).toString()
        if (values.length >= count) { clearTimeout(timer); resolve() }
      },
    }).catch(reject)
  })
  await done
  await consumer.commitOffsets(Object.entries(last).map(([partition, offset]) => ({ topic: args.topic, partition: Number(partition), offset })))
  const admin = kafka.admin()
  await admin.connect()
  const fetched = await admin.fetchOffsets({ groupId: args.group, topics: [args.topic] })
  await admin.disconnect()
  await consumer.disconnect()
  const committed = {}
  for (const p of fetched[0].partitions) if (p.offset !== '-1') committed[String(p.partition)] = Number(p.offset)
  return { produced: count, values, committed }
}

main().then(
  (result) => { console.log(JSON.stringify(result)); process.exit(0) },
  (err) => { console.log(JSON.stringify({ error: `${err.name}: ${err.message}` })); process.exit(1) },
)
