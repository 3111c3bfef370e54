import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { CHROMIUM_ARGS, chromiumExecutable } from "@pulsar-connect/services/browser";
import Database from "better-sqlite3";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Worker, type WorkerOptions } from "../src/index.ts";
import { http, testWorkerOptions } from "./helpers.ts";

// The web console in Debian's headless Chromium against a real worker (with token auth) and Pulsar: log in, create
// a jdbc-sqlite sink through the generated form, watch its counts and charts move as the worker pushes them (no
// reload, no polling, no layout shift), reach it from the list with the keyboard, stop and start it, peek and replay
// its dead-letter topic, see the cluster page, delete it, log out. Screenshots of the main pages go to
// .run/console-screenshots/.
const services = inject("services");
const serviceUrl = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const adminUrl = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const run = `c${Date.now().toString(36)}`;
const TOKEN = `console-token-${run}`;
const repoRoot = join(import.meta.dirname, "..", "..", "..");
const screenshots = join(repoRoot, ".run", "console-screenshots");

let worker: Worker;
let workerOptions: WorkerOptions;
let dataDir: string;
let dbFile: string;
let browser: Browser;
let page: Page;
let client: PulsarClient;
const logs: string[] = [];

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  // The test builds the console from its sources, so it checks what the worker package would ship.
  const vite = join(repoRoot, "packages", "console", "node_modules", "vite", "bin", "vite.js");
  const built = spawnSync(process.execPath, [vite, "build", "--logLevel", "warn"], {
    cwd: join(repoRoot, "packages", "console"),
    encoding: "utf8",
  });
  if (built.status !== 0) throw new Error(`console build failed: ${built.stderr}${built.stdout}`);
  mkdirSync(screenshots, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-console-"));
  dbFile = join(dataDir, "orders.db");
  const db = new Database(dbFile);
  db.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT)");
  db.close();
  workerOptions = {
    ...testWorkerOptions({ dataDir, hostDir: join(import.meta.dirname, ".."), serviceUrl, adminUrl, logs }),
    preferSource: true,
    auth: { tokens: [{ token: TOKEN, role: "admin" }], superUserRoles: ["admin"] },
    fileDirs: [dataDir],
  };
  worker = await Worker.start(workerOptions);
  client = new PulsarClient({ serviceUrl });
  browser = await chromium.launch({ executablePath: chromiumExecutable(), args: [...CHROMIUM_ARGS] });
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
}, 600_000); // a fresh machine installs chromium (apt-get) here first

afterAll(async () => {
  await browser?.close();
  await client?.close();
  await worker?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Starts summing the page's layout shifts (not caused by input); `read` gives the sum so far. */
async function watchLayoutShift(): Promise<{ read: () => Promise<number> }> {
  await page.evaluate(() => {
    // Runs in the page, where globalThis is the window.
    const w = globalThis as unknown as { __shift: number };
    w.__shift = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries() as unknown as Array<{ value: number; hadRecentInput: boolean }>) {
        if (!entry.hadRecentInput) w.__shift += entry.value;
      }
    }).observe({ type: "layout-shift" } as never);
  });
  return { read: () => page.evaluate(() => (globalThis as unknown as { __shift: number }).__shift) };
}

/** The requests the page makes from now on (paths only), to tell pushed updates from polled ones. */
function watchRequests(): string[] {
  const paths: string[] = [];
  page.on("request", (request) => paths.push(new URL(request.url()).pathname));
  return paths;
}

async function publish(topic: string, values: Array<string | Uint8Array>): Promise<void> {
  const producer = await client.createProducer({ topic: `persistent://public/default/${topic}` });
  for (const value of values) await producer.send({ value: typeof value === "string" ? Buffer.from(value) : value });
  await producer.close();
}

