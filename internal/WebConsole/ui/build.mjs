// Bundles src/ into dist/index.html, which the WebConsole project embeds: the script and the
// style sheet go inline, so that a page load is one request for the HTML and then only the
// page's API calls (docs/console.md, "Render times").
import { build } from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist");
const script = await build({
  entryPoints: ["src/main.ts"],
  bundle: true,
  minify: true,
  target: ["es2020"],
  write: false,
  outfile: "app.js",
  logLevel: "warning",
});
const style = await build({ entryPoints: ["src/app.css"], bundle: true, minify: true, write: false, outfile: "app.css", logLevel: "warning" });
const js = script.outputFiles[0].text.trim();
const css = style.outputFiles[0].text.trim();
// Inline text must not close its own element early.
if (/<\/script/i.test(js)) throw new Error("the bundled script contains </script, which cannot be inlined");
if (/<\/style/i.test(css)) throw new Error("the bundled style sheet contains </style, which cannot be inlined");
let html = readFileSync("src/index.html", "utf8");
const link = '<link rel="stylesheet" href="app.css">';
const tag = '<script src="app.js"></script>';
if (!html.includes(link) || !html.includes(tag)) throw new Error(`src/index.html must contain ${link} and ${tag}, which the build inlines`);
html = html.replace(link, () => `<style>${css}</style>`).replace(tag, () => `<script>${js}</script>`);
writeFileSync("dist/index.html", html);
