#!/usr/bin/env node
// kafkajs consumer-group driver for the integration tests (test/Integration/Groups). Output is
// one JSON object a line with a "type", as in the other drivers (see clientio.py).
//
//   member  --bootstrap B --topic T --group G --name N
//       A group member with kafkajs's own commit policy (autoCommit: offsets are committed after
//       every batch). Prints {"type":"assignment","member","member_id","partitions"} after
//       every join and {"type":"record","member","partition","offset","value"} per record.
//       Closing stdin stops it cleanly (disconnect: a LeaveGroup); it then prints "done".
//   offsets --bootstrap B --topic T --group G
//       admin.fetchOffsets: {"type":"result","partition","offset"} per partition.
'use strict'

const { Kafka, logLevel } = require('kafkajs')

function parseArgs(argv) {
  const args = { command: argv[0] }
  for (let i = 1; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--')) throw new Error(`unexpected argument ${argv[i]}`)
    args[argv[i].slice(2)] = argv[i + 1]
  }
  for (const name of ['bootstrap', 'topic', 'group']) {
    if (!args[name]) throw new Error(`--${name} is required`)
  }
  return args
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

function kafkaFor(args, clientId) {
  return new Kafka({
    clientId,
    brokers: [args.bootstrap],
    logLevel: process.env.KAFKAJS_DEBUG ? logLevel.DEBUG : logLevel.WARN,
    requestTimeout: 30000,
    retry: { retries: 8, initialRetryTime: 100 },
  })
}

async function member(args) {
  const name = args.name || 'member'
  const consumer = kafkaFor(args, name).consumer({
    groupId: args.group,
    // The broker's group.min.session.timeout.ms: a killed member is noticed as soon as allowed.
    sessionTimeout: 6000,
    rebalanceTimeout: 20000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 200,
  })
  consumer.on(consumer.events.GROUP_JOIN, e => {
    const assigned = (e.payload.memberAssignment || {})[args.topic] || []
    emit({
      type: 'assignment',
      member: name,
      member_id: e.payload.memberId,
      leader: e.payload.isLeader,
      partitions: [...assigned].sort((a, b) => a - b),
    })
  })
  consumer.on(consumer.events.CRASH, e => {
    emit({ type: 'error', member: name, message: String(e.payload.error && e.payload.error.message), restart: e.payload.restart })
  })

  await consumer.connect()
  await consumer.subscribe({ topics: [args.topic], fromBeginning: true })
  await consumer.run({
    autoCommit: true,
    eachMessage: async ({ partition, message }) => {
      emit({
        type: 'record',
        member: name,
        partition,
        offset: Number(message.offset),
        value: message.value === null ? null : message.value.toString('utf8'),
      })
    },
  })

  await new Promise(resolve => {
    process.stdin.on('end', resolve)
    process.stdin.on('close', resolve)
    process.stdin.resume()
  })
  await consumer.disconnect()
  emit({ type: 'done', member: name })
  return 0
}

async function offsets(args) {
  const admin = kafkaFor(args, 'kafscale-test-kafkajs-admin').admin()
  await admin.connect()
  const topics = await admin.fetchOffsets({ groupId: args.group, topics: [args.topic] })
  for (const t of topics) {
    for (const p of t.partitions) {
      emit({ type: 'result', topic: t.topic, partition: p.partition, offset: Number(p.offset) })
    }
  }
  await admin.disconnect()
  return 0
}

function exitAfterFlush(code) {
  process.stdout.write('', () => process.exit(code))
}

const commands = { member, offsets }
const args = parseArgs(process.argv.slice(2))
if (!commands[args.command]) throw new Error(`unknown command ${args.command}`)
commands[args.command](args).then(
  code => exitAfterFlush(code),
  err => {
    process.stderr.write(`${err.stack || err}\n`)
    emit({ type: 'error', error_code: typeof err.code === 'number' ? err.code : -1, message: String(err.message || err) })
    exitAfterFlush(1)
  }
)
