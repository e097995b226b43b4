// Bundles src/ into dist/ (app.js, app.css, index.html), which the WebConsole project embeds.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist");
await build({
  entryPoints: ["src/main.ts"],
  bundle: true,
  minify: true,
  target: ["es2020"],
  outfile: "dist/app.js",
  logLevel: "warning",
});
await build({ entryPoints: ["src/app.css"], bundle: true, minify: true, outfile: "dist/app.css", logLevel: "warning" });
copyFileSync("src/index.html", "dist/index.html");
