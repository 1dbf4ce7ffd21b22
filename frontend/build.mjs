// Bundles every frontend/src/<name>.js entry into votemap_site/static/build/<name>.js.
// Each page loads only its own bundle; a new app adds one entry file here and
// nothing else. Output is generated, never committed.
import { build, context } from "esbuild";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const srcDir = new URL("./src/", import.meta.url).pathname;
const entryPoints = readdirSync(srcDir)
  .filter((name) => name.endsWith(".js"))
  .map((name) => join(srcDir, name));

const options = {
  entryPoints,
  bundle: true,
  format: "esm",
  target: ["es2020"],
  minify: true,
  sourcemap: true,
  outdir: new URL("../votemap_site/static/build/", import.meta.url).pathname,
  // es-atlas ships TopoJSON as .json; bundle it so no CDN or extra request is needed.
  loader: { ".json": "json" },
  logLevel: "info",
};

if (process.argv.includes("--watch")) {
  const ctx = await context(options);
  await ctx.watch();
} else {
  await build(options);
}
