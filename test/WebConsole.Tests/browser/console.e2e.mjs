// Drives the web console in headless chromium (docs/console.md, "Tests").
//   node console.e2e.mjs write    BASE SHOTS   every page with real data, every write action, screenshots
//   node console.e2e.mjs readonly BASE         no write control shown; the API refuses writes
//   node console.e2e.mjs login    BASE         with ACLs: a login is asked for, and each user sees what the ACLs allow
// Prints "ok STEP" per step passed; any failure exits 1 with the reason on stderr.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const [mode, base, shots] = process.argv.slice(2);
const browserPath = process.env.KAFSCALE_CHROMIUM ?? "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath: browserPath, args: ["--no-sandbox", "--disable-gpu"] });
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.setDefaultTimeout(20_000);
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.on("dialog", (d) => d.accept());

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}
const step = (name) => console.log(`ok ${name}`);
/** Waits for the page of that name to finish rendering. */
const loaded = (name) => page.waitForSelector(`main > [data-page="${name}"][data-loaded]`);
/** Runs an action that re-renders the page and waits for the new rendering of that page. */
async function after(action, name) {
  const n = await page.evaluate(() => Number(document.querySelector("main > div")?.dataset.render ?? 0));
  await action();
  await page.waitForFunction(([n, name]) => {
    const d = document.querySelector("main > div");
    return !!d && Number(d.dataset.render) > n && d.dataset.page === name && d.dataset.loaded === "true";
  }, [n, name]);
}
const text = (selector) => page.locator(selector).innerText();
const shot = async (name) => { if (shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true }); };

try {
  if (shots) mkdirSync(shots, { recursive: true });
  if (mode === "write") await writeMode();
  else if (mode === "readonly") await readOnlyMode();
  else if (mode === "login") await loginMode();
  else throw new Error(`unknown mode ${mode}`);
  check(problems.length === 0, problems.join("; "));
  console.log("passed");
} catch (e) {
  console.error(e.stack ?? String(e));
  process.exitCode = 1;
} finally {
  await browser.close();
}

