// The KafScale web console: a hash-routed single page over the JSON API of docs/console.md.
// Every URL is relative, so the console works under any reverse-proxy path.

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
type Child = Node | string | number | null | undefined | false;

let writable = false;
let renders = 0; // numbers each rendering of a page, so that tests can tell a fresh one from the last

function h(tag: string, attrs: Record<string, unknown> = {}, ...children: (Child | Child[])[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v as EventListener);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

let infoReady: Promise<void> = Promise.resolve();

/** A page's data, once the broker's info is in too (the page's write forms depend on it). */
async function first<T>(data: Promise<T>): Promise<T> {
  const [value] = await Promise.all([data, infoReady]);
  return value;
}

class ApiError extends Error {
  constructor(public status: number, message: string) { super(message); }
}

async function api(path: string, init?: { method?: string; body?: unknown }): Promise<Json> {
  const response = await fetch("api/" + path, {
    method: init?.method ?? "GET",
    headers: init?.body !== undefined ? { "Content-Type": "application/json" } : undefined,
    body: init?.body !== undefined ? JSON.stringify(init.body) : undefined,
  });
  let data: Json = null;
  try { data = await response.json(); } catch { /* not JSON */ }
  if (!response.ok) throw new ApiError(response.status, data?.error ?? `HTTP ${response.status}`);
  return data;
}

function banner(message: string | null, ok = false): void {
  const el = document.getElementById("banner")!;
  el.hidden = !message;
  el.className = ok ? "ok" : "";
  el.textContent = message ?? "";
}

function table(headers: string[], rows: Child[][], label: string): HTMLElement {
  return h("div", { class: "table" },
    h("table", { "aria-label": label },
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c)))))));
}

function stat(label: string, value: Child, cls?: string): HTMLElement {
  return h("div", { class: "stat" }, h("div", { class: "label" }, label), h("div", { class: "value " + (cls ?? "") }, value));
}

// A size for people ("12.3 MiB", as the storage page shows sizes), the exact count in the title
// and in data-bytes. Unknown (null: the user may not describe the cluster, or a broker did not
// answer) is "-".
function size(n: number | null | undefined): HTMLElement {
  if (n === null || n === undefined) return h("span", { class: "size", title: "unknown: DescribeLogDirs needs DESCRIBE on the cluster and every broker answering" }, "-");
  return h("span", { class: "size", "data-bytes": n, title: `${n} bytes` }, bytes(n));
}

function field(label: string, input: HTMLElement): HTMLElement {
  return h("label", {}, label, input);
}

function link(text: string, hash: string): HTMLElement {
  return h("a", { href: hash }, text);
}

const enc = encodeURIComponent;
const bytes = (n: number): string => n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : n < 1 << 30 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / (1 << 30)).toFixed(2)} GiB`;
const time = (ms: number): string => ms >= 0 ? new Date(ms).toISOString() : "-";

/** Runs a write action, then shows its outcome and re-renders. */
async function act(what: () => Promise<unknown>, done: string, then?: () => void): Promise<void> {
  try {
    await what();
    if (done) banner(done, true);
    if (then) then(); else await route();
  } catch (e) {
    banner((e as Error).message);
  }
}

// ---- charts: small inline SVG lines, no library

function chart(title: string, points: [number, number | null][], unit: string): HTMLElement {
  const w = 300, hgt = 120, pad = 4;
  const values = points.filter((p) => p[1] !== null) as [number, number][];
  const max = Math.max(1e-9, ...values.map((p) => p[1]));
  const t0 = points.length ? points[0][0] : 0, t1 = points.length ? points[points.length - 1][0] : 1;
  const x = (t: number) => pad + ((t - t0) / Math.max(1, t1 - t0)) * (w - 2 * pad);
  const y = (v: number) => hgt - pad - (v / max) * (hgt - 2 * pad);
  const path = values.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
  const last = values.length ? values[values.length - 1][1] : null;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${title}, last ${last === null ? "no data" : last.toFixed(2) + " " + unit}`);
  const line = document.createElementNS("http://www.w3.org/2000/svg", "path");
  line.setAttribute("d", path || `M${pad},${hgt - pad} L${w - pad},${hgt - pad}`);
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#0b5cad");
  line.setAttribute("stroke-width", "2");
  line.setAttribute("vector-effect", "non-scaling-stroke");
  svg.append(line);
  return h("div", { class: "chart", "data-points": values.length },
    h("div", { class: "title" }, h("span", {}, title), h("span", {}, last === null ? "-" : `${last.toFixed(2)} ${unit}`)), svg,
    h("div", { class: "title" }, h("span", {}, "peak " + max.toFixed(2)), h("span", {}, "last hour")));
}

