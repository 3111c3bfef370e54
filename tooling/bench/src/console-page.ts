// Page weight and time to first render / interactive of the worker's web console, in Debian's headless Chromium.
// The reference, measured in the same run, is the login form as plain HTML from a bare Node server, so the ratio
// says what the console's own JavaScript and CSS cost.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { CHROMIUM_ARGS, chromiumExecutable } from "@pulsar-connect/services/browser";
import { Worker } from "@pulsar-connect/worker";
import { chromium, type Page } from "playwright-core";
import { repoRoot, revision } from "./common.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const TOKEN = "bench-console-token";
const BUDGET_JS_GZIP_BYTES = 300 * 1024;
const BUDGET_FIRST_RENDER_MS = 1000;

const REFERENCE_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>reference</title></head>
<body><main><form><h1>pulsar-connect</h1><p>Log in with a token of this worker's admin API.</p>
<label for="token">Token</label><input id="token" type="password"><button type="submit">Log in</button></form></main></body></html>`;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Paint and readiness figures of one fresh page load (no cache), in ms from navigation start. */
async function measure(page: Page, url: string, ready: string): Promise<{ firstPaint: number; interactive: number }> {
  const client = await page.context().newCDPSession(page);
  await client.send("Network.clearBrowserCache");
  await client.send("Network.setCacheDisabled", { cacheDisabled: true });
  await page.goto(url, { waitUntil: "commit" });
  await page.waitForSelector(ready);
  // Interactive: the console's mark once its first render (with handlers) is done; for the plain reference page,
  // the end of its DOMContentLoaded handlers.
  const interactive = await page.evaluate(() => {
    const mark = performance.getEntriesByName("console-interactive")[0];
    if (mark) return mark.startTime;
    const navigation = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming | undefined;
    return navigation?.domContentLoadedEventEnd ?? Number.NaN;
  });
  const firstPaint = await page.evaluate(
    () =>
      new Promise<number>((done) => {
        const find = () => performance.getEntriesByName("first-contentful-paint")[0]?.startTime;
        const found = find();
        if (found !== undefined) return done(found);
        new PerformanceObserver(() => {
          const late = find();
          if (late !== undefined) done(late);
        }).observe({ type: "paint", buffered: true });
      }),
  );
  await client.detach();
  return { firstPaint, interactive };
}

async function main(): Promise<void> {
  const consoleDir = join(repoRoot, "packages", "console");
  const built = spawnSync(process.execPath, [join(consoleDir, "node_modules", "vite", "bin", "vite.js"), "build"], {
    cwd: consoleDir,
    encoding: "utf8",
  });
  if (built.status !== 0) throw new Error(`console build failed: ${built.stderr}`);
  const assetsDir = join(repoRoot, "packages", "worker", "console", "assets");
  const dataDir = mkdtempSync(join(tmpdir(), "bench-console-"));
  const worker = await Worker.start({
    port: 0,
    dataDir,
    hostDirs: [],
    logDestination: { write: () => {} },
    auth: { tokens: [{ token: TOKEN, role: "admin" }], superUserRoles: ["admin"] },
  });
  const browser = await chromium.launch({ executablePath: chromiumExecutable(), args: [...CHROMIUM_ARGS] });
  try {
    // Page weight as the worker serves it (gzip), per asset type.
    const weight = { js: 0, css: 0, jsRaw: 0, cssRaw: 0 };
    for (const file of readdirSync(assetsDir)) {
      const type = file.endsWith(".js") ? "js" : file.endsWith(".css") ? "css" : undefined;
      if (!type) continue;
      const zipped = await fetch(`${worker.url}/assets/${file}`, { headers: { "accept-encoding": "gzip" } });
      const length = Number(zipped.headers.get("content-length"));
      weight[type] += length;
      const raw = await fetch(`${worker.url}/assets/${file}`, { headers: { "accept-encoding": "identity" } });
      weight[`${type}Raw`] += (await raw.arrayBuffer()).byteLength;
    }
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    // Warm the browser process once; every measured load below runs with its cache disabled.
    await page.goto(`${worker.url}/`);
    const reference: Array<{ firstPaint: number; interactive: number }> = [];
    const login: Array<{ firstPaint: number; interactive: number }> = [];
    const list: number[] = [];
    // The reference page: the login form's markup as plain HTML (no script, no stylesheet) from a bare Node server.
    const referenceServer = createServer((_request, response) => {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache" });
      response.end(REFERENCE_PAGE);
    });
    await new Promise<void>((done) => referenceServer.listen(0, "127.0.0.1", done));
    const referenceUrl = `http://127.0.0.1:${(referenceServer.address() as AddressInfo).port}/`;
    try {
      for (let i = 0; i < RUNS; i += 1) {
        await page.evaluate(() => sessionStorage.clear());
        login.push(await measure(page, `${worker.url}/`, "#token"));
        reference.push(await measure(page, referenceUrl, "#token"));
        // Logged in: from navigation to the connector table on screen.
        await page.goto(`${worker.url}/`);
        await page.evaluate((token) => sessionStorage.setItem("pulsar-connect-console-token", token), TOKEN);
        const started = Date.now();
        await page.goto(`${worker.url}/`, { waitUntil: "commit" });
        await page.waitForSelector("table.connectors tbody tr");
        list.push(Date.now() - started);
      }
    } finally {
      await new Promise<void>((done) => referenceServer.close(() => done()));
    }
    const figures = {
      date: new Date().toISOString(),
      revision: revision(),
      cores: cpus().length,
      loadAverage1m: Number((loadavg()[0] as number).toFixed(1)),
      node: process.version,
      runs: RUNS,
      jsGzipBytes: weight.js,
      cssGzipBytes: weight.css,
      jsBytes: weight.jsRaw,
      cssBytes: weight.cssRaw,
      loginFirstPaintMs: Math.round(median(login.map((r) => r.firstPaint))),
      loginInteractiveMs: Math.round(median(login.map((r) => r.interactive))),
      referenceFirstPaintMs: Math.round(median(reference.map((r) => r.firstPaint))),
      referenceInteractiveMs: Math.round(median(reference.map((r) => r.interactive))),
      connectorListRenderedMs: median(list),
      budget: { jsGzipBytes: BUDGET_JS_GZIP_BYTES, firstRenderMs: BUDGET_FIRST_RENDER_MS },
    };
    const ratio = figures.loginFirstPaintMs / Math.max(1, figures.referenceFirstPaintMs);
    const withinBudget =
      figures.jsGzipBytes < BUDGET_JS_GZIP_BYTES && figures.loginFirstPaintMs < BUDGET_FIRST_RENDER_MS;
    const results = join(repoRoot, "tooling", "bench", "results");
    mkdirSync(results, { recursive: true });
    writeFileSync(
      join(results, "console-page.json"),
      `${JSON.stringify({ ...figures, firstPaintRatioToReference: Number(ratio.toFixed(2)), withinBudget }, null, 2)}\n`,
    );
    const kb = (bytes: number) => (bytes / 1024).toFixed(1);
    writeFileSync(
      join(results, "console-page.md"),
      [
        "# Web console: page weight and time to first render",
        "",
        `${figures.date}, ${figures.cores} cores (shared, load average ${figures.loadAverage1m} at the end), Node ${figures.node}, revision ${figures.revision}; Debian chromium headless,`,
        `median of ${RUNS} loads with the browser cache disabled, worker on the same machine (no network latency).`,
        "The reference is the login form as plain HTML (no script, no CSS) from a bare Node HTTP server, in the same run.",
        "The connector-table time is taken by the driver (wall clock, includes its round trips to the browser).",
        "",
        "| figure | value | budget |",
        "| --- | ---: | ---: |",
        `| JavaScript, gzip (raw) | ${kb(figures.jsGzipBytes)} KB (${kb(figures.jsBytes)} KB) | < 300 KB |`,
        `| CSS, gzip (raw) | ${kb(figures.cssGzipBytes)} KB (${kb(figures.cssBytes)} KB) | |`,
        `| login page, first contentful paint | ${figures.loginFirstPaintMs} ms | < 1000 ms |`,
        `| login page, interactive (token field ready) | ${figures.loginInteractiveMs} ms | |`,
        `| reference page, first contentful paint | ${figures.referenceFirstPaintMs} ms | |`,
        `| reference page, DOMContentLoaded done | ${figures.referenceInteractiveMs} ms | |`,
        `| logged in: navigation to the connector table | ${figures.connectorListRenderedMs} ms | |`,
        "",
        `First paint ratio console / reference: ${ratio.toFixed(2)}. Within budget: ${withinBudget ? "yes" : "no"}.`,
        "",
      ].join("\n"),
    );
    console.log(JSON.stringify(figures, null, 2));
  } finally {
    await browser.close();
    await worker.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
