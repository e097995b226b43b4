// Render times of the web console in headless chromium, for scripts/bench-console.sh
// (docs/console.md, "Render times"). Not a test: it prints numbers and asserts nothing about them.
//   node bench.mjs BASE TOPIC RUNS
// For each page, RUNS fresh page loads; each reports when the page's data reached the DOM
// (the data-rendered-ms the page sets, ms since navigation start). Prints one JSON line per page.
import { chromium } from "playwright-core";

const [base, topic, runsText] = process.argv.slice(2);
const runs = Number(runsText ?? 5);
const browserPath = process.env.KAFSCALE_CHROMIUM ?? "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath: browserPath, args: ["--no-sandbox", "--disable-gpu"] });

/** Loads the console at hash in a fresh browser context and returns what the first rendering reports. */
async function load(hash, ready) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(base + "ui/" + hash);
  const main = await page.waitForSelector("main > [data-loaded][data-rendered-ms]");
  const result = await main.evaluate((el, ready) => ({
    page: el.dataset.page,
    renderedMs: Number(el.dataset.renderedMs),
    ready: !!el.querySelector(ready),
    alert: el.querySelector('[role="alert"]')?.textContent ?? null,
    rows: el.querySelectorAll('table[aria-label="Records"] tbody tr').length,
    // Where the time went: the document, then each request's start and end (ms since navigation start).
    timeline: [
      ["document", 0, performance.getEntriesByType("navigation")[0].responseEnd],
      ...performance.getEntriesByType("resource").map((r) => [r.name.replace(/^.*\/ui\//, ""), r.startTime, r.responseEnd]),
    ].map(([name, start, end]) => `${name} ${start.toFixed(0)}-${end.toFixed(0)}`).join(", "),
  }), ready);
  await context.close();
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  if (result.alert || !result.ready) throw new Error(`${hash} did not render its data: ${result.alert ?? "no " + ready}`);
  return result;
}

function summary(name, results, extra) {
  const ms = results.map((r) => r.renderedMs);
  const sorted = [...ms].sort((a, b) => a - b);
  const median = results.find((r) => r.renderedMs === sorted[Math.floor(sorted.length / 2)]);
  return { page: name, runs: ms, median_ms: median.renderedMs, max_ms: sorted[sorted.length - 1], ...extra, median_run: median.timeline };
}

try {
  // One load first, not counted: the broker's console opens its client connection on first use.
  await load("#/overview", 'table[aria-label="Brokers"]');
  const overview = [];
  for (let i = 0; i < runs; i++) overview.push(await load("#/overview", 'table[aria-label="Brokers"]'));
  console.log(JSON.stringify(summary("overview", overview)));

  const hash = `#/messages?topic=${encodeURIComponent(topic)}&partition=0&from=newest&count=500`;
  const messages = [];
  for (let i = 0; i < runs; i++) messages.push(await load(hash, 'table[aria-label="Records"] tbody tr'));
  console.log(JSON.stringify(summary("messages", messages, { records: messages[0].rows })));
} catch (e) {
  console.error(e.stack ?? String(e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