// ---- pages

async function overview(main: HTMLElement): Promise<void> {
  const o = await first(api("overview"));
  const b = o.this_broker;
  const hist: Json[] = o.history;
  const series = (k: string) => hist.map((p) => [p.at_ms, p[k]] as [number, number | null]);
  main.append(
    h("h1", {}, "Overview"),
    h("div", { class: "grid" },
      stat("Cluster", o.cluster_id),
      stat("Brokers", o.brokers.length),
      stat("Topics", o.topics),
      stat("Partitions", o.partitions)),
    h("h2", {}, "Brokers"),
    table(["Broker", "Address", "Rack", "Partitions led", ""],
      o.brokers.map((x: Json) => [x.id, `${x.host}:${x.port}`, x.rack ?? "-", x.partitions_led, x.this_broker ? "this broker" : ""]), "Brokers"),
    h("h2", {}, `Broker ${b.id} (this one)`),
    h("div", { class: "grid" },
      stat("Object store", h("span", { class: "state-" + b.object_store_state }, `${b.object_store}: ${b.object_store_state}`)),
      stat("Metadata store", h("span", { class: b.lease_valid ? "state-healthy" : "state-unavailable" }, `${b.metadata_store}: ${b.lease_valid ? "lease valid" : "lease lapsed"}`)),
      stat("Object PUTs", b.object_puts),
      stat("Object GETs", b.object_gets),
      stat("Estimated request cost", `$${b.estimated_request_cost_usd_per_day.toFixed(4)} / day`)),
    h("h2", {}, "Throughput and latency, last hour"),
    h("div", { class: "charts" },
      chart("Produce bytes/s", series("produce_bytes_per_sec"), "B/s"),
      chart("Fetch bytes/s", series("fetch_bytes_per_sec"), "B/s"),
      chart("Produce latency", series("produce_latency_ms"), "ms"),
      chart("Fetch latency (long polls wait)", series("fetch_latency_ms"), "ms")),
    h("p", { class: "muted" }, `Sampled every ${o.history_interval_seconds} s from this broker's own metrics; each broker's console charts its own.`));
}

async function topics(main: HTMLElement): Promise<void> {
  const t = await first(api("topics"));
  main.append(h("h1", {}, "Topics"),
    table(["Topic", "Partitions", "Size", "Topic id"], t.topics.map((x: Json) => [link(x.name, `#/topics/${enc(x.name)}`), x.partitions, size(x.size_bytes), h("span", { class: "mono" }, x.topic_id ?? "-")]), "Topics"));
  if (writable) {
    const name = h("input", { name: "name", required: true, autocomplete: "off" }) as HTMLInputElement;
    const parts = h("input", { name: "partitions", type: "number", min: 1, value: 1 }) as HTMLInputElement;
    main.append(h("h2", {}, "Create a topic"), h("form", {
      "aria-label": "Create a topic",
      onsubmit: (e: Event) => { e.preventDefault(); void act(() => api("topics", { method: "POST", body: { name: name.value, partitions: Number(parts.value) } }), `created topic ${name.value}`); },
    }, field("Name", name), field("Partitions", parts), h("button", { type: "submit" }, "Create")));
  }
}

