// Loads pages of the rendered dashboard in Debian's Chromium (headless, through playwright-core) and
// reports, as JSON on stdout: console errors, page errors, and every request that left the local
// origin. Saves a screenshot of each page. Exit status 0; the Rust test judges the report.
//
//   node tests/browser/check.mjs http://127.0.0.1:PORT OUT_DIR index.html meetings/x.html ...
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const modules = process.env.PLAYWRIGHT_MODULES;
const { chromium } = require(path.join(modules, "playwright-core"));

const [base, outDir, ...pages] = process.argv.slice(2);
const origin = new URL(base).origin;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const report = [];
try {
  for (const page of pages) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const tab = await context.newPage();
    const entry = { page, console: [], errors: [], external: [], requests: 0, status: 0, title: "" };
    tab.on("console", (message) => { if (message.type() === "error" || message.type() === "warning") entry.console.push(`${message.type()}: ${message.text()}`); });
    tab.on("pageerror", (error) => entry.errors.push(String(error)));
    tab.on("request", (request) => {
      entry.requests += 1;
      const url = request.url();
      if (!url.startsWith(origin + "/") && !url.startsWith("data:")) entry.external.push(url);
    });
    const response = await tab.goto(`${base}/${page}`, { waitUntil: "load" });
    entry.status = response ? response.status() : 0;
    entry.title = await tab.title();
    // Exercise the meetings list's filters: the script shows them; choosing a verdict leaves only
    // the rows with that verdict.
    const verdictFilter = await tab.$("#verdict-filter");
    if (verdictFilter) {
      const visible = await tab.isVisible("#filters");
      const wanted = (await tab.$$("#meetings tbody tr[data-verdict='poor']")).length;
      await tab.selectOption("#verdict-filter", "poor");
      const shown = await tab.$$eval("#meetings tbody tr", (rows) => rows.filter((r) => !r.hidden).map((r) => r.getAttribute("data-verdict")));
      entry.filter = { visible, wanted, shown };
      await tab.selectOption("#verdict-filter", "");
    }
    // And choosing an office leaves only the meetings with a participant from there.
    const officeFilter = await tab.$("#office-filter");
    if (officeFilter) {
      const wanted = (await tab.$$("#meetings tbody tr[data-offices~='0']")).length;
      await tab.selectOption("#office-filter", "0");
      const shown = await tab.$$eval("#meetings tbody tr", (rows) => rows.filter((r) => !r.hidden).map((r) => r.getAttribute("data-offices")));
      entry.officeFilter = { wanted, shown };
      await tab.selectOption("#office-filter", "");
    }
    // Exercise the script: sort the first sortable table, if any.
    const header = await tab.$("table.sortable thead th");
    if (header) await header.click();
    await tab.evaluate(() => window.scrollTo(0, 0));
    await tab.screenshot({ path: path.join(outDir, page.replace(/[\/]/g, "_") + ".png"), fullPage: false });
    report.push(entry);
    await context.close();
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report));
