#!/usr/bin/env node
// kafkajs driver for the integration tests. Same command line and JSON lines as the python
// drivers (see clientio.py).
//
// kafkajs has no consumer outside a consumer group, so "consume" drives kafkajs's own cluster and
// broker objects (metadata, leader lookup, Fetch encoding, batch decoding and decompression) and
// only does the offset bookkeeping here.
'use strict'

const { Kafka, CompressionTypes, ConfigResourceTypes, logLevel } = require('kafkajs')
const Batch = require('kafkajs/src/consumer/batch')

const CLIENT_ID = 'kafscale-test-kafkajs'

function parseArgs(argv) {
  const repeatable = new Set(['partition', 'config', 'time', 'assignment'])
  const flags = new Set(['validate-only'])
  const args = { command: argv[0], acks: 'all', compression: 'none', 'timeout-ms': '30000', 'value-bytes': '64' }
  for (const name of repeatable) args[name] = []
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`)
    const name = arg.slice(2)
    if (flags.has(name)) {
      args[name] = true
    } else if (repeatable.has(name)) {
      args[name].push(argv[++i])
    } else {
      args[name] = argv[++i]
    }
  }
  if (!args.bootstrap || !args.topic) throw new Error('--bootstrap and --topic are required')
  args.timeoutMs = Number(args['timeout-ms'])
  return args
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

function encode(text) {
  return text === null || text === undefined ? null : Buffer.from(text, 'utf8')
}

function decode(buffer) {
  return buffer === null || buffer === undefined ? null : buffer.toString('utf8')
}

function kafkaFor(args) {
  return new Kafka({
    clientId: CLIENT_ID,
    brokers: [args.bootstrap],
    logLevel: process.env.KAFKAJS_DEBUG ? logLevel.DEBUG : logLevel.WARN,
    requestTimeout: args.timeoutMs,
    retry: { retries: 5, initialRetryTime: 100 },
  })
}

const ACKS = { all: -1, 0: 0, 1: 1 }
const COMPRESSION = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP }

async function readStdinRecords() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .filter(line => line.trim().length > 0)
    .map(line => JSON.parse(line))
}

function headersObject(headers) {
  const result = {}
  for (const [name, value] of headers || []) {
    const encoded = encode(value)
    if (result[name] === undefined) result[name] = encoded
    else result[name] = [].concat(result[name], [encoded])
  }
  return result
}

function headersList(headers) {
  const list = []
  for (const [name, value] of Object.entries(headers || {})) {
    for (const v of Array.isArray(value) ? value : [value]) list.push([name, decode(v)])
  }
  return list
}

async function produce(args) {
  const records = await readStdinRecords()
  if (!(args.compression in COMPRESSION)) throw new Error(`kafkajs has no built-in ${args.compression} codec`)
  const producer = kafkaFor(args).producer({ allowAutoTopicCreation: true, idempotent: false })
  await producer.connect()
  // One request: kafkajs groups the messages by partition, keeping their order, and answers one
  // base offset per partition.
  const messages = records.map(r => {
    const message = { key: encode(r.key), value: encode(r.value), headers: headersObject(r.headers) }
    if (r.partition !== null && r.partition !== undefined) message.partition = r.partition
    if (r.timestamp !== null && r.timestamp !== undefined) message.timestamp = String(r.timestamp)
    return message
  })
  const metadata = await producer.send({
    topic: args.topic,
    acks: ACKS[args.acks],
    timeout: args.timeoutMs,
    compression: COMPRESSION[args.compression],
    messages,
  })
  const base = {}
  for (const m of metadata || []) base[m.partition] = m
  const rank = {}
  records.forEach((r, index) => {
    const p = r.partition
    const m = base[p]
    const nth = rank[p] || 0
    rank[p] = nth + 1
    const offset = m && m.baseOffset !== undefined && Number(m.baseOffset) >= 0 ? Number(m.baseOffset) + nth : -1
    emit({ type: 'ack', index, partition: p, offset, error_code: m ? m.errorCode : null })
  })
  await producer.disconnect()
  emit({ type: 'done', acked: records.length, failed: 0 })
  return 0
}

function createClusterOf(kafka) {
  const symbol = Object.getOwnPropertySymbols(kafka).find(s => s.toString() === 'Symbol(private:Kafka:createCluster)')
  if (!symbol) throw new Error('this kafkajs version has no internal cluster factory')
  return kafka[symbol]({ allowAutoTopicCreation: false })
}

async function consume(args) {
  const kafka = kafkaFor(args)
  const admin = kafka.admin()
  await admin.connect()
  const watermarks = await admin.fetchTopicOffsets(args.topic)
  await admin.disconnect()
  const wanted = args.partition.length ? args.partition.map(Number) : watermarks.map(w => w.partition)
  const end = {}
  const position = {}
  for (const w of watermarks) {
    end[w.partition] = Number(w.high)
    position[w.partition] = Number(w.low)
  }
  const limit = args.count === undefined ? undefined : Number(args.count)
  const cluster = createClusterOf(kafka)
  await cluster.connect()
  await cluster.addTargetTopic(args.topic)
  const deadline = Date.now() + args.timeoutMs
  let count = 0
  const finished = () => (limit !== undefined ? count >= limit : wanted.every(p => position[p] >= end[p]))
  while (!finished()) {
    if (Date.now() > deadline) {
      emit({ type: 'error', error_code: -1, message: `timed out after ${count} records` })
      return 3
    }
    const byLeader = {}
    for (const meta of cluster.findTopicPartitionMetadata(args.topic)) {
      if (!wanted.includes(meta.partitionId)) continue
      if (limit === undefined && position[meta.partitionId] >= end[meta.partitionId]) continue
      ;(byLeader[meta.leader] = byLeader[meta.leader] || []).push(meta.partitionId)
    }
    for (const [leader, partitions] of Object.entries(byLeader)) {
      const broker = await cluster.findBroker({ nodeId: leader })
      const request = partitions.map(p => ({ partition: p, fetchOffset: String(position[p]), maxBytes: 1048576 }))
      const { responses } = await broker.fetch({
        maxWaitTime: 200,
        minBytes: 1,
        maxBytes: 10485760,
        topics: [{ topic: args.topic, partitions: request }],
      })
      for (const topicResponse of responses) {
        for (const partitionData of topicResponse.partitions) {
          const p = partitionData.partition
          const batch = new Batch(args.topic, String(position[p]), partitionData)
          for (const m of batch.messages) {
            count++
            position[p] = Number(m.offset) + 1
            emit({
              type: 'record',
              partition: p,
              offset: Number(m.offset),
              key: decode(m.key),
              value: decode(m.value),
              headers: headersList(m.headers),
              timestamp: Number(m.timestamp),
              timestamp_type: (m.batchContext || {}).timestampType === 1 ? 'log_append' : 'create',
            })
          }
        }
      }
    }
  }
  await cluster.disconnect()
  emit({ type: 'done', count })
  return 0
}

async function offsets(args) {
  const admin = kafkaFor(args).admin()
  await admin.connect()
  const watermarks = await admin.fetchTopicOffsets(args.topic)
  const byTime = {}
  for (const t of args.time) {
    for (const o of await admin.fetchTopicOffsetsByTimestamp(args.topic, Number(t))) {
      ;(byTime[o.partition] = byTime[o.partition] || []).push({ time: Number(t), offset: Number(o.offset) })
    }
  }
  const wanted = args.partition.length ? args.partition.map(Number) : watermarks.map(w => w.partition)
  for (const w of watermarks.filter(w => wanted.includes(w.partition)).sort((a, b) => a.partition - b.partition)) {
    emit({ type: 'result', partition: w.partition, earliest: Number(w.low), latest: Number(w.high), times: byTime[w.partition] || [] })
  }
  await admin.disconnect()
  return 0
}

function errorCodesOf(err) {
  const errors = Array.isArray(err.errors) && err.errors.length ? err.errors : [err]
  return errors.map(e => ({ code: typeof e.code === 'number' ? e.code : -1, type: e.type || e.name, message: e.message }))
}

function brokerIds(list) {
  return String(list).split(',').filter(b => b !== '').map(Number)
}

async function admin(args) {
  const admin = kafkaFor(args).admin()
  await admin.connect()
  const configEntries = args.config.map(pair => {
    const at = pair.indexOf('=')
    return { name: pair.slice(0, at), value: pair.slice(at + 1) }
  })
  const report = async action => {
    try {
      const outcome = await action()
      // createTopics answers false instead of failing when the topic already exists.
      const extra = typeof outcome === 'boolean' ? { created: outcome } : {}
      emit({ type: 'result', topic: args.topic, error_code: 0, ...extra })
    } catch (err) {
      for (const e of errorCodesOf(err)) {
        emit({ type: 'result', topic: args.topic, error_code: e.code, error_type: e.type, error_message: e.message })
      }
    }
  }
  switch (args.op) {
    case 'create':
      await report(() =>
        admin.createTopics({
          validateOnly: !!args['validate-only'],
          waitForLeaders: !args['validate-only'],
          timeout: args.timeoutMs,
          topics: [{
            topic: args.topic,
            numPartitions: args.partitions === undefined ? -1 : Number(args.partitions),
            replicationFactor: args['replication-factor'] === undefined ? -1 : Number(args['replication-factor']),
            configEntries,
          }],
        })
      )
      break
    case 'delete':
      await report(() => admin.deleteTopics({ topics: [args.topic], timeout: args.timeoutMs }))
      break
    case 'create-partitions':
      await report(() =>
        admin.createPartitions({
          validateOnly: !!args['validate-only'],
          timeout: args.timeoutMs,
          topicPartitions: [{
            topic: args.topic,
            count: Number(args.partitions),
            ...(args.assignment.length ? { assignments: args.assignment.map(brokerIds) } : {}),
          }],
        })
      )
      break
    case 'describe-configs': {
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: args.topic }],
      })
      for (const r of resources) {
        const configs = {}
        for (const e of r.configEntries) configs[e.configName] = e.configValue
        emit({ type: 'result', topic: r.resourceName, error_code: r.errorCode, error_message: r.errorMessage, configs })
      }
      break
    }
    case 'describe-broker-configs': {
      try {
        const { resources } = await admin.describeConfigs({
          includeSynonyms: false,
          resources: [{ type: ConfigResourceTypes.BROKER, name: String(args['broker-id']) }],
        })
        for (const r of resources) {
          const configs = {}
          const readOnly = {}
          for (const e of r.configEntries) {
            configs[e.configName] = e.configValue
            readOnly[e.configName] = e.readOnly
          }
          emit({ type: 'result', broker: r.resourceName, error_code: r.errorCode, error_message: r.errorMessage, configs, read_only: readOnly })
        }
      } catch (err) {
        for (const e of errorCodesOf(err)) emit({ type: 'result', error_code: e.code, error_type: e.type, error_message: e.message })
      }
      break
    }
    case 'list-reassignments': {
      const partitions = args.partition.map(Number)
      const listed = await admin.listPartitionReassignments({ topics: [{ topic: args.topic, partitions }], timeout: args.timeoutMs })
      emit({ type: 'result', topic: args.topic, error_code: 0, topics: listed.topics })
      break
    }
    case 'reassign':
      await report(() =>
        admin.alterPartitionReassignments({
          timeout: args.timeoutMs,
          topics: [{
            topic: args.topic,
            partitionAssignment: args.partition.map(p => ({ partition: Number(p), replicas: brokerIds(args.replicas) })),
          }],
        })
      )
      break
    case 'alter-configs':
      await report(() =>
        admin.alterConfigs({
          validateOnly: false,
          resources: [{ type: ConfigResourceTypes.TOPIC, name: args.topic, configEntries }],
        })
      )
      break
    case 'metadata': {
      try {
        const { topics } = await admin.fetchTopicMetadata({ topics: [args.topic] })
        for (const t of topics) {
          emit({ type: 'result', topic: t.name, error_code: 0, partitions: t.partitions.map(p => p.partitionId).sort((a, b) => a - b) })
        }
      } catch (err) {
        for (const e of errorCodesOf(err)) emit({ type: 'result', topic: args.topic, error_code: e.code, error_type: e.type, partitions: [] })
      }
      break
    }
    default:
      throw new Error('admin needs --op')
  }
  await admin.disconnect()
  return 0
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const commands = { produce, consume, offsets, admin }
  const command = commands[args.command]
  if (!command) throw new Error(`kafkajs driver does not implement ${args.command}`)
  return command(args)
}

// stdout is asynchronous when it is a pipe: exit only once everything written has been flushed.
function exitAfterFlush(code) {
  process.stdout.write('', () => process.exit(code))
}

let settled = false
process.on('beforeExit', () => {
  if (!settled) {
    // The event loop ran dry with the command still waiting: a promise nothing will resolve.
    settled = true
    emit({ type: 'error', error_code: -1, message: 'the command stopped waiting on a request that never completed' })
    process.exitCode = 5
  }
})

main().then(
  code => {
    settled = true
    exitAfterFlush(code)
  },
  err => {
    settled = true
    process.stderr.write(`${err.stack || err}\n`)
    emit({ type: 'error', error_code: typeof err.code === 'number' ? err.code : -1, message: String(err.message || err) })
    exitAfterFlush(1)
  }
)