async function topic(main: HTMLElement, name: string): Promise<void> {
  const t = await first(api(`topics/${enc(name)}`));
  const config = (k: string) => t.configs.find((c: Json) => c.name === k)?.value ?? "-";
  main.append(h("h1", {}, `Topic ${t.name}`),
    h("div", { class: "grid" },
      stat("Partitions", t.partitions.length),
      stat("Size", size(t.size_bytes)),
      stat("Records", t.partitions.reduce((n: number, p: Json) => n + p.records, 0)),
      stat("retention.ms", h("span", { class: "mono" }, config("retention.ms"))),
      stat("retention.bytes", h("span", { class: "mono" }, config("retention.bytes")))),
    h("h2", {}, "Partitions"),
    table(["Partition", "Leader", "Epoch", "Log start", "Log end", "Records", "Size", ""],
      t.partitions.map((p: Json) => [p.partition, p.leader, p.leader_epoch, p.earliest_offset, p.latest_offset, p.records, size(p.size_bytes),
        h("span", {}, link("messages", `#/messages?topic=${enc(name)}&partition=${p.partition}`), " · ", link("storage", `#/storage?topic=${enc(name)}&partition=${p.partition}`))]), "Partitions"),
    h("h2", {}, "Configs"),
    table(["Name", "Value", "Source"], t.configs.map((c: Json) => [c.name, h("span", { class: "mono" }, c.value ?? "-"), c.source]), "Configs"));
  if (!writable) return;
  const count = h("input", { name: "count", type: "number", min: 1, value: 1 }) as HTMLInputElement;
  const key = h("input", { name: "config-name", placeholder: "retention.ms", required: true }) as HTMLInputElement;
  const value = h("input", { name: "config-value" }) as HTMLInputElement;
  main.append(
    h("h2", {}, "Change"),
    h("form", {
      "aria-label": "Add partitions",
      onsubmit: (e: Event) => { e.preventDefault(); void act(() => api(`topics/${enc(name)}/partitions`, { method: "POST", body: { count: Number(count.value) } }), `added ${count.value} partition(s) to ${name}`); },
    }, field("Partitions to add", count), h("button", { type: "submit" }, "Add partitions")),
    h("form", {
      "aria-label": "Set a config",
      onsubmit: (e: Event) => {
        e.preventDefault();
        const body = value.value === "" ? { delete: [key.value] } : { set: { [key.value]: value.value } };
        void act(() => api(`topics/${enc(name)}/config`, { method: "POST", body }), `config ${key.value} of ${name} changed`);
      },
    }, field("Config", key), field("Value (empty: back to default)", value), h("button", { type: "submit" }, "Set config")),
    h("form", {
      "aria-label": "Delete the topic",
      onsubmit: (e: Event) => {
        e.preventDefault();
        if (!confirm(`Delete topic ${name} and all its records?`)) return;
        void act(() => api(`topics/${enc(name)}`, { method: "DELETE" }), `deleted topic ${name}`, () => { location.hash = "#/topics"; });
      },
    }, h("button", { type: "submit", class: "danger" }, "Delete topic")));
}

function decode(b64: string | null): Uint8Array | null {
  if (b64 === null) return null;
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function show(data: Uint8Array | null, format: string): string {
  if (data === null) return "null";
  if (format === "hex") return Array.from(data, (b) => b.toString(16).padStart(2, "0")).join(" ");
  const text = new TextDecoder().decode(data);
  if (format === "json") { try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; } }
  return text;
}