async function writeMode() {
  // The root redirects to the console (a relative Location), which opens on the overview.
  await page.goto(base);
  check(new URL(page.url()).pathname === "/ui/", `redirected to /ui/, got ${page.url()}`);
  await loaded("overview");
  const brokers = await text('table[aria-label="Brokers"]');
  check(/\b2\b/.test(brokers), `the broker leads the 2 partitions of orders: ${brokers}`);
  check((await text("main")).includes("dir: healthy"), "object store health shown");
  check((await page.locator(".chart").count()) === 4, "four charts");
  const points = Number(await page.locator(".chart").first().getAttribute("data-points"));
  check(points >= 1, `the produce chart has points (${points})`);
  check((await text("#mode")).includes("read-write"), "read-write badge");
  await shot("overview");
  step("overview");

  // Keyboard: the skip link, then the navigation, reach the topics page without a mouse.
  await page.keyboard.press("Tab");
  check(await page.evaluate(() => document.activeElement?.className === "skip"), "first Tab lands on the skip link");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  await after(() => page.keyboard.press("Enter"), "topics");
  step("keyboard navigation");

  check((await text('table[aria-label="Topics"]')).includes("orders"), "orders listed");
  // Sizes from the brokers' log dirs (DescribeLogDirs): kcat's records take some bytes, shown
  // for people ("1.2 KiB") with the exact count in data-bytes.
  const ordersRow = page.locator('table[aria-label="Topics"] tbody tr', { hasText: "orders" });
  const topicBytes = Number(await ordersRow.locator(".size").getAttribute("data-bytes"));
  check(topicBytes > 0, `orders has a size on the topics page (${topicBytes})`);
  check(/^\d+(\.\d+)? (B|KiB|MiB|GiB)$/.test(await ordersRow.locator(".size").innerText()), "the size reads as bytes for people");
  await shot("topics");
  await after(() => page.click('table[aria-label="Topics"] >> text=orders'), "topics");
  const partitions = await page.locator('table[aria-label="Partitions"] tbody tr').count();
  check(partitions === 2, `orders has 2 partitions, the page shows ${partitions}`);
  const partitionBytes = await page.locator('table[aria-label="Partitions"] .size').evaluateAll((els) => els.map((e) => Number(e.dataset.bytes)));
  check(partitionBytes.length === 2 && partitionBytes[0] > 0, `partition 0 has a size (${partitionBytes})`);
  const shownTotal = Number(await page.locator('.stat .size').getAttribute("data-bytes"));
  check(partitionBytes.reduce((a, b) => a + b, 0) === shownTotal, `partition sizes add up to the topic's (${partitionBytes} vs ${shownTotal})`);
  check((await text('table[aria-label="Configs"]')).includes("retention.ms"), "retention.ms among the configs");
  await shot("topic");
  step("topic detail");

  // Messages of partition 0, from its link on the topic page: the records kcat produced.
  await after(() => page.click('table[aria-label="Partitions"] tbody tr:first-child >> text=messages'), "messages");
  await page.selectOption('select[name="format"]', "json");
  await after(() => page.click('form[aria-label="Browse a partition"] button[type="submit"]'), "messages");
  const records = await text('table[aria-label="Records"]');
  check(records.includes('"item": "book"'), `the kcat record shown as JSON: ${records.slice(0, 400)}`);
  check(records.includes("source=kcat"), "the kcat header shown");
  await page.fill('input[name="search"]', "order-2");
  const visible = await page.locator('table[aria-label="Records"] tbody tr:visible').count();
  const all = await page.locator('table[aria-label="Records"] tbody tr').count();
  check(visible === 1 && all > 1, `search narrows the page to one record (${visible} of ${all})`);
  await page.fill('input[name="search"]', "");
  await shot("messages");
  await page.selectOption('select[name="format"]', "hex");
  await after(() => page.click('form[aria-label="Browse a partition"] button[type="submit"]'), "messages");
  check((await text('table[aria-label="Records"]')).includes("6f 72 64 65 72"), "hex view of the key 'order'");
  step("messages");

  // Bad input: the API's message on the page (the form stays, to correct it), never a blank page.
  const go = (hash, name) => after(() => page.evaluate((h) => { location.hash = h; }, hash), name);
  await go("#/topics/no-such-topic", "topics");
  check((await text('main [role="alert"]')).includes("'no-such-topic' does not exist"), "an unknown topic is named on the page");
  await go("#/messages?topic=orders&partition=0&from=offset&at=999", "messages");
  check((await text('main [role="alert"]')).includes("outside the log of orders-0"), "a bad offset is explained on the page");
  check((await page.locator('form[aria-label="Browse a partition"]').count()) === 1, "the form stays after a bad offset");
  await go("#/messages?topic=orders&partition=0&from=time&at=yesterday", "messages");
  check((await text('main [role="alert"]')).includes("ISO 8601"), "a bad time is explained on the page");
  await go("#/messages?topic=orders&partition=0&from=newest&format=hex", "messages");
  step("bad input");

  // Produce a test record, then find it on the page.
  await page.fill('input[name="key"]', "console-key");
  await page.fill('textarea[name="value"]', "from the console");
  await page.fill('input[name="headers"]', "via=browser");
  await page.click('form[aria-label="Produce a test record"] button');
  await page.waitForSelector("#banner.ok");
  check((await text("#banner")).includes("produced at offset"), "produce confirmed");
  await page.selectOption('select[name="format"]', "text");
  await after(() => page.click('form[aria-label="Browse a partition"] button[type="submit"]'), "messages");
  check((await text('table[aria-label="Records"]')).includes("from the console"), "the produced record's value");
  check((await text('table[aria-label="Records"]')).includes("via=browser"), "the produced record's header");
  step("produce");

  // Groups: the live consumer and the one that finished.
  await after(() => page.click('nav a[data-page="groups"]'), "groups");
  const groups = await text('table[aria-label="Groups"]');
  check(groups.includes("live-readers") && groups.includes("Stable"), `live group: ${groups}`);
  check(groups.includes("done-readers") && groups.includes("Empty"), `finished group: ${groups}`);
  await after(() => page.click('table[aria-label="Groups"] >> text=live-readers'), "groups");
  check((await page.locator('table[aria-label="Members"] tbody tr').count()) === 1, "one live member");
  // Same rule as admin groups reset-offsets: refused while the group has members.
  await page.selectOption('select[name="to"]', "earliest");
  await page.click('form[aria-label="Reset offsets"] >> text=Execute');
  await page.waitForSelector("#banner:not([hidden]):not(.ok)");
  check((await text("#banner")).includes("active member"), "reset refused for an active group");
  step("groups refuse a reset with members");

  await after(() => page.click('nav a[data-page="groups"]'), "groups");
  await after(() => page.click('table[aria-label="Groups"] >> text=done-readers'), "groups");
  const lagBefore = await text('table[aria-label="Offsets"]');
  check(/orders/.test(lagBefore), `offsets of done-readers: ${lagBefore}`);
  const totalBefore = Number(await page.locator(".stat", { hasText: "Total lag" }).locator(".value").innerText());
  check(totalBefore >= 1, `the record produced after the group finished shows as lag (${totalBefore})`);
  await shot("group");
  await page.selectOption('select[name="to"]', "earliest");
  await page.click('form[aria-label="Reset offsets"] >> text=Dry run');
  await page.waitForSelector('table[aria-label="Reset plan"]');
  check((await text('table[aria-label="Reset plan"]')).includes("0"), "the plan resets to 0");
  await after(() => page.click('form[aria-label="Reset offsets"] >> text=Execute'), "groups");
  check((await text("#banner")).includes("reset the offsets"), "reset confirmed");
  const totalAfter = Number(await page.locator(".stat", { hasText: "Total lag" }).locator(".value").innerText());
  check(totalAfter > totalBefore, `lag grew to every record after the reset to earliest (${totalBefore} -> ${totalAfter})`);
  step("reset offsets");

  // Topic writes: create, add partitions, set a config, delete.
  await after(() => page.click('nav a[data-page="topics"]'), "topics");
  await page.fill('form[aria-label="Create a topic"] input[name="name"]', "console-made");
  await page.fill('form[aria-label="Create a topic"] input[name="partitions"]', "2");
  await after(() => page.click('form[aria-label="Create a topic"] button'), "topics");
  check((await text('table[aria-label="Topics"]')).includes("console-made"), "console-made created");
  await after(() => page.click('table[aria-label="Topics"] >> text=console-made'), "topics");
  check((await page.locator('table[aria-label="Partitions"] tbody tr').count()) === 2, "console-made has 2 partitions");
  await page.fill('input[name="count"]', "1");
  await after(() => page.click('form[aria-label="Add partitions"] button'), "topics");
  check((await page.locator('table[aria-label="Partitions"] tbody tr').count()) === 3, "one partition added");
  await page.fill('input[name="config-name"]', "retention.ms");
  await page.fill('input[name="config-value"]', "3600000");
  await after(() => page.click('form[aria-label="Set a config"] button'), "topics");
  check((await text('table[aria-label="Configs"]')).includes("3600000"), "retention.ms set");
  await after(() => page.click('form[aria-label="Delete the topic"] button'), "topics");
  check(await page.evaluate(() => location.hash === "#/topics"), "back on the topic list");
  check(!(await text('table[aria-label="Topics"]')).includes("console-made"), "console-made deleted");
  step("topic writes");

  // Storage: the sealed segments of orders-0 and what verify says of them.
  await after(() => page.click('nav a[data-page="storage"]'), "storage");
  await page.selectOption('select[name="topic"]', "orders");
  await page.fill('input[name="partition"]', "0");
  await after(() => page.click('form[aria-label="Choose a partition"] button'), "storage");
  check((await text("main")).includes("clean"), "verify is clean");
  check(!/^null$/m.test(await text("main")), "no stray 'null' on the page");
  check((await page.locator('table[aria-label="Segments"] tbody tr').count()) >= 1, "at least one sealed segment");
  // WAL objects whose data is all sealed are deleted, so there may be none left to list.
  check(/WAL objects \(\d+/.test(await text("main")), "the WAL objects section");
  await shot("storage");
  step("storage");

  // A phone-sized screen: nothing wider than the screen but scrollable tables.
  await page.setViewportSize({ width: 390, height: 844 });
  await after(() => page.click('nav a[data-page="overview"]'), "overview");
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 390, `the overview fits a 390 px screen (${width} px)`);
  await shot("overview-phone");
  step("phone");
}