describe("the web console in Chromium", { timeout: 300_000 }, () => {
  const name = `${run}-orders`;
  const input = `${run}-orders-in`;
  const deadLetters = `persistent://public/default/${run}-orders-dlq`;

  it("refuses a wrong token, then logs in with the right one", async () => {
    await page.goto(worker.url);
    await page.getByLabel("Token").fill("not-the-token");
    await page.getByRole("button", { name: "Log in" }).click();
    await expect.poll(() => page.locator("#login-error").textContent()).toContain("Authentication failed");
    await shot("01-login-refused");
    await page.getByLabel("Token").fill(TOKEN);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { name: "Connectors" }).waitFor();
    await expect.poll(() => page.locator("main").textContent()).toContain("No connectors yet");
  });

  it("creates a sink through the form, showing the worker's field error next to its field", async () => {
    await page.getByRole("link", { name: "New sink" }).click();
    await page.getByLabel("Connector type").selectOption("jdbc-sqlite");
    await page.locator("#f-configs-jdbcUrl").waitFor();
    await page.getByLabel("Name", { exact: true }).fill(name);
    await page.getByLabel("Input topics (comma-separated)").fill(input);
    await page.getByLabel("Max message retries").fill("1");
    await page.getByLabel("Dead-letter topic").fill(deadLetters);
    await page.locator("#f-configs-jdbcUrl").fill(`jdbc:sqlite:${dbFile}`);
    // The password field is a secret: the form must not show it in clear.
    expect(await page.locator("#f-configs-password").getAttribute("type")).toBe("password");
    // tableName left empty: the worker refuses the config and names the field.
    await page.getByRole("button", { name: "Validate" }).click();
    const fieldError = page.locator("#f-configs-tableName-error");
    await fieldError.waitFor();
    expect(await fieldError.textContent()).toMatch(/\S/);
    expect(await page.locator("#f-configs-tableName").getAttribute("aria-invalid")).toBe("true");
    expect(await page.locator("#f-configs-tableName").getAttribute("aria-describedby")).toContain(
      "f-configs-tableName-error",
    );
    // The error sits in the field's own block, right under its input.
    const sameField = await fieldError.evaluate(
      (element) => element.parentElement?.querySelector("#f-configs-tableName") !== null,
    );
    expect(sameField).toBe(true);
    await shot("02-form-field-error");
    await page.locator("#f-configs-tableName").fill("orders");
    await page.getByRole("button", { name: "Validate" }).click();
    await expect.poll(() => page.locator("[role=status]").textContent()).toContain("Valid");
    await page.getByRole("button", { name: "Create sink" }).click();
    await page.getByRole("heading", { name: new RegExp(name) }).waitFor();
    const stored = await http(worker.url, "GET", `/admin/v3/sinks/public/default/${name}`, undefined, {
      authorization: `Bearer ${TOKEN}`,
    });
    expect(stored.json).toMatchObject({ inputs: [`persistent://public/default/${input}`], maxMessageRetries: 1 });
  });

  it("shows the records it writes, in the detail page and in the list", async () => {
    await expect
      .poll(() => page.locator("[data-instance='0'] .state").textContent(), { timeout: 60_000 })
      .toBe("running");
    await publish(
      input,
      Array.from({ length: 20 }, (_, i) => JSON.stringify({ id: i, item: `item-${i}` })),
    );
    const written = page.locator(".stats div", { hasText: "Written" }).locator("dd");
    await expect.poll(() => written.textContent(), { timeout: 60_000 }).toBe("20");
    const instanceWritten = page.locator("[data-instance='0'] td").nth(3);
    await expect.poll(() => instanceWritten.textContent(), { timeout: 30_000 }).toBe("20");
    await expect
      .poll(() => page.locator(".stats div", { hasText: "Backlog" }).locator("dd").textContent(), { timeout: 30_000 })
      .toBe("0");
    await shot("03-connector");
    await page.getByRole("link", { name: "Connectors", exact: true }).first().click();
    const row = page.locator(`tr[data-connector='public/default/${name}']`);
    await row.waitFor();
    // The row may first show the list as the page had it, before the next pushed update.
    await expect.poll(() => row.locator("td").nth(0).textContent(), { timeout: 30_000 }).toBe("sink");
    await expect.poll(() => row.locator("td").nth(1).textContent(), { timeout: 30_000 }).toBe("jdbc-sqlite");
    await expect.poll(() => row.locator("td").nth(3).textContent(), { timeout: 30_000 }).toContain("1/1");
    await shot("04-connectors");
  });

  it("draws the worker's samples in hour charts and sparklines, and adds new ones as they come", async () => {
    await page.locator(`tr[data-connector='public/default/${name}'] a`).click();
    const throughput = page.locator(".chart[data-chart='Records per second']");
    const latency = page.locator(".chart[data-chart='Write latency']");
    const samplesOf = async () => Number(await throughput.locator("[data-samples]").getAttribute("data-samples"));
    // The worker samples every 10 s: the interval with the 20 writes is there within two.
    await expect.poll(samplesOf, { timeout: 40_000 }).toBeGreaterThan(0);
    await expect.poll(() => throughput.locator("path.out").getAttribute("d"), { timeout: 40_000 }).toMatch(/^M\d/);
    // The interval that held the sink's writes has their latency.
    await expect.poll(() => latency.locator("path.in").getAttribute("d"), { timeout: 40_000 }).toMatch(/^M\d/);
    const history = await http(worker.url, "GET", `/console/api/v1/history/sink/public/default/${name}`, undefined, {
      authorization: `Bearer ${TOKEN}`,
    });
    const total = history.json.total as Array<{ written: number; p50Ms: number | null }>;
    expect(total.reduce((sum, sample) => sum + sample.written, 0)).toBe(20);
    expect(total.some((sample) => sample.p50Ms !== null)).toBe(true);
    const before = await samplesOf();
    await expect.poll(samplesOf, { timeout: 40_000 }).toBeGreaterThan(before);
    await shot("07-connector-charts");
    await page.getByRole("link", { name: "Connectors", exact: true }).first().click();
    const spark = page.locator(`tr[data-connector='public/default/${name}'] svg.spark`).nth(1);
    await expect.poll(() => spark.locator("path").getAttribute("d"), { timeout: 40_000 }).toMatch(/^M\d.*L/);
    await shot("04-connectors-sparklines");
  });

  it("shows counts the worker pushes, without reload or polling, and without layout shift", async () => {
    const requests = watchRequests();
    await page.evaluate(() => {
      (globalThis as unknown as { __sameDocument: boolean }).__sameDocument = true;
    });
    const shift = await watchLayoutShift();
    // The list while the worker pushes new counts and new samples (a sample every 10 s).
    await publish(
      input,
      Array.from({ length: 5 }, (_, i) => JSON.stringify({ id: 100 + i, item: `late-${i}` })),
    );
    await page.waitForTimeout(12_000);
    expect(await shift.read()).toBeLessThan(0.01);
    await page.locator(`tr[data-connector='public/default/${name}'] a`).click();
    const written = page.locator(".stats div", { hasText: "Written" }).locator("dd");
    await expect.poll(() => written.textContent(), { timeout: 30_000 }).toBe("25");
    const pageShift = await watchLayoutShift();
    await publish(
      input,
      Array.from({ length: 5 }, (_, i) => JSON.stringify({ id: 200 + i, item: `later-${i}` })),
    );
    // The count moves while nothing asks for it: the connector's event stream brings it.
    await expect.poll(() => written.textContent(), { timeout: 30_000 }).toBe("30");
    await page.waitForTimeout(12_000);
    const measured = await pageShift.read();
    expect(measured).toBeLessThan(0.01);
    // Control: the same measure does see a shift in this page (a block pushed in above the content).
    await page.locator("main").evaluate((main) => {
      const block = main.ownerDocument.createElement("div");
      block.id = "shift-control";
      block.style.height = "200px";
      main.prepend(block);
    });
    await expect.poll(() => pageShift.read(), { timeout: 10_000 }).toBeGreaterThan(measured + 0.01);
    await page.locator("#shift-control").evaluate((block) => block.remove());
    expect(await page.evaluate(() => (globalThis as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(
      true,
    );
    const api = requests.filter((path) => path.startsWith("/console/api/") || path.startsWith("/admin/"));
    expect(api.filter((path) => !path.startsWith("/console/api/v1/events/"))).toEqual([
      `/admin/v3/sinks/public/default/${name}`,
    ]);
    expect(api.filter((path) => path.startsWith("/console/api/v1/events/"))).toEqual([
      `/console/api/v1/events/connector/sink/public/default/${name}`,
    ]);
    page.removeAllListeners("request");
  });

  it("reaches a connector from the list with the keyboard alone", async () => {
    await page.getByRole("link", { name: "Connectors", exact: true }).first().click();
    const link = page.locator(`tr[data-connector='public/default/${name}'] a`);
    await link.waitFor();
    // From the top of the document, as after loading the page.
    await page
      .locator("body")
      .evaluate((body) => (body.ownerDocument.activeElement as { blur(): void } | null)?.blur());
    let reached = false;
    for (let presses = 0; presses < 30 && !reached; presses += 1) {
      await page.keyboard.press("Tab");
      reached = await link.evaluate((element) => element === element.ownerDocument.activeElement);
    }
    expect(reached).toBe(true);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: new RegExp(name) }).waitFor();
    // The page puts the focus on its heading, so the next Tab starts from the top of the page's content.
    expect(await page.locator("h1").evaluate((element) => element === element.ownerDocument.activeElement)).toBe(true);
  });

  it("connects again when the worker restarts, and goes on showing what it pushes", async () => {
    const state = page.locator(".stream-state");
    await expect.poll(() => state.getAttribute("data-stream"), { timeout: 15_000 }).toBe("live");
    const port = Number(new URL(worker.url).port);
    await worker.close();
    await expect.poll(() => state.getAttribute("data-stream"), { timeout: 15_000 }).not.toBe("live");
    expect(await state.textContent()).toMatch(/reconnecting|Connecting/);
    // The same address again, as a restarted worker behind the same URL.
    worker = await Worker.start({ ...workerOptions, port });
    await expect.poll(() => state.getAttribute("data-stream"), { timeout: 30_000 }).toBe("live");
    // The new worker process counts from zero; the page shows its counts, not the old ones.
    const written = page.locator(".stats div", { hasText: "Written" }).locator("dd");
    await expect.poll(() => written.textContent(), { timeout: 60_000 }).toBe("0");
    await publish(
      input,
      Array.from({ length: 5 }, (_, i) => JSON.stringify({ id: 300 + i, item: `after-restart-${i}` })),
    );
    await expect.poll(() => written.textContent(), { timeout: 60_000 }).toBe("5");
  });

  it("stops and starts an instance", async () => {
    await page.getByRole("heading", { name: new RegExp(name) }).waitFor();
    const state = page.locator("[data-instance='0'] .state");
    await expect.poll(() => state.textContent(), { timeout: 60_000 }).toBe("running");
    await page.locator("[data-instance='0']").getByRole("button", { name: "Stop", exact: true }).click();
    await expect.poll(() => state.textContent(), { timeout: 60_000 }).toBe("not running");
    await page.locator("[data-instance='0']").getByRole("button", { name: "Start", exact: true }).click();
    await expect.poll(() => state.textContent(), { timeout: 60_000 }).toBe("running");
    // The worker's log lines of this connector follow live.
    await expect.poll(() => page.locator(".logs").textContent(), { timeout: 30_000 }).toContain("connector start");
  });

  it("updates the parallelism", async () => {
    await page.getByRole("spinbutton", { name: "Parallelism" }).fill("2");
    await page.getByRole("button", { name: "Update" }).click();
    await expect.poll(() => page.locator("[data-instance]").count(), { timeout: 60_000 }).toBe(2);
    await expect
      .poll(() => page.locator("[data-instance='1'] .state").textContent(), { timeout: 60_000 })
      .toBe("running");
    const stored = await http(worker.url, "GET", `/admin/v3/sinks/public/default/${name}`, undefined, {
      authorization: `Bearer ${TOKEN}`,
    });
    expect(stored.json.parallelism).toBe(2);
  });

  it("shows the cluster: workers, leader and what runs where, or that this worker does not tell", async () => {
    const cluster = await http(worker.url, "GET", "/admin/v2/worker/cluster", undefined, {
      authorization: `Bearer ${TOKEN}`,
    });
    await page.getByRole("link", { name: "Cluster", exact: true }).click();
    await page.getByRole("heading", { name: "Cluster", exact: true }).waitFor();
    if (cluster.status === 404) {
      // Until this worker has the endpoints, the page must say so instead of showing an empty cluster.
      await expect
        .poll(() => page.locator("[data-testid=cluster-unavailable]").textContent(), { timeout: 15_000 })
        .toContain("Not available from this worker");
    } else {
      expect(cluster.status).toBe(200);
      const workers = cluster.json as Array<{ workerId: string }>;
      const row = page.locator(`tr[data-worker='${workers[0]?.workerId}']`);
      await row.waitFor({ timeout: 15_000 });
      // This worker runs both instances of the sink.
      await expect
        .poll(() => row.locator(".instances-list li").allTextContents(), { timeout: 30_000 })
        .toEqual([`public/default/${name}:0`, `public/default/${name}:1`]);
      expect(await page.locator("[data-testid=cluster-leader]").textContent()).toMatch(/\S/);
    }
    await shot("08-cluster");
    await page.getByRole("link", { name: "Connectors", exact: true }).first().click();
    await page.locator(`tr[data-connector='public/default/${name}'] a`).click();
  });

  it("peeks at a poison record in the dead-letter topic with its reason, and replays it", async () => {
    // An empty value fails the record (nullValueAction FAIL): after its retry it goes to the dead-letter topic.
    await publish(input, [new Uint8Array(0)]);
    await page.getByRole("link", { name: "Dead letters" }).click();
    const count = page.locator("[data-testid=dlq-count]");
    await expect
      .poll(
        async () => {
          await page.getByRole("button", { name: "Refresh" }).click();
          return count.textContent();
        },
        { timeout: 90_000, interval: 2_000 },
      )
      .toContain("1 record");
    const reason = await page.locator("td.reason").first().textContent();
    expect(reason).toMatch(/\S/);
    await shot("05-dead-letters");
    await page.locator("tbody input[type=checkbox]").first().check();
    await page.getByRole("button", { name: /Replay selected/ }).click();
    await expect.poll(() => page.locator("[role=status], [role=alert]").first().textContent()).toContain("Replayed 1");
    // The replayed record fails again, so a second copy lands in the dead-letter topic.
    await expect
      .poll(
        async () => {
          await page.getByRole("button", { name: "Refresh" }).click();
          return count.textContent();
        },
        { timeout: 90_000, interval: 2_000 },
      )
      .toContain("2 record");
  });

  it("deletes the sink after a confirmation", async () => {
    await page.getByRole("link", { name: `public/default/${name}` }).click();
    await page.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("alertdialog").waitFor();
    await shot("06-delete-confirmation");
    await page.getByRole("button", { name: "Yes, delete" }).click();
    await page.getByRole("heading", { name: "Connectors" }).waitFor();
    await expect.poll(() => page.locator(`tr[data-connector='public/default/${name}']`).count()).toBe(0);
    const gone = await http(worker.url, "GET", `/admin/v3/sinks/public/default/${name}`, undefined, {
      authorization: `Bearer ${TOKEN}`,
    });
    expect(gone.status).toBe(404);
  });

  it("ends the page's event stream on logout", async () => {
    await expect.poll(() => page.locator("main").textContent()).toContain("live");
    const ended = page.waitForEvent("requestfailed", {
      predicate: (request) => new URL(request.url()).pathname === "/console/api/v1/events/connectors",
      timeout: 15_000,
    });
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByLabel("Token").waitFor();
    expect((await ended).failure()?.errorText).toMatch(/ABORTED/);
  });
});