async function messages(main: HTMLElement, q: URLSearchParams): Promise<void> {
  const partition = h("input", { name: "partition", type: "number", min: 0, value: q.get("partition") ?? "0" }) as HTMLInputElement;
  const from = h("select", { name: "from" }, ["newest", "offset", "time"].map((f) => h("option", { value: f, selected: f === (q.get("from") ?? "newest") }, f))) as HTMLSelectElement;
  const at = h("input", { name: "at", value: q.get("at") ?? "", placeholder: "offset, or ISO time" }) as HTMLInputElement;
  const count = h("input", { name: "count", type: "number", min: 1, max: 500, value: q.get("count") ?? "50" }) as HTMLInputElement;
  const format = h("select", { name: "format" }, ["text", "json", "hex"].map((f) => h("option", { value: f, selected: f === (q.get("format") ?? "text") }, f))) as HTMLSelectElement;
  // The records are asked for at once, alongside the topic list; an error shows below the form.
  let records: Promise<Json> | null = null;
  if (q.get("topic")) {
    const p = new URLSearchParams({ partition: partition.value, from: from.value, count: count.value });
    if (from.value === "offset") p.set("offset", at.value);
    if (from.value === "time") p.set("time", at.value);
    records = api(`topics/${enc(q.get("topic")!)}/messages?${p.toString()}`).catch((e: Error) => e);
  }
  const all = await first(api("topics?sizes=false")); // names for the picker; sizes cost a request to every broker
  const topicSel = h("select", { name: "topic" }, all.topics.map((t: Json) => h("option", { value: t.name, selected: t.name === q.get("topic") }, t.name))) as HTMLSelectElement;
  const search = h("input", { name: "search", type: "search", placeholder: "in the loaded page" }) as HTMLInputElement;
  const results = h("div", {});
  main.append(h("h1", {}, "Messages"),
    h("form", {
      "aria-label": "Browse a partition",
      onsubmit: (e: Event) => {
        e.preventDefault();
        const p = new URLSearchParams({ topic: topicSel.value, partition: partition.value, from: from.value, at: at.value, count: count.value, format: format.value });
        location.hash = "#/messages?" + p.toString();
      },
    }, field("Topic", topicSel), field("Partition", partition), field("From", from), field("Offset or time", at), field("Count", count), field("Show as", format),
    h("button", { type: "submit" }, "Load")),
    field("Search", search), results);
  if (records) {
    const m = await records;
    if (m instanceof Error) throw m;
    const rows: HTMLElement[] = [];
    const body = h("tbody", {}, m.records.map((r: Json) => {
      const headers = r.headers.map((x: Json) => `${x.key}=${show(decode(x.value), format.value === "json" ? "text" : format.value)}`).join("\n");
      const row = h("tr", {}, h("td", {}, r.offset), h("td", {}, time(r.timestamp)),
        h("td", { class: "mono" }, show(decode(r.key), format.value)), h("td", { class: "mono" }, show(decode(r.value), format.value)), h("td", { class: "mono" }, headers));
      rows.push(row);
      return row;
    }));
    search.addEventListener("input", () => {
      const needle = search.value.toLowerCase();
      for (const row of rows) row.hidden = needle !== "" && !row.textContent!.toLowerCase().includes(needle);
    });
    results.append(h("p", { class: "muted" }, `${m.topic}-${m.partition}: offsets ${m.log_start_offset} to ${m.log_end_offset}; ${m.records.length} records from ${m.from_offset}`),
      h("div", { class: "table" }, h("table", { "aria-label": "Records" },
        h("thead", {}, h("tr", {}, ["Offset", "Timestamp", "Key", "Value", "Headers"].map((x) => h("th", { scope: "col" }, x)))), body)));
  }
  if (writable) {
    const key = h("input", { name: "key" }) as HTMLInputElement;
    const value = h("textarea", { name: "value", rows: 2 }) as HTMLTextAreaElement;
    const headers = h("input", { name: "headers", placeholder: "name=value, ..." }) as HTMLInputElement;
    main.append(h("h2", {}, "Produce a test record"), h("form", {
      "aria-label": "Produce a test record",
      onsubmit: (e: Event) => {
        e.preventDefault();
        const hdrs: Record<string, string> = {};
        for (const pair of headers.value.split(",").map((s) => s.trim()).filter(Boolean)) {
          const i = pair.indexOf("=");
          hdrs[i < 0 ? pair : pair.slice(0, i)] = i < 0 ? "" : pair.slice(i + 1);
        }
        void act(async () => {
          const r = await api(`topics/${enc(topicSel.value)}/messages`, { method: "POST", body: { partition: Number(partition.value), key: key.value || null, value: value.value, headers: hdrs } });
          banner(`produced at offset ${r.offset} of ${r.topic}-${r.partition}`, true);
        }, "", () => { /* keep the banner with the offset */ });
      },
    }, field("Key", key), field("Value", value), field("Headers", headers), h("button", { type: "submit" }, "Produce")));
  }
}