async function readOnlyMode() {
  await page.goto(base + "ui/#/topics");
  await loaded("topics");
  check((await text("#mode")).includes("read-only"), "read-only badge");
  check((await page.locator('form[aria-label="Create a topic"]').count()) === 0, "no create form");
  await after(() => page.click('table[aria-label="Topics"] >> text=orders'), "topics");
  check((await page.locator('form[aria-label="Delete the topic"]').count()) === 0, "no delete button");
  await page.goto(base + "ui/#/messages?topic=orders&partition=0");
  await loaded("messages");
  await page.waitForSelector('table[aria-label="Records"]');
  check((await page.locator('form[aria-label="Produce a test record"]').count()) === 0, "no produce form");
  // The API refuses a write even from a page that does not offer it.
  const status = await page.evaluate(async () => (await fetch("api/topics", { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"name":"sneaky"}' })).status);
  check(status === 403, `POST api/topics answered ${status}`);
  step("read-only");
}

/** Topic names the topics page shows to a browser logged in as user:password. */
async function topicsAs(user, password) {
  const context = await browser.newContext({ httpCredentials: { username: user, password } });
  const p = await context.newPage();
  p.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  await p.goto(base + "ui/#/topics");
  await p.waitForSelector('main > [data-page="topics"][data-loaded] table[aria-label="Topics"]');
  const names = await p.locator('table[aria-label="Topics"] tbody tr td:first-child').allInnerTexts();
  await context.close();
  return names;
}

async function loginMode() {
  // Without credentials the browser is challenged; headless, with no one to type, the
  // navigation ends with the challenge unanswered.
  let outcome;
  try { outcome = String((await page.goto(base + "ui/")).status()); } catch (e) { outcome = e.message; }
  check(outcome === "401" || outcome.includes("ERR_INVALID_AUTH_CREDENTIALS"), `without a login: ${outcome}`);
  const admin = await topicsAs("admin", "admin-secret");
  check(admin.includes("secret"), `admin sees the topic: ${admin}`);
  const alice = await topicsAs("alice", "alice-secret");
  check(!alice.includes("secret"), `alice, with no ACL, does not: ${alice}`);
  step("login");
}
