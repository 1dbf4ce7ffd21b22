// Bundles every frontend/src/<name>.js entry into votemap_site/static/build/<name>.js.
// Each page loads only its own bundle; a new app adds one entry file here and
// nothing else. Output is generated, never committed.
import { build, context } from "esbuild";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";

const root = new URL("../", import.meta.url).pathname;
const srcDir = new URL("./src/", import.meta.url).pathname;
const outdir = new URL("../votemap_site/static/build/", import.meta.url).pathname;
const entryPoints = readdirSync(srcDir)
  .filter((name) => name.endsWith(".js"))
  .map((name) => join(srcDir, name));

// The bundle records a hash of what it was built from, so the browser tests can
// refuse a stale one (tests/conftest.py computes the same hash of the sources).
function walk(path) {
  return statSync(path).isDirectory() ? readdirSync(path).flatMap((name) => walk(join(path, name))) : [path];
}

export function sourcesHash() {
  const files = [...walk(srcDir), join(root, "frontend/build.mjs"), join(root, "package-lock.json")]
    .map((path) => relative(root, path).split("\\").join("/"))
    .sort();
  const lines = files.map((name) => `${name}\0${createHash("sha256").update(readFileSync(join(root, name))).digest("hex")}\n`);
  return createHash("sha256").update(lines.join("")).digest("hex");
}

const recordSources = {
  name: "record-sources",
  setup(b) {
    b.onEnd((result) => {
      if (result.errors.length === 0) writeFileSync(join(outdir, "sources.sha256"), `${sourcesHash()}\n`);
    });
  },
};

const options = {
  entryPoints,
  bundle: true,
  format: "esm",
  target: ["es2020"],
  minify: true,
  sourcemap: true,
  outdir,
  // es-atlas ships TopoJSON as .json; bundle it so no CDN or extra request is needed.
  loader: { ".json": "json" },
  logLevel: "info",
  plugins: [recordSources],
};

// Imported (by the tests, for sourcesHash) it builds nothing.
const main = process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href;
if (main && process.argv.includes("--watch")) {
  const ctx = await context(options);
  await ctx.watch();
} else if (main) {
  await build(options);
}