async function groups(main: HTMLElement): Promise<void> {
  const g = await first(api("groups"));
  main.append(h("h1", {}, "Consumer groups"),
    table(["Group", "State", "Protocol", "Coordinator"], g.groups.map((x: Json) => [link(x.group, `#/groups/${enc(x.group)}`), x.state, x.protocol_type || "-", x.coordinator]), "Groups"));
}

async function group(main: HTMLElement, id: string): Promise<void> {
  const g = await first(api(`groups/${enc(id)}`));
  main.append(h("h1", {}, `Group ${g.group}`),
    h("div", { class: "grid" }, stat("State", g.state), stat("Members", g.members.length), stat("Total lag", g.total_lag), stat("Coordinator", g.coordinator)),
    h("h2", {}, "Members"),
    table(["Member", "Client", "Host", "Assignment"], g.members.map((m: Json) => [h("span", { class: "mono" }, m.member_id), m.client_id, m.client_host,
      m.assignment.map((a: Json) => `${a.topic}-${a.partition}`).join(", ") || "-"]), "Members"),
    h("h2", {}, "Offsets and lag"),
    table(["Topic", "Partition", "Committed", "End", "Lag", "Member"], g.offsets.map((o: Json) => [o.topic, o.partition, o.committed_offset ?? "-", o.end_offset ?? "-", o.lag ?? "-", o.client_id ?? "-"]), "Offsets"));

  const topicIn = h("input", { name: "topic", required: true, value: g.offsets[0]?.topic ?? "" }) as HTMLInputElement;
  const to = h("select", { name: "to" }, ["earliest", "latest", "offset", "time", "shift"].map((x) => h("option", { value: x }, x))) as HTMLSelectElement;
  const value = h("input", { name: "value", placeholder: "offset, ms or delta" }) as HTMLInputElement;
  const plan = h("div", {});
  const run = (execute: boolean) => void act(async () => {
    const body: Json = { topic: topicIn.value, to: to.value, execute };
    if (["offset", "time", "shift"].includes(to.value)) body.value = Number(value.value);
    const r = await api(`groups/${enc(id)}/reset-offsets`, { method: "POST", body });
    plan.replaceChildren(table(["Partition", "Current", "New"], r.partitions.map((p: Json) => [p.partition, p.current_offset ?? "-", p.new_offset]), "Reset plan"),
      h("p", { class: "muted" }, r.executed ? "committed" : "dry run: nothing changed"));
  }, execute ? `reset the offsets of ${id}` : "dry run ready", execute ? () => void route() : () => { /* keep the plan */ });
  main.append(h("h2", {}, "Reset offsets"),
    h("p", { class: "muted" }, "Same rules as kafscale admin groups reset-offsets: the group must have no active members; offsets are clamped to the log."),
    h("form", { "aria-label": "Reset offsets", onsubmit: (e: Event) => { e.preventDefault(); run(false); } },
      field("Topic", topicIn), field("To", to), field("Value", value),
      h("button", { type: "submit", class: "secondary" }, "Dry run"),
      writable ? h("button", { type: "button", onclick: () => run(true) }, "Execute") : null),
    plan);
}

async function storage(main: HTMLElement, q: URLSearchParams): Promise<void> {
  const all = await first(api("topics?sizes=false")); // names for the picker; sizes cost a request to every broker
  const topicSel = h("select", { name: "topic" }, all.topics.map((t: Json) => h("option", { value: t.name, selected: t.name === q.get("topic") }, t.name))) as HTMLSelectElement;
  const partition = h("input", { name: "partition", type: "number", min: 0, value: q.get("partition") ?? "0" }) as HTMLInputElement;
  main.append(h("h1", {}, "Storage"),
    h("form", {
      "aria-label": "Choose a partition",
      onsubmit: (e: Event) => { e.preventDefault(); location.hash = `#/storage?topic=${enc(topicSel.value)}&partition=${enc(partition.value)}`; },
    }, field("Topic", topicSel), field("Partition", partition), h("button", { type: "submit" }, "Verify")));
  if (!q.get("topic")) return;
  const s = await api(`storage/${enc(q.get("topic")!)}/${enc(partition.value)}`);
  main.append(
    h("div", { class: "grid" },
      stat("Verify", h("span", { class: s.clean ? "clean" : "fault" }, s.clean ? "clean" : `${s.faults.length} fault(s)`)),
      stat("Segments", s.segments.length), stat("Sealed bytes", bytes(s.segment_bytes)), stat("Object store", `${s.object_store} (${s.namespace})`)),
    h("h2", {}, "Segments"),
    table(["Base", "Last", "Records", "Batches", "Size", "Index", "Created", "Faults"], s.segments.map((x: Json) => [x.base_offset, x.last_offset ?? "-", x.records, x.batches, bytes(x.size_bytes),
      x.has_index ? `${x.index_entries} ${x.index_entries === 1 ? "entry" : "entries"}` : "missing", time(x.created_at_ms), h("span", { class: x.faults ? "fault" : "clean" }, x.faults)]), "Segments"),
    h("div", {}, s.faults.length ? [h("h2", {}, "Faults"), table(["Object", "Check", "Message"], s.faults.map((f: Json) => [h("span", { class: "mono" }, f.key), f.check, f.message]), "Faults")] : []),
    h("h2", {}, `WAL objects (${s.wal_objects_total}, newest first; each holds chunks of many partitions)`),
    table(["Object", "Broker", "Size", "Created"], s.wal_objects.map((w: Json) => [h("span", { class: "mono" }, w.key), w.broker_id, bytes(w.size_bytes), time(w.created_at_ms)]), "WAL objects"));
}

// ---- routing

async function route(): Promise<void> {
  const hash = location.hash.replace(/^#\/?/, "") || "overview";
  const [path, query] = hash.split("?");
  const parts = path.split("/").map(decodeURIComponent);
  const q = new URLSearchParams(query ?? "");
  for (const a of document.querySelectorAll("nav a")) {
    if (a.getAttribute("data-page") === parts[0]) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const main = document.getElementById("main")!;
  const next = h("div", { "data-page": parts[0], "data-render": ++renders });
  try {
    switch (parts[0]) {
      case "overview": await overview(next); break;
      case "topics": await (parts[1] ? topic(next, parts[1]) : topics(next)); break;
      case "messages": await messages(next, q); break;
      case "groups": await (parts[1] ? group(next, parts[1]) : groups(next)); break;
      case "storage": await storage(next, q); break;
      default: next.append(h("h1", {}, "Not found"), h("p", {}, link("Overview", "#/overview")));
    }
  } catch (e) {
    next.append(h("p", { class: "fault", role: "alert" }, (e as Error).message));
  }
  next.setAttribute("data-loaded", "true");
  main.replaceChildren(next);
  // When the page's data reached the DOM, in ms since navigation start: what
  // scripts/bench-console.sh reads (docs/console.md, "Render times").
  next.setAttribute("data-rendered-ms", performance.now().toFixed(1));
}

async function start(): Promise<void> {
  // The broker's info (whether writes are allowed) and the first page's data are asked for at
  // once; a page waits for both (first) before it renders its write forms or not.
  infoReady = api("info").then((info) => {
    writable = info.write;
    document.getElementById("mode")!.textContent = `broker ${info.broker_id} · ${writable ? "read-write" : "read-only"}`;
  }, (e) => banner((e as Error).message));
  window.addEventListener("hashchange", () => { banner(null); void route(); });
  await route();
}

void start();
